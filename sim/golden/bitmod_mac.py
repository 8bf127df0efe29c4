"""Golden model of ``bitmod_mac``, written from its specification (issue 5, after "BitMoD:
Bit-serial Mixture-of-Datatype LLM Acceleration").

Weight decoding by ``dtype`` (3 bits):

- 0 INT: two's complement code.
- 1 FP base grid: sign-magnitude, sign in the top bit. 3-bit magnitudes 0,1,2,3 -> 0,1,2,4;
  4-bit magnitudes 0..7 -> 0,1,2,3,4,6,8,12 (E2M1 scaled by 2). The negative-zero code means 0.
- 2 ER_POS, 3 ER_NEG, 4 EA_POS, 5 EA_NEG: the FP grid, except that the negative-zero code means
  +3 / -3 / +6 / -6 (3-bit) or +10 / -10 / +16 / -16 (4-bit).
- 6, 7: invalid; the weights count as 0 and the output beat's ``error`` flag is set.

The group sum ``G`` adds ``sum_k a[k] * decode(w[k], dtype)`` over a group's beats; on a beat
with ``group_last`` (or ``last``, which implies it) the output accumulator adds ``scale * G``
exactly and ``G`` restarts; on ``last`` the accumulator is emitted and restarts. The output is
fixed point with the scale's fraction bits, so with raw (integer) scales the emitted raw value
is ``sum_groups scale_raw * G``, wrapped to ``acc_width`` bits two's complement. ``error`` is set
when any beat since the previous output (this one included) had an invalid dtype.
"""

from __future__ import annotations

import numpy as np

from .int_mac import wrap

__all__ = ["decode_table", "decode", "bitmod_mac", "terms_needed"]

_FP = {3: [0, 1, 2, 4], 4: [0, 1, 2, 3, 4, 6, 8, 12]}
# Value of the negative-zero code for ER_POS, ER_NEG, EA_POS, EA_NEG.
_NEG_ZERO = {3: [3, -3, 6, -6], 4: [10, -10, 16, -16]}


def decode_table(weight_bits: int) -> np.ndarray:
    """Table ``[dtype, code] -> value`` (int64, 8 x 2**weight_bits); invalid dtypes give 0."""
    n = 1 << weight_bits
    half = n >> 1
    table = np.zeros((8, n), dtype=np.int64)
    for code in range(n):
        table[0, code] = code if code < half else code - n
        sign = -1 if code >= half else 1
        magnitude = _FP[weight_bits][code % half]
        for dtype in range(1, 6):
            table[dtype, code] = sign * magnitude
        if code == half:   # sign 1, magnitude 0: "negative zero"
            table[1, code] = 0
            for i, value in enumerate(_NEG_ZERO[weight_bits]):
                table[2 + i, code] = value
    return table


def decode(codes, dtype, weight_bits: int) -> np.ndarray:
    """Values of weight codes (beats, K) under per-beat dtypes (beats,)."""
    codes = np.asarray(codes, dtype=np.int64)
    dtype = np.asarray(dtype, dtype=np.int64)
    return decode_table(weight_bits)[dtype[:, None], codes]


def terms_needed(value: int) -> int:
    """Fewest signed powers of two that sum to ``value`` (0, 1 or 2 on every BitMoD grid)."""
    v = abs(int(value))
    if v == 0:
        return 0
    if v & (v - 1) == 0:
        return 1
    for i in range(v.bit_length() + 2):
        rest = v - (1 << i)
        if rest and (abs(rest) & (abs(rest) - 1)) == 0:
            return 2
    return 3


def bitmod_mac(a, w_codes, dtype, scale_raw, group_last, last, *, weight_bits: int,
               acc_width: int) -> tuple[np.ndarray, np.ndarray]:
    """(raw accumulator values, error flags) of the output beats.

    ``a``: activation values (beats, K); ``w_codes``: weight codes (beats, K); ``dtype``,
    ``scale_raw`` (integer scale codes), ``group_last``, ``last``: shape (beats,).
    """
    a = np.asarray(a, dtype=object)
    dtype = np.asarray(dtype, dtype=np.int64)
    weights = decode(w_codes, dtype, weight_bits).astype(object)
    invalid = dtype >= 6
    group_sum = 0
    acc = 0
    error = False
    outputs, errors = [], []
    for i in range(len(dtype)):
        group_sum += int((a[i] * weights[i]).sum())
        error = error or bool(invalid[i])
        if group_last[i] or last[i]:
            acc += int(scale_raw[i]) * group_sum
            group_sum = 0
        if last[i]:
            outputs.append(acc)
            errors.append(int(error))
            acc = 0
            error = False
    return wrap(np.array(outputs, dtype=object), acc_width, True), np.array(errors, dtype=np.int64)
