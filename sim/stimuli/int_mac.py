"""``int_mac`` stimulus: random and extreme operands, the full product sweep, golden outputs."""

from __future__ import annotations

import numpy as np

from sim.golden.int_mac import int_mac as int_mac_golden

from . import field_format, group_sources, stream_stimulus

__all__ = ["int_mac_operands", "int_mac_stimulus", "full_product_sweep", "golden_streams"]


def int_mac_operands(params: dict, rng: np.random.Generator, beats: int, *,
                     mean_group: float = 6.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Random ``int_mac`` beats plus the extreme values of both formats.

    Returns ``a``, ``b`` (shape (n, K), int64) and ``last`` (shape (n,), bool). The sequence
    starts with every pairing of the extreme values (min, max, 0, -1/1) of ``a`` and ``b`` in all
    lanes, then a long group of the largest-magnitude products (for the accumulator's width and
    wrap), then uniform random operands with random group lengths; the final beat is ``last``.
    """
    fa, fb, lanes = params["a_format"], params["b_format"], params["lanes"]
    extremes_a = sorted({fa.min, fa.max, 0, max(fa.min, -1), min(fa.max, 1)})
    extremes_b = sorted({fb.min, fb.max, 0, max(fb.min, -1), min(fb.max, 1)})
    pairs = [(x, y) for x in extremes_a for y in extremes_b]
    a_ext = np.array([[x] * lanes for x, _ in pairs], dtype=np.int64)
    b_ext = np.array([[y] * lanes for _, y in pairs], dtype=np.int64)
    last_ext = np.ones(len(pairs), dtype=bool)   # each pairing checked on its own

    corners = [(x, y) for x in (fa.min, fa.max) for y in (fb.min, fb.max)]
    big = max(corners, key=lambda p: abs(p[0] * p[1]))
    run = 64
    a_run = np.full((run, lanes), big[0], dtype=np.int64)
    b_run = np.full((run, lanes), big[1], dtype=np.int64)
    last_run = np.zeros(run, dtype=bool)
    last_run[-1] = True

    a_rnd = rng.integers(fa.min, fa.max, size=(beats, lanes), endpoint=True)
    b_rnd = rng.integers(fb.min, fb.max, size=(beats, lanes), endpoint=True)
    last_rnd = rng.random(beats) < 1.0 / mean_group
    last_rnd[-1] = True
    return (np.concatenate([a_ext, a_run, a_rnd]), np.concatenate([b_ext, b_run, b_rnd]),
            np.concatenate([last_ext, last_run, last_rnd]))


def full_product_sweep(params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (a, b) pair of the two formats, one beat each with ``last`` (needs K = 1)."""
    fa, fb = params["a_format"], params["b_format"]
    if params["lanes"] != 1:
        raise ValueError("the full product sweep is defined for lanes = 1")
    a, b = np.meshgrid(np.arange(fa.min, fa.max + 1), np.arange(fb.min, fb.max + 1), indexing="ij")
    n = a.size
    return a.reshape(n, 1), b.reshape(n, 1), np.ones(n, dtype=bool)


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface: output field values for input field values
    (see :func:`sim.stimuli.golden_outputs`)."""
    i = inputs["i"]
    acc_format = field_format(streams["o"], "acc")
    return {"o": {"acc": int_mac_golden(i["a"], i["b"], i["last"], acc_width=params["acc_width"],
                                        acc_signed=acc_format.signed)}}


def int_mac_stimulus(params: dict, manifest: dict, a, b, last, **options) -> dict:
    """Stimulus dict for an ``int_mac`` design from operand values and the golden model
    (``options``: idle, stall, seed, check_timing)."""
    return stream_stimulus(params, manifest, {"i": {"a": a, "b": b, "last": last}},
                           sources={"o": group_sources(last)}, **options)
