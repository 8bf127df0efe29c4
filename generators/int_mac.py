"""Generator ``int_mac``: bit-parallel integer multiply-accumulate PE (:class:`hdl.int_mac.IntMAC`)."""

from __future__ import annotations

from hdl.int_mac import ACCUMULATORS, REDUCTIONS, IntMAC, dot_product_range

from .accumulator import ACC_BEATS, acc_width_param, derive_acc_width
from .base import Generator
from .fields import LAST, group_sum
from .manifest import FieldInfo
from .params import ChoiceParam, FormatParam, IntParam

__all__ = ["IntMACGenerator", "ACC_BEATS", "REDUCTION_PARAM", "ACCUMULATOR_PARAM",
           "option_suffix"]


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

    def stream_formats(self, params):
        return {
            "i": {"a": params["a_format"].name, "b": params["b_format"].name, "last": "uint1"},
            "o": {"acc": acc_format_name(params)},
        }

    def field_info(self, params):
        return {
            "i": {"a": FieldInfo("operand a of lane {k}: the beat adds a[{k}] * b[{k}] (with the "
                                 "other lanes' products) to the accumulator"),
                  "b": FieldInfo("operand b of lane {k}, multiplied by a[{k}]"),
                  "last": LAST},
            "o": {"acc": group_sum("a[k] * b[k]", params["acc_width"])},
        }

    def latency(self, params):
        return 1 + params["pipeline_stages"]

    def initiation_interval(self, params):
        return 1
