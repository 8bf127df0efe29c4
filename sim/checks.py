"""What a stream bench saw, and the checks made on it, whichever engine simulated.

Both benches — the cocotb one (:mod:`sim.cocotb.stream_test`) and the native one
(:mod:`sim.native`) — produce a :class:`BenchRecord`; :func:`stream_problems` compares it with a
stimulus (expected output beats, the input beats behind each, timing expectations) and returns
one line per problem. The checks therefore exist once, and the two engines are interchangeable.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from hdl.formats import IntFormat, parse_format
from sim.payload import code_matrix, payload_ints, unpack_words, words_from_ints

__all__ = ["BenchRecord", "Scoreboard", "describe_beat", "stream_problems", "phase_gate_allows", "timing_problems",
           "rate_problems"]


@dataclass
class BenchRecord:
    """Everything a bench observed on the design's streams.

    Attributes
    ----------
    accepted : dict[str, numpy.ndarray]
        Per input stream, the cycle in which each beat transferred.
    words : dict[str, numpy.ndarray]
        Per output stream, each beat's payload as 32-bit words (see :mod:`sim.payload`).
    cycles : dict[str, numpy.ndarray]
        Per output stream, the cycle in which each beat transferred.
    first_valid : dict[str, numpy.ndarray]
        Per output stream, the cycle in which each beat was first presented.
    total_cycles : int
        Cycles simulated after reset.
    hung : bool
        The cycle limit ended the run before the inputs were consumed and the outputs settled.
    """

    accepted: dict = field(default_factory=dict)
    words: dict = field(default_factory=dict)
    cycles: dict = field(default_factory=dict)
    first_valid: dict = field(default_factory=dict)
    total_cycles: int = 0
    hung: bool = False

    def codes(self, manifest: dict, stream: str) -> np.ndarray:
        """The code matrix (beats x fields) of an output stream."""
        return unpack_words(manifest["streams"][stream], self.words[stream])

    def save(self, path: Path, manifest: dict) -> None:
        """JSON (the cocotb bench's hand-over to the runner): payloads as integers."""
        Path(path).write_text(json.dumps({
            "accepted": {k: [int(c) for c in v] for k, v in self.accepted.items()},
            "payloads": {k: payload_ints(v) for k, v in self.words.items()},
            "cycles": {k: [int(c) for c in v] for k, v in self.cycles.items()},
            "first_valid": {k: [int(c) for c in v] for k, v in self.first_valid.items()},
            "total_cycles": self.total_cycles, "hung": self.hung}))

    @classmethod
    def load(cls, path: Path, manifest: dict) -> "BenchRecord":
        data = json.loads(Path(path).read_text())
        streams = manifest["streams"]
        return cls(
            accepted={k: np.array(v, dtype=np.int64) for k, v in data["accepted"].items()},
            words={k: words_from_ints(v, streams[k]["payload_width"])
                   for k, v in data["payloads"].items()},
            cycles={k: np.array(v, dtype=np.int64) for k, v in data["cycles"].items()},
            first_valid={k: np.array(v, dtype=np.int64) for k, v in data["first_valid"].items()},
            total_cycles=data["total_cycles"], hung=data["hung"])


def _value(fmt_name: str, code: int):
    """Code as a readable value (integers exactly, other formats as float)."""
    fmt = parse_format(fmt_name)
    if isinstance(fmt, IntFormat):
        return int(fmt.to_int(code))
    return float(fmt.decode(code))


def describe_beat(fields: list[dict], codes) -> str:
    """``a=[1, -2] b=[3, 4] last=1``: vector fields are grouped by name."""
    groups: dict[str, list] = {}
    for f, code in zip(fields, codes):
        base = f["name"].split("[", 1)[0]
        groups.setdefault(base, []).append((f["name"] != base, _value(f["format"], code)))
    parts = []
    for base, items in groups.items():
        if items[0][0]:
            parts.append(f"{base}=[{', '.join(str(v) for _, v in items)}]")
        else:
            parts.append(f"{base}={items[0][1]}")
    return " ".join(parts)


class Scoreboard:
    """Compares received beats of an output stream with expected ones, in order, and describes
    the first difference with the input beats behind it.

    Parameters
    ----------
    manifest : dict
    inputs : dict[str, list]
        Input beats (codes) per input stream, for the mismatch report.
    sources : dict[str, list]
        Per output stream, for each expected beat, ``[stream, first, last]``: the input beats
        that produced it (shown in a mismatch report).
    """

    MAX_SHOWN_INPUTS = 4

    def __init__(self, manifest, inputs, sources=None):
        self.manifest = manifest
        self.inputs = inputs
        self.sources = sources or {}

    def first_mismatch(self, name: str, received: np.ndarray, expected: np.ndarray) -> str | None:
        """One line describing the first wrong, missing or extra beat of stream ``name``
        (``received`` and ``expected``: code matrices, beats x fields)."""
        fields = self.manifest["streams"][name]["fields"]
        common = min(len(received), len(expected))
        differ = np.flatnonzero((received[:common] != expected[:common]).any(axis=1)) \
            if common else []
        if len(differ):
            index = int(differ[0])
            exp, got = expected[index].tolist(), received[index].tolist()
            return (f"MISMATCH on stream {name} beat {index}: expected "
                    f"{describe_beat(fields, exp)}, got {describe_beat(fields, got)}"
                    f"{self._inputs_of(name, index)}")
        if len(received) < len(expected):
            return (f"MISSING beats on stream {name}: got {len(received)} of {len(expected)}; "
                    f"next expected {describe_beat(fields, expected[len(received)].tolist())}")
        if len(received) > len(expected):
            return (f"EXTRA beat on stream {name} after {len(expected)} expected: "
                    f"{describe_beat(fields, received[len(expected)].tolist())}")
        return None

    def _inputs_of(self, name: str, index: int) -> str:
        """``; inputs ...`` naming the input beats behind output beat ``index`` (or nothing when
        the stimulus does not record them)."""
        srcs = self.sources.get(name)
        if not srcs:
            return ""
        stream, first, last = srcs[index]
        fields = self.manifest["streams"][stream]["fields"]
        shown = list(range(first, last + 1))
        if len(shown) > self.MAX_SHOWN_INPUTS:
            shown = shown[:2] + shown[-2:]
        text = "; ".join(f"#{i}: {describe_beat(fields, self.inputs[stream][i])}" for i in shown)
        more = "" if last - first + 1 <= self.MAX_SHOWN_INPUTS else " (middle beats not shown)"
        return f"; inputs {stream} beats {first}..{last}{more}: {text}"


def phase_gate_allows(phase: int, pending_phases) -> bool:
    """A stream may start offering a beat of ``phase`` only when no stream still holds an
    unaccepted beat of an earlier phase (``pending_phases``: each stream's next beat's phase)."""
    return all(phase <= p for p in pending_phases)


def stream_problems(manifest: dict, stimulus: dict, record: BenchRecord) -> list[str]:
    """One line per problem: wrong, missing or extra output beats, input beats never accepted,
    and (when the stimulus asks) timing and throughput against the manifest."""
    streams = manifest["streams"]
    scoreboard = Scoreboard(manifest, stimulus["inputs"], stimulus.get("sources"))
    problems = []
    for name, spec in streams.items():
        if spec["direction"] != "out":
            continue
        expected = code_matrix(spec["fields"], stimulus["expected"][name])
        mismatch = scoreboard.first_mismatch(name, record.codes(manifest, name), expected)
        if mismatch:
            problems.append(mismatch)
    for name, beats in stimulus["inputs"].items():
        got = len(record.accepted[name])
        if got < len(beats):
            problems.append(f"HANG: stream {name} accepted {got} of {len(beats)} beats in "
                            f"{record.total_cycles} cycles")
    if not problems and stimulus.get("check_timing"):
        problems += timing_problems(manifest, stimulus, record)
    if not problems and stimulus.get("min_rate"):
        problems += rate_problems(stimulus["min_rate"], record)
    return problems


def timing_problems(manifest: dict, stimulus: dict, record: BenchRecord) -> list[str]:
    """At full rate: consecutive beats of one phase on one stream come ``initiation_interval``
    cycles apart, and each output beat ``latency`` cycles after its last input beat."""
    problems = []
    ii = manifest.get("initiation_interval")
    phases = stimulus.get("phases") or {}
    if ii is not None:
        for name, cycles in record.accepted.items():
            phase = phases.get(name)
            phase = np.zeros(len(cycles), dtype=np.int64) if phase is None else np.asarray(phase)
            gaps = np.diff(cycles)
            bad = np.flatnonzero((phase[1:] == phase[:-1]) & (gaps != ii))
            if bad.size:
                n = int(bad[0]) + 1
                problems.append(f"TIMING: stream {name} beats {n - 1} and {n} accepted "
                                f"{int(gaps[n - 1])} cycles apart, manifest "
                                f"initiation_interval is {ii}")
    latency = manifest.get("latency")
    if latency is not None:
        for name, sources in (stimulus.get("sources") or {}).items():
            for index, (first, (stream, _, last)) in enumerate(
                    zip(record.first_valid[name].tolist(), sources)):
                measured = first - int(record.accepted[stream][last])
                if measured != latency:
                    problems.append(f"TIMING: stream {name} beat {index} came {measured} "
                                    f"cycles after its last input, manifest latency is {latency}")
                    break
    return problems


def rate_problems(min_rate: dict, record: BenchRecord) -> list[str]:
    """Average beats per cycle of each named stream, from its first beat to its last."""
    cycles = {**record.accepted, **record.cycles}
    problems = []
    for name, least in min_rate.items():
        beats = cycles[name]
        span = int(beats[-1] - beats[0]) + 1
        rate = len(beats) / span
        if rate < least:
            problems.append(f"RATE: stream {name} moved {len(beats)} beats in "
                            f"{span} cycles ({rate:.3f} per cycle), "
                            f"at least {least} required")
    return problems
