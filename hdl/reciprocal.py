"""Reciprocal blocks of the softmax unit: ``r ~ 2^Q / M`` for a normalized ``M`` in [1, 2).

:class:`Reciprocal` is either a bit-serial restoring divider (exact truncated quotient) or a table
seed refined by Newton-Raphson steps ``r <- r * (2 - M * r)`` (:class:`NewtonReciprocal` logic), chosen
by ``widths.recip_table_bits`` (0: divider). Both are sequential: pulse ``start`` with ``m`` valid,
then ``done`` pulses once with ``r`` valid (``r`` holds until the next ``start``).
"""

from __future__ import annotations

import math

from amaranth.hdl import Module, Signal, unsigned
from amaranth.lib import memory, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["Reciprocal", "reciprocal_seed_entries", "reciprocal_latency"]


def reciprocal_seed_entries(table_bits: int, frac_bits: int) -> list[int]:
    """Seeds ``round(2^Q / (1 + (j + 1/2) / 2^b))``: 1/M at the middle of each of the 2^b intervals."""
    return [math.floor(2 ** frac_bits / (1 + (j + 0.5) / 2 ** table_bits) + 0.5)
            for j in range(2 ** table_bits)]


def reciprocal_latency(widths) -> int:
    """Cycles from ``start`` to ``done``: ``start`` high in cycle c gives ``done`` high in cycle
    c + latency (and ``r`` valid from then on)."""
    if widths.recip_table_bits == 0:
        return widths.recip_frac + 2
    return 1 + 4 * widths.newton_iters


class Reciprocal(wiring.Component):
    """``r ~ 2^Q / (m / 2^B)`` for ``m`` in [2^B, 2^(B+1)).

    Divider (``widths.recip_table_bits == 0``): ``r = floor(2^(Q+B) / m)``, one quotient bit per
    cycle, Q + 2 cycles from ``start`` to ``done``.

    Newton (``recip_table_bits = b > 0``): ``r0 = seed[j]`` for the top b fraction bits j of m, then
    ``newton_iters`` steps of four cycles each (two half-steps, each a multiply into a register and
    its rounding) on a single shared multiplier:
    ``p = round(m' * r / 2^(Q+2))`` with ``m'`` = m truncated to Q + 2 fraction bits, then
    ``r = round(r * (2^(Q+1) - p) / 2^Q)`` (rounding half up).

    Parameters
    ----------
    widths : hdl.softmax.SoftmaxWidths
        Uses ``norm_frac`` (B), ``recip_frac`` (Q), ``recip_table_bits``, ``newton_iters``.

    Ports
    -----
    start : In(1)
    m : In(B + 1)
    r : Out(Q + 2)
    done : Out(1)
    busy : Out(1)

    Latency: :func:`reciprocal_latency` cycles from ``start`` to ``done``.
    """

    def __init__(self, *, widths):
        self.widths = widths
        super().__init__({
            "start": In(1),
            "m": In(widths.norm_frac + 1),
            "r": Out(widths.recip_frac + 2),
            "done": Out(1),
            "busy": Out(1),
        })

    def elaborate(self, platform):
        if self.widths.recip_table_bits == 0:
            return self._divider()
        return self._newton()

    def _divider(self):
        m = Module()
        B, Q = self.widths.norm_frac, self.widths.recip_frac
        divisor = Signal(B + 1)
        remainder = Signal(B + 2)
        quotient = Signal(Q + 1)
        steps = Signal(range(Q + 2))
        m.d.sync += self.done.eq(0)
        m.d.comb += self.busy.eq(steps != 0)
        trial = remainder - divisor
        with m.If(self.start):
            # The dividend is 2^(Q+B): its top part 2^B starts the remainder, the rest are zeros.
            m.d.sync += [divisor.eq(self.m), remainder.eq(1 << B), quotient.eq(0), steps.eq(Q + 1)]
        with m.Elif(steps != 0):
            fits = remainder >= divisor
            m.d.sync += [
                quotient.eq((quotient << 1) | fits),
                steps.eq(steps - 1),
            ]
            with m.If(~fits):
                m.d.sync += remainder.eq(remainder << 1)
            with m.Else():
                m.d.sync += remainder.eq(trial << 1)
            with m.If(steps == 1):
                m.d.sync += self.done.eq(1)
        m.d.comb += self.r.eq(quotient)
        return m

    def _newton(self):
        m = Module()
        w = self.widths
        B, Q, b = w.norm_frac, w.recip_frac, w.recip_table_bits
        m.submodules.seed = seed = memory.Memory(
            shape=unsigned(Q + 1), depth=2 ** b, init=reciprocal_seed_entries(b, Q))
        seed_port = seed.read_port(domain="comb")
        m.d.comb += seed_port.addr.eq(self.m[B - b:B])

        m_trunc = Signal(Q + 3)
        r = Signal(Q + 2)
        # Each half-step takes two cycles: the product into a register, then its rounding.
        phase = Signal(2)
        steps = Signal(range(4 * w.newton_iters + 2))
        m.d.comb += [self.r.eq(r), self.busy.eq(steps != 0)]
        # One multiplier for both half-steps, its operands in registers (no multiplexer or
        # subtraction in front of it): m' * r, then r * (2 - p). The half-step m' * r stores
        # 2^(Q+1) - p directly: with p = floor((x + 2^(Q+1)) / 2^(Q+2)) for the product x,
        # 2^(Q+1) - p = floor((2^(2Q+3) + 2^(Q+1) - 1 - x) / 2^(Q+2)), one subtraction.
        a = Signal(Q + 3)
        c = Signal(Q + 2)
        product = Signal(2 * Q + 5)
        two_minus_p = ((1 << (2 * Q + 3)) + (1 << (Q + 1)) - 1 - product) >> (Q + 2)
        r_next = (product + (1 << (Q - 1))) >> Q
        m.d.sync += self.done.eq(0)
        with m.If(self.start):
            m_q = self.m >> (B - Q - 2)
            m.d.sync += [r.eq(seed_port.data), m_trunc.eq(m_q), a.eq(m_q), c.eq(seed_port.data),
                         phase.eq(0), steps.eq(4 * w.newton_iters)]
            if w.newton_iters == 0:
                m.d.sync += self.done.eq(1)
        with m.Elif(steps != 0):
            m.d.sync += [steps.eq(steps - 1), phase.eq(phase + 1)]
            with m.If(~phase[0]):
                m.d.sync += product.eq(a * c)
            with m.Elif(phase[1]):
                m.d.sync += [r.eq(r_next), a.eq(m_trunc), c.eq(r_next)]
            with m.Else():
                m.d.sync += [a.eq(r), c.eq(two_minus_p)]
            with m.If(steps == 1):
                m.d.sync += self.done.eq(1)
        return m
