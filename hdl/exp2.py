"""Base-2 exponential blocks of the softmax unit.

:class:`Exp2Table` evaluates ``2^f`` for a fraction ``f`` in [0, 1) from a ``2^k``-entry table with
optional linear interpolation. :class:`Exp2` multiplies a fixed-point input by ``log2(e)`` and splits
the result ``t = n + f`` (``n = floor(t)``), giving ``exp(u) = 2^f * 2^n`` as the pair ``(v, n)``.

Both are pipelines with a clock enable ``en`` (the tables are read-only memories with asynchronous
read ports, which map to LUTs, followed by registers): :data:`EXP2_TABLE_LATENCY` and
:data:`EXP2_LATENCY` enabled cycles from input to output. The stages are cut so that each holds at
most one multiplier or one carry chain after a table (ECP5: >= 75 MHz with DSP multipliers).
"""

from __future__ import annotations

import math

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Exp2Table", "Exp2", "exp2_table_entries", "rshift_round", "EXP2_TABLE_LATENCY",
           "EXP2_LATENCY"]

#: Enabled cycles of :class:`Exp2Table` from ``f`` to ``v``: the table read, then the interpolation.
EXP2_TABLE_LATENCY = 2
#: Enabled cycles of :class:`Exp2` from ``u`` to ``v`` and ``n``: the input register, the
#: multiplication by log2(e) with its rounding, then :class:`Exp2Table`.
EXP2_LATENCY = 2 + EXP2_TABLE_LATENCY


#: Yosys attribute that maps a read-only memory to logic, not to block RAM.
_LOGIC = {"rom_style": "logic"}


def exp2_table_entries(table_bits: int, frac_bits: int) -> list[int]:
    """``round(2^(j / 2^k) * 2^P)`` for ``j = 0 .. 2^k``; the last entry is ``2^(P+1)``."""
    return [math.floor(2.0 ** (j / 2 ** table_bits) * 2 ** frac_bits + 0.5)
            for j in range(2 ** table_bits + 1)]


def rshift_round(value, amount, value_width: int):
    """``round(value / 2^amount)``, half up, for an unsigned ``value`` of ``value_width`` bits and an
    unsigned variable ``amount``; any amount above ``value_width`` gives 0 (as the exact formula)."""
    limit = value_width
    amount_c = amount[:max(1, limit.bit_length())] if len(amount) > limit.bit_length() else amount
    half = (Const(1, 1) << amount_c) >> 1
    rounded = (value + half) >> amount_c
    return Mux(amount > limit, 0, rounded)


class Exp2Table(wiring.Component):
    """``v = 2^f`` with ``frac_bits`` (P) fraction bits, for ``f`` given with ``k + r`` fraction bits.

    The top ``k`` bits of ``f`` index the table ``tab[j] = round(2^(j / 2^k) * 2^P)``. With
    ``interp_bits = r > 0`` the low ``r`` bits interpolate linearly towards the next entry:
    ``v = tab[j] + round((tab[j+1] - tab[j]) * low / 2^r)`` (half up); the differences are held in a
    second table so each table is read once.

    Parameters
    ----------
    table_bits : int
        k (2^k entries).
    interp_bits : int
        r (0: no interpolation, v = tab[j]).
    frac_bits : int
        P.

    Ports
    -----
    f : In(k + r)
    en : In(1), clock enable of both stages (1 when not driven)
    v : Out(P + 1), in [2^P, 2^(P+1)).

    Latency: :data:`EXP2_TABLE_LATENCY` enabled cycles (the table entries are registered, then the
    interpolated value; without interpolation the second stage only copies the entry).
    """

    def __init__(self, *, table_bits: int, interp_bits: int, frac_bits: int):
        self.table_bits = table_bits
        self.interp_bits = interp_bits
        self.frac_bits = frac_bits
        super().__init__({
            "f": In(table_bits + interp_bits),
            "en": In(1, init=1),
            "v": Out(frac_bits + 1),
        })

    def elaborate(self, platform):
        m = Module()
        k, r, P = self.table_bits, self.interp_bits, self.frac_bits
        entries = exp2_table_entries(k, P)
        # The tables stay in LUTs even when large (rom_style): in a block RAM the register after
        # them would become the RAM's slow output (ECP5: 5.6 ns clock-to-output).
        m.submodules.entries = table = memory.Memory(
            shape=unsigned(P + 1), depth=2 ** k, init=entries[:-1], attrs=_LOGIC)
        port = table.read_port(domain="comb")
        m.d.comb += port.addr.eq(self.f[r:])
        entry = Signal(P + 1, reset_less=True)
        with m.If(self.en):
            m.d.sync += entry.eq(port.data)
        if r == 0:
            with m.If(self.en):
                m.d.sync += self.v.eq(entry)
            return m
        diffs = [b - a for a, b in zip(entries, entries[1:])]
        m.submodules.steps = diff_table = memory.Memory(
            shape=unsigned(max(diffs).bit_length()), depth=2 ** k, init=diffs, attrs=_LOGIC)
        diff_port = diff_table.read_port(domain="comb")
        m.d.comb += diff_port.addr.eq(self.f[r:])
        diff = Signal(diff_port.data.shape(), reset_less=True)
        low = Signal(r, reset_less=True)
        with m.If(self.en):
            m.d.sync += [diff.eq(diff_port.data), low.eq(self.f[:r])]
        step = diff * low
        with m.If(self.en):
            m.d.sync += self.v.eq(entry + ((step + (1 << (r - 1))) >> r))
        return m


