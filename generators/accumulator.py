"""The accumulator width rule shared by every generator with an ``acc_width`` parameter.

One rule for all of them:

- **AUTO**: the width that holds ``ACC_BEATS`` (2^16) beats of extreme products without overflow
  (or exactly one beat, for a PE that does not accumulate across beats);
- **explicit**: at least the narrowest width that holds *one* input beat's sum of products with
  the operands at their extremes (what the PE adds to its accumulator per beat), so that a beat is
  exact and only the running sum wraps (two's complement, or modulo 2^W when unsigned); at most
  :data:`ACC_WIDTH_MAX`.

A generator states what one beat adds (:func:`derive_acc_width`'s ``beat_range``); the widths come
from :func:`hdl.numbers.acc_width_bounds`, the parameter declaration and the error message from
here.
"""

from __future__ import annotations

from hdl.numbers import ACC_BEATS, ACC_WIDTH_MAX, acc_width_bounds

from .params import AUTO, IntParam, ParamError

__all__ = ["acc_width_param", "derive_acc_width"]


def acc_width_param(what: str, auto_help: str = "no overflow within 2^16 beats") -> IntParam:
    """The ``acc_width`` declaration: ``what`` the width is of, then the rule in the same words
    for every generator."""
    return IntParam("acc_width", default=AUTO, min=1, max=ACC_WIDTH_MAX, auto_help=auto_help,
                    help=f"{what}; at least what one beat's products need (narrower is an "
                         f"error); below the default the running sum wraps modulo 2^acc_width")


def _value_text(raw: int, frac_bits: int) -> str:
    """Exact decimal text of ``raw * 2**-frac_bits`` (finite: the denominator is a power of 2)."""
    if not frac_bits:
        return str(raw)
    # raw / 2^F = raw * 5^F / 10^F: an integer with the decimal point F digits from the right.
    whole, fraction = divmod(abs(raw) * 5 ** frac_bits, 10 ** frac_bits)
    digits = f"{fraction:0{frac_bits}d}".rstrip("0")
    return f"{'-' if raw < 0 else ''}{whole}{'.' + digits if digits else ''}"


def derive_acc_width(params: dict, beat_range: tuple[int, int], *, signed: bool = True,
                     auto_beats: int = ACC_BEATS, frac_bits: int = 0) -> dict:
    """The ``acc_width`` part of a generator's ``derive``.

    Parameters
    ----------
    params : dict
        The parameters as ``derive`` receives them (``acc_width`` may be :data:`AUTO`).
    beat_range : (int, int)
        Smallest and largest value one input beat adds to the accumulator, raw (an integer in
        units of ``2**-frac_bits``), with every operand at its extremes.
    signed : bool
        The accumulator is two's complement (else unsigned).
    auto_beats : int
        How many beats the AUTO width holds without overflow: :data:`ACC_BEATS`, or 1 for a PE
        that does not accumulate across beats (then every allowed width is exact).
    frac_bits : int
        Fraction bits of a fixed-point accumulator. Its format ``q<W-F>.<F>`` needs a sign bit
        beyond them; that bound never exceeds one beat's width for the declared format ranges,
        and is kept as a guard.

    Returns
    -------
    dict
        ``{"acc_width": width}`` for AUTO, else ``{}``.

    Raises
    ------
    ParamError
        An explicit width narrower than one beat needs, as one line naming the beat's range (in
        the accumulator's units: real values for fixed point) and the allowed widths.
    """
    automatic, minimum = acc_width_bounds(beat_range, signed=signed, auto_beats=auto_beats,
                                          frac_bits=frac_bits)
    width = params["acc_width"]
    if width is AUTO:
        return {"acc_width": automatic}
    if width < minimum:
        lo, hi = (_value_text(v, frac_bits) for v in beat_range)
        raise ParamError(f"--acc-width: {width} cannot hold one beat's products ({lo} to {hi}); "
                         f"allowed: {minimum} to {ACC_WIDTH_MAX}")
    return {}
