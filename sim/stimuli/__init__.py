"""Stimulus for the generic stream regression (:mod:`sim.cocotb.stream_test`).

A stimulus is a JSON-able dict: input beats and the golden model's expected output beats as
field codes in manifest order, the input beats behind each output beat, and the handshake
randomness. The helpers here turn per-field NumPy values into those code rows using only the
manifest (field names and formats), so every generator's stimulus builder
(``sim/stimuli/<generator>.py``) is a thin layer over its golden model.
"""

from __future__ import annotations

import importlib
import json
from pathlib import Path

import numpy as np

from hdl.formats import FixedFormat, IntFormat, parse_format

__all__ = ["PHASE", "StimulusError", "field_codes", "field_code_matrix", "field_format",
           "golden_model", "GOLDEN_MODELS", "stream_stimulus", "accepted_cycles", "group_sources",
           "golden_outputs", "make_stimulus", "write_stimulus", "pack"]

#: Key of a stream's per-beat phase array beside its fields (see :mod:`sim.api`).
PHASE = "@phase"


class StimulusError(ValueError):
    """Inputs that the golden model cannot give a defined result for (one line)."""


def field_format(stream_spec: dict, base: str):
    """The :class:`hdl.formats.Format` of field ``base`` (a scalar or a vector's elements)."""
    for f in stream_spec["fields"]:
        if f["name"].split("[", 1)[0] == base:
            return parse_format(f["format"])
    raise KeyError(f"no field {base!r} in stream")


#: Golden models over the stream interface registered with :func:`golden_model` (generators
#: defined outside this package); the others are found by module name.
GOLDEN_MODELS: dict = {}


def golden_model(generator: str):
    """Decorator: register ``fn(params, streams, inputs) -> outputs`` as the golden model of
    ``generator`` over its streams (for generators whose stimulus module is not
    ``sim/stimuli/<generator>.py``)."""
    def register(fn):
        GOLDEN_MODELS[generator] = fn
        return fn
    return register


def golden_outputs(generator: str, params: dict, streams: dict, inputs: dict) -> dict:
    """Expected output field values of ``generator`` for ``inputs``.

    ``inputs`` maps each input stream to its field values (and optionally :data:`PHASE`), in the
    stimulus convention: integers for integer and fixed-point fields (raw, scaled by
    2^frac_bits), codes for minifloat fields; the result uses the same convention. Each
    generator's stimulus module ``sim/stimuli/<generator>.py`` provides ``golden_streams``
    (found by name: adding a generator needs no list here), or the generator registered one with
    :func:`golden_model`."""
    model = GOLDEN_MODELS.get(generator)
    if model is None:
        model = importlib.import_module(f"{__name__}.{generator}").golden_streams
    return model(params, streams, inputs)


def _to_codes(fmt, values) -> np.ndarray:
    """Integer-valued fields (integers, raw fixed point) are wrapped into codes by the format;
    other formats (minifloats) are given as codes already."""
    values = np.asarray(values)
    if isinstance(fmt, (IntFormat, FixedFormat)):
        if values.dtype == object or fmt.width > 62:
            mask = (1 << fmt.width) - 1
            return np.array([int(v) & mask for v in values.reshape(-1)],
                            dtype=object if fmt.width > 64 else np.uint64)
        return fmt.from_int(values.astype(np.int64)).reshape(-1)
    return values.reshape(-1).astype(np.uint64)


def field_code_matrix(stream_spec: dict, values: dict) -> np.ndarray:
    """Beats as a code matrix (beats x fields, manifest field order) from per-field values.

    ``values`` maps a field's base name to an array: shape (beats,) for scalar fields, (beats, N)
    for vector fields ``name[0..N-1]``. Integer and fixed-point fields take integer values (raw,
    i.e. scaled by 2^frac_bits for fixed point); minifloat fields take codes.
    """
    columns = []
    counters: dict[str, int] = {}
    for f in stream_spec["fields"]:
        base = f["name"].split("[", 1)[0]
        column = np.asarray(values[base])
        if column.ndim == 2:
            column = column[:, counters.get(base, 0)]
            counters[base] = counters.get(base, 0) + 1
        columns.append(_to_codes(parse_format(f["format"]), column))
    wide = any(c.dtype == object for c in columns)
    beats = len(columns[0]) if columns else 0
    matrix = np.empty((beats, len(columns)), dtype=object if wide else np.uint64)
    for j, column in enumerate(columns):
        matrix[:, j] = column
    return matrix


