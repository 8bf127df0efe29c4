"""``sparse_mac`` stimulus: extreme values, index patterns (duplicates, out of order), invalid
patterns n, a long run of the largest products, random beats whose n changes from beat to beat;
dense data as sparse beats; golden outputs."""

from __future__ import annotations

import numpy as np

from hdl.sparse_mac import pattern_width
from sim.golden.sparse_mac import sparse_mac as sparse_golden

from . import field_format, group_sources, stream_stimulus

__all__ = ["invalid_patterns", "sparse_operands", "dense_beats", "sparse_stimulus",
           "golden_streams"]


def invalid_patterns(max_n: int) -> list[int]:
    """The values of ``n`` that the field can carry but that are invalid: 0, and N+1 up to the
    field's largest code."""
    return [0] + list(range(max_n + 1, 1 << pattern_width(max_n)))


def _extremes(fmt) -> list[int]:
    return sorted({fmt.min, fmt.max, 0, max(fmt.min, -1), min(fmt.max, 1)})


def _beats(params: dict, rows: dict):
    """``(a, wv, wi, n, last)`` arrays from per-beat lists (an empty list gives no beats)."""
    G, M, N = params["groups"], params["group_m"], params["max_n"]
    return (np.array(rows["a"], dtype=np.int64).reshape(-1, G * M),
            np.array(rows["wv"], dtype=np.int64).reshape(-1, G * N),
            np.array(rows["wi"], dtype=np.int64).reshape(-1, G * N),
            np.array(rows["n"], dtype=np.int64), np.array(rows["last"], dtype=bool))


def sparse_operands(params: dict, rng: np.random.Generator, beats: int, *,
                    mean_group: float = 4.0, extremes: bool = True, invalid: float = 0.1):
    """Beats as ``(a, wv, wi, n, last)`` (int64 arrays; ``last`` bool).

    With ``extremes``, first: every pairing of the extreme values (min, max, 0, -1/1) of both
    formats in all positions and pairs, at every n, one group each; beats mixing extremes per
    position with random indexes; every group of pairs sharing one index (each position) and in
    descending and shuffled index order; groups with an invalid n (0, and above N where the field
    can carry it) before, between and as the last of valid beats; a 64-beat group of the
    largest-magnitude products (accumulator width and wrap). Then ``beats`` random beats: uniform
    operands and indexes, n uniform in 1..N changing from beat to beat, replaced by an invalid
    value with probability ``invalid``, random group lengths; the final beat has ``last``."""
    fa, fw = params["act_format"], params["weight_format"]
    M, N, G = params["group_m"], params["max_n"], params["groups"]
    bad = invalid_patterns(N)
    rows = {"a": [], "wv": [], "wi": [], "n": [], "last": []}

    def beat(a, wv, wi, n, last):
        for key, value in zip(rows, (a, wv, wi, n, last)):
            rows[key].append(value)

    def random_indexes():
        return rng.integers(0, M, size=G * N)

    def random_acts():
        return rng.integers(fa.min, fa.max, size=G * M, endpoint=True)

    def random_weights():
        return rng.integers(fw.min, fw.max, size=G * N, endpoint=True)

    if extremes:
        ext_a, ext_w = _extremes(fa), _extremes(fw)
        for x in ext_a:
            for y in ext_w:
                for n in range(1, N + 1):
                    beat(np.full(G * M, x), np.full(G * N, y), random_indexes(), n, True)
        for t in range(8 * N):
            beat(rng.choice(ext_a, size=G * M), rng.choice(ext_w, size=G * N), random_indexes(),
                 1 + t % N, rng.random() < 0.5)
        orders = [np.full(G * N, j) for j in range(M)]            # all pairs share index j
        orders.append(np.tile((M - 1 - np.arange(N)) % M, G))     # descending
        orders += [np.concatenate([rng.permutation(M)[:N] for _ in range(G)]) for _ in range(4)]
        for wi in orders:
            for n in sorted({1, N, int(rng.integers(1, N, endpoint=True))}):
                beat(random_acts(), random_weights(), wi, n, True)
        for n_bad in bad:
            # The invalid beat first, in the middle, last, and alone in its group.
            for where in (0, 1, 3, None):
                group = [int(rng.integers(1, N, endpoint=True)) for _ in range(3)]
                if where is None:
                    group = [n_bad]
                else:
                    group.insert(where, n_bad)
                for i, n in enumerate(group):
                    beat(random_acts(), random_weights(), random_indexes(), n,
                         i == len(group) - 1)
        corners = [(x, y) for x in (fa.min, fa.max) for y in (fw.min, fw.max)]
        big = max(corners, key=lambda c: abs(c[0] * c[1]))
        for t in range(64):
            beat(np.full(G * M, big[0]), np.full(G * N, big[1]), random_indexes(), N, t == 63)

    n_rnd = rng.integers(1, N, size=beats, endpoint=True)
    swap = rng.random(beats) < invalid
    n_rnd[swap] = rng.choice(bad, size=int(swap.sum()))
    last_rnd = rng.random(beats) < 1.0 / mean_group
    if beats:
        last_rnd[-1] = True
    for t in range(beats):
        beat(random_acts(), random_weights(), random_indexes(), n_rnd[t], last_rnd[t])
    return _beats(params, rows)


