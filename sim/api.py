"""Your data through the generated hardware: :func:`simulate`.

::

    import numpy as np
    from generators import elaborate
    from sim import simulate

    design = elaborate("int_mac", a_format="int8", b_format="int8", lanes=4)
    a = np.array([[1, 2, 3, 4], [-128, 127, 0, 5]])
    b = np.array([[5, 6, 7, 8], [-128, -128, 9, 1]])
    result = simulate(design, {"i": {"a": a, "b": b, "last": [False, True]}}, check=True)
    result["o"]["acc"]          # array([203]): 70 + 133, one output beat per 'last'
    result.cycles               # cycles simulated after reset

Inputs map each input stream to its fields, each a NumPy array of *values in the field's number
format*: integers for integer fields; for fixed-point fields the integer behind the code (the
value times 2^frac_bits); floats for minifloat fields (each must be exactly representable: NaN and
infinities only where the format has them). Vector fields (``a[0]``, ``a[1]``, ... in the
manifest) are 2-D arrays, beats x lanes (a one-lane vector may also be 1-D); scalar fields are 1-D.
A stream may carry ``"@phase"``: one non-decreasing integer per beat; every beat of phase p on
every stream is accepted before any beat of phase p+1 is offered ("load W, then these vectors,
then reload W").

Outputs come back the same way (per output stream, field -> decoded values, and the raw codes),
with the cycle count. ``check=True`` also runs the golden model (written from the specification,
:mod:`sim.golden`) and raises :class:`CheckError` naming the first differing beat.
"""

from __future__ import annotations

import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hdl.formats import MiniFloatFormat, parse_format

from .runner import ENGINES, SimulationFailed, available_simulators, run_bench
from .checks import Scoreboard
from .stimuli import PHASE, StimulusError, field_code_matrix, golden_outputs, make_stimulus

__all__ = ["simulate", "SimResult", "InputError", "CheckError", "encode_inputs",
           "decode_outputs", "stream_fields", "PHASE"]


class InputError(ValueError):
    """User inputs that do not fit the design: one line naming the key and what is allowed."""


class CheckError(AssertionError):
    """The hardware's outputs differ from the golden model's (the message names the beat)."""


@dataclass(frozen=True)
class FieldGroup:
    """One payload field as a user sees it: a scalar, or a vector of ``lanes`` elements."""

    name: str
    fmt: object
    lanes: int | None          # None for a scalar field
    indices: tuple             # positions in the manifest's field list


def stream_fields(stream_spec: dict) -> dict[str, FieldGroup]:
    """The user-facing fields of a manifest stream, in payload order."""
    groups: dict[str, list] = {}
    for index, f in enumerate(stream_spec["fields"]):
        base = f["name"].split("[", 1)[0]
        groups.setdefault(base, []).append((index, f))
    out = {}
    for base, items in groups.items():
        vector = items[0][1]["name"] != base
        out[base] = FieldGroup(base, parse_format(items[0][1]["format"]),
                               len(items) if vector else None, tuple(i for i, _ in items))
    return out


def _describe_format(fmt) -> str:
    if isinstance(fmt, MiniFloatFormat):
        return f"{fmt.name} values (floats the format holds exactly)"
    lo, hi = (fmt.raw.min, fmt.raw.max) if hasattr(fmt, "raw") else (fmt.min, fmt.max)
    what = "raw integers (value x 2^%d)" % fmt.frac_bits if hasattr(fmt, "raw") else "integers"
    return f"{fmt.name} {what} {lo} to {hi}"


