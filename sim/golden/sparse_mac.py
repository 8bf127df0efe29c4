"""Golden model of ``sparse_mac``, written from its specification (the N:M sparsity issue).

Each group of M consecutive weights is stored as N (value, index) pairs, the index the weight's
position within its group. An input beat carries the dense activations ``a[0..G*M-1]`` of G
groups, compressed weights ``wv[0..G*N-1]`` with indexes ``wi[0..G*N-1]``, a pattern ``n`` and
``last``. A beat with 1 <= n <= N adds

    sum over groups g and pairs p < n of a[g*M + wi[g*N+p]] * wv[g*N+p]

to the accumulator (every pair its own product, whatever the order of the indexes and even when
two pairs share one); a beat with n = 0 or n > N adds nothing and marks its accumulation group
as erroneous. A beat with ``last`` emits ``acc`` (wrapped to ``acc_width`` bits, two's complement
when signed) and ``error`` (1 if any beat since the previous output had an invalid n), then the
accumulator and the error flag restart.
"""

from __future__ import annotations

import numpy as np

from .int_mac import wrap

__all__ = ["sparse_mac", "beat_sums"]


def beat_sums(a, wv, wi, n, *, group_m: int, max_n: int) -> tuple[np.ndarray, np.ndarray]:
    """Per beat: the exact sum it adds (object array; 0 for an invalid n) and whether its n is
    valid (bool array)."""
    a = np.asarray(a, dtype=object)
    wv = np.asarray(wv, dtype=object)
    wi = np.asarray(wi, dtype=np.int64)
    n = np.asarray(n, dtype=np.int64)
    pair = np.arange(wv.shape[1])
    # Pair k = g*N + p selects the activation at position wi[k] of its group g.
    selected = np.take_along_axis(a, (pair // max_n) * group_m + wi, axis=1)
    valid = (n >= 1) & (n <= max_n)
    counted = ((pair % max_n)[None, :] < n[:, None]) & valid[:, None]
    # Object arrays keep every sum exact at any width.
    sums = np.where(counted, selected * wv, 0).sum(axis=1).astype(object)
    return sums, valid


def sparse_mac(a, wv, wi, n, last, *, group_m: int, max_n: int, acc_width: int,
               acc_signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Output beats for input beats: ``(acc, error)``, ``acc`` an object array of exact wrapped
    integers, ``error`` an int64 array of 0/1.

    Parameters
    ----------
    a : array_like of int, shape (beats, G*M)
    wv, wi : array_like of int, shape (beats, G*N)
        Weight values and their indexes (0 .. M-1) within their group.
    n : array_like of int, shape (beats,)
    last : array_like of bool, shape (beats,)
    group_m, max_n : int
        M and N.
    acc_width : int
    acc_signed : bool
    """
    sums, valid = beat_sums(a, wv, wi, n, group_m=group_m, max_n=max_n)
    acc, error = 0, False
    outputs, errors = [], []
    for t, end in enumerate(np.asarray(last, dtype=bool)):
        acc += sums[t]
        error = error or not valid[t]
        if end:
            outputs.append(acc)
            errors.append(int(error))
            acc, error = 0, False
    return (wrap(np.array(outputs, dtype=object), acc_width, acc_signed),
            np.array(errors, dtype=np.int64))
