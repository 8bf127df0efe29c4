"""Streaming fixed-point softmax unit.

:class:`Softmax` takes vectors element by element (input stream ``i``: ``x``, ``last``), keeps them in
an on-chip element buffer (a :class:`amaranth.lib.memory.Memory` with a synchronous read port, so it
maps to block RAM), and writes ``softmax(x)`` element by element in input order (output stream ``o``:
``y``, ``last``, ``error``). The arithmetic is defined in :mod:`sim.golden.softmax` and the widths in
:func:`generators.softmax.softmax_widths`.

Structure: a pipeline of engines, each working on a vector of its own. The *fill engine* accepts
one element per cycle into the buffer and computes the first-pass statistics (``three_pass``: the
maximum; ``online``: running maximum and rescaled sum; ``two_pass_extexp``: the running (mantissa,
exponent) sum); the *sum engine* (three_pass only) re-reads the vector and sums the exponentials;
the *reciprocal engine* normalizes the sum and computes its reciprocal
(:class:`hdl.reciprocal.Reciprocal`); the *write engine* re-reads the vector once more and writes
one output per cycle through a three-stage pipeline (buffer read; exponential; scaling by the
reciprocal, rounding and saturation into the output register). A vector keeps its buffer region
from its first element until the write engine has read its last one.

Without ``double_buffer`` the buffer has one region: the stages run one after the other and the next
vector is accepted once the current one is written out (the sum and write passes share one read
port and one :class:`hdl.exp2.Exp2`). With ``double_buffer`` it has one region per stage
(:func:`buffer_regions`: 3, or 4 for three_pass), so all stages overlap and vectors of length L
stream at about L / (L + 2) elements per cycle (:func:`softmax_cycles`); three_pass then keeps a
second copy of the buffer so the sum engine has a read port of its own (a block RAM has one), and
the sum engine its own Exp2. Cost of ``double_buffer``: 3x (online, two_pass_extexp) or 8x
(three_pass: 4 regions, 2 copies) the single-buffer memory.

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

__all__ = ["Softmax", "softmax_cycles", "buffer_regions"]


def buffer_regions(algorithm: str, double_buffer: bool) -> int:
    """Vector regions in the element buffer: 1 without ``double_buffer``; with it, one per pipeline
    stage that holds a vector (fill, [three_pass: sum,] reciprocal, write), so that every stage
    works on its own vector at the same time."""
    if not double_buffer:
        return 1
    return 4 if algorithm == "three_pass" else 3


def softmax_cycles(widths, algorithm: str, length: int) -> dict:
    """Schedule of vectors of ``length`` <= max_length at full rate (no idles, no stalls).

    Stage times per vector (cycles from one take-over to the next one the engine can do):
    ``fill``: ``length`` accepts, CLOSE, SETTLE (online and two_pass_extexp: the sum stage) and
    HANDOFF; ``sum`` (three_pass): take over, ``length`` reads, the last addition, hand-over;
    ``recip``: take over, normalize (start), the reciprocal's latency, hand-over; ``write``: take
    over, ``length`` reads, hand-over while the last element moves into the scaling stage (it
    reaches the output register one cycle later, which delays the outputs but not the period).
    ``single``: cycles per vector, back to back, without double buffering (the stages one after the
    other; their sum minus one, as the fill engine's HANDOFF cycle is also the next engine's first
    cycle); ``double``: the same with double buffering, where every stage has a vector (and a
    buffer region) of its own and the slowest
    stage sets the pace. Checked against simulation in tests/test_softmax.py.
    """
    fill = length + (2 if algorithm == "three_pass" else 3)
    sum_pass = length + 2 if algorithm == "three_pass" else 0
    recip = reciprocal_latency(widths) + 3
    write = length + 1
    single = fill + sum_pass + recip + write - 1
    double = max(fill, sum_pass, recip, write)
    return {"fill": fill, "sum": sum_pass, "recip": recip, "write": write,
            "single": single, "double": double}


class Softmax(wiring.Component):
    """Streaming softmax over vectors delimited by ``last``.

    Parameters
    ----------
    widths : generators.softmax.SoftmaxWidths
    max_length : int
        Buffer size (elements per vector region, see :func:`buffer_regions`).
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
        K = buffer_regions(alg, self.double_buffer)
        u_width = W if alg == "two_pass_extexp" else W + 1
        exp_n_width = max(2, u_width - w.in_frac + 1)
        # three_pass with several regions reads the buffer in two engines at once (sum pass of one
        # vector, normalize pass of an older one): a second copy of the buffer gives the second
        # read port (a block RAM has one). Otherwise one port and one Exp2 serve both passes.
        separate_sum = alg == "three_pass" and K > 1

        def region_base(region):
            return region * ML if K > 1 else 0

        m.submodules.buffer = buffer = memory.Memory(shape=signed(W), depth=K * ML, init=[])
        write = buffer.write_port()
        read = buffer.read_port(domain="sync")
        if separate_sum:
            m.submodules.sum_buffer = sum_buffer = memory.Memory(shape=signed(W), depth=K * ML,
                                                                 init=[])
            sum_write = sum_buffer.write_port()
            sum_read = sum_buffer.read_port(domain="sync")
            m.d.comb += [sum_write.addr.eq(write.addr), sum_write.data.eq(write.data),
                         sum_write.en.eq(write.en)]

        # Vectors handed over by the fill engine and not yet written out: each holds a region.
        in_flight = Signal(range(K + 1))
        write_done = Signal()

        # ---------------- fill engine ----------------
        fill_region = Signal(range(max(K, 2)))
        fill_count = Signal(range(ML + 1))
        # The accepted element, one cycle later, updates the statistics (keeps the exp off the
        # input handshake path).
        x_reg = Signal(signed(W))
        x_reg_valid = Signal()
        x_reg_first = Signal()
        fill_max = Signal(signed(W))          # three_pass, online
        fill_sum = Signal(SW)                 # online: D; two_pass_extexp: S
        fill_exp = Signal(signed(exp_n_width))  # two_pass_extexp: N

        next_idle = Signal()        # the stage after the fill engine can take a vector
        pipeline_empty = Signal()   # no vector anywhere after the fill engine
        handoff = Signal()
        handoff_error = Signal()
        pass_through = Signal()     # write engine is passing an over-long vector's tail through

        m.d.comb += [
            write.addr.eq(region_base(fill_region) + fill_count),
            write.data.eq(self.i.payload.x),
        ]
        m.d.sync += x_reg_valid.eq(0)
        # Explicit state registers (not m.FSM): Amaranth's FSM output trips Verilator -Wall
        # (CASEINCOMPLETE, and WIDTHTRUNC on its "state == 0" tests); states are numbered from 1.
        FILL, CLOSE, SETTLE, HANDOFF, OVERFLOW, ERROR = range(1, 7)
        fill_state = Signal(range(1, 7), init=FILL)
        with m.If(fill_state == FILL):
            # The fill region is free once fewer than K vectors are in flight.
            room = (fill_count != ML) & (in_flight != K)
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
            # The last element is in x_reg; online and two_pass_extexp add it to the sum one
            # cycle later (SETTLE).
            m.d.sync += fill_state.eq(HANDOFF if alg == "three_pass" else SETTLE)
        with m.Elif(fill_state == SETTLE):
            m.d.sync += fill_state.eq(HANDOFF)
        with m.Elif(fill_state == HANDOFF):
            with m.If(next_idle):
                m.d.comb += handoff.eq(1)
                m.d.sync += [fill_count.eq(0), fill_state.eq(FILL)]
                if K > 1:
                    m.d.sync += fill_region.eq(Mux(fill_region == K - 1, 0, fill_region + 1))
        with m.Elif(fill_state == OVERFLOW):
            # Error vectors go straight to the write engine once everything before them is out.
            with m.If(pipeline_empty):
                m.d.comb += handoff_error.eq(1)
                m.d.sync += fill_state.eq(ERROR)
        with m.Elif(fill_state == ERROR):
            # The write engine owns i.ready now (pass_through); wait for the vector's end.
            with m.If(self.i.valid & self.i.ready & self.i.payload.last):
                m.d.sync += [fill_count.eq(0), fill_state.eq(FILL)]

        with m.If(handoff & ~write_done):
            m.d.sync += in_flight.eq(in_flight + 1)
        with m.Elif(write_done & ~handoff):
            m.d.sync += in_flight.eq(in_flight - 1)
        m.d.comb += pipeline_empty.eq(~in_flight.any())

        # online and two_pass_extexp update their sums in a second stage (``acc_*``), so the
        # exponential and the rescaling multiply / alignment shift are in different cycles. The
        # first stage keeps the running max (exponent) current for the next element; the sum
        # stage sees each element one cycle later, in order.
        acc_valid = Signal()
        acc_first = Signal()
        acc_up = Signal()            # online: new maximum; two_pass_extexp: larger exponent
        acc_e = Signal(P + 1)        # online: e; two_pass_extexp: v
        acc_shift = Signal(exp_n_width + 1)   # two_pass_extexp: |n - N|
        if alg != "three_pass":
            m.submodules.fill_exp2 = fill_exp2 = Exp2(widths=w, u_width=u_width)
            m.d.sync += [acc_valid.eq(x_reg_valid), acc_first.eq(x_reg_first)]
        with m.If(x_reg_valid):
            if alg == "three_pass":
                with m.If(x_reg_first | (x_reg > fill_max)):
                    m.d.sync += fill_max.eq(x_reg)
            elif alg == "online":
                new_max = x_reg > fill_max
                m.d.comb += fill_exp2.u.eq(Mux(new_max, fill_max - x_reg, x_reg - fill_max))
                shift = Signal(exp_n_width)
                m.d.comb += shift.eq(-fill_exp2.n)
                m.d.sync += [acc_up.eq(new_max), acc_e.eq(rshift_round(fill_exp2.v, shift, P + 1))]
                with m.If(x_reg_first | new_max):
                    m.d.sync += fill_max.eq(x_reg)
            else:
                m.d.comb += fill_exp2.u.eq(x_reg)
                n = fill_exp2.n
                up = Signal(exp_n_width + 1)
                down = Signal(exp_n_width + 1)
                m.d.comb += [up.eq(n - fill_exp), down.eq(fill_exp - n)]
                larger = n > fill_exp
                m.d.sync += [acc_up.eq(larger), acc_e.eq(fill_exp2.v),
                             acc_shift.eq(Mux(larger, up, down))]
                with m.If(x_reg_first | larger):
                    m.d.sync += fill_exp.eq(n)
        with m.If(acc_valid):
            if alg == "online":
                with m.If(acc_first):
                    m.d.sync += fill_sum.eq(1 << P)
                with m.Elif(acc_up):
                    # A new maximum rescales the sum by exp(old max - new max) and adds exp(0) = 1.
                    rescaled = (fill_sum * acc_e + (1 << (P - 1))) >> P
                    m.d.sync += fill_sum.eq(rescaled + (1 << P))
                with m.Else():
                    m.d.sync += fill_sum.eq(fill_sum + acc_e)
            elif alg == "two_pass_extexp":
                with m.If(acc_first):
                    m.d.sync += fill_sum.eq(acc_e)
                with m.Elif(acc_up):
                    m.d.sync += fill_sum.eq(rshift_round(fill_sum, acc_shift, SW) + acc_e)
                with m.Else():
                    m.d.sync += fill_sum.eq(fill_sum + rshift_round(acc_e, acc_shift, P + 1))

        def element_exp(exp2, x, vec_max, vec_exp):
            """exp of a buffered element relative to its vector's max (or exponent), P + 1 bits."""
            if alg == "two_pass_extexp":
                m.d.comb += exp2.u.eq(x)
                shift = Signal(exp_n_width + 1)
                m.d.comb += shift.eq(vec_exp - exp2.n)
            else:
                m.d.comb += exp2.u.eq(x - vec_max)
                shift = Signal(exp_n_width)
                m.d.comb += shift.eq(-exp2.n)
            e = Signal(P + 1)
            m.d.comb += e.eq(rshift_round(exp2.v, shift, P + 1))
            return e

        # ---------------- write engine registers (used by the shared read port) ----------------
        write_region = Signal(range(max(K, 2)))
        write_length = Signal(range(ML + 1))
        write_max = Signal(signed(W))
        write_exp = Signal(signed(exp_n_width))
        write_index = Signal(range(ML + 1))
        # Output shift minus one: Q + z - F_out - 1, z = position of the sum's leading one.
        write_shift_m1 = Signal(range(Q + SW))
        write_recip = Signal(Q + 2)
        m.submodules.write_exp2 = write_exp2 = Exp2(widths=w, u_width=u_width)

        # ---------------- sum engine (three_pass) ----------------
        recip_idle = Signal()
        recip_take = Signal()
        recip_length = Signal(range(ML + 1))
        recip_region = Signal(range(max(K, 2)))
        recip_max = Signal(signed(W))
        recip_exp = Signal(signed(exp_n_width))
        recip_total = Signal(SW)
        if alg == "three_pass":
            S_IDLE, S_RUN = range(1, 3)
            sum_state = Signal(range(1, 3), init=S_IDLE)
            sum_region = Signal(range(max(K, 2)))
            sum_length = Signal(range(ML + 1))
            sum_max = Signal(signed(W))
            sum_index = Signal(range(ML + 1))
            sum_total = Signal(SW)
            sum_pending = Signal()      # an element was read last cycle
            with m.If(sum_state == S_IDLE):
                m.d.comb += next_idle.eq(1)
            sum_issue = (sum_state == S_RUN) & (sum_index != sum_length)
            sum_addr = region_base(sum_region) + sum_index
            if separate_sum:
                m.submodules.sum_exp2 = sum_exp2 = Exp2(widths=w, u_width=u_width)
                m.d.comb += [sum_read.addr.eq(sum_addr), sum_read.en.eq(1)]
                sum_e = element_exp(sum_exp2, sum_read.data, sum_max, 0)
            m.d.sync += sum_pending.eq(sum_issue)
            with m.If(sum_issue):
                m.d.sync += sum_index.eq(sum_index + 1)
            with m.If(sum_state == S_RUN):
                # The sum is complete once the last read element has been added; the vector
                # moves on as soon as the reciprocal engine is free, and this engine can take
                # the next vector in the same cycle.
                with m.If((sum_index == sum_length) & ~sum_pending & recip_idle):
                    m.d.comb += [recip_take.eq(1), next_idle.eq(1)]
                    m.d.sync += sum_state.eq(S_IDLE)
            with m.If(handoff):
                m.d.sync += [sum_region.eq(fill_region), sum_length.eq(fill_count),
                             sum_max.eq(fill_max), sum_index.eq(0), sum_total.eq(0),
                             sum_state.eq(S_RUN)]
            recip_source = dict(region=sum_region, length=sum_length, max=sum_max, exp=0,
                                total=sum_total)
        else:
            m.d.comb += [next_idle.eq(recip_idle), recip_take.eq(handoff)]
            recip_source = dict(region=fill_region, length=fill_count, max=fill_max, exp=fill_exp,
                                total=fill_sum)

        # ---------------- reciprocal engine ----------------
        m.submodules.reciprocal = recip = Reciprocal(widths=w)
        write_idle = Signal()
        write_take = Signal()
        # Leading one of the sum (the last assignment wins: the highest set bit).
        lead_comb = Signal(range(SW))
        for bit in range(SW):
            with m.If(recip_total[bit]):
                m.d.comb += lead_comb.eq(bit)
        norm_shift = Signal(range(B + 1))
        m.d.comb += [norm_shift.eq(B - lead_comb), recip.m.eq(recip_total << norm_shift)]
        recip_shift_m1 = Signal(range(Q + SW))
        R_IDLE, R_NORMALIZE, R_WAIT, R_DONE = range(1, 5)
        recip_state = Signal(range(1, 5), init=R_IDLE)
        m.d.comb += recip_idle.eq(recip_state == R_IDLE)
        with m.If(recip_state == R_IDLE):
            with m.If(recip_take):
                src = recip_source
                m.d.sync += [recip_region.eq(src["region"]), recip_length.eq(src["length"]),
                             recip_max.eq(src["max"]), recip_exp.eq(src["exp"]),
                             recip_total.eq(src["total"]), recip_state.eq(R_NORMALIZE)]
        with m.Elif(recip_state == R_NORMALIZE):
            m.d.comb += recip.start.eq(1)
            m.d.sync += [recip_shift_m1.eq(Q + lead_comb - w.out_frac - 1),
                         recip_state.eq(R_WAIT)]
        with m.Elif(recip_state == R_WAIT):
            with m.If(recip.done):
                m.d.sync += recip_state.eq(R_DONE)
        with m.Elif(recip_state == R_DONE):
            with m.If(write_idle):
                m.d.comb += write_take.eq(1)
                m.d.sync += recip_state.eq(R_IDLE)

        # ---------------- write engine ----------------
        advance = ~self.o.valid | self.o.ready
        stage_valid = Signal()
        stage_error = Signal()
        stage_last = Signal()
        writing = Signal()
        draining_errors = Signal()
        issue = Signal()
        issue_error = Signal()
        issue_pass = Signal()
        m.d.comb += [
            issue.eq(writing & (write_index != write_length) & advance),
            issue_error.eq(draining_errors & (write_index != write_length) & advance),
            issue_pass.eq(pass_through & advance & self.i.valid),
            read.addr.eq(region_base(write_region) + write_index),
            read.en.eq(advance),
        ]
        write_e = element_exp(write_exp2, read.data, write_max, write_exp)
        if alg == "three_pass" and not separate_sum:
            # One vector at a time: the sum pass borrows the write engine's port and Exp2.
            with m.If(sum_state == S_RUN):
                m.d.comb += [read.addr.eq(sum_addr), read.en.eq(1),
                             write_exp2.u.eq(read.data - sum_max)]
            sum_e = write_e
        if alg == "three_pass":
            with m.If(sum_pending):
                m.d.sync += sum_total.eq(sum_total + sum_e)

        with m.If(pass_through):
            m.d.comb += self.i.ready.eq(advance)
        with m.If(issue | issue_error):
            m.d.sync += write_index.eq(write_index + 1)
        with m.If(advance):
            m.d.sync += [
                stage_valid.eq(issue | issue_error | issue_pass),
                stage_error.eq(issue_error | issue_pass),
                stage_last.eq((issue & (write_index == write_length - 1)) |
                              (issue_pass & self.i.payload.last)),
            ]

        # A second stage between the exponential and the scaling multiply: without it the path
        # from the buffer's read port through the table, the interpolation and the scaling
        # multiply is one cycle (14.5 MHz on ECP5). The stage carries its vector's reciprocal and
        # shift, so the write engine can still hand over as the last element enters it.
        scale_valid = Signal()
        scale_error = Signal()
        scale_last = Signal()
        scale_e = Signal(P + 1)
        scale_recip = Signal(Q + 2)
        scale_shift_m1 = Signal(range(Q + SW))
        with m.If(advance):
            m.d.sync += [
                scale_valid.eq(stage_valid), scale_error.eq(stage_error),
                scale_last.eq(stage_last), scale_e.eq(write_e),
                scale_recip.eq(write_recip), scale_shift_m1.eq(write_shift_m1),
            ]

        product = scale_e * scale_recip
        scaled = ((product + (Const(1, 1) << scale_shift_m1)) >> scale_shift_m1) >> 1
        largest = (1 << (w.out_int + w.out_frac)) - 1
        y = Mux(scaled > largest, largest, scaled)
        with m.If(advance):
            m.d.sync += [
                self.o.valid.eq(scale_valid),
                self.o.payload.y.eq(Mux(scale_error, 0, y)),
                self.o.payload.last.eq(scale_last),
                self.o.payload.error.eq(scale_error),
            ]

        W_IDLE, W_WRITE, W_ERROR_DRAIN, W_ERROR_PASS = range(1, 5)
        write_state = Signal(range(1, 5), init=W_IDLE)
        with m.If(write_state == W_IDLE):
            m.d.comb += write_idle.eq(1)
            with m.If(handoff_error):
                m.d.sync += [write_length.eq(ML), write_index.eq(0),
                             write_state.eq(W_ERROR_DRAIN)]
        with m.Elif(write_state == W_WRITE):
            m.d.comb += writing.eq(1)
            # All reads are issued and the last element is moving into the scaling stage this
            # cycle (it uses this vector's registers only now): the next vector may take over.
            with m.If((write_index == write_length) & (~stage_valid | advance)):
                m.d.comb += [write_done.eq(1), write_idle.eq(1)]
                m.d.sync += write_state.eq(W_IDLE)
        with m.Elif(write_state == W_ERROR_DRAIN):
            m.d.comb += draining_errors.eq(1)
            with m.If(write_index == write_length):
                m.d.sync += write_state.eq(W_ERROR_PASS)
        with m.Elif(write_state == W_ERROR_PASS):
            m.d.comb += pass_through.eq(1)
            with m.If(issue_pass & self.i.payload.last):
                m.d.sync += write_state.eq(W_IDLE)
        with m.If(write_take):
            m.d.sync += [
                write_region.eq(recip_region), write_length.eq(recip_length),
                write_max.eq(recip_max), write_exp.eq(recip_exp), write_index.eq(0),
                write_recip.eq(recip.r), write_shift_m1.eq(recip_shift_m1),
                write_state.eq(W_WRITE),
            ]
        return m
