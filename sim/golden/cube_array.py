"""Golden model of ``cube_array`` (3D-Cube GEMM), written from its specification.

An input beat carries one k-block of a tile: ``a[0..R*K-1]`` (the R x K block of A, row r and
lane j at r*K + j), ``b[0..K*C-1]`` (the K x C block of B, lane j and column c at j*C + c) and
``last`` on the tile's final k-block. The tile's A is its blocks side by side (R x n*K), its B
the blocks stacked (n*K x C); each tile gives ``A @ B`` as R output rows, row r carrying
``c[0..C-1]`` and ``last`` on r = R-1. Results wrap modulo ``2**acc_width`` (two's complement
when signed). Beats after the final ``last`` produce no output.
"""

from __future__ import annotations

import numpy as np

from .int_mac import wrap

__all__ = ["cube_array"]


def cube_array(a, b, last, *, rows: int, cols: int, lanes: int, acc_width: int,
               acc_signed: bool = True):
    """Output rows and their ``last`` flags for input beats.

    Parameters
    ----------
    a : array_like of int, shape (beats, R*K)
    b : array_like of int, shape (beats, K*C)
    last : array_like of bool, shape (beats,)

    Returns
    -------
    c : object array, shape (tiles * R, C)
    row_last : bool array, shape (tiles * R,)
    """
    R, C, K = rows, cols, lanes
    a = np.asarray(a, dtype=object).reshape(-1, R, K)       # beat, row, lane
    b = np.asarray(b, dtype=object).reshape(-1, K, C)       # beat, lane, column
    last = np.asarray(last, dtype=bool)
    out, flags = [np.zeros((0, C), dtype=object)], [np.zeros(0, dtype=bool)]
    start = 0
    for end in np.flatnonzero(last):
        tile_a = np.concatenate(list(a[start:end + 1]), axis=1)     # R x n*K
        tile_b = np.concatenate(list(b[start:end + 1]), axis=0)     # n*K x C
        # Object arrays: exact Python integers, whatever the widths.
        out.append(wrap(tile_a.dot(tile_b), acc_width, acc_signed).reshape(R, C))
        flags.append(np.arange(R) == R - 1)
        start = end + 1
    return np.concatenate(out), np.concatenate(flags)
