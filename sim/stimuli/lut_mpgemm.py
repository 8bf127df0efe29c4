"""``lut_mpgemm`` stimulus: every K-tuple of weight codes at every precision (exhaustive where
cheap, e.g. every K=2 combination) against extreme activation rows (fp16 / bf16: also signed
zeros, subnormals, NaN and +-Inf), binary32 rounding ties (fp16 / bf16), then random beats with
a random precision each; golden outputs (M output beats per group)."""

from __future__ import annotations

import itertools

import numpy as np

from hdl.formats import IntFormat
from sim.golden.lut_mpgemm import lut_mpgemm as lut_golden

from . import stream_stimulus
from .fp_mac import random_codes

__all__ = ["precisions", "weight_tuples", "float_ties", "lut_operands", "lut_sources",
           "lut_stimulus", "golden_streams"]

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
    with -1, 0, 1 (fp16 / bf16 codes: :func:`_float_patterns`)."""
    if not isinstance(fa, IntFormat):
        return _float_patterns(fa, length, rng)
    alt = np.array([fa.min, fa.max] * length)[:length]
    alt2 = np.array([fa.max, fa.min] * length)[:length]
    mixed = rng.choice([fa.min, fa.max, -1, 0, 1], size=length)
    return [np.full(length, fa.min), np.full(length, fa.max), alt, alt2, mixed]


def _float_patterns(fa, length: int, rng) -> list[np.ndarray]:
    """fp16 / bf16 activation rows (codes): +-max finite (their sums overflow binary32 for
    bf16), alternating signs, subnormals and the smallest normal, signed zeros, a mix, and
    +Inf / -Inf beside finite values (against zero weights: NaN)."""
    sign = 1 << (fa.width - 1)
    code = lambda x: int(fa.encode(x))  # noqa: E731
    big, sub = code(fa.max_normal), code(fa.min_subnormal)
    tiny = [sub, code(fa.min_normal - fa.min_subnormal), code(fa.min_normal), sub | sign]
    inf = code(np.inf)
    finite = [big, big | sign, sub, sub | sign, 0, sign, code(1.0), code(-1.5)]
    cycle = lambda values: np.array((values * length)[:length])  # noqa: E731
    return [np.full(length, big), np.full(length, big | sign), cycle([big, big | sign]),
            cycle(tiny), rng.choice([0, sign], size=length), rng.choice(finite, size=length),
            np.concatenate([[inf, inf | sign], rng.choice(finite, size=length)])[:length],
            np.concatenate([[inf | sign], rng.choice(finite, size=length)])[:length]]


def float_ties(fa) -> list[list[int]]:
    """Activation codes whose exact sum lies halfway between two binary32 neighbours: 2^e plus
    half an ulp (the kept bit even: rounds down) and 2^e + ulp + half an ulp (odd: rounds up),
    both signs, e the format's largest exponent."""
    sign = 1 << (fa.width - 1)
    big, ulp, half = (int(fa.encode(2.0 ** (fa.emax - s))) for s in (0, 23, 24))
    seqs = [[big, half], [big, ulp, half]]
    return seqs + [[c | sign for c in seq] for seq in seqs]


def _random_activations(fa, rng, shape) -> np.ndarray:
    """Uniform random activations (integers), or fp16 / bf16 codes: half of them uniform over
    the codes with some NaN / Inf / zeros (:func:`sim.stimuli.fp_mac.random_codes`), half
    Gaussian within 2^+-12, whose sums overlap and round."""
    if isinstance(fa, IntFormat):
        return rng.integers(fa.min, fa.max, size=shape, endpoint=True)
    spread = fa.encode(rng.standard_normal(shape) * 2.0 ** rng.integers(-12, 13, size=shape))
    return np.where(rng.random(shape) < 0.5, random_codes(fa, rng, shape, special_rate=0.02),
                    spread).astype(np.int64)


def lut_operands(params: dict, rng: np.random.Generator, random_beats: int, *,
                 mean_group: float = 3.0, extremes: bool = True):
    """Beats as (a values, w codes, prec, last).

    First (``extremes``), for every precision p, every K-tuple of p-bit codes
    (:func:`weight_tuples`; spread over the D groups and N columns of a beat, the codes' unused
    upper bits random) against every extreme activation row (:func:`_act_patterns`, row m of a
    beat takes pattern s + m, modulo their number), one group per beat; then ``random_beats``
    random beats (:func:`_random_activations`), each at a random precision, with random group lengths. fp16 / bf16:
    the activations are codes, and the extremes are followed by one group per
    :func:`float_ties` sequence (one activation per beat in every row, every weight code 1 at
    precision 1: +-1)."""
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
    last_rows = [True] * len(a_rows)
    if extremes and not isinstance(fa, IntFormat):
        for seq in float_ties(fa):
            for x in seq:
                a_rows.append(np.tile(np.concatenate([[x], np.zeros(dk - 1, np.int64)]), m))
                w_rows.append(np.ones(dk * n, dtype=np.int64))
                prec_rows.append(1)
                last_rows.append(False)
            last_rows[-1] = True
    n_ext = len(a_rows)
    a_rnd = _random_activations(fa, rng, (random_beats, m * dk))
    w_rnd = rng.integers(0, 1 << b, size=(random_beats, dk * n))
    p_rnd = rng.choice(precisions(params), size=random_beats)
    last_rnd = rng.random(random_beats) < 1.0 / mean_group
    if random_beats:
        last_rnd[-1] = True
    a = np.concatenate([np.array(a_rows, dtype=np.int64).reshape(n_ext, m * dk), a_rnd])
    w = np.concatenate([np.array(w_rows, dtype=np.int64).reshape(n_ext, dk * n), w_rnd])
    prec = np.concatenate([np.array(prec_rows, dtype=np.int64), p_rnd])
    last = np.concatenate([np.array(last_rows, dtype=bool), last_rnd])
    return a, w, prec, last


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`)."""
    v = inputs["i"]
    y, out_last = lut_golden(v["a"], v["w"], v["prec"], v["last"], rows=params["rows"],
                             cols=params["cols"], weight_encoding=params["weight_encoding"],
                             acc_width=params["acc_width"], act_format=params["act_format"])
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
