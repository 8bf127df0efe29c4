"""What a stream bench saw, and the checks made on it, whichever engine simulated.

Both benches — the cocotb one (:mod:`sim.cocotb.stream_test`) and the native one
(:mod:`sim.native`) — produce a :class:`BenchRecord`; :func:`stream_problems` compares it with a
stimulus (expected output beats, the input beats behind each, timing expectations) and returns
one line per problem. The checks therefore exist once, and the two engines are interchangeable.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from sim.cocotb.scoreboard import Scoreboard
from sim.stimuli import unpack

__all__ = ["BenchRecord", "stream_problems", "phase_gate_allows", "timing_problems",
           "rate_problems"]


@dataclass
class BenchRecord:
    """Everything a bench observed on the design's streams.

    Attributes
    ----------
    accepted : dict[str, list[int]]
        Per input stream, the cycle in which each beat transferred.
    outputs : dict[str, list[int]]
        Per output stream, each beat's payload as one integer.
    cycles : dict[str, list[int]]
        Per output stream, the cycle in which each beat transferred.
    first_valid : dict[str, list[int]]
        Per output stream, the cycle in which each beat was first presented.
    total_cycles : int
        Cycles simulated after reset.
    hung : bool
        The cycle limit ended the run before the inputs were consumed and the outputs settled.
    """

    accepted: dict = field(default_factory=dict)
    outputs: dict = field(default_factory=dict)
    cycles: dict = field(default_factory=dict)
    first_valid: dict = field(default_factory=dict)
    total_cycles: int = 0
    hung: bool = False

    def save(self, path: Path) -> None:
        Path(path).write_text(json.dumps(asdict(self)))

    @classmethod
    def load(cls, path: Path) -> "BenchRecord":
        return cls(**json.loads(Path(path).read_text()))


def phase_gate_allows(phase: int, pending_phases) -> bool:
    """A stream may start offering a beat of ``phase`` only when no stream still holds an
    unaccepted beat of an earlier phase (``pending_phases``: each stream's next beat's phase)."""
    return all(phase <= p for p in pending_phases)


def stream_problems(manifest: dict, stimulus: dict, record: BenchRecord) -> list[str]:
    """One line per problem: wrong, missing or extra output beats, input beats never accepted,
    and (when the stimulus asks) timing and throughput against the manifest."""
    streams = manifest["streams"]
    scoreboard = Scoreboard(manifest, stimulus["inputs"], stimulus["expected"],
                            stimulus.get("sources"))
    problems = []
    for name, spec in streams.items():
        if spec["direction"] != "out":
            continue
        received = [unpack(spec["fields"], word) for word in record.outputs[name]]
        mismatch = scoreboard.first_mismatch(name, received)
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
            phase = phases.get(name) or [0] * len(cycles)
            for n in range(1, len(cycles)):
                if phase[n] == phase[n - 1] and cycles[n] - cycles[n - 1] != ii:
                    problems.append(f"TIMING: stream {name} beats {n - 1} and {n} accepted "
                                    f"{cycles[n] - cycles[n - 1]} cycles apart, manifest "
                                    f"initiation_interval is {ii}")
                    break
    latency = manifest.get("latency")
    if latency is not None:
        for name, sources in (stimulus.get("sources") or {}).items():
            for index, (first, (stream, _, last)) in enumerate(
                    zip(record.first_valid[name], sources)):
                measured = first - record.accepted[stream][last]
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
        rate = len(beats) / (beats[-1] - beats[0] + 1)
        if rate < least:
            problems.append(f"RATE: stream {name} moved {len(beats)} beats in "
                            f"{beats[-1] - beats[0] + 1} cycles ({rate:.3f} per cycle), "
                            f"at least {least} required")
    return problems
