"""Golden model of ``mx_dot`` (OCP MX v1.0 block dot product), written from issue 3's text.

A block is 32 elements: ``32 / K`` beats counted from the start. The scales ``xa``, ``xb``
(E8M0) of a block are the ones on its first beat. Per block the exact value
``X_a * X_b * sum_i P_a,i * P_b,i`` is added to the binary32 accumulator with one
roundTiesToEven rounding; ``last`` on a block's final beat emits the accumulator, which restarts
(``last`` on other beats is ignored). Special values as ``fp_mac``; a 0xFF scale or a NaN element
gives NaN. Elements decode with :mod:`hdl.formats` (ml_dtypes for the minifloats, ``q2.6`` for
MXINT8), scales with its E8M0 model; sums are exact integers.
"""

from __future__ import annotations

import math

import numpy as np

from hdl.mx import BLOCK_SIZE, E8M0, mx_element

from .fp_mac import FP32_NEG_ZERO, SCALE, Term, acc_term, combine, product_term, result_code

__all__ = ["mx_dot", "block_term"]


def block_term(a_vals, b_vals, a_elem, b_elem, xa: int, xb: int) -> Term:
    """The exact scaled value of one block (NaN/Inf/zero classified) as a fp_mac Term."""
    if xa == 0xFF or xb == 0xFF:
        return Term("nan", False)
    fa, fb = mx_element(a_elem).format, mx_element(b_elem).format
    kind, total, all_neg_zero = combine(
        product_term(float(x), float(y), fa, fb) for x, y in zip(a_vals, b_vals))
    if kind == "nan":
        return Term("nan", False)
    if kind in ("+inf", "-inf"):
        return Term("inf", kind == "-inf")
    if total == 0:
        return Term("zero", all_neg_zero)
    # X_a * X_b = 2**(xa - 127 + xb - 127): an exact power-of-two scaling of the integer total.
    exp = int(math.log2(E8M0.decode(xa))) + int(math.log2(E8M0.decode(xb)))
    if exp >= 0:
        value = total << exp
    else:
        if total % (1 << -exp):
            raise ValueError(f"block value finer than 2**-{SCALE}")
        value = total >> -exp
    return Term("finite", value < 0, value)


def mx_dot(a, b, xa, xb, last, *, a_elem, b_elem) -> list[int]:
    """Output binary32 codes for input beats.

    Parameters
    ----------
    a, b : array_like of int, shape (beats, K)
        Element codes (MXINT8: two's complement codes 0..255).
    xa, xb : array_like of int, shape (beats,)
        E8M0 scale codes (only a block's first beat counts).
    last : array_like of bool, shape (beats,)
    a_elem, b_elem : str
    """
    a = np.asarray(a, dtype=np.uint64)
    b = np.asarray(b, dtype=np.uint64)
    lanes = a.shape[1]
    if BLOCK_SIZE % lanes:
        raise ValueError("lanes must divide 32")
    beats_per_block = BLOCK_SIZE // lanes
    av = mx_element(a_elem).format.decode(a)
    bv = mx_element(b_elem).format.decode(b)
    outputs = []
    acc = FP32_NEG_ZERO
    for start in range(0, a.shape[0] - beats_per_block + 1, beats_per_block):
        end = start + beats_per_block
        term = block_term(av[start:end].reshape(-1), bv[start:end].reshape(-1), a_elem, b_elem,
                          int(xa[start]), int(xb[start]))
        acc = result_code(*combine([acc_term(acc), term]))
        if last[end - 1]:
            outputs.append(acc)
            acc = FP32_NEG_ZERO
    return outputs
