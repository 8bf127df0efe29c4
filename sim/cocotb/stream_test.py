"""Generic cocotb regression: drive a design's input streams and check its output streams.

Everything comes from two files named in the environment:

- ``PEFORGE_MANIFEST``: the design's manifest (ports, stream fields, latency, II);
- ``PEFORGE_STIMULUS``: JSON with ``inputs`` (per input stream, a list of beats, each a list of
  field codes in manifest order), ``expected`` (the golden model's output beats, same form),
  ``sources`` (per output stream, for each beat, the ``[stream, first, last]`` input beats that
  produced it), ``idle`` / ``stall`` probabilities, ``seed``, and ``check_timing`` (with no idle
  and no stall: every input beat is accepted ``initiation_interval`` cycles after the previous
  one, and each output beat appears ``latency`` cycles after its last input beat), and optionally
  ``cycle_limit`` (simulated cycles before the run counts as hung; the default allows ~20 cycles per
  beat), and optionally ``min_rate`` (per stream name, the least average beats per cycle, counted
  from the stream's first beat to its last).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from sim.cocotb.scoreboard import Scoreboard
from sim.cocotb.stream import StreamDriver, StreamMonitor

RESET_CYCLES = 3
#: Cycles to keep watching after the last expected beat, to catch extra (duplicated) beats.
DRAIN_CYCLES = 32


def _load():
    with open(os.environ["PEFORGE_MANIFEST"]) as f:
        manifest = json.load(f)
    with open(os.environ["PEFORGE_STIMULUS"]) as f:
        stimulus = json.load(f)
    return manifest, stimulus


@cocotb.test()
async def stream_regression(dut):
    manifest, stim = _load()
    rng = random.Random(stim.get("seed", 1))
    streams = manifest["streams"]
    drivers = [StreamDriver(name, spec, dut, stim["inputs"][name], stim.get("idle", 0.0),
                            random.Random(rng.random()))
               for name, spec in streams.items() if spec["direction"] == "in"]
    monitors = [StreamMonitor(name, spec, dut, stim.get("stall", 0.0), random.Random(rng.random()))
                for name, spec in streams.items() if spec["direction"] == "out"]
    scoreboard = Scoreboard(manifest, stim["inputs"], stim["expected"], stim.get("sources"))

    clk = getattr(dut, manifest["clock"])
    rst = getattr(dut, manifest["reset"])
    Clock(clk, 10, unit="ns").start()
    for bench in (*drivers, *monitors):
        bench.reset()
    rst.value = 1
    for _ in range(RESET_CYCLES):
        await RisingEdge(clk)
    rst.value = 0

    expected_total = sum(len(stim["expected"][m.name]) for m in monitors)
    input_total = sum(len(d.beats) for d in drivers)
    # Generous bound: every beat may wait for idles and stalls; a hang fails instead of spinning.
    # Designs that take several cycles per beat pass their own bound as ``cycle_limit``.
    limit = stim.get("cycle_limit") or \
        200 + 20 * (input_total + expected_total) + 10 * (manifest.get("latency") or 64)
    cycle = 0
    drain = DRAIN_CYCLES
    while cycle < limit:
        await RisingEdge(clk)
        cycle += 1
        for bench in drivers:
            bench.drive(cycle)
        for bench in monitors:
            bench.drive(cycle)
        await ReadOnly()
        for bench in drivers:
            bench.sample()
        for bench in monitors:
            bench.sample(cycle)
        if all(d.done for d in drivers) and \
                sum(len(m.received) for m in monitors) >= expected_total:
            drain -= 1
            if drain == 0:
                break

    problems = []
    for m in monitors:
        mismatch = scoreboard.first_mismatch(m.name, [codes for _, codes in m.received])
        if mismatch:
            problems.append(mismatch)
    for d in drivers:
        if not d.done:
            problems.append(f"HANG: stream {d.name} accepted {len(d.accepted_cycles)} of "
                            f"{len(d.beats)} beats in {cycle} cycles")
    if not problems and stim.get("check_timing"):
        problems += _timing_problems(manifest, stim, drivers, monitors)
    if not problems and stim.get("min_rate"):
        problems += _rate_problems(stim["min_rate"], drivers, monitors)
    for p in problems:
        dut._log.error(p)
    assert not problems, problems[0]
    dut._log.info(f"{input_total} input beats, {expected_total} output beats, {cycle} cycles: "
                  f"all match")


def _timing_problems(manifest, stim, drivers, monitors) -> list[str]:
    """At full rate: initiation interval and latency as the manifest states them."""
    problems = []
    ii = manifest.get("initiation_interval")
    if ii is not None:
        for d in drivers:
            gaps = {b - a for a, b in zip(d.accepted_cycles, d.accepted_cycles[1:])}
            if gaps and gaps != {ii}:
                problems.append(f"TIMING: stream {d.name} accepted beats {sorted(gaps)} cycles "
                                f"apart, manifest initiation_interval is {ii}")
    latency = manifest.get("latency")
    if latency is not None:
        accepted = {d.name: d.accepted_cycles for d in drivers}
        for m in monitors:
            for index, (src, (stream, _, last)) in enumerate(
                    zip(m.first_valid_cycles, stim["sources"][m.name])):
                measured = src - accepted[stream][last]
                if measured != latency:
                    problems.append(f"TIMING: stream {m.name} beat {index} came {measured} "
                                    f"cycles after its last input, manifest latency is {latency}")
                    break
    return problems


def _rate_problems(min_rate, drivers, monitors) -> list[str]:
    """Average beats per cycle of each named stream, from its first beat to its last."""
    cycles = {d.name: d.accepted_cycles for d in drivers}
    cycles.update({m.name: [c for c, _ in m.received] for m in monitors})
    problems = []
    for name, least in min_rate.items():
        beats = cycles[name]
        rate = len(beats) / (beats[-1] - beats[0] + 1)
        if rate < least:
            problems.append(f"RATE: stream {name} moved {len(beats)} beats in "
                            f"{beats[-1] - beats[0] + 1} cycles ({rate:.3f} per cycle), "
                            f"at least {least} required")
    return problems