def field_codes(stream_spec: dict, values: dict) -> list[list[int]]:
    """Beats as code rows (lists of Python ints): :func:`field_code_matrix` as lists."""
    return field_code_matrix(stream_spec, values).tolist()


def group_sources(last, stream: str = "i") -> list[list]:
    """For streams that emit one output per group ending in ``last``: the ``[stream, first,
    last]`` input beats behind each output beat."""
    ends = np.flatnonzero(np.asarray(last, dtype=bool))
    starts = np.concatenate(([0], ends[:-1] + 1))
    return [[stream, int(s), int(e)] for s, e in zip(starts, ends)]


def make_stimulus(*, inputs: dict, expected: dict, sources: dict | None = None, idle: float = 0.0,
                  stall: float = 0.0, seed: int = 1, check_timing: bool = False,
                  cycle_limit: int | None = None, phases: dict | None = None) -> dict:
    """Assemble a stimulus dict; ``inputs``/``expected`` map stream names to code rows.
    ``cycle_limit`` overrides the hang bound for designs that need many cycles per beat;
    ``phases`` gives per input stream each beat's phase (see :mod:`sim.cocotb.stream_test`)."""
    return {
        "cycle_limit": cycle_limit,
        "inputs": inputs,
        "phases": phases or {},
        "expected": expected,
        "sources": sources or {},
        "idle": idle,
        "stall": stall,
        "seed": seed,
        "check_timing": check_timing,
    }


def pack(fields: list[dict], codes) -> int:
    """Payload integer from one code per field (manifest field order)."""
    word = 0
    for f, code in zip(fields, codes, strict=True):
        if not 0 <= code < (1 << f["width"]):
            raise ValueError(f"code {code} of field {f['name']} does not fit {f['width']} bits")
        word |= int(code) << f["lsb"]
    return word


def stream_stimulus(params: dict, manifest: dict, inputs: dict, *, sources: dict | None = None,
                    **options) -> dict:
    """Stimulus for input field values: their codes, the golden model's expected output codes
    (:func:`golden_outputs`), the phases (``PHASE`` entries of ``inputs``) and ``sources``;
    ``options`` are :func:`make_stimulus`'s (idle, stall, seed, check_timing, ...)."""
    streams = manifest["streams"]
    expected = golden_outputs(manifest["generator"], params, streams, inputs)
    phases = {name: values[PHASE] for name, values in inputs.items() if PHASE in values}
    return make_stimulus(
        inputs={name: field_codes(streams[name], values) for name, values in inputs.items()},
        expected={name: field_codes(streams[name], values) for name, values in expected.items()},
        sources=sources, phases=phases or None, **options)


def accepted_cycles(component, inputs: dict, *, stream: str = "i", limit_per_beat: int = 64
                    ) -> list[int]:
    """Cycle in which ``component`` (a stream component) accepts each beat of ``inputs`` (field ->
    per-beat values, vectors as 2-D) on stream ``stream``, offered back to back with every output
    always ready, in Amaranth's simulator: how many cycles each beat takes at full rate."""
    from amaranth.sim import Simulator

    port = getattr(component, stream)
    beats = len(next(iter(inputs.values())))
    accepted = []

    async def bench(ctx):
        for name, member in component.signature.members.items():
            if member.is_signature and name != stream and hasattr(getattr(component, name),
                                                                   "ready"):
                ctx.set(getattr(component, name).ready, 1)
        ctx.set(port.valid, 1)
        cycle = 0
        for n in range(beats):
            for name, values in inputs.items():
                field, value = getattr(port.payload, name), np.asarray(values)[n]
                if value.ndim:
                    for k, v in enumerate(value):
                        ctx.set(field[k], int(v))
                else:
                    ctx.set(field, int(value))
            while True:
                ready = ctx.get(port.ready)
                await ctx.tick()
                cycle += 1
                if ready:
                    accepted.append(cycle)
                    break
                if cycle > limit_per_beat * beats:
                    raise RuntimeError(f"stream {stream} stopped accepting beats")
        ctx.set(port.valid, 0)

    sim = Simulator(component)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return accepted


def write_stimulus(stimulus: dict, path: Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Code matrices (NumPy) go as nested lists.
    path.write_text(json.dumps(stimulus, default=lambda a: np.asarray(a).tolist()))
    return path