def dense_beats(params: dict, a, w, last, rng: np.random.Generator | None = None):
    """Dense data as sparse beats (the module docstring of :mod:`hdl.sparse_mac`): each dense
    step (activations ``a`` and weights ``w``, both (steps, G*M), in the same positions) becomes
    ceil(M/N) beats with the step's activations, beat b carrying in each group the pairs
    (w[g*M + b*N + p], b*N + p) for p < n = min(N, M - b*N); ``last`` on a step's final beat
    when the step has it. Unused pairs (p >= n) get random values and indexes when ``rng`` is
    given (they must not count), else zeros. Returns ``(a, wv, wi, n, last)``."""
    fw = params["weight_format"]
    M, N, G = params["group_m"], params["max_n"], params["groups"]
    a, w = np.asarray(a, dtype=np.int64), np.asarray(w, dtype=np.int64)
    out = {"a": [], "wv": [], "wi": [], "n": [], "last": []}
    chunks = -(-M // N)
    for t in range(a.shape[0]):
        for b in range(chunks):
            count = min(N, M - b * N)
            if rng is None:
                wv, wi = np.zeros((G, N), dtype=np.int64), np.zeros((G, N), dtype=np.int64)
            else:
                wv = rng.integers(fw.min, fw.max, size=(G, N), endpoint=True)
                wi = rng.integers(0, M, size=(G, N))
            positions = b * N + np.arange(count)
            for g in range(G):
                wv[g, :count] = w[t, g * M + positions]
                wi[g, :count] = positions
            for key, value in zip(out, (a[t], wv.reshape(-1), wi.reshape(-1), count,
                                        bool(last[t]) and b == chunks - 1)):
                out[key].append(value)
    return _beats(params, out)


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`)."""
    v = inputs["i"]
    acc, error = sparse_golden(v["a"], v["wv"], v["wi"], v["n"], v["last"],
                               group_m=params["group_m"], max_n=params["max_n"],
                               acc_width=params["acc_width"],
                               acc_signed=field_format(streams["o"], "acc").signed)
    return {"o": {"acc": acc, "error": error}}


def sparse_stimulus(params: dict, manifest: dict, a, wv, wi, n, last, **options) -> dict:
    """Stimulus dict for a ``sparse_mac`` design from operand values and the golden model
    (``options``: idle, stall, seed, check_timing)."""
    return stream_stimulus(params, manifest,
                           {"i": {"a": a, "wv": wv, "wi": wi, "n": n, "last": last}},
                           sources={"o": group_sources(last)}, **options)
