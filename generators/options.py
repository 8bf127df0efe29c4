"""Parameters that several generators declare alike (not a generator itself): the bit-weight
options of the integer MAC datapath, which ``int_mac`` and ``systolic_array`` both offer."""

from __future__ import annotations

from hdl.int_mac import ACCUMULATORS, REDUCTIONS

from .params import ChoiceParam

__all__ = ["REDUCTION_PARAM", "ACCUMULATOR_PARAM", "option_suffix", "acc_is_signed"]

#: How each beat's products are summed.
REDUCTION_PARAM = ChoiceParam(
    "reduction", default="adder_tree", choices=REDUCTIONS,
    help="how each beat's products are summed: a multiplier per lane and an adder tree, or all "
         "partial-product bits in one Dadda carry-save compressor tree with a single final adder")
#: How the running sum is kept.
ACCUMULATOR_PARAM = ChoiceParam(
    "accumulator", default="binary", choices=ACCUMULATORS,
    help="running sum as one binary register (carry-propagate add every beat) or as carry-save "
         "sum and carry registers resolved only when a result is made")

#: Module-name tags of the non-default options (defaults add nothing, so names stay stable).
_OPTION_TAGS = {("reduction", "compressor_tree"): "_ct", ("accumulator", "carry_save"): "_cs"}


def option_suffix(params) -> str:
    """``_ct`` / ``_cs`` for the non-default bit-weight options, in declaration order."""
    return "".join(tag for (name, value), tag in _OPTION_TAGS.items() if params[name] == value)


def acc_is_signed(a_format, b_format) -> bool:
    """An integer product sum is two's complement unless both operands are unsigned."""
    return a_format.signed or b_format.signed
