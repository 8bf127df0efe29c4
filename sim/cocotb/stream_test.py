"""Generic cocotb stream bench: drive a design's input streams, record its output streams.

Everything comes from files named in the environment:

- ``PEFORGE_MANIFEST``: the design's manifest (ports, stream fields);
- ``PEFORGE_STIMULUS``: JSON with ``inputs`` (per input stream, a list of beats, each a list of
  field codes in manifest order), optionally ``phases`` (per input stream, each beat's phase: a
  beat of phase p is offered only when no stream holds an unaccepted beat of an earlier phase),
  ``expected`` (per output stream, the expected beats: only their number is used here, to stop
  early), ``quiet`` (without ``expected``: stop this many cycles after the last output activity
  once every input beat was accepted), ``idle`` / ``stall`` probabilities, ``seed``, and
  optionally ``cycle_limit``;
- ``PEFORGE_RECORD``: where the :class:`sim.checks.BenchRecord` goes (JSON).

The checks (scoreboard, timing, throughput) run on the record in :mod:`sim.checks`, the same
ones as for the native engine (:mod:`sim.native`).
"""

from __future__ import annotations

import json
import os
import random

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from sim.checks import BenchRecord, phase_gate_allows
from sim.cocotb.stream import StreamDriver, StreamMonitor
from sim.payload import words_from_ints

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
async def stream_bench(dut):
    manifest, stim = _load()
    rng = random.Random(stim.get("seed", 1))
    streams = manifest["streams"]
    phases = stim.get("phases") or {}
    drivers = [StreamDriver(name, spec, dut, stim["inputs"][name], stim.get("idle", 0.0),
                            random.Random(rng.random()), phases=phases.get(name))
               for name, spec in streams.items() if spec["direction"] == "in"]
    monitors = [StreamMonitor(name, spec, dut, stim.get("stall", 0.0), random.Random(rng.random()))
                for name, spec in streams.items() if spec["direction"] == "out"]

    clk = getattr(dut, manifest["clock"])
    rst = getattr(dut, manifest["reset"])
    Clock(clk, 10, unit="ns").start()
    for bench in (*drivers, *monitors):
        bench.reset()
    rst.value = 1
    for _ in range(RESET_CYCLES):
        await RisingEdge(clk)
    rst.value = 0

    expected = stim.get("expected")
    expected_total = sum(len(expected[m.name]) for m in monitors) if expected else None
    input_total = sum(len(d.beats) for d in drivers)
    # Generous bound: every beat may wait for idles and stalls; a hang fails instead of spinning.
    limit = stim.get("cycle_limit") or \
        200 + 20 * (input_total + (expected_total or input_total)) + \
        10 * (manifest.get("latency") or 64) + stim.get("quiet", 0)
    quiet_limit = stim.get("quiet", 1000)
    cycle = quiet = 0
    drain = DRAIN_CYCLES
    hung = True
    while cycle < limit:
        await RisingEdge(clk)
        cycle += 1
        for bench in drivers:
            bench.retire(cycle)
        pending = [d.pending_phase for d in drivers]
        for bench in drivers:
            bench.offer(phase_gate_allows(bench.pending_phase, pending))
        for bench in monitors:
            bench.drive(cycle)
        await ReadOnly()
        for bench in drivers:
            bench.sample()
        for bench in monitors:
            bench.sample(cycle)
        quiet = 0 if any(m.presenting for m in monitors) else quiet + 1
        if not all(d.done for d in drivers):
            continue
        if expected_total is not None:
            if sum(len(m.received) for m in monitors) >= expected_total:
                drain -= 1
                if drain == 0:
                    hung = False
                    break
        elif quiet >= quiet_limit:
            hung = False
            break

    record = BenchRecord(
        accepted={d.name: d.accepted_cycles for d in drivers},
        words={m.name: words_from_ints([word for _, word in m.received],
                                       m.spec["payload_width"]) for m in monitors},
        cycles={m.name: [c for c, _ in m.received] for m in monitors},
        first_valid={m.name: m.first_valid_cycles for m in monitors},
        total_cycles=cycle, hung=hung)
    record.save(os.environ["PEFORGE_RECORD"], manifest)
    dut._log.info(f"{input_total} input beats, "
                  f"{sum(len(m.received) for m in monitors)} output beats, {cycle} cycles")
