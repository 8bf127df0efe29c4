"""Streaming fixed-point softmax unit.

:class:`Softmax` takes vectors element by element (input stream ``i``: ``x``, ``last``), keeps them in
an on-chip element buffer (a :class:`amaranth.lib.memory.Memory` with a synchronous read port, so it
maps to block RAM), and writes ``softmax(x)`` element by element in input order (output stream ``o``:
``y``, ``last``, ``error``; the interface is declared once by :func:`softmax_ports`). The
arithmetic is defined in :mod:`sim.golden.softmax`; the internal widths, which the hardware and
the golden model share, are derived here by :func:`softmax_widths`.

Structure: a pipeline of engines, each working on a vector of its own. The *fill engine* accepts
one element per cycle into the buffer and computes the first-pass statistics (``three_pass``: the
maximum; ``online``: running maximum and rescaled sum; ``two_pass_extexp``: the running (mantissa,
exponent) sum); the *sum engine* (three_pass only) re-reads the vector and sums the exponentials;
the *reciprocal engine* normalizes the sum and computes its reciprocal
(:class:`hdl.reciprocal.Reciprocal`); the *write engine* re-reads the vector once more and writes
one output per cycle through a pipeline: the buffer read, the exponential (:data:`EXP_STAGES`:
the pipelined :class:`hdl.exp2.Exp2` and the rounding shift by ``-n``), then :data:`SCALE_STAGES`
(the scaling multiply by the reciprocal; the output shift; rounding and saturation into the
output register). A vector keeps its buffer region from its first element until the write engine
has read its last one.

Timing: every stage holds at most one multiplier, one shifter or one carry chain after a table or
a register (the block RAM's slow read output goes through one subtraction only): ECP5 >= 75 MHz
with DSP multipliers for every algorithm. The loops that must close in one cycle to take an
element per cycle are the running sums of online (one multiply and one addition) and
two_pass_extexp (one shifter and one addition, its addend prepared a stage ahead).

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

import math
from dataclasses import asdict, dataclass
from typing import Mapping

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import memory, wiring

from .checks import require_choice
from .exp2 import EXP2_LATENCY, Exp2, rshift_round
from .formats import FixedFormat
from .fp_round import one_position_tree
from .ports import Field, Ports, Stream, flag
from .reciprocal import Reciprocal, reciprocal_latency
from .systolic_array import delay_line

__all__ = ["Softmax", "softmax_ports", "softmax_cycles", "buffer_regions", "SoftmaxWidths",
           "softmax_widths", "default_recip_table_bits", "ALGORITHMS", "EXP_GUARD_BITS",
           "INTERP_BITS", "LOG2E_GUARD_BITS", "MAX_RECIP_TABLE_BITS", "EXP_STAGES",
           "SCALE_STAGES"]

ALGORITHMS = ("three_pass", "online", "two_pass_extexp")

#: Fraction bits of the exponentials (and of the 2^f table entries) beyond the output's fraction
#: bits. 8 guard bits keep the rounding errors of up to 4096 summed terms and of the reciprocal
#: well below half an output LSB (measured in tests/test_softmax_accuracy.py).
EXP_GUARD_BITS = 8
#: Bits of f below the table index used for linear interpolation.
INTERP_BITS = 8
#: Extra fraction bits of the log2(e) constant beyond those of t = u * log2(e).
LOG2E_GUARD_BITS = 4
#: Largest reciprocal seed table (2^12 entries).
MAX_RECIP_TABLE_BITS = 12
#: Pipeline stages from an element (a buffer read or the fill's element register) to its
#: exponential ``e`` in a register: :class:`hdl.exp2.Exp2`, then the rounding shift by ``-n``.
EXP_STAGES = EXP2_LATENCY + 1
#: Write pipeline stages after ``e``: the scaling multiply, the output shift, and rounding with
#: saturation into the output register.
SCALE_STAGES = 3


# ---------------------------------------------------------------------------------------------
# Internal widths: chosen here, once; the hardware and the bit-exact golden model
# (sim.golden.softmax) both take them from softmax_widths.
# ---------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class SoftmaxWidths:
    """Internal fixed-point widths of one softmax configuration.

    Attributes
    ----------
    in_width, in_frac : int
        Input code width and fraction bits.
    out_frac, out_int : int
        Output fraction bits and integer bits (0 or 1).
    exp_frac : int
        P: fraction bits of 2^f table entries and of every exponential e = 2^t (t <= 0); entries are
        in [1, 2] (P + 1 bits wide for the table, e in [0, 1] also P + 1 bits).
    table_bits : int
        k: the 2^f table has 2^k entries (2^k + 1 with interpolation, the last being 2.0).
    interp_bits : int
        r: fraction bits of f below the table index (0 without interpolation).
    t_frac : int
        T = k + r: fraction bits of t = u * log2(e) after rounding.
    log2e_frac : int
        C: fraction bits of the constant ``log2e = round(log2(e) * 2^C)``.
    log2e : int
        The constant itself.
    sum_width : int
        Width of the sum of exponentials (P fraction bits).
    norm_frac : int
        B = sum_width - 1: fraction bits of the sum normalized to [1, 2) (exact, no bits lost).
    recip_frac : int
        Q = P: fraction bits of the reciprocal 1 / M in (0.5, 1].
    recip_table_bits : int
        Newton seed table index bits (0 with the divider).
    newton_iters : int
    """

    in_width: int
    in_frac: int
    out_frac: int
    out_int: int
    exp_frac: int
    table_bits: int
    interp_bits: int
    t_frac: int
    log2e_frac: int
    log2e: int
    sum_width: int
    norm_frac: int
    recip_frac: int
    recip_table_bits: int
    newton_iters: int

    def as_dict(self):
        return asdict(self)

    @property
    def in_format(self) -> FixedFormat:
        """The input element format (signed fixed point, ``in_width`` bits)."""
        return FixedFormat(self.in_width - self.in_frac, self.in_frac, signed=True)

    @property
    def out_format(self) -> FixedFormat:
        """The output format ``uq<out_int>.<out_frac>``."""
        return FixedFormat(self.out_int, self.out_frac, signed=False)


def _clog2(n: int) -> int:
    return max(0, (n - 1).bit_length())


def softmax_widths(params: Mapping) -> SoftmaxWidths:
    """The internal widths (see :class:`SoftmaxWidths`) for resolved ``softmax`` parameters
    (``in_format``, ``out_format``, ``max_length``, ``exp_table_bits``, ``interpolate``,
    ``reciprocal``, ``newton_iters``, ``recip_table_bits``)."""
    fin: FixedFormat = params["in_format"]
    fout: FixedFormat = params["out_format"]
    P = fout.frac_bits + EXP_GUARD_BITS
    k = params["exp_table_bits"]
    r = INTERP_BITS if params["interpolate"] else 0
    T = k + r
    C = T + LOG2E_GUARD_BITS
    # Sum of up to max_length terms in [0, 2) (two-pass mantissas), P fraction bits.
    sum_width = P + 2 + _clog2(params["max_length"])
    newton = params["reciprocal"] == "newton"
    return SoftmaxWidths(
        in_width=fin.width, in_frac=fin.frac_bits, out_frac=fout.frac_bits, out_int=fout.int_bits,
        exp_frac=P, table_bits=k, interp_bits=r, t_frac=T, log2e_frac=C,
        log2e=round(math.log2(math.e) * 2 ** C), sum_width=sum_width, norm_frac=sum_width - 1,
        recip_frac=P, recip_table_bits=params["recip_table_bits"] if newton else 0,
        newton_iters=params["newton_iters"] if newton else 0)


def default_recip_table_bits(recip_frac: int, iters: int) -> int:
    """Seed bits so that ``iters`` Newton steps (each doubling the correct bits) reach Q + 1 bits."""
    need = math.ceil((recip_frac + 1) / 2 ** iters)
    return max(2, min(MAX_RECIP_TABLE_BITS, need))


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
    ``fill``: ``length`` accepts, CLOSE, SETTLE (online and two_pass_extexp: until the last
    element has passed the Exp2 pipeline into the sum, EXP2_LATENCY cycles) and HANDOFF; ``sum``
    (three_pass): take over, ``length`` reads, the EXP_STAGES of the exponential, the last
    addition, hand-over; ``recip``: take over, leading one, normalize (start), the reciprocal's
    latency, hand-over; ``write``: take over, ``length`` reads, hand-over while the last element
    moves into the exponential's pipeline (it reaches the output register EXP_STAGES +
    SCALE_STAGES cycles later, which delays the outputs but not the period).
    ``single``: cycles per vector, back to back, without double buffering (the stages one after the
    other; their sum minus one, as the fill engine's HANDOFF cycle is also the next engine's first
    cycle); ``double``: the same with double buffering, where every stage has a vector (and a
    buffer region) of its own and the slowest
    stage sets the pace. ``first_output``: cycles from a vector's first accepted element (into
    an idle unit) to its first output beat: the fill, [sum,] and reciprocal stages, then the write
    pipeline (EXP_STAGES + SCALE_STAGES). Checked against simulation in tests/test_softmax.py.
    """
    fill = length + (2 if algorithm == "three_pass" else 3 + EXP2_LATENCY)
    sum_pass = length + 2 + EXP_STAGES if algorithm == "three_pass" else 0
    recip = reciprocal_latency(widths) + 4
    write = length + 1
    single = fill + sum_pass + recip + write - 1
    double = max(fill, sum_pass, recip, write)
    first_output = fill + sum_pass + recip + EXP_STAGES + SCALE_STAGES
    return {"fill": fill, "sum": sum_pass, "recip": recip, "write": write,
            "single": single, "double": double, "first_output": first_output}


