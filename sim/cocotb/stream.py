"""Generic valid/ready stream driver and monitor, configured from a design's manifest.

Both work cycle by cycle under the bench's one clock loop (:mod:`sim.cocotb.stream_test`): after
each rising edge the driver updates ``valid``/``payload`` of an input stream and the monitor
``ready`` of an output stream; in the read-only phase before the next edge both sample
``valid & ready`` to know whether a beat transfers on that edge. Driving everything from one loop
keeps simulation fast (two scheduler round trips per cycle, whatever the number of streams).

Payload fields are located by the manifest's ``{name, lsb, width}`` records; values are codes
(unsigned integers of ``width`` bits).
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sim.stimuli import pack

__all__ = ["StreamDriver", "StreamMonitor"]


@dataclass
class StreamDriver:
    """Drives an input stream of the DUT with ``beats`` (lists of field codes).

    A beat, once offered, stays on the bus until accepted (valid is never withdrawn). Between
    beats the driver idles for a cycle with probability ``idle``. ``phases`` (one per beat,
    default all 0) is read by the bench's phase gate, which passes ``may_offer`` to
    :meth:`offer`.
    """

    name: str
    spec: dict
    dut: object
    beats: list
    idle: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    phases: list | None = None
    accepted_cycles: list = field(default_factory=list)

    def __post_init__(self):
        self._valid = getattr(self.dut, self.spec["valid"])
        self._ready = getattr(self.dut, self.spec["ready"])
        self._payload = getattr(self.dut, self.spec["payload"])
        self._fields = self.spec["fields"]
        self._next = 0          # index of the beat on the bus (or the next one to offer)
        self._offering = False
        self._fire = False
        if self.phases is None:
            self.phases = [0] * len(self.beats)

    @property
    def done(self) -> bool:
        return self._next >= len(self.beats)

    @property
    def pending_phase(self) -> float:
        """Phase of the next beat not yet accepted (infinite when done)."""
        return float("inf") if self.done else self.phases[self._next]

    def reset(self):
        self._valid.value = 0
        self._payload.value = 0

    def retire(self, cycle: int):
        """After a rising edge: retire the beat that transferred on it."""
        if self._fire:
            self.accepted_cycles.append(cycle - 1)
            self._next += 1
            self._offering = False

    def offer(self, may_offer: bool = True):
        """Keep the offered beat, or offer the next one (unless idling or gated)."""
        if not self._offering and not self.done and may_offer and self.rng.random() >= self.idle:
            self._payload.value = pack(self._fields, self.beats[self._next])
            self._offering = True
        self._valid.value = int(self._offering)

    def sample(self):
        """Read-only phase: does the offered beat transfer on the coming edge?"""
        self._fire = self._offering and int(self._ready.value) == 1


@dataclass
class StreamMonitor:
    """Collects the beats of an output stream, applying random back-pressure.

    ``ready`` is low in a cycle with probability ``stall``. ``received`` holds ``(cycle,
    payload)`` with the payload as one integer; ``presenting`` tells whether ``valid`` was high
    in the last sampled cycle.
    """

    name: str
    spec: dict
    dut: object
    stall: float = 0.0
    rng: random.Random = field(default_factory=random.Random)
    received: list = field(default_factory=list)

    def __post_init__(self):
        self._valid = getattr(self.dut, self.spec["valid"])
        self._ready = getattr(self.dut, self.spec["ready"])
        self._payload = getattr(self.dut, self.spec["payload"])
        self._ready_now = False
        self.first_valid_cycles = []   # cycle in which each beat was first presented
        self._presented = False
        self.presenting = False

    def reset(self):
        self._ready.value = 0

    def drive(self, cycle: int):
        self._ready_now = self.rng.random() >= self.stall
        self._ready.value = int(self._ready_now)

    def sample(self, cycle: int):
        self.presenting = int(self._valid.value) == 1
        if not self.presenting:
            self._presented = False
            return
        if not self._presented:
            self.first_valid_cycles.append(cycle)
            self._presented = True
        if self._ready_now:
            self.received.append((cycle, self._payload.value.to_unsigned()))
            self._presented = False
