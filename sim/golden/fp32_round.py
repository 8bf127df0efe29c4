"""Correctly rounded conversion of exact rationals to IEEE 754 binary32 codes.

Written from IEEE Std 754-2019: roundTiesToEven (4.3.1), gradual underflow (subnormals, 3.4),
overflow to +-Inf under roundTiesToEven (7.4). Works on exact :class:`fractions.Fraction` values,
so there is no double rounding through float64.
"""

from __future__ import annotations

from fractions import Fraction

__all__ = ["round_to_fp32", "fp32_value", "FP32_NAN", "FP32_POS_INF", "FP32_NEG_INF",
           "FP32_NEG_ZERO"]

FP32_NAN = 0x7FC00000
FP32_POS_INF = 0x7F800000
FP32_NEG_INF = 0xFF800000
FP32_NEG_ZERO = 0x80000000

_P = 24          # significand precision (bits, hidden bit included)
_EMIN = -126     # exponent of the smallest normal
_EMAX = 127


def _floor_log2(x: Fraction) -> int:
    """floor(log2(x)) for x > 0, exactly."""
    n, d = x.numerator, x.denominator
    e = n.bit_length() - d.bit_length()
    # 2**e is now within a factor 2 of x: adjust by one step if needed (integer comparisons of
    # n against d * 2**e).
    if (d << e if e >= 0 else d) > (n if e >= 0 else n << -e):
        e -= 1
    return e


def _round_half_even(num: int, den: int) -> int:
    """Nearest integer to num / den >= 0, ties to even."""
    q, r = divmod(num, den)
    twice = 2 * r
    if twice > den or (twice == den and q % 2 == 1):
        q += 1
    return q


def round_to_fp32(x) -> int:
    """binary32 code of the exact value ``x`` (int or Fraction), roundTiesToEven.

    A nonzero value that rounds to zero gives a zero of its own sign; ``x == 0`` gives +0 (the
    sign of an exact zero depends on how it was formed, which the caller knows).
    """
    x = Fraction(x)
    if x == 0:
        return 0
    sign = 0x80000000 if x < 0 else 0
    a = abs(x)
    e = max(_floor_log2(a), _EMIN)              # exponent of the result's binade (subnormals: EMIN)
    quantum_exp = e - (_P - 1)
    # significand in units of the quantum: round(a / 2**quantum_exp)
    num, den = a.numerator, a.denominator
    if quantum_exp >= 0:
        den <<= quantum_exp
    else:
        num <<= -quantum_exp
    n = _round_half_even(num, den)
    if n == 1 << _P:                           # rounding carried into the next binade
        n >>= 1
        e += 1
    if e > _EMAX:
        return sign | FP32_POS_INF
    if n < 1 << (_P - 1):                      # subnormal (or zero): biased exponent 0
        return sign | n
    return sign | ((e + 127) << 23) | (n - (1 << (_P - 1)))


def fp32_value(code: int):
    """Exact value of a binary32 code: a Fraction, or the float inf / nan for specials."""
    code = int(code)
    sign = -1 if code >> 31 else 1
    exp = (code >> 23) & 0xFF
    man = code & 0x7FFFFF
    if exp == 0xFF:
        return float("nan") if man else sign * float("inf")
    if exp == 0:
        return sign * Fraction(man) * Fraction(2) ** -149
    return sign * Fraction(man | 0x800000) * Fraction(2) ** (exp - 150)