def softmax_ports(widths: SoftmaxWidths, max_length: int) -> Ports:
    """The interface of :class:`Softmax`: input stream ``i`` (``x``, ``last``), output stream
    ``o`` (``y``, ``last``, ``error``)."""
    fout = widths.out_format
    saturation = "; 1.0 saturates to the largest code" if fout.int_bits == 0 else ""
    too_long = f"the vector is longer than max_length = {max_length} elements"
    return Ports([
        Stream("i", "in", [
            Field("x", widths.in_format, "one element of the input vector, in vector order"),
            flag("last", "ends the vector: its softmax follows on stream o, one element per beat "
                         "in input order")]),
        Stream("o", "out", [
            Field("y", fout, f"softmax of the input element at the same position of its vector, "
                             f"rounded to {fout.name}{saturation}; 0 on error beats",
                  role="result"),
            flag("last", "marks the vector's final output element"),
            flag("error", f"flags that {too_long}", role="status",
                 values={0: "y is valid", 1: f"{too_long}: y is 0"})]),
    ])


class Softmax(wiring.Component):
    """Streaming softmax over vectors delimited by ``last``.

    Parameters
    ----------
    widths : SoftmaxWidths
    max_length : int
        Buffer size (elements per vector region, see :func:`buffer_regions`).
    algorithm : {"three_pass", "online", "two_pass_extexp"}
    double_buffer : bool

    Streams
    -------
    i : In(stream) payload ``x`` (signed, ``in_width`` bits, raw fixed point), ``last``
    o : Out(stream) payload ``y`` (unsigned, ``out_int + out_frac`` bits), ``last``, ``error``

    Latency and initiation interval depend on the vector lengths (see :func:`softmax_cycles`): the
    first output of a vector comes after its last input (after the fill, [sum,] reciprocal and
    the write pipeline's EXP_STAGES + SCALE_STAGES stages); elements are taken and written at one
    per cycle within a vector. Attributes ``ports`` (:func:`softmax_ports`), ``latency`` and
    ``initiation_interval`` (both None) describe the interface for the manifest.
    """

    def __init__(self, *, widths: SoftmaxWidths, max_length: int, algorithm: str,
                 double_buffer: bool):
        require_choice("algorithm", algorithm, ALGORITHMS)
        self.widths, self.max_length = widths, max_length
        self.algorithm, self.double_buffer = algorithm, double_buffer
        self.ports = softmax_ports(widths, max_length)
        self.latency = None                 # data-dependent: see softmax_cycles
        self.initiation_interval = None
        # Longest wait for output activity once the inputs stopped: a whole vector is held
        # (three passes at most) before its first output; benches that cannot count the output
        # beats in advance watch this long.
        self.max_silence = 8 * max_length
        super().__init__(self.ports.signature())

    def elaborate(self, platform):
        # The stages are built in this order, which is also the order of their statements in the
        # module (it fixes the generated Verilog text).
        u = _SoftmaxBuild(self)
        u.buffers()
        u.fill_engine()
        u.vectors_in_flight()
        u.first_pass_statistics()
        u.write_registers()
        u.sum_engine()
        u.reciprocal_engine()
        u.write_read_stage()
        u.scale_and_output()
        u.write_control()
        return u.m


