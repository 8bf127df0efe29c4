"""Cocotb regression of a weight-stationary array: streams ``w`` and ``x`` in a fixed order.

The generic bench (:mod:`sim.cocotb.stream_test`) drives every input stream independently, but a
weight-stationary array's output depends on which weight load each vector follows. The
stimulus therefore adds ``phases``: for each ``w`` beat the index of its load, for each ``x``
beat the index of the load whose tile it must use. This bench keeps that order and nothing
more: a vector of phase p is offered only after the final beat of load p was accepted, and the
final beat of load p is offered only after every vector of earlier phases was accepted. The
other beats of a load go in whenever the array takes them, i.e. while earlier vectors are
still in the grid. Driver, monitor, scoreboard and the full-rate timing check are the generic
ones.
"""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass, field
from typing import Callable

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge

from sim.cocotb.scoreboard import Scoreboard
from sim.cocotb.stream import StreamDriver, StreamMonitor, pack
from sim.cocotb.stream_test import DRAIN_CYCLES, RESET_CYCLES, _timing_problems


@dataclass
class GatedStreamDriver(StreamDriver):
    """A :class:`StreamDriver` that offers beat ``n`` only when ``gate(n)`` is true."""

    gate: Callable[[int], bool] = field(default=lambda n: True)

    def drive(self, cycle: int):
        if self._fire:
            self.accepted_cycles.append(cycle - 1)
            self._next += 1
            self._offering = False
        if not self._offering and not self.done and self.gate(self._next) \
                and self.rng.random() >= self.idle:
            self._payload.value = pack(self._fields, self.beats[self._next])
            self._offering = True
        self._valid.value = int(self._offering)


@cocotb.test()
async def weight_stationary_regression(dut):
    with open(os.environ["PEFORGE_MANIFEST"]) as f:
        manifest = json.load(f)
    with open(os.environ["PEFORGE_STIMULUS"]) as f:
        stim = json.load(f)
    rng = random.Random(stim.get("seed", 1))
    streams = manifest["streams"]
    w_phase, x_phase = stim["phases"]["w"], stim["phases"]["x"]
    w_beats, x_beats = stim["inputs"]["w"], stim["inputs"]["x"]
    last_index = [f["name"] for f in streams["w"]["fields"]].index("last")
    # For each load: index of its final beat; vectors per phase (cumulative).
    final_beat = {w_phase[n]: n for n, beat in enumerate(w_beats) if beat[last_index]}
    x_before = {p: sum(1 for q in x_phase if q < p) for p in final_beat}

    drivers = {}

    def w_gate(n):
        if not w_beats[n][last_index]:
            return True
        return len(drivers["x"].accepted_cycles) >= x_before[w_phase[n]]

    def x_gate(n):
        return len(drivers["w"].accepted_cycles) > final_beat[x_phase[n]]

    idle = stim.get("idle", 0.0)
    drivers["w"] = GatedStreamDriver("w", streams["w"], dut, w_beats, idle,
                                     random.Random(rng.random()), gate=w_gate)
    drivers["x"] = GatedStreamDriver("x", streams["x"], dut, x_beats, idle,
                                     random.Random(rng.random()), gate=x_gate)
    monitor = StreamMonitor("y", streams["y"], dut, stim.get("stall", 0.0),
                            random.Random(rng.random()))
    scoreboard = Scoreboard(manifest, stim["inputs"], stim["expected"], stim.get("sources"))

    clk = getattr(dut, manifest["clock"])
    rst = getattr(dut, manifest["reset"])
    Clock(clk, 10, unit="ns").start()
    for bench in (*drivers.values(), monitor):
        bench.reset()
    rst.value = 1
    for _ in range(RESET_CYCLES):
        await RisingEdge(clk)
    rst.value = 0

    expected_total = len(stim["expected"]["y"])
    input_total = len(w_beats) + len(x_beats)
    limit = 200 + 20 * (input_total + expected_total) + 10 * (manifest.get("latency") or 64)
    cycle = 0
    drain = DRAIN_CYCLES
    while cycle < limit:
        await RisingEdge(clk)
        cycle += 1
        for bench in drivers.values():
            bench.drive(cycle)
        monitor.drive(cycle)
        await ReadOnly()
        for bench in drivers.values():
            bench.sample()
        monitor.sample(cycle)
        if all(d.done for d in drivers.values()) and len(monitor.received) >= expected_total:
            drain -= 1
            if drain == 0:
                break

    problems = []
    mismatch = scoreboard.first_mismatch("y", [codes for _, codes in monitor.received])
    if mismatch:
        problems.append(mismatch)
    for d in drivers.values():
        if not d.done:
            problems.append(f"HANG: stream {d.name} accepted {len(d.accepted_cycles)} of "
                            f"{len(d.beats)} beats in {cycle} cycles")
    if not problems and stim.get("check_timing"):
        # Latency of every y; II within each burst of x (w waits for the grid to drain).
        timing_manifest = {**manifest, "initiation_interval": None}
        problems += _timing_problems(timing_manifest, stim, [drivers["x"]], [monitor])
        ii = manifest["initiation_interval"]
        acc = drivers["x"].accepted_cycles
        for n in range(1, len(acc)):
            if x_phase[n] == x_phase[n - 1] and acc[n] - acc[n - 1] != ii:
                problems.append(f"TIMING: x beats {n - 1} and {n} accepted {acc[n] - acc[n - 1]} "
                                f"cycles apart within a burst, manifest initiation_interval "
                                f"is {ii}")
                break
    for p in problems:
        dut._log.error(p)
    assert not problems, problems[0]
    dut._log.info(f"{input_total} input beats, {expected_total} output beats, {cycle} cycles: "
                  f"all match")
