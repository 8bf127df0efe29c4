"""``bitmod_mac`` stimulus: every weight code under every dtype with extreme activations, a
long group of the largest products at the largest scale, and random groups; golden outputs."""

from __future__ import annotations

import numpy as np

from sim.golden.bitmod_mac import bitmod_mac as bitmod_golden
from sim.golden.bitmod_mac import decode_table

from . import group_sources, stream_stimulus

__all__ = ["bitmod_operands", "bitmod_stimulus", "golden_streams"]


def bitmod_operands(params: dict, rng: np.random.Generator, random_beats: int) -> dict:
    """Per-field values: ``a``, ``w`` (codes), ``dtype``, ``scale`` (raw codes), ``group_last``,
    ``last``.

    1. Every (dtype, code) pair, 0..7 x all codes, times every extreme activation, each its own
       output; the pair sits in one lane (rotating), the other lanes carry random codes with
       activation 0. Scale 1.0 (or the largest scale if 1.0 is not representable).
    2. One 64-beat group of the largest-magnitude products in every lane at the largest scale.
    3. ``random_beats`` random beats: random dtype (invalid ones rare), codes, activations and
       scales; groups end with probability 1/4 and outputs with 1/10, sometimes with ``last``
       but not ``group_last`` (``last`` implies the end of the group).
    """
    fa, wb, lanes = params["act_format"], params["weight_bits"], params["lanes"]
    fs = params["scale_format"]
    scale_max = (1 << fs.width) - 1
    one = min(1 << fs.frac_bits, scale_max)
    a_ext = sorted({fa.min, fa.max, 0, max(fa.min, -1), min(fa.max, 1)})
    rows = {"a": [], "w": [], "dtype": [], "scale": [], "group_last": [], "last": []}
    lane = 0
    for dtype in range(8):
        for code in range(1 << wb):
            for x in a_ext:
                a = np.zeros(lanes, dtype=np.int64)
                w = rng.integers(0, 1 << wb, size=lanes)
                a[lane], w[lane] = x, code
                lane = (lane + 1) % lanes
                for key, value in (("a", a), ("w", w), ("dtype", dtype), ("scale", one),
                                   ("group_last", 1), ("last", 1)):
                    rows[key].append(value)
    table = decode_table(wb)
    # The largest |a * w| over all valid dtypes and codes.
    best = max(((x, d, c) for x in (fa.min, fa.max) for d in range(6) for c in range(1 << wb)),
               key=lambda t: abs(t[0] * table[t[1], t[2]]))
    for i in range(64):
        for key, value in (("a", np.full(lanes, best[0])), ("w", np.full(lanes, best[2])),
                           ("dtype", best[1]), ("scale", scale_max), ("group_last", int(i == 63)),
                           ("last", int(i == 63))):
            rows[key].append(value)
    n = random_beats
    values = {key: np.asarray(v, dtype=np.int64) for key, v in rows.items()}
    dtype_rnd = np.where(rng.random(n) < 0.05, rng.integers(6, 8, size=n),
                         rng.integers(0, 6, size=n))
    last_rnd = rng.random(n) < 0.1
    group_rnd = (rng.random(n) < 0.25) | (last_rnd & (rng.random(n) < 0.7))
    last_rnd[-1] = True
    random_part = {
        "a": rng.integers(fa.min, fa.max, size=(n, lanes), endpoint=True),
        "w": rng.integers(0, 1 << wb, size=(n, lanes)),
        "dtype": dtype_rnd,
        "scale": rng.integers(0, scale_max, size=n, endpoint=True),
        "group_last": group_rnd.astype(np.int64),
        "last": last_rnd.astype(np.int64),
    }
    return {key: np.concatenate([values[key], random_part[key]]) for key in values}


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`)."""
    v = inputs["i"]
    acc, error = bitmod_golden(v["a"], v["w"], v["dtype"], v["scale"], v["group_last"],
                               v["last"], weight_bits=params["weight_bits"],
                               acc_width=params["acc_width"])
    return {"o": {"acc": acc, "error": error}}


def bitmod_stimulus(params: dict, manifest: dict, values: dict, **options) -> dict:
    """Stimulus dict for a ``bitmod_mac`` design from per-field values and the golden model
    (``options``: idle, stall, seed, check_timing)."""
    return stream_stimulus(params, manifest, {"i": values},
                           sources={"o": group_sources(values["last"])}, **options)
