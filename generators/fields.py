"""Payload field meanings that several generators share (see :meth:`generators.base.Generator.
field_info`), so that the same field reads the same in every manifest."""

from __future__ import annotations

from .manifest import FieldInfo

__all__ = ["LAST", "LAST_ENDS_GROUP", "group_sum"]

#: ``last`` of a PE that accumulates beats into one output beat.
LAST = FieldInfo("ends the accumulation group: the output beat follows this beat")
#: ``last`` of a PE with scale groups inside accumulation groups (``last`` implies group_last).
LAST_ENDS_GROUP = FieldInfo("ends the accumulation group and the scale group: the output beat "
                            "follows this beat")


def group_sum(terms: str, acc_width: int, note: str = "") -> FieldInfo:
    """The output of an accumulating PE: the sum of ``terms`` (per lane k) over one accumulation
    group, wrapping at ``acc_width`` bits; ``note`` adds exactness or units."""
    return FieldInfo(f"the accumulation group's sum of {terms} over all lanes k and all its beats "
                     f"('last' beat included){note}, modulo 2^{acc_width}")
