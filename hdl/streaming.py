"""The thin stream wrapper shared by every PE whose datapath core is a clock-enabled pipeline.

Such a core has inputs ``en`` (advance the pipeline), ``valid`` and one port per input payload
field (same names), and outputs ``result`` and ``result_valid`` (registered, recomputed on every
enabled cycle) plus one port per further output payload field. A core that spends several enabled
cycles on one beat (the bit-serial ones) also has an output ``done``: the beat is consumed on the
enabled cycle where ``done`` is high. The wrapper advances the whole pipeline whenever the output
register is empty or being read, so the PE takes a beat whenever the core can while ``o.ready``
is high and never drops or repeats a beat; ``i.ready`` depends combinationally on ``o.ready``.
"""

from __future__ import annotations

from amaranth.hdl import Module
from amaranth.lib import data, wiring

__all__ = ["connect_enabled_core", "EnabledCore", "StreamPE"]


def connect_enabled_core(m, core, i, o, *, result_field: str):
    """Connect ``core`` between input stream ``i`` and output stream ``o`` in module ``m``.

    Every field of ``i``'s payload drives the core port of the same name; ``core.result`` drives
    field ``result_field`` of ``o``'s payload and every other field of it is driven by the core
    port of the same name.
    """
    advance = ~o.valid | o.ready
    consumed = advance & core.done if "done" in core.signature.members else advance
    m.d.comb += [
        core.en.eq(advance),
        core.valid.eq(i.valid),
        i.ready.eq(consumed),
        o.valid.eq(core.result_valid),
    ]
    for name, _ in data.Layout.cast(i.payload.shape()):
        m.d.comb += getattr(core, name).eq(i.payload[name])
    for name, _ in data.Layout.cast(o.payload.shape()):
        port = core.result if name == result_field else getattr(core, name)
        m.d.comb += o.payload[name].eq(port)


class EnabledCore(wiring.Component):
    """Base of a clock-enabled datapath core: its interface and timing, stated once.

    Parameters
    ----------
    ports : hdl.ports.Ports
        The PE's streams; the core's ports follow from them (:meth:`hdl.ports.Ports.core_members`).
    latency : int or None
        Cycles from the acceptance of a beat ending a group to its output beat.
    initiation_interval : int or None
        Cycles per beat at full rate; None when it depends on the data.
    multi_cycle : bool
        The core spends several enabled cycles on some beats and says when a beat is consumed on
        an extra output ``done``.
    """

    def __init__(self, ports, *, latency, initiation_interval=1, multi_cycle=False):
        self.ports = ports
        self.latency = latency
        self.initiation_interval = initiation_interval
        members = ports.core_members()
        if multi_cycle:
            members["done"] = wiring.Out(1)
        super().__init__(members)


class StreamPE(wiring.Component):
    """The stream wrapper of a clock-enabled core: one class serves every such PE.

    The core declares its interface once (``core.ports``, a :class:`hdl.ports.Ports` with one
    input and one output stream, from which the core built its own signature with
    :meth:`~hdl.ports.Ports.core_members`) and its timing (``core.latency`` and
    ``core.initiation_interval``, None where data-dependent); the wrapper takes its signature from
    the same declaration and connects the core with :func:`connect_enabled_core`. It exposes
    ``ports``, ``latency`` and ``initiation_interval`` for the manifest.

    Parameters
    ----------
    core : wiring.Component
        A fresh core instance (a component is elaborated once).
    """

    def __init__(self, core):
        self.core = core
        self.ports = core.ports
        self.latency = core.latency
        self.initiation_interval = core.initiation_interval
        super().__init__(self.ports.signature())

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = self.core
        (i,) = [getattr(self, s.name) for s in self.ports.streams if s.direction == "in"]
        (o,) = [getattr(self, s.name) for s in self.ports.streams if s.direction == "out"]
        connect_enabled_core(m, self.core, i, o, result_field=self.ports.result_field)
        return m
