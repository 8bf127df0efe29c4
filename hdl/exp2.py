"""Base-2 exponential blocks of the softmax unit.

:class:`Exp2Table` evaluates ``2^f`` for a fraction ``f`` in [0, 1) from a ``2^k``-entry table with
optional linear interpolation. :class:`Exp2` multiplies a fixed-point input by ``log2(e)`` and splits
the result ``t = n + f`` (``n = floor(t)``), giving ``exp(u) = 2^f * 2^n`` as the pair ``(v, n)``.

Both are combinational (the tables are read-only memories with asynchronous read ports, which map
to LUTs); the softmax unit places registers around them.
"""

from __future__ import annotations

import math

from amaranth.hdl import Const, Module, Mux, signed, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Exp2Table", "Exp2", "exp2_table_entries", "rshift_round"]


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
    v : Out(P + 1), in [2^P, 2^(P+1)).

    Latency: combinational.
    """

    def __init__(self, *, table_bits: int, interp_bits: int, frac_bits: int):
        self.table_bits = table_bits
        self.interp_bits = interp_bits
        self.frac_bits = frac_bits
        super().__init__({
            "f": In(table_bits + interp_bits),
            "v": Out(frac_bits + 1),
        })

    def elaborate(self, platform):
        m = Module()
        k, r, P = self.table_bits, self.interp_bits, self.frac_bits
        entries = exp2_table_entries(k, P)
        m.submodules.entries = table = memory.Memory(
            shape=unsigned(P + 1), depth=2 ** k, init=entries[:-1])
        port = table.read_port(domain="comb")
        m.d.comb += port.addr.eq(self.f[r:])
        if r == 0:
            m.d.comb += self.v.eq(port.data)
            return m
        diffs = [b - a for a, b in zip(entries, entries[1:])]
        m.submodules.steps = diff_table = memory.Memory(
            shape=unsigned(max(diffs).bit_length()), depth=2 ** k, init=diffs)
        diff_port = diff_table.read_port(domain="comb")
        m.d.comb += diff_port.addr.eq(self.f[r:])
        step = diff_port.data * self.f[:r]
        m.d.comb += self.v.eq(port.data + ((step + (1 << (r - 1))) >> r))
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
    v : Out(P + 1)
    n : Out(signed)

    Latency: combinational.
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
            "v": Out(w.exp_frac + 1),
            "n": Out(signed(n_width)),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.widths
        m.submodules.frac_exp2 = table = Exp2Table(table_bits=w.table_bits, interp_bits=w.interp_bits,
                                               frac_bits=w.exp_frac)
        product = self.u * Const(w.log2e, unsigned(w.log2e.bit_length()))
        t = (product + (1 << (self._shift - 1))) >> self._shift
        m.d.comb += [
            table.f.eq(t[:w.t_frac]),
            self.v.eq(table.v),
            self.n.eq(t >> w.t_frac),
        ]
        return m
