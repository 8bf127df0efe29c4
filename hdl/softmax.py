"""Streaming fixed-point softmax unit.

:class:`Softmax` takes vectors element by element (input stream ``i``: ``x``, ``last``), keeps them in
an on-chip element buffer (a :class:`amaranth.lib.memory.Memory` with a synchronous read port, so it
maps to block RAM), and writes ``softmax(x)`` element by element in input order (output stream ``o``:
``y``, ``last``, ``error``). The arithmetic is defined in :mod:`sim.golden.softmax` and the widths in
:func:`generators.softmax.softmax_widths`.

Structure: a *fill engine* accepts one element per cycle into the buffer and computes the first-pass
statistics (``three_pass``: the maximum; ``online``: running maximum and rescaled sum;
``two_pass_extexp``: the running (mantissa, exponent) sum); a *drain engine* then (three_pass only)
re-reads the buffer to sum the exponentials, normalizes the sum, computes its reciprocal
(:class:`hdl.reciprocal.Reciprocal`) and re-reads the buffer once more, writing one output per cycle.
With ``double_buffer`` the buffer has two halves and the fill engine takes the next vector while the
drain engine works on the current one.

A vector longer than ``max_length`` is an error: the unit stops storing at ``max_length`` elements,
emits that many beats with ``error`` = 1 and ``y`` = 0, then passes every further beat of the vector
straight through as an error beat until its ``last``; the next vector is processed normally.

Unlike the MAC PEs this unit has no separate clock-enabled core: the vector buffer makes the unit
stateful across beats, and its reusable datapath blocks (:class:`hdl.exp2.Exp2`,
:class:`hdl.reciprocal.Reciprocal`) are components of their own.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, memory, stream, wiring
from amaranth.lib.wiring import In, Out

from .exp2 import Exp2, rshift_round
from .reciprocal import Reciprocal, reciprocal_latency

__all__ = ["Softmax", "softmax_cycles"]


def softmax_cycles(widths, algorithm: str, length: int) -> dict:
    """Schedule of vectors of ``length`` <= max_length at full rate (no idles, no stalls).

    ``fill``: cycles the fill engine is busy per vector (``length`` accepts, then CLOSE and HANDOFF).
    ``drain``: cycles from hand-over until the drain engine can take the next vector (three_pass:
    sum pass of ``length + 2``; then normalize, reciprocal, ``length`` reads and pipeline drain).
    ``single``: cycles per vector, back to back, without double buffering (``fill + drain``);
    ``double``: the same with double buffering (``max(fill, drain + 1)``: the hand-over waits one
    cycle for the drain engine to be idle). Checked against simulation in tests/test_softmax.py.
    """
    sum_pass = length + 2 if algorithm == "three_pass" else 0
    drain = sum_pass + length + reciprocal_latency(widths) + 3
    fill = length + 2
    return {"fill": fill, "drain": drain, "single": fill + drain, "double": max(fill, drain + 1)}


class Softmax(wiring.Component):
    """Streaming softmax over vectors delimited by ``last``.

    Parameters
    ----------
    widths : generators.softmax.SoftmaxWidths
    max_length : int
        Buffer size (elements per vector half).
    algorithm : {"three_pass", "online", "two_pass_extexp"}
    double_buffer : bool

    Streams
    -------
    i : In(stream) payload ``x`` (signed, ``in_width`` bits, raw fixed point), ``last``
    o : Out(stream) payload ``y`` (unsigned, ``out_int + out_frac`` bits), ``last``, ``error``

    Latency and initiation interval depend on the vector lengths (see :func:`softmax_cycles`): the
    first output of a vector comes after its last input; elements are taken and written at one per
    cycle within a vector.
    """

    def __init__(self, *, widths, max_length: int, algorithm: str, double_buffer: bool):
        if algorithm not in ("three_pass", "online", "two_pass_extexp"):
            raise ValueError(f"unknown algorithm {algorithm!r}")
        self.widths = widths
        self.max_length = max_length
        self.algorithm = algorithm
        self.double_buffer = double_buffer
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "x": signed(widths.in_width),
                "last": 1,
            }))),
            "o": Out(stream.Signature(data.StructLayout({
                "y": unsigned(widths.out_int + widths.out_frac),
                "last": 1,
                "error": 1,
            }))),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.widths
        alg = self.algorithm
        W, P, SW, B, Q = w.in_width, w.exp_frac, w.sum_width, w.norm_frac, w.recip_frac
        ML = self.max_length
        halves = 2 if self.double_buffer else 1
        u_width = W if alg == "two_pass_extexp" else W + 1

        m.submodules.buffer = buffer = memory.Memory(shape=signed(W), depth=halves * ML, init=[])
        write = buffer.write_port()
        read = buffer.read_port(domain="sync")

        # ---------------- fill engine ----------------
        fill_half = Signal()
        fill_count = Signal(range(ML + 1))
        # The accepted element, one cycle later, updates the statistics (keeps the exp off the
        # input handshake path).
        x_reg = Signal(signed(W))
        x_reg_valid = Signal()
        x_reg_first = Signal()
        fill_max = Signal(signed(W))          # three_pass, online
        fill_sum = Signal(SW)                 # online: D; two_pass_extexp: S
        exp_n_width = max(2, u_width - w.in_frac + 1)
        fill_exp = Signal(signed(exp_n_width))  # two_pass_extexp: N

        drain_idle = Signal()
        handoff = Signal()
        handoff_error = Signal()
        pass_through = Signal()     # drain engine is passing an over-long vector's tail through

        m.d.comb += [
            write.addr.eq(Mux(fill_half, ML, 0) + fill_count),
            write.data.eq(self.i.payload.x),
        ]
        m.d.sync += x_reg_valid.eq(0)
        # Explicit state registers (not m.FSM): Amaranth's FSM output trips Verilator -Wall
        # (CASEINCOMPLETE, and WIDTHTRUNC on its "state == 0" tests); states are numbered from 1.
        FILL, CLOSE, HANDOFF, OVERFLOW, ERROR = range(1, 6)
        fill_state = Signal(range(1, 6), init=FILL)
        with m.If(fill_state == FILL):
            room = fill_count != ML
            if not self.double_buffer:
                room = room & drain_idle
            m.d.comb += self.i.ready.eq(room)
            with m.If(self.i.valid & room):
                m.d.comb += write.en.eq(1)
                m.d.sync += [
                    fill_count.eq(fill_count + 1),
                    x_reg.eq(self.i.payload.x),
                    x_reg_valid.eq(1),
                    x_reg_first.eq(~fill_count.any()),
                ]
                with m.If(self.i.payload.last):
                    m.d.sync += fill_state.eq(CLOSE)
            with m.If(self.i.valid & (fill_count == ML)):
                m.d.sync += fill_state.eq(OVERFLOW)
        with m.Elif(fill_state == CLOSE):
            m.d.sync += fill_state.eq(HANDOFF)
        with m.Elif(fill_state == HANDOFF):
            with m.If(drain_idle):
                m.d.comb += handoff.eq(1)
                m.d.sync += [fill_count.eq(0), fill_state.eq(FILL)]
                if self.double_buffer:
                    m.d.sync += fill_half.eq(~fill_half)
        with m.Elif(fill_state == OVERFLOW):
            with m.If(drain_idle):
                m.d.comb += handoff_error.eq(1)
                m.d.sync += fill_state.eq(ERROR)
        with m.Elif(fill_state == ERROR):
            # The drain engine owns i.ready now (pass_through); wait for the vector's end.
            with m.If(self.i.valid & self.i.ready & self.i.payload.last):
                m.d.sync += [fill_count.eq(0), fill_state.eq(FILL)]

        if alg != "three_pass":
            m.submodules.fill_exp2 = fill_exp2 = Exp2(widths=w, u_width=u_width)
        with m.If(x_reg_valid):
            if alg == "three_pass":
                with m.If(x_reg_first | (x_reg > fill_max)):
                    m.d.sync += fill_max.eq(x_reg)
            elif alg == "online":
                new_max = x_reg > fill_max
                m.d.comb += fill_exp2.u.eq(Mux(new_max, fill_max - x_reg, x_reg - fill_max))
                shift = Signal(exp_n_width)
                m.d.comb += shift.eq(-fill_exp2.n)
                e = rshift_round(fill_exp2.v, shift, P + 1)
                with m.If(x_reg_first):
                    m.d.sync += [fill_max.eq(x_reg), fill_sum.eq(1 << P)]
                with m.Elif(new_max):
                    # A new maximum rescales the sum by exp(old max - new max) and adds exp(0) = 1.
                    rescaled = (fill_sum * e + (1 << (P - 1))) >> P
                    m.d.sync += [fill_max.eq(x_reg), fill_sum.eq(rescaled + (1 << P))]
                with m.Else():
                    m.d.sync += fill_sum.eq(fill_sum + e)
            else:
                m.d.comb += fill_exp2.u.eq(x_reg)
                v, n = fill_exp2.v, fill_exp2.n
                up = Signal(exp_n_width + 1)
                down = Signal(exp_n_width + 1)
                m.d.comb += [up.eq(n - fill_exp), down.eq(fill_exp - n)]
                with m.If(x_reg_first):
                    m.d.sync += [fill_sum.eq(v), fill_exp.eq(n)]
                with m.Elif(n > fill_exp):
                    m.d.sync += [fill_sum.eq(rshift_round(fill_sum, up, SW) + v), fill_exp.eq(n)]
                with m.Else():
                    m.d.sync += fill_sum.eq(fill_sum + rshift_round(v, down, P + 1))

        # ---------------- drain engine ----------------
        drain_half = Signal()
        length = Signal(range(ML + 1))
        drain_max = Signal(signed(W))
        drain_exp = Signal(signed(exp_n_width))
        total = Signal(SW)
        read_index = Signal(range(ML + 1))
        # Output shift minus one: Q + z - F_out - 1, z = position of the sum's leading one.
        out_shift_m1 = Signal(range(Q + SW))
        recip_value = Signal(Q + 2)

        m.submodules.reciprocal = recip = Reciprocal(widths=w)
        m.submodules.drain_exp2 = drain_exp2 = Exp2(widths=w, u_width=u_width)

        advance = ~self.o.valid | self.o.ready
        stage_valid = Signal()
        stage_out = Signal()      # the stage holds an output element (not a sum-pass element)
        stage_error = Signal()
        stage_last = Signal()
        summing = Signal()
        writing = Signal()
        draining_errors = Signal()
        issue = Signal()
        issue_error = Signal()
        issue_pass = Signal()
        m.d.comb += [
            issue.eq((summing | writing) & (read_index != length) & advance),
            issue_error.eq(draining_errors & (read_index != length) & advance),
            issue_pass.eq(pass_through & advance & self.i.valid),
            read.addr.eq(Mux(drain_half, ML, 0) + read_index),
            read.en.eq(advance),
        ]
        with m.If(pass_through):
            m.d.comb += self.i.ready.eq(advance)
        with m.If(issue | issue_error):
            m.d.sync += read_index.eq(read_index + 1)
        with m.If(advance):
            m.d.sync += [
                stage_valid.eq(issue | issue_error | issue_pass),
                stage_out.eq(~summing),
                stage_error.eq(issue_error | issue_pass),
                stage_last.eq((issue & (read_index == length - 1)) |
                              (issue_pass & self.i.payload.last)),
            ]

        # The exponential of the element read in the previous cycle.
        x_read = read.data
        if alg == "two_pass_extexp":
            m.d.comb += drain_exp2.u.eq(x_read)
            shift = Signal(exp_n_width + 1)
            m.d.comb += shift.eq(drain_exp - drain_exp2.n)
        else:
            m.d.comb += drain_exp2.u.eq(x_read - drain_max)
            shift = Signal(exp_n_width)
            m.d.comb += shift.eq(-drain_exp2.n)
        e = Signal(P + 1)
        m.d.comb += e.eq(rshift_round(drain_exp2.v, shift, P + 1))
        with m.If(advance & stage_valid & ~stage_out):
            m.d.sync += total.eq(total + e)

        product = e * recip_value
        scaled = ((product + (Const(1, 1) << out_shift_m1)) >> out_shift_m1) >> 1
        largest = (1 << (w.out_int + w.out_frac)) - 1
        y = Mux(scaled > largest, largest, scaled)
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(stage_valid & stage_out),
                self.o.payload.y.eq(Mux(stage_error, 0, y)),
                self.o.payload.last.eq(stage_last),
                self.o.payload.error.eq(stage_error),
            ]

        # Leading one of the sum (the last assignment wins: the highest set bit).
        lead_comb = Signal(range(SW))
        for bit in range(SW):
            with m.If(total[bit]):
                m.d.comb += lead_comb.eq(bit)
        norm_shift = Signal(range(B + 1))
        m.d.comb += [norm_shift.eq(B - lead_comb), recip.m.eq(total << norm_shift)]

        IDLE, SUM, NORMALIZE, RECIPROCAL, WRITE, ERROR_DRAIN, ERROR_PASS = range(1, 8)
        drain_state = Signal(range(1, 8), init=IDLE)
        with m.If(drain_state == IDLE):
            m.d.comb += drain_idle.eq(1)
            with m.If(handoff):
                m.d.sync += [
                    drain_half.eq(fill_half), length.eq(fill_count), read_index.eq(0),
                    drain_max.eq(fill_max), drain_exp.eq(fill_exp),
                    total.eq(0 if alg == "three_pass" else fill_sum),
                    drain_state.eq(SUM if alg == "three_pass" else NORMALIZE),
                ]
            with m.If(handoff_error):
                m.d.sync += [length.eq(ML), read_index.eq(0), drain_state.eq(ERROR_DRAIN)]
        with m.Elif(drain_state == SUM):
            m.d.comb += summing.eq(1)
            with m.If((read_index == length) & ~stage_valid):
                m.d.sync += drain_state.eq(NORMALIZE)
        with m.Elif(drain_state == NORMALIZE):
            m.d.comb += recip.start.eq(1)
            m.d.sync += [out_shift_m1.eq(Q + lead_comb - w.out_frac - 1),
                         drain_state.eq(RECIPROCAL)]
        with m.Elif(drain_state == RECIPROCAL):
            with m.If(recip.done):
                m.d.sync += [recip_value.eq(recip.r), read_index.eq(0), drain_state.eq(WRITE)]
        with m.Elif(drain_state == WRITE):
            m.d.comb += writing.eq(1)
            with m.If((read_index == length) & ~stage_valid):
                m.d.sync += drain_state.eq(IDLE)
        with m.Elif(drain_state == ERROR_DRAIN):
            m.d.comb += draining_errors.eq(1)
            with m.If(read_index == length):
                m.d.sync += drain_state.eq(ERROR_PASS)
        with m.Elif(drain_state == ERROR_PASS):
            m.d.comb += pass_through.eq(1)
            with m.If(issue_pass & self.i.payload.last):
                m.d.sync += drain_state.eq(IDLE)
        return m
