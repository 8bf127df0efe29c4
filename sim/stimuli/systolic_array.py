"""``systolic_array`` stimulus: GEMM tiles (output-stationary) and weight loads between vector
bursts (weight-stationary), with extreme values, and the golden outputs."""

from __future__ import annotations

import numpy as np

from sim.golden.systolic_array import output_stationary, weight_stationary

from . import PHASE, StimulusError, field_format, group_sources, stream_stimulus

__all__ = ["os_operands", "os_stimulus", "os_cycles", "ws_events", "ws_stimulus", "ws_beats",
           "golden_streams"]


def _extremes(fmt):
    return sorted({fmt.min, fmt.max, 0, max(fmt.min, -1), min(fmt.max, 1)})


def os_operands(params: dict, rng: np.random.Generator, tiles: int, *, k_max: int = 40,
                short: float = 0.0):
    """Beats of ``tiles`` random tiles with K uniform in 1..k_max, after extreme tiles.

    The extreme tiles: every pairing of the formats' extreme values in every PE for K = 1, then
    a K = k_max tile of the largest-magnitude products (accumulator range). A share ``short`` of
    the random tiles is shorter than the array is wide: K uniform in 1..max(R, C) - 1 (when
    max(R, C) > 1). Returns ``a`` (beats, R), ``b`` (beats, C), ``last`` (beats,)."""
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
        # (rng.random() only when asked, so that existing seeds give the same tiles)
        if short and max(R, C) > 1 and rng.random() < short:
            k = int(rng.integers(1, max(R, C) - 1, endpoint=True))
        else:
            k = int(rng.integers(1, k_max, endpoint=True))
        tile(rng.integers(fa.min, fa.max, size=(k, R), endpoint=True),
             rng.integers(fb.min, fb.max, size=(k, C), endpoint=True))
    return np.concatenate(a_parts), np.concatenate(b_parts), np.concatenate(last_parts)


def os_cycles(params: dict, last) -> tuple[np.ndarray, np.ndarray]:
    """The output-stationary timing at full rate, from the drains' specification
    (:class:`hdl.systolic_array.OutputStationaryArray`): the cycle in which each input beat is
    accepted and each output row is first valid, counted from the first beat's cycle, for input
    beats offered back to back (``last`` per beat) and an output always ready.

    ``overlap``: a beat per cycle, except that a ``last`` beat waits until max(R, C) cycles after
    the previous one; row r leaves C + r (+ ``pipeline_stages``) cycles after its ``last``.
    ``shift``: after a ``last``
    beat the next beat waits until the final row leaves (2R + C - 2 cycles later); row r leaves
    R + C - 1 + r cycles after its ``last``."""
    R, C = params["rows"], params["cols"]
    shift = params.get("drain", "overlap") == "shift"
    stages = params.get("pipeline_stages", 0)
    accepted, rows = [], []
    cycle, previous_last = 0, None
    for is_last in np.asarray(last, dtype=bool):
        if is_last and not shift and previous_last is not None:
            cycle = max(cycle, previous_last + max(R, C))
        accepted.append(cycle)
        if is_last:
            previous_last = cycle
            first_row = cycle + (R + C - 1 if shift else C + stages)
            rows += [first_row + r for r in range(R)]
            cycle = rows[-1] if shift else cycle + 1
        else:
            cycle += 1
    return np.array(accepted, dtype=np.int64), np.array(rows, dtype=np.int64)


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`).

    Weight-stationary inputs are ordered by their phases (``@phase`` of streams ``w`` and ``x``):
    a vector uses the tile whose final row (``last``) came in the latest earlier phase. A vector
    in the same phase as a tile's final row could meet either tile, so that is refused."""
    acc = field_format(streams[next(n for n, s in streams.items() if s["direction"] == "out")],
                       "c" if params["dataflow"] == "output_stationary" else "y")
    if params["dataflow"] == "output_stationary":
        i = inputs["i"]
        c, row_last = output_stationary(i["a"], i["b"], i["last"], acc_width=params["acc_width"],
                                        acc_signed=acc.signed)
        return {"o": {"c": c, "last": row_last}}
    y = weight_stationary(_ws_events(inputs), acc_width=params["acc_width"],
                          acc_signed=acc.signed)
    return {"y": {"y": y}}


def _ws_events(inputs: dict) -> list:
    """``("load", W)`` / ``("x", x)`` events in the order the phases impose."""
    w, x = inputs["w"], inputs["x"]
    w_rows, w_last = np.asarray(w["w"]), np.asarray(w["last"], dtype=bool)
    x_rows = np.asarray(x["x"])
    w_phase = np.asarray(w.get(PHASE, np.zeros(len(w_rows), dtype=np.int64)))
    x_phase = np.asarray(x.get(PHASE, np.zeros(len(x_rows), dtype=np.int64)))
    loads, start = [], 0            # (phase of the final row, tile)
    for end in np.flatnonzero(w_last):
        loads.append((int(w_phase[end]), w_rows[start:end + 1]))
        start = end + 1
    clash = set(p for p, _ in loads) & set(int(p) for p in x_phase)
    if clash:
        raise StimulusError(f"w.@phase / x.@phase: phase {min(clash)} holds both a weight load's "
                            f"final row and vectors, whose order is then undefined; put the "
                            f"vectors in a later phase than the load")
    events, k = [], 0
    for j, p in enumerate(x_phase):
        while k < len(loads) and loads[k][0] < p:
            events.append(("load", loads[k][1]))
            k += 1
        events.append(("x", x_rows[j]))
    return events


def os_stimulus(params: dict, manifest: dict, a, b, last, **options) -> dict:
    """Stimulus for the stream bench: stream ``i`` in, R rows per tile on ``o`` (``options``:
    idle, stall, seed)."""
    sources = [src for src in group_sources(last) for _ in range(params["rows"])]
    return stream_stimulus(params, manifest, {"i": {"a": a, "b": b, "last": last}},
                           sources={"o": sources}, **options)


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


def ws_beats(params: dict, events) -> dict:
    """Input field values with phases for weight-stationary ``events``.

    Load ``n`` ends in phase ``2n`` and the vectors after it are in phase ``2n + 1``; the rows of
    a load before its final one go in with the previous burst (phase ``2n - 1``), so that shadow
    loading while vectors are in flight is exercised, as the double-buffered array allows."""
    R = params["rows"]
    w_rows, w_last, w_phase, x_rows, x_phase = [], [], [], [], []
    load = -1
    for kind, value in events:
        if kind == "load":
            load += 1
            for r in range(R):
                w_rows.append(np.asarray(value)[r])
                w_last.append(r == R - 1)
                w_phase.append(2 * load if r == R - 1 else max(0, 2 * load - 1))
        else:
            x_rows.append(np.asarray(value))
            x_phase.append(2 * load + 1)
    return {"w": {"w": np.array(w_rows), "last": np.array(w_last), PHASE: np.array(w_phase)},
            "x": {"x": np.array(x_rows).reshape(len(x_rows), R), PHASE: np.array(x_phase)}}


def ws_stimulus(params: dict, manifest: dict, events, **options) -> dict:
    """Stimulus for the stream bench: streams ``w`` and ``x`` with the order between them
    (phases, see :func:`ws_beats`; ``options``: idle, stall, seed, check_timing)."""
    inputs = ws_beats(params, events)
    return stream_stimulus(params, manifest, inputs,
                           sources={"y": [["x", j, j] for j in range(len(inputs["x"]["x"]))]},
                           **options)
