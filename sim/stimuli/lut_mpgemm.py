"""``lut_mpgemm`` stimulus: every K-tuple of weight codes at every precision (exhaustive where
cheap, e.g. every K=2 combination) against extreme activation rows, then random beats with a
random precision each; golden outputs (M output beats per group)."""

from __future__ import annotations

import itertools

import numpy as np

from sim.golden.lut_mpgemm import lut_mpgemm as lut_golden

from . import stream_stimulus

__all__ = ["precisions", "weight_tuples", "lut_operands", "lut_sources", "lut_stimulus",
           "golden_streams"]

#: At most this many K-tuples of weight codes per precision (all of them when there are fewer).
MAX_TUPLES = 256


def precisions(params: dict) -> list[int]:
    """Valid per-beat precisions: 1..weight_bits."""
    return list(range(1, params["weight_bits"] + 1))


def weight_tuples(p: int, k: int, rng: np.random.Generator) -> np.ndarray:
    """K-tuples of p-bit codes: every one when there are at most :data:`MAX_TUPLES`, else the
    all-equal tuples plus random ones; shape (tuples, K)."""
    if (1 << p) ** k <= MAX_TUPLES:
        return np.array(list(itertools.product(range(1 << p), repeat=k)), dtype=np.int64)
    same = np.repeat(np.arange(1 << p, dtype=np.int64)[:, None], k, axis=1)
    rest = rng.integers(0, 1 << p, size=(MAX_TUPLES - len(same), k))
    return np.concatenate([same, rest])


def _act_patterns(fa, length: int, rng) -> list[np.ndarray]:
    """Extreme activation rows: all min, all max, alternating both ways, and extremes mixed
    with -1, 0, 1."""
    alt = np.array([fa.min, fa.max] * length)[:length]
    alt2 = np.array([fa.max, fa.min] * length)[:length]
    mixed = rng.choice([fa.min, fa.max, -1, 0, 1], size=length)
    return [np.full(length, fa.min), np.full(length, fa.max), alt, alt2, mixed]


def lut_operands(params: dict, rng: np.random.Generator, random_beats: int, *,
                 mean_group: float = 3.0, extremes: bool = True):
    """Beats as (a values, w codes, prec, last).

    First (``extremes``), for every precision p, every K-tuple of p-bit codes
    (:func:`weight_tuples`; spread over the D groups and N columns of a beat, the codes' unused
    upper bits random) against every extreme activation row (:func:`_act_patterns`, row m of a
    beat takes pattern (s + m) mod 5), one group per beat; then ``random_beats`` uniform random
    beats, each at a random precision, with random group lengths."""
    fa, b, k = params["act_format"], params["weight_bits"], params["lut_k"]
    d, n, m = params["depth"], params["cols"], params["rows"]
    dk = d * k
    a_rows, w_rows, prec_rows = [], [], []
    if extremes:
        patterns = _act_patterns(fa, dk, rng)
        for p in precisions(params):
            tuples = weight_tuples(p, k, rng)
            per_beat = d * n
            chunks = -(-len(tuples) // per_beat)
            for c in range(chunks):
                chunk = tuples[np.arange(c * per_beat, (c + 1) * per_beat) % len(tuples)]
                # chunk[d*N + n] is the K-tuple of group d, column n: w index (d*K + j)*N + n.
                codes = chunk.reshape(d, n, k).transpose(0, 2, 1).reshape(dk * n)
                garbage = rng.integers(0, 1 << b, size=codes.shape) & ~((1 << p) - 1)
                for s in range(len(patterns)):
                    a_rows.append(np.concatenate([patterns[(s + r) % len(patterns)]
                                                  for r in range(m)]))
                    w_rows.append(codes | garbage)
                    prec_rows.append(p)
    n_ext = len(a_rows)
    a_rnd = rng.integers(fa.min, fa.max, size=(random_beats, m * dk), endpoint=True)
    w_rnd = rng.integers(0, 1 << b, size=(random_beats, dk * n))
    p_rnd = rng.choice(precisions(params), size=random_beats)
    last_rnd = rng.random(random_beats) < 1.0 / mean_group
    if random_beats:
        last_rnd[-1] = True
    a = np.concatenate([np.array(a_rows, dtype=np.int64).reshape(n_ext, m * dk), a_rnd])
    w = np.concatenate([np.array(w_rows, dtype=np.int64).reshape(n_ext, dk * n), w_rnd])
    prec = np.concatenate([np.array(prec_rows, dtype=np.int64), p_rnd])
    last = np.concatenate([np.ones(n_ext, dtype=bool), last_rnd])
    return a, w, prec, last


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`)."""
    v = inputs["i"]
    y, out_last = lut_golden(v["a"], v["w"], v["prec"], v["last"], rows=params["rows"],
                             cols=params["cols"], weight_encoding=params["weight_encoding"],
                             acc_width=params["acc_width"])
    return {"o": {"y": y, "last": out_last.astype(np.int64)}}


def lut_sources(last, rows: int) -> list[list]:
    """The ``[stream, first, last]`` input beats behind each output beat: a group's M rows all
    come from its beats."""
    ends = np.flatnonzero(np.asarray(last, dtype=bool))
    starts = np.concatenate(([0], ends[:-1] + 1))
    return [["i", int(s), int(e)] for s, e in zip(starts, ends) for _ in range(rows)]


def lut_stimulus(params: dict, manifest: dict, a, w, prec, last, **options) -> dict:
    """Stimulus dict for a ``lut_mpgemm`` design from the golden model (``options``: idle,
    stall, seed, check_timing)."""
    return stream_stimulus(params, manifest, {"i": {"a": a, "w": w, "prec": prec, "last": last}},
                           sources={"o": lut_sources(last, params["rows"])}, **options)