def _field_values(key: str, group: FieldGroup, array) -> np.ndarray:
    """Validate one field's user array; return stimulus values (integers, or minifloat codes)."""
    try:
        a = np.asarray(array)
    except (TypeError, ValueError) as exc:
        raise InputError(f"{key}: not an array ({exc})") from None
    if group.lanes is None:
        if a.ndim != 1:
            raise InputError(f"{key}: shape {a.shape}; allowed: 1-D (beats,) for this scalar field")
    else:
        if a.ndim == 1 and group.lanes == 1:
            a = a.reshape(-1, 1)
        if a.ndim != 2 or a.shape[1] != group.lanes:
            raise InputError(f"{key}: shape {a.shape}; allowed: 2-D (beats, {group.lanes}) for "
                             f"this {group.lanes}-lane vector field")
    fmt = group.fmt
    if isinstance(fmt, MiniFloatFormat):
        if a.dtype.kind not in "fiub":
            raise InputError(f"{key}: dtype {a.dtype}; allowed: {_describe_format(fmt)}")
        x = a.astype(np.float64)
        codes = fmt.encode(x)
        back = fmt.decode(codes)
        ok = (back == x) | (np.isnan(back) & np.isnan(x))
        if not np.all(ok):
            bad = x[~ok].reshape(-1)[0]
            raise InputError(f"{key}: {float(bad)!r} is not a {fmt.name} value; allowed: "
                             f"{_describe_format(fmt)} (round with hdl.formats first)")
        return codes
    if a.dtype.kind == "f":
        if np.any(np.isnan(a)):
            raise InputError(f"{key}: NaN in an integer field; allowed: {_describe_format(fmt)}")
        if not np.all(np.isfinite(a) & (a == np.floor(a))):
            bad = a[~(np.isfinite(a) & (a == np.floor(a)))].reshape(-1)[0]
            raise InputError(f"{key}: {float(bad)!r} is not an integer; allowed: "
                             f"{_describe_format(fmt)}")
        a = a.astype(np.int64)
    elif a.dtype.kind == "O":
        try:
            a = np.array([int(v) for v in a.reshape(-1)], dtype=object).reshape(a.shape)
        except (TypeError, ValueError):
            raise InputError(f"{key}: not integers; allowed: {_describe_format(fmt)}") from None
    elif a.dtype.kind not in "iub":
        raise InputError(f"{key}: dtype {a.dtype}; allowed: {_describe_format(fmt)}")
    raw = fmt.raw if hasattr(fmt, "raw") else fmt
    if a.size:
        lo, hi = a.min(), a.max()
        if lo < raw.min or hi > raw.max:
            bad = lo if lo < raw.min else hi
            raise InputError(f"{key}: {int(bad)} does not fit; allowed: {_describe_format(fmt)}")
    return a.astype(np.int64) if a.dtype.kind == "b" else a


def encode_inputs(manifest: dict, inputs: dict) -> tuple[dict, dict]:
    """Validate user ``inputs`` against ``manifest``; return ``(values, phases)``.

    ``values`` maps each input stream to its field values in the stimulus convention (integers,
    minifloat codes) plus :data:`PHASE`; ``phases`` maps each stream to a list of phases.
    Raises :class:`InputError` with one line naming the key (``<stream>.<field>``)."""
    streams = manifest["streams"]
    in_names = [n for n, s in streams.items() if s["direction"] == "in"]
    if not isinstance(inputs, dict):
        raise InputError(f"inputs: a dict of streams expected; allowed streams: "
                         f"{', '.join(in_names)}")
    for name in inputs:
        if name not in in_names:
            raise InputError(f"{name}: unknown input stream; allowed: {', '.join(in_names)}")
    values, phases = {}, {}
    for name in in_names:
        if name not in inputs:
            raise InputError(f"{name}: input stream missing; every input stream needs its fields "
                             f"({', '.join(in_names)})")
        given = inputs[name]
        groups = stream_fields(streams[name])
        for key in given:
            if key != PHASE and key not in groups:
                raise InputError(f"{name}.{key}: unknown field; allowed: "
                                 f"{', '.join([*groups, PHASE])}")
        stream_values = {}
        beats = None
        for base, group in groups.items():
            key = f"{name}.{base}"
            if base not in given:
                raise InputError(f"{key}: field missing; stream {name} needs "
                                 f"{', '.join(groups)}")
            v = _field_values(key, group, given[base])
            if beats is None:
                beats = len(v)
            elif len(v) != beats:
                raise InputError(f"{key}: {len(v)} beats, but {name}.{next(iter(groups))} has "
                                 f"{beats}; allowed: the same number of beats in every field")
            stream_values[base] = v
        phase = given.get(PHASE)
        if phase is None:
            phase = np.zeros(beats, dtype=np.int64)
        else:
            phase = np.asarray(phase)
            key = f"{name}.{PHASE}"
            if phase.ndim != 1 or len(phase) != beats:
                raise InputError(f"{key}: shape {phase.shape}; allowed: 1-D ({beats},), one "
                                 f"phase per beat")
            if phase.dtype.kind not in "iu" or (phase.size and phase.min() < 0):
                raise InputError(f"{key}: allowed: non-negative integers")
            if np.any(np.diff(phase) < 0):
                raise InputError(f"{key}: phases go down; allowed: non-decreasing along the "
                                 f"stream")
            phase = phase.astype(np.int64)
        stream_values[PHASE] = phase
        values[name] = stream_values
        phases[name] = phase
    return values, phases


