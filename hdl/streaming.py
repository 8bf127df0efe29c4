"""The thin stream wrapper shared by every PE whose datapath core is a clock-enabled pipeline.

Such a core has inputs ``en`` (advance the pipeline), ``valid`` and one port per input payload
field (same names), and outputs ``result`` and ``result_valid`` (registered, recomputed on every
enabled cycle). The wrapper advances the whole pipeline whenever the output register is empty or
being read, so the PE takes one beat per cycle while ``o.ready`` is high and never drops or
repeats a beat; ``i.ready`` depends combinationally on ``o.ready``.
"""

from __future__ import annotations

from amaranth.lib import data

__all__ = ["connect_enabled_core"]


def connect_enabled_core(m, core, i, o, *, result_field: str):
    """Connect ``core`` between input stream ``i`` and output stream ``o`` in module ``m``.

    Every field of ``i``'s payload drives the core port of the same name; ``core.result`` drives
    field ``result_field`` of ``o``'s payload.
    """
    advance = ~o.valid | o.ready
    m.d.comb += [
        core.en.eq(advance),
        core.valid.eq(i.valid),
        i.ready.eq(advance),
        o.valid.eq(core.result_valid),
        o.payload[result_field].eq(core.result),
    ]
    layout = data.Layout.cast(i.payload.shape())
    for name, _ in layout:
        m.d.comb += getattr(core, name).eq(i.payload[name])
