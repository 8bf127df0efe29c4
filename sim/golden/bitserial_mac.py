"""Golden model of ``bitserial_mac``, written from its specification (issue 5).

An input beat carries activations ``a[0..K-1]``, weight fields ``w[0..K-1]`` (``weight_bits``
wide), a precision ``prec`` and ``last``. Each weight is the ``prec``-bit value in the low
``prec`` bits of its field: unsigned, or two's complement (the top bit weighs
``-2**(prec-1)``); the upper bits are ignored. After decoding, the PE is an ``int_mac``: the
accumulator adds ``sum_k a[k] * w[k]`` and emits on ``last``, so the ``int_mac`` golden model
applies.

Cycles per beat (for reports and the cycle-count tests): ``bits`` mode takes
``ceil(prec / bits_per_cycle)`` cycles; ``terms`` mode consumes up to ``bits_per_cycle`` (1 or
2) non-zero canonical signed digits (non-adjacent form) per lane per cycle, so a beat takes
``ceil(max over its lanes of the non-zero digits / bits_per_cycle)`` cycles, at least one
(issue 15 for two terms per cycle).
"""

from __future__ import annotations

import numpy as np

from .int_mac import int_mac

__all__ = ["decode_weights", "csd_digits", "csd_nonzero_count", "cycles_per_beat",
           "bitserial_mac"]


def decode_weights(codes, prec, *, signed: bool) -> np.ndarray:
    """Weight values (int64) of field codes at per-beat precisions: the low ``prec`` bits, as
    two's complement when ``signed``.

    ``codes`` has shape (beats, ...); ``prec`` shape (beats,).
    """
    codes = np.asarray(codes, dtype=np.int64)
    prec = np.asarray(prec, dtype=np.int64).reshape((-1,) + (1,) * (codes.ndim - 1))
    low = codes & ((np.int64(1) << prec) - 1)
    if signed:
        sign_set = (low >> (prec - 1)) & 1
        low = low - (sign_set << prec)
    return low


def csd_digits(value: int) -> list[int]:
    """Canonical signed digits of an integer, least significant first (Reitwiesner's
    algorithm: an odd remainder takes the digit 2 - (x mod 4), i.e. +1 or -1, so that the next
    digit is zero)."""
    x = int(value)
    out = []
    while x:
        if x & 1:
            d = 2 - (x % 4)
            x -= d
        else:
            d = 0
        out.append(d)
        x //= 2
    return out


def csd_nonzero_count(values) -> np.ndarray:
    """Number of non-zero canonical signed digits of each value (same shape)."""
    values = np.asarray(values, dtype=np.int64)
    flat = [sum(1 for d in csd_digits(v) if d) for v in values.reshape(-1)]
    return np.asarray(flat, dtype=np.int64).reshape(values.shape)


def cycles_per_beat(weights, prec, *, serial_mode: str, bits_per_cycle: int = 1) -> np.ndarray:
    """Cycles each beat needs. ``weights`` are decoded values, shape (beats, K)."""
    prec = np.asarray(prec, dtype=np.int64)
    if serial_mode == "bits":
        return np.maximum(1, -(-prec // bits_per_cycle))
    if serial_mode == "terms":
        counts = csd_nonzero_count(weights)
        return np.maximum(1, -(-counts.max(axis=1) // bits_per_cycle))
    raise ValueError(f"unknown serial_mode {serial_mode!r}")


def bitserial_mac(a, w_codes, prec, last, *, weight_signed: bool, acc_width: int,
                  acc_signed: bool = True) -> np.ndarray:
    """Output beats (exact integers, object array) for input beats (values of ``a``, field
    codes of ``w``)."""
    weights = decode_weights(w_codes, prec, signed=weight_signed)
    return int_mac(a, weights, last, acc_width=acc_width, acc_signed=acc_signed)