class Exp2(wiring.Component):
    """``exp(u) = 2^t`` split as ``t = n + f``: outputs ``v = 2^f`` (P fraction bits) and ``n``.

    ``t = round(u * log2e / 2^(in_frac + C - T))`` (half up) with the constant
    ``log2e = round(log2(e) * 2^C)``; ``n = floor(t)``, ``f`` = the low T bits of t, and ``v`` from
    :class:`Exp2Table`. The real value is ``exp(u) ~ v * 2^(n - P)``.

    Parameters
    ----------
    widths : hdl.softmax.SoftmaxWidths
        Uses ``in_frac``, ``t_frac`` (T), ``log2e_frac`` (C), ``log2e``, ``table_bits``,
        ``interp_bits`` and ``exp_frac`` (P).
    u_width : int
        Width of the signed input ``u`` (raw, ``in_frac`` fraction bits).

    Ports
    -----
    u : In(signed(u_width))
    en : In(1), clock enable of every stage (1 when not driven)
    v : Out(P + 1)
    n : Out(signed)

    Latency: :data:`EXP2_LATENCY` enabled cycles from ``u`` to ``v`` and ``n`` (``u`` is registered
    on entry, so it may come from a long path).
    """

    def __init__(self, *, widths, u_width: int):
        self.widths = widths
        self.u_width = u_width
        w = widths
        self._shift = w.in_frac + w.log2e_frac - w.t_frac
        # |t| <= 2^(u_width-1-in_frac) * log2(e) < 2^(u_width - in_frac): n fits in this many bits.
        n_width = max(2, u_width - w.in_frac + 1)
        super().__init__({
            "u": In(signed(u_width)),
            "en": In(1, init=1),
            "v": Out(w.exp_frac + 1),
            "n": Out(signed(n_width)),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.widths
        m.submodules.frac_exp2 = table = Exp2Table(table_bits=w.table_bits, interp_bits=w.interp_bits,
                                               frac_bits=w.exp_frac)
        u = Signal.like(self.u, reset_less=True)
        product = u * Const(w.log2e, unsigned(w.log2e.bit_length()))
        rounded = (product + (1 << (self._shift - 1))) >> self._shift
        t = Signal(rounded.shape(), reset_less=True)
        with m.If(self.en):
            m.d.sync += [u.eq(self.u), t.eq(rounded)]
        m.d.comb += [table.f.eq(t[:w.t_frac]), table.en.eq(self.en), self.v.eq(table.v)]
        # n travels beside the table's stages.
        n = t >> w.t_frac
        for stage in range(EXP2_TABLE_LATENCY):
            n_next = Signal(signed(len(self.n)), reset_less=True, name=f"n_d{stage}")
            with m.If(self.en):
                m.d.sync += n_next.eq(n)
            n = n_next
        m.d.comb += self.n.eq(n)
        return m
