"""Golden model of ``systolic_array`` (GEMM), written from its specification (issue 6).

Output-stationary: input beats carry ``a[0..R-1]`` (column k of an R x K tile of A), ``b[0..C-1]``
(row k of a K x C tile of B) and ``last`` on k = K-1. Each tile gives ``A @ B`` as R output rows,
row r carrying ``c[0..C-1]`` and ``last`` on r = R-1.

Weight-stationary: a load sets the stored R x C tile W; each vector x gives ``y = x @ W`` with
the tile most recently loaded before it.

Results wrap modulo ``2**acc_width`` (two's complement when signed).
"""

from __future__ import annotations

import numpy as np

from .int_mac import wrap

__all__ = ["output_stationary", "weight_stationary"]


def output_stationary(a, b, last, *, acc_width: int, acc_signed: bool = True):
    """Output rows and their ``last`` flags for output-stationary input beats.

    Parameters
    ----------
    a : array_like of int, shape (beats, R)
    b : array_like of int, shape (beats, C)
    last : array_like of bool, shape (beats,)

    Returns
    -------
    c : object array, shape (tiles * R, C)
    row_last : bool array, shape (tiles * R,)
    """
    a = np.asarray(a, dtype=object)
    b = np.asarray(b, dtype=object)
    last = np.asarray(last, dtype=bool)
    rows, cols = a.shape[1], b.shape[1]
    out, flags = [], []
    start = 0
    for end in np.flatnonzero(last):
        tile_a = a[start:end + 1].T            # R x K
        tile_b = b[start:end + 1]              # K x C
        product = tile_a.dot(tile_b)           # exact Python integers (object dtype)
        out.append(wrap(product, acc_width, acc_signed).reshape(rows, cols))
        flags.append(np.arange(rows) == rows - 1)
        start = end + 1
    if not out:
        return np.zeros((0, cols), dtype=object), np.zeros(0, dtype=bool)
    return np.concatenate(out), np.concatenate(flags)


def weight_stationary(events, *, acc_width: int, acc_signed: bool = True):
    """Output vectors for a sequence of ``("load", W)`` and ``("x", x)`` events, in order.

    ``W`` has shape (R, C), ``x`` shape (R,). Returns an object array of shape (vectors, C).
    Vectors before the first load are not allowed (the stored tile is unspecified then).
    """
    tile = None
    out = []
    for kind, value in events:
        if kind == "load":
            tile = np.asarray(value, dtype=object)
        elif kind == "x":
            if tile is None:
                raise ValueError("a vector before the first weight load has no defined result")
            out.append(wrap(np.asarray(value, dtype=object).dot(tile), acc_width, acc_signed))
        else:
            raise ValueError(f"unknown event {kind!r}")
    return np.array(out, dtype=object).reshape(len(out), -1) if out else \
        np.zeros((0, 0), dtype=object)
