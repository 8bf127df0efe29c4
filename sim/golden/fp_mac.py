"""Golden model of ``fp_mac``, written from issue 3's specification.

Operands are decoded with :mod:`hdl.formats` (ml_dtypes / NumPy dtypes). Products and sums are
exact (:class:`fractions.Fraction`), and every binary32 result is one correct roundTiesToEven
rounding (:func:`sim.golden.fp32_round.round_to_fp32`).

- ``exact`` accumulator: the exact sum of all products since the previous output is rounded once
  on ``last``.
- ``fp32`` accumulator: per beat, the exact sum of the K products is added to the binary32
  accumulator and rounded once; ``last`` emits the accumulator, which restarts.
- Special values: a NaN operand, Inf x 0, or Infs of both signs in one accumulation give NaN
  0x7FC00000; otherwise an infinite product makes the result that Inf. An exact zero is +0 unless
  every contributing term was -0 (IEEE 754 6.3); a nonzero sum that rounds to zero keeps its sign.
- ``lmul``: a product of two normal operands x = (1 + x_m) 2^x_e, y = (1 + y_m) 2^y_e is
  (1 + x_m + y_m + 2^-l(M)) 2^(x_e + y_e), sign s_x xor s_y, M the larger mantissa width,
  l(M) = M for M <= 3, 3 for M = 4, 4 above (Luo & Sun 2024); other products are exact.
- ``lmul_ftz``: L-Mul with subnormal operands flushed to zero: a subnormal operand is a zero of
  its own sign for every rule above (its product with a finite operand is a signed zero, with an
  Inf NaN), so every nonzero finite product is an L-Mul of two normal operands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from fractions import Fraction

import numpy as np

from hdl.formats import parse_format

from .fp32_round import (FP32_NAN, FP32_NEG_INF, FP32_NEG_ZERO, FP32_POS_INF, fp32_value,
                         round_to_fp32)

__all__ = ["Term", "product_term", "lmul_value", "combine", "fp_mac", "lmul_l", "SCALE",
           "to_units"]

#: Exact values are held as integers in units of 2**-SCALE: every product of two operands of
#: these formats (smallest 2**-266, bf16 subnormals) and every MX block value (down to
#: 2**-254 * 2**-32) is an integer multiple of that unit, and Python integers never round.
SCALE = 400


def to_units(x: float) -> int:
    """Exact integer ``x * 2**SCALE`` of a finite float (raises if not a multiple of the unit)."""
    num, den = float(x).as_integer_ratio()
    shift = SCALE - (den.bit_length() - 1)          # den is a power of two
    if shift < 0:
        raise ValueError(f"{x!r} is finer than 2**-{SCALE}")
    return num << shift


def _units_times_pow2(num: int, exp: int) -> int:
    """``num * 2**exp`` in units, exactly."""
    shift = exp + SCALE
    if shift >= 0:
        return num << shift
    if num & ((1 << -shift) - 1):
        raise ValueError("value finer than the unit")
    return num >> -shift


@dataclass(frozen=True)
class Term:
    """One product: ``kind`` is "nan", "inf", "zero" or "finite"; ``negative`` its sign."""

    kind: str
    negative: bool
    value: int = 0   # exact value in units of 2**-SCALE (finite terms)


def lmul_l(man_bits: int) -> int:
    """The paper's l(m): the offset term of L-Mul is 2**-l(m)."""
    return man_bits if man_bits <= 3 else (3 if man_bits == 4 else 4)


def _is_normal(fmt, value: float) -> bool:
    return math.isfinite(value) and value != 0 and abs(value) >= fmt.min_normal


def _flush(fmt, value: float) -> float:
    """A subnormal ``value`` of ``fmt`` as a zero of its sign; any other value unchanged."""
    if math.isfinite(value) and abs(value) < fmt.min_normal:
        return math.copysign(0.0, value)
    return value


def lmul_value(x: float, y: float, man_bits: int) -> int:
    """L-Mul of two normal floats, from the paper's formula, in units of 2**-SCALE.

    With |x| = (1 + x_m) 2**x_e: ``math.frexp`` gives |x| = f 2**k with f in [0.5, 1), so
    1 + x_m = 2f and x_e = k - 1. Working in units of 2**-52 of the mantissa sum:
    1 + x_m + y_m + 2**-l = (2f_x + 2f_y - 1 + 2**-l) = (X + Y - 2**52 + 2**(52 - l)) 2**-52
    with X = 2f_x 2**52 (an integer: f_x has at most 53 bits).
    """
    fx, kx = math.frexp(abs(x))
    fy, ky = math.frexp(abs(y))
    X, Y = int(fx * 2.0 ** 53), int(fy * 2.0 ** 53)
    mantissa_sum = X + Y - (1 << 52) + (1 << (52 - lmul_l(man_bits)))
    mag = _units_times_pow2(mantissa_sum, (kx - 1) + (ky - 1) - 52)
    return -mag if (x < 0) != (y < 0) else mag


