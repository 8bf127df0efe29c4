"""Generator ``lut_mpgemm``: LUT Tensor Core mixed-precision GEMM tile, low-bit weights selecting
precomputed signed activation sums from shared tables, one weight bit plane per cycle
(:class:`hdl.lut_mpgemm.LUTMpGEMM`)."""

from __future__ import annotations

from hdl.formats import IntFormat
from hdl.lut_mpgemm import (FLOAT_ACTIVATIONS, TABLE_KINDS, WEIGHT_ENCODINGS, LUTMpGEMM,
                            activation_fixed_point, weight_range)

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .params import AUTO, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["LUTMpGEMMGenerator"]

_ENCODING_TAGS = {"int": "i", "symmetric": "s"}
_TABLE_TAGS = {"symmetric": "sym", "full": "full"}


def _beat_range(params) -> tuple[int, int]:
    """Smallest and largest y[m][n] one beat adds: D*K products a * w at their extremes (fp16 /
    bf16: in units of the smallest subnormal, the accumulator's)."""
    fa = params["act_format"]
    lo_w, hi_w = weight_range(params["weight_bits"], params["weight_encoding"])
    if isinstance(fa, IntFormat):
        lo_a, hi_a = fa.min, fa.max
    else:
        _, hi_a = activation_fixed_point(fa)
        lo_a = -hi_a
    corners = [x * y for x in (lo_a, hi_a) for y in (lo_w, hi_w)]
    terms = params["depth"] * params["lut_k"]
    return terms * min(corners), terms * max(corners)


class LUTMpGEMMGenerator(Generator):
    name = "lut_mpgemm"
    summary = ("LUT-based mixed-precision GEMM (LUT Tensor Core): M x N tile, low-bit weights "
               "select precomputed signed sums of K activations from tables shared by N columns, "
               "one weight bit plane per cycle, accumulated until 'last'")
    params = (
        FormatParam("act_format", default="int8", kinds=("int", "float"), min_width=4,
                    max_width=16,
                    help="format of the activations a: signed integer int4 to int16, or fp16 / "
                         "bf16 (held exactly in fixed point, each output rounded once to fp32; "
                         "other minifloats are refused)"),
        IntParam("weight_bits", default=2, min=1, max=4,
                 help="b, width of each weight code w (the largest per-beat precision)"),
        ChoiceParam("weight_encoding", default="int", choices=WEIGHT_ENCODINGS,
                    help="int: two's complement at prec bits; symmetric: code q means "
                         "2q - (2^prec - 1) (1 bit: +-1, 2 bits: -3, -1, 1, 3)"),
        IntParam("lut_k", default=4, min=2, max=6,
                 help="K, activations per table (a table holds their signed sums)"),
        IntParam("depth", default=1, min=1, max=8, help="D, K-groups per row and beat"),
        IntParam("cols", default=16, min=1, max=128,
                 help="N, weight columns (column units sharing each table)"),
        IntParam("rows", default=2, min=1, max=4,
                 help="M, activation rows (output beats per group)"),
        ChoiceParam("table", default="symmetric", choices=TABLE_KINDS,
                    help="symmetric: 2^(K-1) stored entries, the other half mirrored and "
                         "negated; full: all 2^K entries"),
        acc_width_param("accumulator and output width in bits (one beat: D*K products per "
                        "output); integer activations only: with fp16 / bf16 it is derived, "
                        "the exact register's width for 2^16 beats (the output is fp32)"),
    )

    def derive(self, params):
        fa = params["act_format"]
        if not isinstance(fa, IntFormat):
            if fa.name not in FLOAT_ACTIVATIONS:
                raise ParamError(f"--act-format: {fa.name}: not an activation format here; "
                                 f"allowed: int4 to int16, {', '.join(FLOAT_ACTIVATIONS)}")
            if params["acc_width"] is not AUTO:
                raise ParamError(f"--acc-width: {params['acc_width']}: only for integer "
                                 f"activations ({fa.name} sums are held exactly and rounded "
                                 f"once to fp32); allowed: auto")
        return derive_acc_width(params, _beat_range(params), signed=True)

    def build(self, params):
        return LUTMpGEMM(
            act_format=params["act_format"], weight_bits=params["weight_bits"],
            weight_encoding=params["weight_encoding"], lut_k=params["lut_k"],
            depth=params["depth"], cols=params["cols"], rows=params["rows"],
            table=params["table"], acc_width=params["acc_width"])

    def module_name(self, params):
        # fp16 / bf16: the accumulator width follows from the other parameters.
        fa = params["act_format"]
        return (f"lut_mpgemm_{fa.name}"
                f"_w{params['weight_bits']}{_ENCODING_TAGS[params['weight_encoding']]}"
                f"_k{params['lut_k']}_d{params['depth']}_n{params['cols']}_m{params['rows']}"
                f"_{_TABLE_TAGS[params['table']]}"
                + (f"_acc{params['acc_width']}" if isinstance(fa, IntFormat) else ""))
