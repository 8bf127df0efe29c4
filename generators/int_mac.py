"""Generator ``int_mac``: bit-parallel integer multiply-accumulate PE (:class:`hdl.int_mac.IntMAC`)."""

from __future__ import annotations

from hdl.int_mac import IntMAC
from hdl.numbers import dot_product_range

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .options import ACCUMULATOR_PARAM, REDUCTION_PARAM, acc_is_signed, option_suffix
from .params import FormatParam, IntParam

__all__ = ["IntMACGenerator"]


class IntMACGenerator(Generator):
    name = "int_mac"
    summary = "bit-parallel integer multiply-accumulate PE: K-lane dot product per beat, accumulated until 'last'"
    params = (
        FormatParam("a_format", default="int8", help="format of the a operands",
                    kinds=("int", "uint"), min_width=1, max_width=16),
        FormatParam("b_format", default="int8", help="format of the b operands",
                    kinds=("int", "uint"), min_width=1, max_width=16),
        IntParam("lanes", default=1, help="products per beat (K)", min=1, max=64),
        acc_width_param("accumulator and output width in bits"),
        IntParam("pipeline_stages", default=0, min=0, max=3,
                 help="pipeline registers between inputs and accumulator (after the dot product, "
                      "then after the multipliers, then inside the adder tree; with the "
                      "compressor tree: after it, then between its levels)"),
        REDUCTION_PARAM,
        ACCUMULATOR_PARAM,
    )

    def derive(self, params):
        fa, fb = params["a_format"], params["b_format"]
        return derive_acc_width(params, dot_product_range(fa, fb, params["lanes"]),
                                signed=acc_is_signed(fa, fb))

    def build(self, params):
        return IntMAC(a_format=params["a_format"], b_format=params["b_format"],
                      lanes=params["lanes"], acc_width=params["acc_width"],
                      acc_signed=acc_is_signed(params["a_format"], params["b_format"]),
                      pipeline_stages=params["pipeline_stages"],
                      reduction=params["reduction"], accumulator=params["accumulator"])

    def module_name(self, params):
        return (f"int_mac_{params['a_format'].name}x{params['b_format'].name}"
                f"_k{params['lanes']}_acc{params['acc_width']}_p{params['pipeline_stages']}"
                f"{option_suffix(params)}")
