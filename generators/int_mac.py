"""Generator ``int_mac``: bit-parallel integer multiply-accumulate PE (:class:`hdl.int_mac.IntMAC`)."""

from __future__ import annotations

from hdl.int_mac import ACCUMULATORS, REDUCTIONS, IntMAC, dot_product_range, min_signed_width

from .base import Generator
from .params import AUTO, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["IntMACGenerator", "ACC_BEATS", "REDUCTION_PARAM", "ACCUMULATOR_PARAM",
           "option_suffix"]

#: The default accumulator never overflows within this many beats.
ACC_BEATS = 2 ** 16


def derive_acc_width(params, width_for_beats, *, minimum: int, what: str) -> dict:
    """The ``acc_width`` part of a MAC generator's ``derive``: AUTO becomes
    ``width_for_beats(ACC_BEATS)`` (no overflow within 2^16 beats); an explicit width below
    ``minimum`` (what one beat needs) is an error naming ``what`` it cannot hold."""
    if params["acc_width"] is AUTO:
        return {"acc_width": width_for_beats(ACC_BEATS)}
    if params["acc_width"] < minimum:
        raise ParamError(f"--acc-width: {params['acc_width']} cannot hold {what}; "
                         f"allowed: {minimum} to 128")
    return {}


def default_acc_width(a_format, b_format, lanes, beats=ACC_BEATS):
    lo, hi = dot_product_range(a_format, b_format, lanes * beats)
    return min_signed_width(lo, hi, signed_=acc_is_signed(a_format, b_format))


def acc_is_signed(a_format, b_format):
    """The accumulator is two's complement unless both operands are unsigned."""
    return a_format.signed or b_format.signed


def acc_format_name(params) -> str:
    """Format name of the accumulator (``int32``, ``uint20``, ...) for the manifest."""
    prefix = "int" if acc_is_signed(params["a_format"], params["b_format"]) else "uint"
    return f"{prefix}{params['acc_width']}"


#: The bit-weight options, declared once; the systolic array declares the same for its PEs.
REDUCTION_PARAM = ChoiceParam(
    "reduction", default="adder_tree", choices=REDUCTIONS,
    help="how each beat's products are summed: a multiplier per lane and an adder tree, or all "
         "partial-product bits in one Dadda carry-save compressor tree with a single final adder")
ACCUMULATOR_PARAM = ChoiceParam(
    "accumulator", default="binary", choices=ACCUMULATORS,
    help="running sum as one binary register (carry-propagate add every beat) or as carry-save "
         "sum and carry registers resolved only when a result is made")

#: Module-name tags of the non-default options (defaults add nothing, so names stay stable).
_OPTION_TAGS = {("reduction", "compressor_tree"): "_ct", ("accumulator", "carry_save"): "_cs"}


def option_suffix(params) -> str:
    """``_ct`` / ``_cs`` for the non-default bit-weight options, in declaration order."""
    return "".join(tag for (name, value), tag in _OPTION_TAGS.items() if params[name] == value)


class IntMACGenerator(Generator):
    name = "int_mac"
    summary = "bit-parallel integer multiply-accumulate PE: K-lane dot product per beat, accumulated until 'last'"
    params = (
        FormatParam("a_format", default="int8", help="format of the a operands",
                    kinds=("int", "uint"), min_width=1, max_width=16),
        FormatParam("b_format", default="int8", help="format of the b operands",
                    kinds=("int", "uint"), min_width=1, max_width=16),
        IntParam("lanes", default=1, help="products per beat (K)", min=1, max=64),
        IntParam("acc_width", default=AUTO, min=1, max=128,
                 help="accumulator and output width in bits; narrower values wrap in two's complement",
                 auto_help="no overflow within 2^16 beats"),
        IntParam("pipeline_stages", default=0, min=0, max=3,
                 help="pipeline registers between inputs and accumulator (after the dot product, "
                      "then after the multipliers, then inside the adder tree; with the "
                      "compressor tree: after it, then between its levels)"),
        REDUCTION_PARAM,
        ACCUMULATOR_PARAM,
    )

    def derive(self, params):
        out = {}
        if params["acc_width"] is AUTO:
            out["acc_width"] = default_acc_width(params["a_format"], params["b_format"],
                                                 params["lanes"])
        return out

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

    def stream_formats(self, params):
        return {
            "i": {"a": params["a_format"].name, "b": params["b_format"].name, "last": "uint1"},
            "o": {"acc": acc_format_name(params)},
        }

    def latency(self, params):
        return 1 + params["pipeline_stages"]

    def initiation_interval(self, params):
        return 1
