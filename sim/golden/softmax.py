"""Golden models of the ``softmax`` generator: float64 softmax and the bit-exact fixed-point algorithm.

Written from the algorithm definitions (numerics.md section 6 and issue 4), with the internal widths of
:func:`hdl.softmax.softmax_widths` (P, k, r, T, C, ... as named there):

Exponential, base 2.  For an input difference ``u`` (raw, ``in_frac`` fraction bits) the exponent is
``t = u * log2(e)``, computed as ``t = round(u * log2e / 2^(in_frac + C - T))`` with the constant
``log2e = round(log2(e) * 2^C)``; every ``round`` here is round half up (``(a + 2^(s-1)) >> s``).
``t = n + f`` with ``n = floor(t)`` and ``f`` the T-bit fraction; ``2^f`` comes from the table
``tab[j] = round(2^(j / 2^k) * 2^P)``, ``j = 0 .. 2^k``, indexed by the top k bits of f, with the low
r bits interpolating linearly: ``v = tab[j] + round((tab[j+1] - tab[j]) * low / 2^r)``.  Then
``e = round(v / 2^-n)`` (a right shift by ``-n`` with rounding).

Algorithms.  ``three_pass``: ``m = max x``, ``e_i = exp(x_i - m)``, ``D = sum e_i``.  ``online``:
running max and sum in one pass; a new maximum rescales the sum, ``D = round(D * exp(m_old - x) /
2^P) + 1``, otherwise ``D = D + exp(x - m)``.  ``two_pass_extexp``: ``(v_i, n_i)`` of ``exp(x_i)``
itself; a running pair ``(S, N)``: a larger exponent shifts S right (rounded) and adopts n, a smaller
one adds ``round(v / 2^(N - n))``; pass 2 uses ``e_i = round(v_i / 2^(N - n_i))`` and ``D = S``.

Reciprocal.  ``D = M * 2^z`` with ``z = floor(log2 D)`` and M in [1, 2) held with B fraction bits (exact).
Divider: ``R = floor(2^(Q+B) / M)``.  Newton: seed ``R0 = round(2^Q / (1 + (j + 1/2) / 2^b))`` for the
top b fraction bits j of M, then ``p = round(M' * R / 2^(Q+2))`` with ``M'`` = M truncated to Q + 2
fraction bits, ``R = round(R * (2^(Q+1) - p) / 2^Q)``, ``newton_iters`` times.

Output.  ``y = round(e_i * R / 2^(Q + z - F_out))``, saturated to the output format's largest code.
A vector longer than ``max_length`` gives ``y = 0`` with ``error = 1`` on each of its beats.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "softmax_reference", "exp2_table", "exp2_frac", "exp2_split", "rshift_round", "normalize",
    "reciprocal_seed_table", "reciprocal", "softmax_fixed", "softmax_stream", "max_code",
]


def softmax_reference(values) -> np.ndarray:
    """Exact softmax (float64) of one vector of real values."""
    v = np.asarray(values, dtype=np.float64)
    e = np.exp(v - v.max())
    return e / e.sum()


def rshift_round(a, s):
    """``round(a / 2^s)`` (half up) for non-negative integers ``a``; s >= 0, any size."""
    a = np.asarray(a, dtype=np.int64)
    s = np.minimum(np.asarray(s, dtype=np.int64), 62)
    half = np.where(s > 0, np.left_shift(np.int64(1), np.maximum(s - 1, 0)), 0)
    return np.right_shift(a + half, s)


def exp2_table(w) -> np.ndarray:
    """``round(2^(j / 2^k) * 2^P)`` for j = 0 .. 2^k (the last entry is 2^(P+1))."""
    k, P = w.table_bits, w.exp_frac
    return np.array([math.floor(2.0 ** (j / 2 ** k) * 2 ** P + 0.5) for j in range(2 ** k + 1)],
                    dtype=np.int64)


def exp2_frac(f, w) -> np.ndarray:
    """``2^f`` with P fraction bits for T-bit fractions f (table plus optional interpolation)."""
    f = np.asarray(f, dtype=np.int64)
    tab = exp2_table(w)
    r = w.interp_bits
    j = f >> r
    if r == 0:
        return tab[j]
    low = f & ((1 << r) - 1)
    return tab[j] + rshift_round((tab[j + 1] - tab[j]) * low, r)


def exp2_split(u, w):
    """``(v, n)``: ``2^f`` (P fraction bits) and ``n = floor(t)`` for ``t = u * log2(e)``."""
    u = np.asarray(u, dtype=np.int64)
    shift = w.in_frac + w.log2e_frac - w.t_frac
    prod = u * w.log2e
    t = (prod + (1 << (shift - 1))) >> shift        # floor((prod + half) / 2^shift), half up
    n = t >> w.t_frac
    f = t & ((1 << w.t_frac) - 1)
    return exp2_frac(f, w), n


def exp_neg(u, w):
    """``e = exp(u)`` for u <= 0 with P fraction bits."""
    v, n = exp2_split(u, w)
    return rshift_round(v, np.maximum(-n, 0))


def normalize(D, w):
    """``(M, z)``: ``D = M * 2^(z - B)`` exactly, M in [2^B, 2^(B+1))."""
    D = np.asarray(D, dtype=np.int64)
    z = np.array([int(d).bit_length() - 1 for d in D.reshape(-1)], dtype=np.int64).reshape(D.shape)
    return D << (w.norm_frac - z), z


def reciprocal_seed_table(w) -> np.ndarray:
    b, Q = w.recip_table_bits, w.recip_frac
    return np.array([math.floor(2 ** Q / (1 + (j + 0.5) / 2 ** b) + 0.5) for j in range(2 ** b)],
                    dtype=np.int64)


def reciprocal(M, w):
    """``R ~ 2^Q / (M / 2^B)`` by the configured method (see the module docstring)."""
    M = np.asarray(M, dtype=np.int64)
    B, Q = w.norm_frac, w.recip_frac
    if w.recip_table_bits == 0:
        return np.array([(1 << (Q + B)) // int(m) for m in M.reshape(-1)],
                        dtype=np.int64).reshape(M.shape)
    b = w.recip_table_bits
    j = (M >> (B - b)) & ((1 << b) - 1)
    R = reciprocal_seed_table(w)[j]
    Mq = M >> (B - Q - 2)
    for _ in range(w.newton_iters):
        p = rshift_round(Mq * R, Q + 2)
        R = rshift_round(R * ((1 << (Q + 1)) - p), Q)
    return R


def max_code(w) -> int:
    return (1 << (w.out_frac + w.out_int)) - 1


def _sums(X, mask, w, algorithm):
    """Per vector: the sum D and, per element, the exponential e_i (P fraction bits)."""
    nvec, width = X.shape
    if algorithm == "three_pass":
        m = np.where(mask, X, np.iinfo(np.int64).min).max(axis=1)
        e = np.where(mask, exp_neg(X - m[:, None], w), 0)
        return e.sum(axis=1), e
    if algorithm == "online":
        m = X[:, 0].copy()
        D = np.full(nvec, 1 << w.exp_frac, dtype=np.int64)
        for j in range(1, width):
            x = X[:, j]
            active = mask[:, j]
            new_max = x > m
            e = exp_neg(-np.abs(x - m), w)
            D_next = np.where(new_max, rshift_round(D * e, w.exp_frac) + (1 << w.exp_frac), D + e)
            D = np.where(active, D_next, D)
            m = np.where(active & new_max, x, m)
        e = np.where(mask, exp_neg(X - m[:, None], w), 0)
        return D, e
    if algorithm == "two_pass_extexp":
        v, n = exp2_split(X, w)
        S = v[:, 0].copy()
        N = n[:, 0].copy()
        for j in range(1, width):
            active = mask[:, j]
            vj, nj = v[:, j], n[:, j]
            up = nj > N
            S_next = np.where(up, rshift_round(S, np.maximum(nj - N, 0)) + vj,
                              S + rshift_round(vj, np.maximum(N - nj, 0)))
            S = np.where(active, S_next, S)
            N = np.where(active & up, nj, N)
        e = np.where(mask, rshift_round(v, np.maximum(N[:, None] - n, 0)), 0)
        return S, e
    raise ValueError(f"unknown algorithm {algorithm!r}")


def softmax_fixed(X, lengths, w, algorithm: str) -> np.ndarray:
    """Output codes of the fixed-point algorithm for a batch of vectors.

    Parameters
    ----------
    X : array_like of int, shape (vectors, width)
        Raw input values (the code's integer value, ``in_frac`` fraction bits); entries past a
        vector's length are ignored.
    lengths : array_like of int, shape (vectors,)
        1 .. width.
    w : hdl.softmax.SoftmaxWidths
    algorithm : str

    Returns
    -------
    numpy.ndarray of int64, shape (vectors, width)
        Output codes (0 past each vector's length).
    """
    X = np.asarray(X, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    mask = np.arange(X.shape[1])[None, :] < lengths[:, None]
    D, e = _sums(X, mask, w, algorithm)
    M, z = normalize(D, w)
    R = reciprocal(M, w)
    shift = w.recip_frac + z - w.out_frac
    y = rshift_round(e * R[:, None], shift[:, None])
    return np.where(mask, np.minimum(y, max_code(w)), 0)


def softmax_stream(x, last, w, algorithm: str, max_length: int):
    """Output beats ``(y, last, error)`` of the stream unit for input beats ``(x, last)``.

    ``x`` are raw input values; the final beat must have ``last`` set.  Returns int64 arrays.
    """
    x = np.asarray(x, dtype=np.int64)
    last = np.asarray(last, dtype=bool)
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    lengths = ends - starts + 1
    y = np.zeros(len(x), dtype=np.int64)
    error = np.zeros(len(x), dtype=np.int64)
    ok = lengths <= max_length
    # Batch vectors of similar length together (the online and two-pass models loop over positions).
    idx = np.flatnonzero(ok)
    if idx.size:
        width = int(lengths[idx].max())
        X = np.zeros((idx.size, width), dtype=np.int64)
        for row, v in enumerate(idx):
            X[row, :lengths[v]] = x[starts[v]:ends[v] + 1]
        Y = softmax_fixed(X, lengths[idx], w, algorithm)
        for row, v in enumerate(idx):
            y[starts[v]:ends[v] + 1] = Y[row, :lengths[v]]
    for v in np.flatnonzero(~ok):
        error[starts[v]:ends[v] + 1] = 1
    return y, last.astype(np.int64), error
