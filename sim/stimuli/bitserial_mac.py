"""``bitserial_mac`` stimulus: every precision with extreme and digit-heavy weights, random beats
with a random precision each, golden outputs."""

from __future__ import annotations

import numpy as np

from sim.golden.bitserial_mac import bitserial_mac as bitserial_golden

from . import field_format, group_sources, stream_stimulus

__all__ = ["precisions", "bitserial_operands", "bitserial_stimulus", "golden_streams"]


def precisions(params: dict) -> list[int]:
    """Valid per-beat precisions: 1..Wmax, 2..Wmax for signed weights."""
    return list(range(2 if params["weight_signed"] else 1, params["weight_bits"] + 1))


def _weight_values(p: int, signed: bool) -> list[int]:
    """Extremes of a p-bit weight plus the patterns with the most canonical signed digits."""
    lo, hi = (-(1 << (p - 1)), (1 << (p - 1)) - 1) if signed else (0, (1 << p) - 1)
    alternating = [int("01" * 8, 2) & ((1 << p) - 1), int("10" * 8, 2) & ((1 << p) - 1)]
    if signed:
        alternating = [v - (1 << p) if v >> (p - 1) else v for v in alternating]
    return sorted({lo, hi, 0, max(lo, -1), min(hi, 1), *alternating})


def bitserial_operands(params: dict, rng: np.random.Generator, random_beats: int, *,
                       mean_group: float = 5.0):
    """Beats as (a values, w field codes, prec, last).

    First, for every precision, each pairing of extreme activations with extreme weights in all
    lanes, one output each, the weights' unused upper field bits random; then ``random_beats``
    uniform random beats, each at a random precision, with random group lengths.
    """
    fa, wmax, lanes = params["act_format"], params["weight_bits"], params["lanes"]
    signed = params["weight_signed"]
    a_ext = sorted({fa.min, fa.max, 0, max(fa.min, -1), min(fa.max, 1)})
    a_rows, w_rows, prec_rows = [], [], []
    for p in precisions(params):
        for x in a_ext:
            for y in _weight_values(p, signed):
                garbage = rng.integers(0, 1 << wmax, size=lanes) & ~((1 << p) - 1)
                a_rows.append([x] * lanes)
                w_rows.append((garbage | (y & ((1 << p) - 1))).tolist())
                prec_rows.append(p)
    n_ext = len(a_rows)
    a_rnd = rng.integers(fa.min, fa.max, size=(random_beats, lanes), endpoint=True)
    w_rnd = rng.integers(0, 1 << wmax, size=(random_beats, lanes))
    p_rnd = rng.choice(precisions(params), size=random_beats)
    last_rnd = rng.random(random_beats) < 1.0 / mean_group
    last_rnd[-1] = True
    a = np.concatenate([np.array(a_rows, dtype=np.int64), a_rnd])
    w = np.concatenate([np.array(w_rows, dtype=np.int64), w_rnd])
    prec = np.concatenate([np.array(prec_rows, dtype=np.int64), p_rnd])
    last = np.concatenate([np.ones(n_ext, dtype=bool), last_rnd])
    return a, w, prec, last


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`)."""
    v = inputs["i"]
    acc = bitserial_golden(v["a"], v["w"], v["prec"], v["last"],
                           weight_signed=params["weight_signed"], acc_width=params["acc_width"],
                           acc_signed=field_format(streams["o"], "acc").signed)
    return {"o": {"acc": acc}}


def bitserial_stimulus(params: dict, manifest: dict, a, w, prec, last, **options) -> dict:
    """Stimulus dict for a ``bitserial_mac`` design from the golden model (``options``: idle,
    stall, seed, check_timing)."""
    return stream_stimulus(params, manifest, {"i": {"a": a, "w": w, "prec": prec, "last": last}},
                           sources={"o": group_sources(last)}, **options)
