"""``mixed_int_pe`` stimulus: random groups, extreme values, long groups, golden outputs."""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from sim.golden.mixed_int_pe import mixed_int_pe as mixed_int_pe_golden

from . import field_format, group_sources, stream_stimulus

__all__ = ["MixedBeats", "mixed_int_pe_operands", "mixed_int_pe_stimulus", "golden_streams"]


class MixedBeats(dict):
    """Beats as per-field value arrays: ``a``, ``q`` (beats, K); ``zero``, ``scale`` (raw codes of
    the scale format), ``group_last``, ``last`` (beats,)."""


def _concat(parts: list[dict]) -> MixedBeats:
    return MixedBeats({key: np.concatenate([p[key] for p in parts]) for key in parts[0]})


def _extreme_beats(w_max, a_lo, a_hi, s_max, lanes) -> dict:
    """Every combination of q, zero in {0, max}, scale in {0, max}, a in {min, max}, one output each;
    then the same with alternating lanes (q and a differ across lanes)."""
    rows = [(q, z, s, x) for q in (0, w_max) for z in (0, w_max) for s in (0, s_max)
            for x in (a_lo, a_hi)]
    n = len(rows)
    a = np.array([[x] * lanes for *_, x in rows], dtype=np.int64)
    q = np.array([[r[0]] * lanes for r in rows], dtype=np.int64)
    # Mixed lanes: even lanes take the opposite extremes.
    a_mix = a.copy()
    a_mix[:, ::2] = np.where(a[:, ::2] == a_lo, a_hi, a_lo)
    q_mix = q.copy()
    q_mix[:, ::2] = w_max - q[:, ::2]
    zero = np.array([r[1] for r in rows], dtype=np.int64)
    scale = np.array([r[2] for r in rows], dtype=np.int64)
    ones = np.ones(n, dtype=bool)
    return {"a": np.concatenate([a, a_mix]), "q": np.concatenate([q, q_mix]),
            "zero": np.concatenate([zero, zero]), "scale": np.concatenate([scale, scale]),
            "group_last": np.concatenate([ones, ones]), "last": np.concatenate([ones, ones])}


def _long_runs(w_max, a_lo, a_hi, s_max, lanes, run=64) -> dict:
    """Largest-magnitude products: one group of ``run`` beats (group sum width), then ``run``
    single-beat groups under one ``last`` (accumulator width), both at the largest scale."""
    x = a_lo if abs(a_lo) >= abs(a_hi) else a_hi
    a = np.full((2 * run, lanes), x, dtype=np.int64)
    q = np.full((2 * run, lanes), w_max, dtype=np.int64)   # q - zero = +max
    zero = np.zeros(2 * run, dtype=np.int64)
    scale = np.full(2 * run, s_max, dtype=np.int64)
    group_last = np.zeros(2 * run, dtype=bool)
    group_last[run - 1] = True
    group_last[run:] = True
    last = np.zeros(2 * run, dtype=bool)
    last[run - 1] = last[-1] = True
    return {"a": a, "q": q, "zero": zero, "scale": scale, "group_last": group_last, "last": last}


def mixed_int_pe_operands(params: dict, rng: np.random.Generator, beats: int, *,
                          mean_group: float = 4.0, groups_per_output: float = 3.0,
                          per_group_scale: bool = True, extremes: bool = True) -> MixedBeats:
    """Extreme values and long groups (when ``extremes``), then ``beats`` random beats.

    Random beats: groups of geometric length (mean ``mean_group``); a group end is ``last`` with
    probability ``1 / groups_per_output``, and a fifth of those ``last`` beats have no
    ``group_last`` (``last`` alone ends the group). Weight codes and zero points are uniform over
    ``0 .. 2**weight_bits - 1``, activations uniform over their format, each with a 10 % chance of an
    extreme value; scales are uniform with 10 % zero and 10 % maximum. With ``per_group_scale`` a
    scale is held over its group (the contract under which both multipliers agree); otherwise every
    beat has its own scale (the PE uses the one on the group's final beat). The last beat ends a
    group and an output.
    """
    w_max = (1 << params["weight_bits"]) - 1
    fa, fs, lanes = params["act_format"], params["scale_format"], params["lanes"]
    s_max = (1 << fs.width) - 1

    def sprinkle(values, extremes_, p=0.1):
        pick = rng.random(values.shape) < p
        return np.where(pick, rng.choice(extremes_, size=values.shape), values)

    a = sprinkle(rng.integers(fa.min, fa.max, size=(beats, lanes), endpoint=True), [fa.min, fa.max])
    q = sprinkle(rng.integers(0, w_max, size=(beats, lanes), endpoint=True), [0, w_max])
    zero = sprinkle(rng.integers(0, w_max, size=beats, endpoint=True), [0, w_max])
    group_end = rng.random(beats) < 1.0 / mean_group
    group_end[-1] = True
    last = group_end & (rng.random(beats) < 1.0 / groups_per_output)
    last[-1] = True
    group_last = group_end & ~(last & (rng.random(beats) < 0.2))
    group_last[-1] = True
    scale = sprinkle(rng.integers(0, s_max, size=beats, endpoint=True), [0, s_max], p=0.2)
    if per_group_scale:
        # Every beat takes the scale drawn for its group's final beat.
        ends = np.flatnonzero(group_end)
        group_of_beat = np.searchsorted(ends, np.arange(beats))
        scale = scale[ends][group_of_beat]
    parts = []
    if extremes:
        parts += [_extreme_beats(w_max, fa.min, fa.max, s_max, lanes),
                  _long_runs(w_max, fa.min, fa.max, s_max, lanes)]
    parts.append({"a": a, "q": q, "zero": zero, "scale": scale,
                  "group_last": group_last, "last": last})
    return _concat(parts)


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`):
    raw scale and accumulator values (scaled by 2^frac_bits)."""
    v = inputs["i"]
    frac_bits = params["scale_format"].frac_bits
    assert field_format(streams["o"], "acc").frac_bits == frac_bits
    scale_values = [Fraction(int(s), 2**frac_bits) for s in v["scale"]]
    acc = mixed_int_pe_golden(v["a"], v["q"], v["zero"], scale_values, v["group_last"],
                              v["last"], frac_bits=frac_bits, acc_width=params["acc_width"])
    return {"o": {"acc": acc}}


def mixed_int_pe_stimulus(params: dict, manifest: dict, beats: MixedBeats, **options) -> dict:
    """Stimulus dict for a ``mixed_int_pe`` design from beat values and the golden model
    (``options``: idle, stall, seed, check_timing)."""
    return stream_stimulus(params, manifest, {"i": dict(beats)},
                           sources={"o": group_sources(beats["last"])}, **options)