def decode_outputs(stream_spec: dict, codes: np.ndarray) -> tuple[dict, dict]:
    """Per-field ``(values, codes)`` of an output stream's code matrix (beats x fields)."""
    values, out_codes = {}, {}
    for base, group in stream_fields(stream_spec).items():
        col = codes[:, list(group.indices)]
        fmt = group.fmt
        if isinstance(fmt, MiniFloatFormat):
            val = fmt.decode(col.astype(np.uint64))
        elif col.dtype == object:
            # Wider than 64 bits: two's complement by hand, in Python integers.
            raw = fmt.raw if hasattr(fmt, "raw") else fmt
            val = np.array([[c - (1 << raw.width) if raw.signed and c >> (raw.width - 1) else c
                             for c in row] for row in col.tolist()],
                           dtype=object).reshape(col.shape)
        else:
            val = fmt.to_int(col)
        if group.lanes is None:
            col, val = col[:, 0], val[:, 0]
        values[base], out_codes[base] = val, col
    return values, out_codes


@dataclass
class SimResult:
    """What the hardware produced.

    Attributes
    ----------
    outputs : dict[str, dict[str, numpy.ndarray]]
        Per output stream, field -> decoded values (``result["o"]`` is ``result.outputs["o"]``).
    codes : dict[str, dict[str, numpy.ndarray]]
        Per output stream, field -> raw codes.
    cycles : int
        Clock cycles from the end of reset up to and including the last beat that transferred
        (on any stream): what the design needed for these inputs.
    simulated_cycles : int
        Clock cycles simulated after reset (``cycles`` plus the bench's watch for extra beats).
    beat_cycles : dict[str, numpy.ndarray]
        Per output stream, the cycle in which each beat was taken.
    wave : pathlib.Path or None
        The waveform file, when one was asked for.
    engine, simulator : str
    """

    outputs: dict
    codes: dict
    cycles: int
    beat_cycles: dict
    wave: Path | None = None
    simulated_cycles: int = 0
    engine: str = "fast"
    simulator: str = "verilator"
    checked: bool = False

    def __getitem__(self, stream: str) -> dict:
        return self.outputs[stream]


