"""Golden model of ``int_mac``, written from its specification.

An input beat carries integer vectors ``a[0..K-1]``, ``b[0..K-1]`` and a flag ``last``. The PE
adds ``sum_k a[k] * b[k]`` to its accumulator; a beat with ``last`` = 1 emits the accumulator
(that beat included) and restarts from zero. The accumulator is ``acc_width`` bits and wraps
modulo ``2**acc_width`` (two's complement when signed). Beats after the final ``last`` produce
no output.
"""

from __future__ import annotations

import numpy as np

__all__ = ["int_mac", "wrap"]


def wrap(values, width: int, signed: bool) -> np.ndarray:
    """Reduce exact integers modulo ``2**width``; as two's complement when ``signed``."""
    values = np.asarray(values, dtype=object)
    modulus = 1 << width
    wrapped = values % modulus
    if signed:
        wrapped = np.where(wrapped >= modulus >> 1, wrapped - modulus, wrapped)
    return wrapped.astype(object)


def int_mac(a, b, last, *, acc_width: int, acc_signed: bool = True) -> np.ndarray:
    """Output beats (exact Python integers, object array) for input beats.

    Parameters
    ----------
    a, b : array_like of int, shape (beats, K)
        Operand values (not codes).
    last : array_like of bool, shape (beats,)
    acc_width : int
    acc_signed : bool
    """
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    last = np.asarray(last, dtype=bool)
    if a.shape != b.shape or a.ndim != 2 or last.shape != (a.shape[0],):
        raise ValueError(f"shapes a{a.shape}, b{b.shape}, last{last.shape} do not match")
    # Object arrays keep every integer exact regardless of width (K * 2^32 * beats may pass 2^63).
    dots = (a * b).sum(axis=1) if a.shape[1] else np.zeros(a.shape[0], dtype=object)
    ends = np.flatnonzero(last)
    if ends.size == 0:
        return np.zeros(0, dtype=object)
    running = np.cumsum(dots)
    totals = running[ends] - np.concatenate(([0], running[ends[:-1]]))
    return wrap(totals, acc_width, acc_signed)
