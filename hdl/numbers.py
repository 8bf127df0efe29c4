"""Number rules shared by every PE: value ranges of dot products, the widths that hold them, and
the accumulator's format.

One place for them (beside :mod:`hdl.formats`, whose formats they return) so that the hardware,
the generators and the golden models agree on every width:

- :func:`dot_product_range`: smallest and largest sum of products of two integer formats;
- :func:`min_signed_width`: fewest bits of two's complement (or unsigned) holding a range;
- :func:`sum_width`: the width of ``beats`` beats, each within a range;
- :data:`ACC_BEATS`: the automatic accumulator never overflows within this many beats;
- :func:`acc_width_bounds`: the automatic width and the least allowed width of an accumulator
  (one beat's sum must fit; beyond it, the running sum wraps);
- :func:`acc_format`: the accumulator as a :class:`hdl.formats.Format` (integer or fixed point).
"""

from __future__ import annotations

from .formats import FixedFormat, Format, IntFormat, parse_format

__all__ = ["ACC_BEATS", "ACC_WIDTH_MAX", "dot_product_range", "min_signed_width", "sum_width",
           "acc_width_bounds", "acc_format"]

#: The automatic accumulator never overflows within this many beats.
ACC_BEATS = 2 ** 16
#: Widest accumulator any PE offers.
ACC_WIDTH_MAX = 128


def dot_product_range(a_format: IntFormat, b_format: IntFormat, terms: int) -> tuple[int, int]:
    """Smallest and largest possible sum of ``terms`` products ``a * b``."""
    corners = [x * y for x in (a_format.min, a_format.max) for y in (b_format.min, b_format.max)]
    return terms * min(corners), terms * max(corners)


def min_signed_width(lo: int, hi: int, signed_: bool = True) -> int:
    """Fewest bits of a two's complement (or unsigned) number holding every value in [lo, hi]."""
    width = 1
    while True:
        if signed_:
            if -(1 << (width - 1)) <= lo and hi < (1 << (width - 1)):
                return width
        elif lo >= 0 and hi < (1 << width):
            return width
        width += 1


def sum_width(beat_range: tuple[int, int], beats: int, *, signed: bool = True) -> int:
    """Fewest bits holding the sum of ``beats`` beats, each in ``beat_range`` (inclusive)."""
    lo, hi = beat_range
    return min_signed_width(lo * beats, hi * beats, signed_=signed)


def acc_width_bounds(beat_range: tuple[int, int], *, signed: bool = True,
                     auto_beats: int = ACC_BEATS, frac_bits: int = 0) -> tuple[int, int]:
    """``(automatic, least)`` accumulator widths for a PE whose beats each add a value in
    ``beat_range`` (raw, in units of ``2**-frac_bits``): the automatic width holds
    ``auto_beats`` beats exactly, the least allowed one a single beat (a fixed-point accumulator
    also needs a bit beyond its fraction bits)."""
    least = max(sum_width(beat_range, 1, signed=signed), frac_bits + 1)
    return max(sum_width(beat_range, auto_beats, signed=signed), least), least


def acc_format(width: int, *, signed: bool = True, frac_bits: int = 0,
               fixed: bool = False) -> Format:
    """The accumulator's format: ``int<W>`` / ``uint<W>``, or fixed point ``q<W-F>.<F>`` /
    ``uq<W-F>.<F>`` with ``frac_bits`` = F (also for F = 0 when ``fixed``: ``q<W>.0``, the
    accumulator of a PE whose fixed-point scale may have no fraction bits)."""
    if not frac_bits and not fixed:
        return parse_format(f"{'' if signed else 'u'}int{width}")
    return parse_format(f"{'' if signed else 'u'}q{width - frac_bits}.{frac_bits}")


def is_format(value) -> bool:
    return isinstance(value, (IntFormat, FixedFormat, Format))