def simulate(design, inputs: dict, *, simulator: str = "verilator", engine: str = "fast",
             idle: float = 0.0, stall: float = 0.0, seed: int = 0,
             wave: str | os.PathLike | None = None, check: bool = False,
             work_dir: str | os.PathLike | None = None, target: str = "sim",
             board: str = "icebreaker", port: str | None = None, baud: int | None = None,
             clock_mhz: float | None = None) -> SimResult:
    """Run ``inputs`` through ``design`` (a :class:`generators.Design`): cycle-accurately in a
    simulator, or on a board over its UART (``target``).

    Parameters
    ----------
    design : generators.Design
        From :func:`generators.elaborate`.
    inputs : dict
        Per input stream, field -> NumPy array of values (see the module docstring).
    simulator : {"verilator", "icarus"}
    engine : {"fast", "cocotb"}
        ``fast``: a generated Verilog bench runs every cycle inside the simulator
        (:mod:`sim.native`); ``cocotb``: the cocotb bench of the regression.
    idle, stall : float
        Probability that an input stream idles between beats / that an output stream's
        ``ready`` is low in a cycle (random handshakes; results must not change).
    seed : int
        Seed of those random choices.
    wave : path, optional
        Write a waveform there (``.fst`` or ``.vcd``).
    check : bool
        Compare every output beat with the golden model; raise :class:`CheckError` on the first
        difference.
    work_dir : path, optional
        Keep the bench's files there (default: a temporary directory).
    target : {"sim", "board", "board-sim"}
        ``sim``: the PE alone in the simulator (above). ``board``: the PE on a board programmed
        with its ``peforge board build`` bitstream, over serial ``port`` (:mod:`hdl.bridge`);
        ``board-sim``: the whole board top (UART, bridge, PE) in cocotb on ``simulator``, fed
        by the same host code through simulated UART pins. The board targets ignore
        ``engine``, ``idle``, ``stall`` and ``wave``; their result has no cycle counts (0).
    board : {"icebreaker", "ulx3s"}
        The board (its clock sets the UART divisor; ``board-sim`` runs at 4 cycles per bit).
    port, baud : str, int
        Serial port and rate for ``target="board"`` (default rate: the bitstream's default,
        115200).
    clock_mhz : float, optional
        The PE clock the bitstream was built with (``--pe-clock-mhz``; default the board's).

    Raises
    ------
    InputError
        Inputs that do not fit the design (one line naming the key).
    CheckError
        ``check`` found a difference.
    SimulationFailed
        The design stopped taking inputs (hang) or the simulator failed.
    """
    manifest = design.manifest
    if simulator not in ("verilator", "icarus"):
        raise InputError(f"simulator {simulator!r}; allowed: verilator, icarus")
    if target not in TARGETS:
        raise InputError(f"target {target!r}; allowed: {', '.join(TARGETS)}")
    if target == "board" and not port:
        raise InputError("port: target='board' needs the board's serial port, e.g. "
                         "port='/dev/ttyUSB1'")
    if simulator not in available_simulators():
        raise InputError(f"simulator {simulator!r} is not installed here; available: "
                         f"{', '.join(available_simulators())}")
    if engine not in ENGINES:
        raise InputError(f"engine {engine!r}; allowed: {', '.join(ENGINES)}")
    for name, p in (("idle", idle), ("stall", stall)):
        if not 0.0 <= p < 1.0:
            raise InputError(f"{name} {p}; allowed: a probability 0 <= p < 1")
    if wave is not None and Path(wave).suffix not in (".vcd", ".fst"):
        raise InputError(f"wave {str(wave)!r}; allowed: a file name ending in .vcd or .fst")
    if wave is not None and engine != "fast":
        raise InputError("wave: waveforms are written by the fast engine; use engine='fast'")
    if wave is not None and Path(wave).suffix == ".fst" and simulator == "verilator":
        from .native import verilator_fst_available

        if not verilator_fst_available():
            raise InputError("wave: Verilator writes FST only with the lz4 headers (liblz4-dev), "
                             "which are not installed; use a .vcd file, or simulator='icarus'")
    values, phases = encode_inputs(manifest, inputs)
    streams = manifest["streams"]
    in_names = list(values)
    expected = None
    if check:
        try:
            golden = golden_outputs(manifest["generator"], design.params, streams, values)
        except StimulusError as exc:
            raise InputError(str(exc)) from None
        expected = {name: field_code_matrix(streams[name], fields)
                    for name, fields in golden.items()}
    stimulus = make_stimulus(
        inputs={n: field_code_matrix(streams[n], values[n]) for n in in_names}, expected=expected,
        phases=phases, idle=idle, stall=stall, seed=seed)
    stimulus["quiet"] = quiet_cycles(design)
    if target != "sim":
        received = _run_on_board(design, stimulus, target, simulator=simulator, board=board,
                                 port=port, baud=baud, clock_mhz=clock_mhz, work_dir=work_dir)
        outputs, codes = {}, {}
        for name, matrix in received.items():
            outputs[name], codes[name] = decode_outputs(streams[name], matrix)
        _check(design, stimulus, expected, received, f"{target} {board}")
        return SimResult(outputs, codes, 0, {n: np.zeros(0, np.int64) for n in received},
                         None, 0, target, simulator if target == "board-sim" else board, check)
    with tempfile.TemporaryDirectory(prefix="peforge-sim-") as tmp:
        work = Path(work_dir) if work_dir is not None else Path(tmp)
        record = run_bench(design, simulator, stimulus, work, engine=engine,
                           wave=Path(wave).resolve() if wave is not None else None)
    outputs, codes, beat_cycles = {}, {}, {}
    received = {name: record.codes(manifest, name) for name, spec in streams.items()
                if spec["direction"] == "out"}
    for name, matrix in received.items():
        outputs[name], codes[name] = decode_outputs(streams[name], matrix)
        beat_cycles[name] = np.asarray(record.cycles[name], dtype=np.int64)
    for name in in_names:
        got, want = len(record.accepted[name]), len(stimulus["inputs"][name])
        if got < want:
            raise SimulationFailed(f"{design.module} hung: stream {name} accepted {got} of {want} "
                                   f"beats in {record.total_cycles} cycles")
    _check(design, stimulus, expected, received, f"{engine} engine on {simulator}")
    last_beat = max([int(c[-1]) for c in (*record.accepted.values(), *record.cycles.values())
                     if len(c)], default=-1)
    return SimResult(outputs, codes, last_beat + 1, beat_cycles,
                     Path(wave) if wave is not None else None, record.total_cycles, engine,
                     simulator, check)