# Explicit state registers (not m.FSM): Amaranth's FSM output trips Verilator -Wall
# (CASEINCOMPLETE, and WIDTHTRUNC on its "state == 0" tests); states are numbered from 1.
#: Fill engine.
FILL, CLOSE, SETTLE, HANDOFF, OVERFLOW, ERROR = range(1, 7)
#: Sum engine (three_pass).
S_IDLE, S_RUN = range(1, 3)
#: Reciprocal engine.
R_IDLE, R_NORMALIZE, R_START, R_WAIT, R_DONE = range(1, 6)
#: Write engine.
W_IDLE, W_WRITE, W_ERROR_DRAIN, W_ERROR_PASS = range(1, 5)


def _valid_chain(m, valid, stages, enable, name):
    """``valid`` and its copies delayed by 1 .. ``stages`` enabled cycles (reset to 0)."""
    chain = [valid]
    for n in range(stages):
        chain.append(delay_line(m, chain[-1], 1, enable, f"{name}{n + 1}", reset_less=False))
    return chain


class _SoftmaxBuild:
    """One elaboration of a :class:`Softmax`: the module, the constants of its configuration, and
    the signals its stages share (attributes, named like the signals). Each method builds one stage;
    :meth:`Softmax.elaborate` calls them in order."""

    def __init__(self, unit: Softmax):
        self.m = Module()
        self.i, self.o = unit.i, unit.o
        self.w = w = unit.widths
        self.alg = alg = unit.algorithm
        self.W, self.P, self.SW, self.B, self.Q = (w.in_width, w.exp_frac, w.sum_width, w.norm_frac,
                                                   w.recip_frac)
        self.ML = unit.max_length
        self.K = K = buffer_regions(alg, unit.double_buffer)
        self.u_width = self.W if alg == "two_pass_extexp" else self.W + 1
        self.exp_n_width = max(2, self.u_width - w.in_frac + 1)
        # three_pass with several regions reads the buffer in two engines at once (sum pass of one
        # vector, normalize pass of an older one): a second copy of the buffer gives the second
        # read port (a block RAM has one). Otherwise one port and one Exp2 serve both passes.
        self.separate_sum = alg == "three_pass" and K > 1

        # Hand-over between the engines. A vector moves fill -> [sum ->] reciprocal -> write;
        # an engine hands it on when the next one is idle.
        # Vectors handed over by the fill engine and not yet written out: each holds a region.
        self.in_flight = Signal(range(K + 1))
        self.write_done = Signal()     # the write engine has read a vector's last element
        self.next_idle = Signal()      # the stage after the fill engine can take a vector
        self.pipeline_empty = Signal()  # no vector anywhere after the fill engine
        self.handoff = Signal()        # the fill engine hands a vector over
        self.handoff_error = Signal()  # ... an over-long one, straight to the write engine
        self.recip_idle = Signal()
        self.recip_take = Signal()     # the reciprocal engine takes a vector
        self.write_idle = Signal()
        self.write_take = Signal()     # the write engine takes a vector
        # Write engine state, decoded (driven by write_control).
        self.writing = Signal()
        self.draining_errors = Signal()
        self.pass_through = Signal()   # passing an over-long vector's tail through

    def _region_base(self, region):
        return region * self.ML if self.K > 1 else 0

    def buffers(self):
        """Element buffer; a copy gives a separate sum engine its own read port (a BRAM has one)."""
        m, W, K, ML = self.m, self.W, self.K, self.ML
        m.submodules.buffer = buffer = memory.Memory(shape=signed(W), depth=K * ML, init=[])
        self.write = write = buffer.write_port()
        self.read = buffer.read_port(domain="sync")
        if self.separate_sum:
            m.submodules.sum_buffer = sum_buffer = memory.Memory(shape=signed(W), depth=K * ML,
                                                                 init=[])
            sum_write = sum_buffer.write_port()
            self.sum_read = sum_buffer.read_port(domain="sync")
            m.d.comb += [sum_write.addr.eq(write.addr), sum_write.data.eq(write.data),
                         sum_write.en.eq(write.en)]

    def fill_engine(self):
        """Stores the input in a free region, then hands the vector on (over-long: as an error)."""
        m, i, write, K, ML = self.m, self.i, self.write, self.K, self.ML
        self.fill_region = fill_region = Signal(range(max(K, 2)))
        self.fill_count = fill_count = Signal(range(ML + 1))
        # The accepted element, one cycle later, updates the statistics (keeps the exp off the
        # input handshake path).
        self.x_reg = Signal(signed(self.W))
        self.x_reg_valid = Signal()
        self.x_reg_first = Signal()
        self.fill_max = Signal(signed(self.W))           # three_pass, online
        self.fill_sum = Signal(self.SW)                  # online: D; two_pass_extexp: S
        self.fill_exp = Signal(signed(self.exp_n_width))  # two_pass_extexp: N
        self.fill_busy = Signal()    # an element is before the sum's last stage (not three_pass)

        m.d.comb += [
            write.addr.eq(self._region_base(fill_region) + fill_count),
            write.data.eq(i.payload.x),
        ]
        m.d.sync += self.x_reg_valid.eq(0)
        fill_state = Signal(range(1, 7), init=FILL)
        with m.If(fill_state == FILL):
            # The fill region is free once fewer than K vectors are in flight.
            room = (fill_count != ML) & (self.in_flight != K)
            m.d.comb += i.ready.eq(room)
            with m.If(i.valid & room):
                m.d.comb += write.en.eq(1)
                m.d.sync += [
                    fill_count.eq(fill_count + 1),
                    self.x_reg.eq(i.payload.x),
                    self.x_reg_valid.eq(1),
                    self.x_reg_first.eq(~fill_count.any()),
                ]
                with m.If(i.payload.last):
                    m.d.sync += fill_state.eq(CLOSE)
            with m.If(i.valid & (fill_count == ML)):
                m.d.sync += fill_state.eq(OVERFLOW)
        with m.Elif(fill_state == CLOSE):
            # The last element is in x_reg; online and two_pass_extexp add it to the sum at the
            # end of the Exp2 pipeline (SETTLE waits for it).
            m.d.sync += fill_state.eq(HANDOFF if self.alg == "three_pass" else SETTLE)
        with m.Elif(fill_state == SETTLE):
            with m.If(~self.fill_busy):
                m.d.sync += fill_state.eq(HANDOFF)
        with m.Elif(fill_state == HANDOFF):
            with m.If(self.next_idle):
                m.d.comb += self.handoff.eq(1)
                m.d.sync += [fill_count.eq(0), fill_state.eq(FILL)]
                if K > 1:
                    m.d.sync += fill_region.eq(Mux(fill_region == K - 1, 0, fill_region + 1))
        with m.Elif(fill_state == OVERFLOW):
            # Error vectors go straight to the write engine once everything before them is out.
            with m.If(self.pipeline_empty):
                m.d.comb += self.handoff_error.eq(1)
                m.d.sync += fill_state.eq(ERROR)
        with m.Elif(fill_state == ERROR):
            # The write engine owns i.ready now (pass_through); wait for the vector's end.
            with m.If(i.valid & i.ready & i.payload.last):
                m.d.sync += [fill_count.eq(0), fill_state.eq(FILL)]

    def vectors_in_flight(self):
        """Counts vectors handed on but not written out: the fill must not reuse their regions."""
        m = self.m
        with m.If(self.handoff & ~self.write_done):
            m.d.sync += self.in_flight.eq(self.in_flight + 1)
        with m.Elif(self.write_done & ~self.handoff):
            m.d.sync += self.in_flight.eq(self.in_flight - 1)
        m.d.comb += self.pipeline_empty.eq(~self.in_flight.any())

    def first_pass_statistics(self):
        """Max (three_pass) or running sum (online, extexp) of the stored elements, for the sum."""
        m, alg, P, SW = self.m, self.alg, self.P, self.SW
        x_reg, fill_max = self.x_reg, self.fill_max
        fill_sum, fill_exp = self.fill_sum, self.fill_exp
        # online and two_pass_extexp compute each element's exponential in the Exp2 pipeline and
        # update their sums at its end (``acc_*``), so the exponential, the rescaling multiply and
        # the alignment shift are in different cycles. The x_reg stage keeps the running max
        # current for the next element (online); the sum stage sees each element EXP2_LATENCY + 1
        # cycles later, in order.
        acc_valid = Signal()
        acc_first = Signal()
        acc_up = Signal()            # online: new maximum; two_pass_extexp: larger exponent
        acc_e = Signal(P + 1)        # online: e; two_pass_extexp: v
        acc_shift = Signal(self.exp_n_width + 1)   # two_pass_extexp: |n - N|
        if alg == "three_pass":
            with m.If(self.x_reg_valid & (self.x_reg_first | (x_reg > fill_max))):
                m.d.sync += fill_max.eq(x_reg)
            return
        m.submodules.fill_exp2 = fill_exp2 = Exp2(widths=self.w, u_width=self.u_width)
        # two_pass_extexp takes the exponential of the input itself: the Exp2's input register
        # loads it beside x_reg (one stage less), and the sum has one more stage (``add_*``).
        extexp = alg == "two_pass_extexp"
        stages = EXP2_LATENCY - 1 if extexp else EXP2_LATENCY
        valid = _valid_chain(m, self.x_reg_valid, stages, None, "fill_valid")
        first = delay_line(m, self.x_reg_first, stages, None, "fill_first")
        m.d.sync += [acc_valid.eq(valid[-1]), acc_first.eq(first)]
        # The last element is in the sum's last stage at the latest when the stages before it
        # are empty.
        m.d.comb += self.fill_busy.eq(Cat(*valid[1:], acc_valid if extexp else 0).any())
        if alg == "online":
            new_max = x_reg > fill_max
            m.d.comb += fill_exp2.u.eq(Mux(new_max, fill_max - x_reg, x_reg - fill_max))
            with m.If(self.x_reg_valid & (self.x_reg_first | new_max)):
                m.d.sync += fill_max.eq(x_reg)
            shift = Signal(self.exp_n_width)
            m.d.comb += shift.eq(-fill_exp2.n)
            m.d.sync += [acc_up.eq(delay_line(m, new_max, EXP2_LATENCY, None, "fill_up")),
                         acc_e.eq(rshift_round(fill_exp2.v, shift, P + 1))]
        else:
            m.d.comb += fill_exp2.u.eq(self.i.payload.x)
            n = fill_exp2.n
            up = Signal(self.exp_n_width + 1)
            down = Signal(self.exp_n_width + 1)
            m.d.comb += [up.eq(n - fill_exp), down.eq(fill_exp - n)]
            larger = n > fill_exp
            m.d.sync += [acc_up.eq(larger), acc_e.eq(fill_exp2.v),
                         acc_shift.eq(Mux(larger, up, down))]
            with m.If(valid[-1] & (first | larger)):
                m.d.sync += fill_exp.eq(n)
        if alg == "online":
            with m.If(acc_valid & acc_first):
                m.d.sync += fill_sum.eq(1 << P)
            with m.Elif(acc_valid & acc_up):
                # A new maximum rescales the sum by exp(old max - new max) and adds exp(0) = 1:
                # round(D * e / 2^P) + 2^P, with both constants in one addition.
                rescaled = (fill_sum * acc_e + ((1 << (P - 1)) + (1 << (2 * P)))) >> P
                m.d.sync += fill_sum.eq(rescaled)
            with m.Elif(acc_valid):
                m.d.sync += fill_sum.eq(fill_sum + acc_e)
        else:
            # The addend is prepared a stage ahead, so the sum's loop holds one shifter and one
            # adder: S = v (first); S + round(v / 2^s) (smaller exponent); for a larger exponent
            # (s >= 1) round(S / 2^s) + v = ((S >> (s - 1)) + 2v + 1) >> 1, the shift clamped to
            # SW (S >> SW = 0, as the exact formula).
            add_valid, add_first, add_up = Signal(), Signal(), Signal()
            addend = Signal(P + 2)
            amount = Signal(range(SW + 1))
            m.d.sync += [
                add_valid.eq(acc_valid), add_first.eq(acc_first), add_up.eq(acc_up),
                addend.eq(Mux(acc_first, acc_e,
                              Mux(acc_up, Cat(Const(1, 1), acc_e),
                                  rshift_round(acc_e, acc_shift, P + 1)))),
                amount.eq(Mux(acc_shift > SW, SW, acc_shift - 1)),
            ]
            with m.If(add_valid):
                with m.If(add_first | ~add_up):
                    m.d.sync += fill_sum.eq(Mux(add_first, 0, fill_sum) + addend)
                with m.Else():
                    m.d.sync += fill_sum.eq(((fill_sum >> amount) + addend) >> 1)

    def _element_exp(self, exp2, x, vec_max, vec_exp, enable):
        """exp of a buffered element relative to its vector's max (or exponent), P + 1 bits, in a
        register :data:`EXP_STAGES` enabled cycles (``enable``; None: every cycle) after ``x``."""
        m, P = self.m, self.P
        if enable is not None:
            m.d.comb += exp2.en.eq(enable)
        if self.alg == "two_pass_extexp":
            m.d.comb += exp2.u.eq(x)
            shift = Signal(self.exp_n_width + 1)
            m.d.comb += shift.eq(delay_line(m, vec_exp, EXP2_LATENCY, enable, "vec_exp") - exp2.n)
        else:
            m.d.comb += exp2.u.eq(x - vec_max)
            shift = Signal(self.exp_n_width)
            m.d.comb += shift.eq(-exp2.n)
        # e <= 2^P fits P + 1 bits (the rounding's carry bit is always 0); a wider register
        # makes the scaling multiplier wider (iCE40: +700 LUT4).
        e = Signal(P + 1)
        m.d.comb += e.eq(rshift_round(exp2.v, shift, P + 1))
        return delay_line(m, e, 1, enable, "exp")

    def write_registers(self):
        """Write engine's vector registers and Exp2, first: the one-region sum pass borrows them."""
        K, ML, W, Q, SW = self.K, self.ML, self.W, self.Q, self.SW
        self.write_region = Signal(range(max(K, 2)))
        self.write_length = Signal(range(ML + 1))
        self.write_max = Signal(signed(W))
        self.write_exp = Signal(signed(self.exp_n_width))
        self.write_index = Signal(range(ML + 1))
        # Output shift minus one: Q + z - F_out - 1, z = position of the sum's leading one.
        self.write_shift_m1 = Signal(range(Q + SW))
        self.write_recip = Signal(Q + 2)
        self.m.submodules.write_exp2 = self.write_exp2 = Exp2(widths=self.w, u_width=self.u_width)

    def sum_engine(self):
        """three_pass: re-reads the vector to sum exp(x - max); else the fill's sum moves on."""
        m, K, ML, W, SW = self.m, self.K, self.ML, self.W, self.SW
        self.recip_length = Signal(range(ML + 1))
        self.recip_region = Signal(range(max(K, 2)))
        self.recip_max = Signal(signed(W))
        self.recip_exp = Signal(signed(self.exp_n_width))
        self.recip_total = Signal(SW)
        if self.alg != "three_pass":
            m.d.comb += [self.next_idle.eq(self.recip_idle), self.recip_take.eq(self.handoff)]
            self.recip_source = dict(region=self.fill_region, length=self.fill_count,
                                     max=self.fill_max, exp=self.fill_exp, total=self.fill_sum)
            return
        self.sum_state = sum_state = Signal(range(1, 3), init=S_IDLE)
        sum_region = Signal(range(max(K, 2)))
        sum_length = Signal(range(ML + 1))
        self.sum_max = sum_max = Signal(signed(W))
        sum_index = Signal(range(ML + 1))
        self.sum_total = sum_total = Signal(SW)
        self.sum_pending = sum_pending = Signal()      # an element was read last cycle
        # The sum pass may read (shared port and Exp2: once the write pipeline is out of them).
        self.sum_owns = Signal()
        with m.If(sum_state == S_IDLE):
            m.d.comb += self.next_idle.eq(1)
        sum_issue = self.sum_owns & (sum_index != sum_length)
        self.sum_addr = self._region_base(sum_region) + sum_index
        if self.separate_sum:
            m.submodules.sum_exp2 = sum_exp2 = Exp2(widths=self.w, u_width=self.u_width)
            m.d.comb += [self.sum_read.addr.eq(self.sum_addr), self.sum_read.en.eq(1),
                         self.sum_owns.eq(sum_state == S_RUN)]
            self.sum_e = self._element_exp(sum_exp2, self.sum_read.data, sum_max, 0, None)
            self.sum_enable = None
        else:
            self.sum_enable = Signal()      # the shared Exp2's enable, set by the write stage
        m.d.sync += sum_pending.eq(sum_issue)
        # Elements on their way from the read port to the sum (the last one is being added).
        self.sum_chain = _valid_chain(m, sum_pending, EXP_STAGES, self.sum_enable, "sum_valid")
        with m.If(sum_issue):
            m.d.sync += sum_index.eq(sum_index + 1)
        with m.If(sum_state == S_RUN):
            # The sum is complete once the last read element has been added; the vector
            # moves on as soon as the reciprocal engine is free, and this engine can take
            # the next vector in the same cycle.
            with m.If((sum_index == sum_length) & ~Cat(*self.sum_chain).any() &
                      self.recip_idle):
                m.d.comb += [self.recip_take.eq(1), self.next_idle.eq(1)]
                m.d.sync += sum_state.eq(S_IDLE)
        with m.If(self.handoff):
            m.d.sync += [sum_region.eq(self.fill_region), sum_length.eq(self.fill_count),
                         sum_max.eq(self.fill_max), sum_index.eq(0), sum_total.eq(0),
                         sum_state.eq(S_RUN)]
        self.recip_source = dict(region=sum_region, length=sum_length, max=sum_max, exp=0,
                                 total=sum_total)

    def reciprocal_engine(self):
        """Normalizes the sum to [1, 2); computes 1 / M and the output shift for the outputs."""
        m, w, SW, B, Q = self.m, self.w, self.SW, self.B, self.Q
        m.submodules.reciprocal = self.recip = recip = Reciprocal(widths=w)
        recip_total = self.recip_total
        # Leading one of the sum (a log-depth tree), registered before the normalizing shift.
        lead_comb = one_position_tree(m, recip_total, highest=True, name="sum_lead")
        lead = Signal(range(SW))
        norm_shift = Signal(range(B + 1))
        m.d.comb += [norm_shift.eq(B - lead), recip.m.eq(recip_total << norm_shift)]
        self.recip_shift_m1 = recip_shift_m1 = Signal(range(Q + SW))
        recip_state = Signal(range(1, 6), init=R_IDLE)
        m.d.comb += self.recip_idle.eq(recip_state == R_IDLE)
        with m.If(recip_state == R_IDLE):
            with m.If(self.recip_take):
                src = self.recip_source
                m.d.sync += [self.recip_region.eq(src["region"]),
                             self.recip_length.eq(src["length"]),
                             self.recip_max.eq(src["max"]), self.recip_exp.eq(src["exp"]),
                             recip_total.eq(src["total"]), recip_state.eq(R_NORMALIZE)]
        with m.Elif(recip_state == R_NORMALIZE):
            m.d.sync += [lead.eq(lead_comb), recip_state.eq(R_START)]
        with m.Elif(recip_state == R_START):
            m.d.comb += recip.start.eq(1)
            m.d.sync += [recip_shift_m1.eq(Q + lead - w.out_frac - 1), recip_state.eq(R_WAIT)]
        with m.Elif(recip_state == R_WAIT):
            with m.If(recip.done):
                m.d.sync += recip_state.eq(R_DONE)
        with m.Elif(recip_state == R_DONE):
            with m.If(self.write_idle):
                m.d.comb += self.write_take.eq(1)
                m.d.sync += recip_state.eq(R_IDLE)

    def write_read_stage(self):
        """Reads an element (or error beat) per cycle and its exp; the shared-port sum adds here."""
        m, i, o, read = self.m, self.i, self.o, self.read
        write_index, write_length = self.write_index, self.write_length
        self.advance = advance = ~o.valid | o.ready
        self.stage_valid = stage_valid = Signal()
        self.stage_error = stage_error = Signal()
        self.stage_last = stage_last = Signal()
        self.issue_pass = issue_pass = Signal()
        issue = Signal()
        issue_error = Signal()
        m.d.comb += [
            issue.eq(self.writing & (write_index != write_length) & advance),
            issue_error.eq(self.draining_errors & (write_index != write_length) & advance),
            issue_pass.eq(self.pass_through & advance & i.valid),
            read.addr.eq(self._region_base(self.write_region) + write_index),
            read.en.eq(advance),
        ]
        # The exponential's stages move with the output (``advance``); the one-region sum pass
        # borrows the port and the Exp2 once no written element is left in them.
        self.exp_enable = exp_enable = Signal()
        m.d.comb += exp_enable.eq(advance)
        self.write_chain = _valid_chain(m, stage_valid, EXP_STAGES, exp_enable, "write_valid")
        if self.alg == "three_pass" and not self.separate_sum:
            with m.If((self.sum_state == S_RUN) & ~Cat(*self.write_chain).any()):
                m.d.comb += [self.sum_owns.eq(1), exp_enable.eq(1)]
            m.d.comb += self.sum_enable.eq(exp_enable)
        self.write_e = self._element_exp(self.write_exp2, read.data, self.write_max,
                                         self.write_exp, exp_enable)
        if self.alg == "three_pass" and not self.separate_sum:
            with m.If(self.sum_owns):
                m.d.comb += [read.addr.eq(self.sum_addr), read.en.eq(1),
                             self.write_exp2.u.eq(read.data - self.sum_max)]
            self.sum_e = self.write_e
        if self.alg == "three_pass":
            with m.If(self.sum_chain[-1]):
                m.d.sync += self.sum_total.eq(self.sum_total + self.sum_e)

        with m.If(self.pass_through):
            m.d.comb += i.ready.eq(advance)
        with m.If(issue | issue_error):
            m.d.sync += write_index.eq(write_index + 1)
        with m.If(advance):
            m.d.sync += [
                stage_valid.eq(issue | issue_error | issue_pass),
                stage_error.eq(issue_error | issue_pass),
                stage_last.eq((issue & (write_index == write_length - 1)) |
                              (issue_pass & i.payload.last)),
            ]

    def scale_and_output(self):
        """Scales the exp by the reciprocal, shifts, rounds and saturates into the output register."""
        m, o, w = self.m, self.o, self.w
        advance, exp_enable = self.advance, self.exp_enable
        # Each element carries its vector's reciprocal and shift (the write engine may take the
        # next vector as soon as the last element has left the read stage). Three stages after
        # the exponential, one multiply or one shifter each: the product; the shift
        # p >> (s - 1) (as round(p / 2^s) = ((p >> (s - 1)) + 1) >> 1); rounding and saturation.
        flags = [delay_line(m, flag, EXP_STAGES, exp_enable, name)
                 for flag, name in ((self.stage_error, "e_error"), (self.stage_last, "e_last"))]
        recip = delay_line(m, self.write_recip, EXP_STAGES, exp_enable, "e_recip")
        shift_m1 = delay_line(m, self.write_shift_m1, EXP_STAGES, exp_enable, "e_shift_m1")
        valid = _valid_chain(m, self.write_chain[-1], SCALE_STAGES - 1, advance, "scale_valid")
        error, last = (delay_line(m, flag, SCALE_STAGES - 1, advance, f"scale_{name}")
                       for flag, name in zip(flags, ("error", "last")))
        product = delay_line(m, self.write_e * recip, 1, advance, "scale_product")
        shifted = delay_line(m, product >> delay_line(m, shift_m1, 1, advance, "scale_shift_m1"), 1,
                         advance, "scale_shifted")
        scaled = (shifted + 1) >> 1
        largest = (1 << (w.out_int + w.out_frac)) - 1
        y = Mux(scaled > largest, largest, scaled)
        with m.If(advance):
            m.d.sync += [
                o.valid.eq(valid[-1]),
                o.payload.y.eq(Mux(error, 0, y)),
                o.payload.last.eq(last),
                o.payload.error.eq(error),
            ]

    def write_control(self):
        """Write engine state: takes a vector, frees it as its last read enters the scale stage."""
        m, ML = self.m, self.ML
        write_index, write_length = self.write_index, self.write_length
        write_state = Signal(range(1, 5), init=W_IDLE)
        with m.If(write_state == W_IDLE):
            m.d.comb += self.write_idle.eq(1)
            with m.If(self.handoff_error):
                m.d.sync += [write_length.eq(ML), write_index.eq(0),
                             write_state.eq(W_ERROR_DRAIN)]
        with m.Elif(write_state == W_WRITE):
            m.d.comb += self.writing.eq(1)
            # All reads are issued and the last element is moving into the scaling stage this
            # cycle (it uses this vector's registers only now): the next vector may take over.
            with m.If((write_index == write_length) & (~self.stage_valid | self.advance)):
                m.d.comb += [self.write_done.eq(1), self.write_idle.eq(1)]
                m.d.sync += write_state.eq(W_IDLE)
        with m.Elif(write_state == W_ERROR_DRAIN):
            m.d.comb += self.draining_errors.eq(1)
            with m.If(write_index == write_length):
                m.d.sync += write_state.eq(W_ERROR_PASS)
        with m.Elif(write_state == W_ERROR_PASS):
            m.d.comb += self.pass_through.eq(1)
            with m.If(self.issue_pass & self.i.payload.last):
                m.d.sync += write_state.eq(W_IDLE)
        with m.If(self.write_take):
            m.d.sync += [
                self.write_region.eq(self.recip_region), write_length.eq(self.recip_length),
                self.write_max.eq(self.recip_max), self.write_exp.eq(self.recip_exp),
                write_index.eq(0), self.write_recip.eq(self.recip.r),
                self.write_shift_m1.eq(self.recip_shift_m1), write_state.eq(W_WRITE),
            ]