def product_term(x: float, y: float, fa, fb, multiplier: str = "exact") -> Term:
    """The product of two decoded operands as a :class:`Term`."""
    negative = (math.copysign(1.0, x) < 0) != (math.copysign(1.0, y) < 0)
    if multiplier == "lmul_ftz":
        x, y = _flush(fa, x), _flush(fb, y)
    if math.isnan(x) or math.isnan(y):
        return Term("nan", False)
    if math.isinf(x) or math.isinf(y):
        if x == 0 or y == 0:
            return Term("nan", False)
        return Term("inf", negative)
    if x == 0 or y == 0:
        return Term("zero", negative)
    if multiplier in ("lmul", "lmul_ftz") and _is_normal(fa, x) and _is_normal(fb, y):
        return Term("finite", negative, lmul_value(x, y, max(fa.man_bits, fb.man_bits)))
    exact = to_units(x) * to_units(y)
    if exact % (1 << SCALE):
        raise ValueError("product finer than the unit")
    return Term("finite", negative, exact >> SCALE)


def combine(terms) -> tuple[str, int, bool]:
    """Classify a set of terms: ("nan"|"+inf"|"-inf"|"finite", exact sum, all terms are -0)."""
    terms = list(terms)
    if any(t.kind == "nan" for t in terms):
        return "nan", 0, False
    pos = any(t.kind == "inf" and not t.negative for t in terms)
    neg = any(t.kind == "inf" and t.negative for t in terms)
    if pos and neg:
        return "nan", 0, False
    if pos or neg:
        return ("+inf" if pos else "-inf"), 0, False
    total = sum(t.value for t in terms)
    all_neg_zero = all(t.kind == "zero" and t.negative for t in terms)
    return "finite", total, all_neg_zero


def result_code(kind: str, total: int, all_neg_zero: bool) -> int:
    """binary32 result of a :func:`combine` outcome (one rounding of the exact total)."""
    if kind == "nan":
        return FP32_NAN
    if kind == "+inf":
        return FP32_POS_INF
    if kind == "-inf":
        return FP32_NEG_INF
    if total == 0:
        return FP32_NEG_ZERO if all_neg_zero else 0
    return round_to_fp32(Fraction(total, 1 << SCALE))


def acc_term(code: int) -> Term:
    """A binary32 accumulator value as a :class:`Term`."""
    v = fp32_value(code)
    if isinstance(v, float):
        if math.isnan(v):
            return Term("nan", False)
        return Term("inf", v < 0)
    if v == 0:
        return Term("zero", bool(code >> 31))
    return Term("finite", v < 0, int(v * (1 << SCALE)))


def fp_mac(a, b, last, *, a_format, b_format, accumulator: str = "exact",
           multiplier: str = "exact") -> list[int]:
    """Output binary32 codes for input beats of operand codes.

    Parameters
    ----------
    a, b : array_like of int, shape (beats, K)
        Operand codes.
    last : array_like of bool, shape (beats,)
    a_format, b_format : str or Format
    accumulator : {"exact", "fp32"}
    multiplier : {"exact", "lmul", "lmul_ftz"}
    """
    fa, fb = parse_format(a_format), parse_format(b_format)
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    last = np.asarray(last, dtype=bool)
    if a.shape != b.shape or a.ndim != 2 or last.shape != (a.shape[0],):
        raise ValueError(f"shapes a{a.shape}, b{b.shape}, last{last.shape} do not match")
    av, bv = fa.decode(a), fb.decode(b)
    outputs = []
    pending: list[Term] = []
    acc = FP32_NEG_ZERO    # the fp32 accumulator starts at -0, the identity of IEEE addition
    for t in range(a.shape[0]):
        beat = [product_term(float(x), float(y), fa, fb, multiplier) for x, y in zip(av[t], bv[t])]
        if accumulator == "exact":
            pending += beat
            if last[t]:
                outputs.append(result_code(*combine(pending)))
                pending = []
        else:
            acc = result_code(*combine([acc_term(acc)] + beat))
            if last[t]:
                outputs.append(acc)
                acc = FP32_NEG_ZERO
    return outputs