def _check(design, stimulus, expected, received, where: str) -> None:
    """Raise :class:`CheckError` at the first output beat that differs from ``expected``."""
    if expected is None:
        return
    board = Scoreboard(design.manifest, stimulus["inputs"])
    for name, matrix in expected.items():
        problem = board.first_mismatch(name, received[name], matrix)
        if problem:
            raise CheckError(f"{problem} ({design.module}, {where})")


def _run_on_board(design, stimulus, target, *, simulator, board, port, baud, clock_mhz,
                  work_dir) -> dict:
    """Output code matrices of ``stimulus`` run on a board (``target="board"``) or the
    simulated board top (``"board-sim"``)."""
    from .board import run_on_board
    from .payload import code_matrix, pack_words, payload_ints, unpack_words, words_from_ints

    streams = design.manifest["streams"]
    beats = {name: payload_ints(pack_words(streams[name], code_matrix(streams[name]["fields"],
                                                                       rows)))
             for name, rows in stimulus["inputs"].items()}
    try:
        payloads = run_on_board(design, beats, stimulus.get("phases"), target=target,
                                board=board, port=port, baud=baud, clock_mhz=clock_mhz,
                                simulator=simulator, work_dir=work_dir)
    except ValueError as exc:
        raise InputError(str(exc)) from None
    return {name: unpack_words(streams[name], words_from_ints(values, streams[name]["payload_width"]))
            for name, values in payloads.items()}


#: Where :func:`simulate` runs a design.
TARGETS = ("sim", "board", "board-sim")

#: Quiet cycles that end a run whose output count is unknown: far beyond any design's latency.
QUIET_CYCLES = 2000


def quiet_cycles(design) -> int:
    """Cycles without output activity after the last input after which a run is complete:
    beyond the design's latency, and beyond ``max_silence`` for a component that holds whole
    vectors before answering (softmax)."""
    latency = design.manifest.get("latency") or 0
    return QUIET_CYCLES + 4 * latency + getattr(design.component, "max_silence", 0)
