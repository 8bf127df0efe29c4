"""Generator ``sparse_mac``: N:M structured-sparsity integer MAC PE, FlightLLM's sparse DSP chain
(:class:`hdl.sparse_mac.SparseMAC`)."""

from __future__ import annotations

from hdl.numbers import dot_product_range
from hdl.sparse_mac import SparseMAC

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .options import ACCUMULATOR_PARAM, REDUCTION_PARAM, acc_is_signed, option_suffix
from .params import FormatParam, IntParam, ParamError

__all__ = ["SparseMACGenerator"]

#: Allowed group sizes M (log2(M)-bit indexes).
GROUP_SIZES = (2, 4, 8, 16)


class SparseMACGenerator(Generator):
    name = "sparse_mac"
    summary = ("N:M structured-sparsity integer MAC PE (FlightLLM): per beat G groups of M dense "
               "activations and N (value, index) weight pairs each, the first n pairs counting, "
               "accumulated until 'last'")
    params = (
        FormatParam("act_format", default="int8", kinds=("int", "uint"), min_width=2,
                    max_width=16, help="format of the activations a"),
        FormatParam("weight_format", default="int8", kinds=("int", "uint"), min_width=2,
                    max_width=16, help="format of the compressed weight values wv"),
        IntParam("group_m", default=4, min=2, max=16,
                 help="M, weights per sparsity group (a power of two; indexes wi are log2(M) "
                      "bits)"),
        IntParam("max_n", default=2, min=1, max=16,
                 help="N, stored (value, index) pairs per group, at most M; a beat's n may be "
                      "1 to N"),
        IntParam("groups", default=4, min=1, max=16, help="G, sparsity groups per beat"),
        acc_width_param("accumulator and output width in bits (one beat: G*N products)"),
        REDUCTION_PARAM,
        ACCUMULATOR_PARAM,
    )

    def derive(self, params):
        m, n = params["group_m"], params["max_n"]
        if m not in GROUP_SIZES:
            raise ParamError(f"--group-m: {m}: must be a power of two; allowed: "
                             f"{', '.join(map(str, GROUP_SIZES))}")
        if n > m:
            raise ParamError(f"--max-n: {n}: must be at most --group-m ({m}); allowed: 1 to {m}")
        fa, fw = params["act_format"], params["weight_format"]
        return derive_acc_width(params, dot_product_range(fa, fw, params["groups"] * n),
                                signed=acc_is_signed(fa, fw))

    def build(self, params):
        return SparseMAC(act_format=params["act_format"], weight_format=params["weight_format"],
                         group_m=params["group_m"], max_n=params["max_n"],
                         groups=params["groups"], acc_width=params["acc_width"],
                         acc_signed=acc_is_signed(params["act_format"], params["weight_format"]),
                         reduction=params["reduction"], accumulator=params["accumulator"])

    def module_name(self, params):
        return (f"sparse_mac_{params['act_format'].name}x{params['weight_format'].name}"
                f"_m{params['group_m']}n{params['max_n']}_g{params['groups']}"
                f"_acc{params['acc_width']}{option_suffix(params)}")
