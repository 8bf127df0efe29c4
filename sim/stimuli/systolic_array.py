"""``systolic_array`` stimulus: GEMM tiles (output-stationary) and weight loads between vector
bursts (weight-stationary), with extreme values, and the golden outputs."""

from __future__ import annotations

import numpy as np

from hdl.formats import parse_format
from sim.golden.systolic_array import output_stationary, weight_stationary

from . import field_codes, make_stimulus

__all__ = ["os_operands", "os_stimulus", "ws_events", "ws_stimulus"]


def _extremes(fmt):
    return sorted({fmt.min, fmt.max, 0, max(fmt.min, -1), min(fmt.max, 1)})


def os_operands(params: dict, rng: np.random.Generator, tiles: int, *, k_max: int = 40):
    """Beats of ``tiles`` random tiles with K uniform in 1..k_max, after extreme tiles.

    The extreme tiles: every pairing of the formats' extreme values in every PE for K = 1, then
    a K = k_max tile of the largest-magnitude products (accumulator range). Returns ``a``
    (beats, R), ``b`` (beats, C), ``last`` (beats,)."""
    fa, fb, R, C = params["a_format"], params["b_format"], params["rows"], params["cols"]
    a_parts, b_parts, last_parts = [], [], []

    def tile(a_tile, b_tile):
        k = a_tile.shape[0]
        flags = np.zeros(k, dtype=bool)
        flags[-1] = True
        a_parts.append(a_tile)
        b_parts.append(b_tile)
        last_parts.append(flags)

    for x in _extremes(fa):
        for y in _extremes(fb):
            tile(np.full((1, R), x, dtype=np.int64), np.full((1, C), y, dtype=np.int64))
    corners = [(x, y) for x in (fa.min, fa.max) for y in (fb.min, fb.max)]
    big = max(corners, key=lambda p: abs(p[0] * p[1]))
    tile(np.full((k_max, R), big[0], dtype=np.int64), np.full((k_max, C), big[1], dtype=np.int64))
    for _ in range(tiles):
        k = int(rng.integers(1, k_max, endpoint=True))
        tile(rng.integers(fa.min, fa.max, size=(k, R), endpoint=True),
             rng.integers(fb.min, fb.max, size=(k, C), endpoint=True))
    return np.concatenate(a_parts), np.concatenate(b_parts), np.concatenate(last_parts)


def os_stimulus(design, a, b, last, *, idle: float, stall: float, seed: int) -> dict:
    """Stimulus for the generic stream bench: stream ``i`` in, R rows per tile on ``o``."""
    streams = design.manifest["streams"]
    acc = parse_format(streams["o"]["fields"][0]["format"])
    rows = design.params["rows"]
    c, row_last = output_stationary(a, b, last, acc_width=design.params["acc_width"],
                                    acc_signed=acc.signed)
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    sources = [["i", int(s), int(e)] for s, e in zip(starts, ends) for _ in range(rows)]
    return make_stimulus(
        inputs={"i": field_codes(streams["i"], {"a": a, "b": b, "last": last})},
        expected={"o": field_codes(streams["o"], {"c": c, "last": row_last})},
        sources={"o": sources}, idle=idle, stall=stall, seed=seed)


def ws_events(params: dict, rng: np.random.Generator, loads: int, *, burst_max: int = 12):
    """``("load", W)`` / ``("x", x)`` events: ``loads`` weight tiles, each followed by a burst
    of 0..burst_max vectors (the first tile and its burst use extreme values)."""
    fa, fb, R, C = params["a_format"], params["b_format"], params["rows"], params["cols"]
    events = []
    ext_a, ext_b = _extremes(fa), _extremes(fb)
    # Extreme weights (cycling through the extremes) against extreme vectors.
    w0 = np.array([[ext_b[(r + c) % len(ext_b)] for c in range(C)] for r in range(R)])
    events.append(("load", w0))
    for x in ext_a:
        events.append(("x", np.full(R, x)))
    events.append(("load", np.full((R, C), max((fb.min, fb.max), key=abs))))
    events.append(("x", np.full(R, max((fa.min, fa.max), key=abs))))
    for _ in range(loads):
        events.append(("load", rng.integers(fb.min, fb.max, size=(R, C), endpoint=True)))
        for _ in range(int(rng.integers(0, burst_max, endpoint=True))):
            events.append(("x", rng.integers(fa.min, fa.max, size=R, endpoint=True)))
    return events


def ws_stimulus(design, events, *, idle: float, stall: float, seed: int,
                check_timing: bool = False) -> dict:
    """Stimulus for :mod:`sim.cocotb.ws_stream_test`: streams ``w`` and ``x`` with the order
    between them (``phases``: the load index of each w beat and of the tile each x uses)."""
    streams = design.manifest["streams"]
    acc = parse_format(streams["y"]["fields"][0]["format"])
    R = design.params["rows"]
    y = weight_stationary(events, acc_width=design.params["acc_width"], acc_signed=acc.signed)
    w_rows, w_last, w_phase, x_rows, x_phase = [], [], [], [], []
    load = -1
    for kind, value in events:
        if kind == "load":
            load += 1
            for r in range(R):
                w_rows.append(np.asarray(value)[r])
                w_last.append(r == R - 1)
                w_phase.append(load)
        else:
            x_rows.append(np.asarray(value))
            x_phase.append(load)
    stim = make_stimulus(
        inputs={"w": field_codes(streams["w"], {"w": np.array(w_rows), "last": np.array(w_last)}),
                "x": field_codes(streams["x"], {"x": np.array(x_rows)})},
        expected={"y": field_codes(streams["y"], {"y": y})},
        sources={"y": [["x", j, j] for j in range(len(x_rows))]},
        idle=idle, stall=stall, seed=seed, check_timing=check_timing)
    stim["phases"] = {"w": w_phase, "x": x_phase}
    return stim
