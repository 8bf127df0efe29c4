"""Systolic GEMM arrays of integer MAC PEs: output-stationary and weight-stationary.

Both arrays are a grid of R x C processing elements built from the :mod:`hdl.int_mac` datapath
(no handshake inside the grid), skew registers where operands enter, and ``lib.stream``
interfaces at the boundary only. Operands travel one PE per cycle (right along rows, down along
columns), so every wire is local. One clock enable (``advance``) moves the whole grid: it is low
only while an output beat waits for ``ready``, so the grid never loses or repeats a beat under
back-pressure (except in the output-stationary ``drain="shift"`` array, which needs none).

:class:`OutputStationaryArray` keeps ``C[r][c]`` in PE (r, c). With ``drain="overlap"`` each PE
is an :class:`hdl.int_mac.IntMACCore` with one lane (result register, valid/last flags); with
``drain="shift"`` the PEs are bare multiply-accumulators (:func:`hdl.int_mac.product_sum`) whose
accumulators shift the results out, under one counter for the whole grid (the lean array: no
second register set, no per-PE control, no clock enable). :class:`WeightStationaryArray` keeps
``W[r][c]`` in PE (r, c) and passes partial sums down the columns; each PE computes
``psum + x * w`` with :func:`hdl.int_mac.product_sum` (with ``accumulator="carry_save"`` the
partial sums travel in carry-save form and each column resolves them with a single adder at the
bottom).
"""

from __future__ import annotations

from functools import reduce
from operator import or_

from amaranth.hdl import Module, Mux, Signal
from amaranth.lib import wiring

from .checks import require_choice
from .formats import IntFormat
from .int_mac import ACCUMULATORS, REDUCTIONS, IntMACCore, product_sum
from .numbers import acc_format
from .ports import Field, Ports, Stream, flag, shape_of

__all__ = ["delay_line", "OutputStationaryArray", "WeightStationaryArray", "output_stationary_ports",
           "weight_stationary_ports", "DATAFLOWS", "DRAINS"]

DATAFLOWS = ("output_stationary", "weight_stationary")
#: How the output-stationary array's results leave (see :class:`OutputStationaryArray`).
DRAINS = ("overlap", "shift")


def output_stationary_ports(rows: int, cols: int, a_format: IntFormat, b_format: IntFormat,
                            acc_width: int, acc_signed: bool) -> Ports:
    """The interface of :class:`OutputStationaryArray`."""
    return Ports([
        Stream("i", "in", [
            Field("a", a_format, "A[{r}][k]: row {r} of column k of the R x K tile A, k = this "
                                 "beat's position in the tile", lanes=rows),
            Field("b", b_format, "B[k][{c}]: column {c} of row k of the K x C tile B, k = this "
                                 "beat's position in the tile", lanes=cols),
            flag("last", "ends the tile (k = K-1): its R result rows follow on stream o")]),
        Stream("o", "out", [
            Field("c", acc_format(acc_width, signed=acc_signed),
                  f"C[r][{{c}}] of the tile's result C = A @ B, r = this beat's position among "
                  f"the R result rows; modulo 2^{acc_width}", lanes=cols, role="result"),
            flag("last", "marks the tile's final result row (r = R-1)")]),
    ])


def weight_stationary_ports(rows: int, cols: int, a_format: IntFormat, b_format: IntFormat,
                            acc_width: int, acc_signed: bool) -> Ports:
    """The interface of :class:`WeightStationaryArray` (``a_format``: x, ``b_format``: W)."""
    return Ports([
        Stream("w", "in", [
            Field("w", b_format, "W[r][{c}]: column {c} of weight row r, r = this beat's "
                                 "position in the load of R beats", lanes=cols),
            flag("last", "ends the load (row r = R-1): vectors accepted after this beat use the "
                         "new tile")]),
        Stream("x", "in", [
            Field("x", a_format, "x[{r}]: element {r} of the input vector, multiplied by row {r} "
                                 "of W", lanes=rows)]),
        Stream("y", "out", [
            Field("y", acc_format(acc_width, signed=acc_signed),
                  f"y[{{c}}] = sum over r of x[r] * W[r][{{c}}] for one input vector; modulo "
                  f"2^{acc_width}", lanes=cols, role="result")]),
    ])


def _check(rows, cols, reduction, accumulator):
    if not (rows >= 1 and cols >= 1):
        raise ValueError(f"rows and cols must be at least 1, not {rows} x {cols}")
    require_choice("reduction", reduction, REDUCTIONS)
    require_choice("accumulator", accumulator, ACCUMULATORS)


def delay_line(m, value, stages, enable, name, reset_less=True):
    """``value`` delayed by ``stages`` enabled cycles (every cycle when ``enable`` is None)."""
    for n in range(stages):
        r = Signal(value.shape(), name=f"{name}_d{n}", reset_less=reset_less)
        if enable is None:
            m.d.sync += r.eq(value)
        else:
            with m.If(enable):
                m.d.sync += r.eq(value)
        value = r
    return value


class _SystolicArray(wiring.Component):
    """What both dataflows share: the parameters (checked once), and ``ports`` (the interface,
    from which the signature is built), ``latency`` and ``initiation_interval`` (None where
    data-dependent), which each subclass gives in ``_interface()``."""

    def __init__(self, *, rows: int, cols: int, a_format: IntFormat, b_format: IntFormat,
                 acc_width: int, acc_signed: bool = True, reduction: str = "adder_tree",
                 accumulator: str = "binary"):
        _check(rows, cols, reduction, accumulator)
        self.rows, self.cols = rows, cols
        self.a_format, self.b_format = a_format, b_format
        self.acc_width, self.acc_signed = acc_width, acc_signed
        self.reduction, self.accumulator = reduction, accumulator
        self.ports, self.latency, self.initiation_interval = self._interface()
        super().__init__(self.ports.signature())


class OutputStationaryArray(_SystolicArray):
    """Output-stationary R x C array: ``C = A @ B`` for an R x K tile of A and a K x C tile of B
    (interface: :func:`output_stationary_ports`).

    Input stream ``i``: one beat per k, carrying ``a[0..R-1]`` (column k of A), ``b[0..C-1]``
    (row k of B) and ``last`` (on k = K-1, K >= 1). Output stream ``o``: after a tile's ``last``,
    R beats, beat r carrying ``c[0..C-1]`` (row r of the tile's result, modulo
    ``2**acc_width``) and ``last`` on r = R-1. Both drains below give the same streams and the
    same results; they differ in cost and in how soon the next tile may enter.

    Row r of A enters row r of the grid r cycles late and column c of B enters column c c cycles
    late (skew registers), so ``a[r]`` and ``b[c]`` of the same k meet in PE (r, c) after r + c
    cycles.

    ``drain="overlap"``: the next tile enters while the previous drains. Each PE is an
    :class:`hdl.int_mac.IntMACCore` with one lane (its own valid/last flags and a result
    register); a tile's results stay in the result registers while the rows leave one per
    cycle; this needs consecutive ``last`` beats at least ``max(R, C)`` cycles apart, so a
    ``last`` beat waits (``i.ready`` low) until then: tiles with K >= max(R, C) stream at one
    beat per cycle, shorter tiles at one tile per ``max(R, C)`` cycles. ``i.ready`` therefore
    depends on ``i.payload.last`` (never on anything later than the offered beat). Latency: row
    r leaves ``C + r`` cycles after the tile's ``last`` beat is accepted (at full rate), plus
    ``pipeline_stages``.

    ``drain="shift"``: no second register set and no per-PE control. The results leave through
    the accumulators themselves: when the last PE (R-1, C-1) holds its sum, row 0 of the
    accumulators is output row 0, and every output beat that is taken shifts the accumulators
    up one row (row r + 1 into row r, zeros into row R-1), so that the accumulators are clear
    when the final row has left. Meanwhile the next tile waits: after a ``last`` beat,
    ``i.ready`` stays low for the ``R + C - 2`` cycles of the flush and until the final row
    leaves; the next tile's first beat may enter in the cycle in which the final row leaves
    (``i.ready`` then follows ``o.ready``). Operands of cycles without an accepted beat enter
    as a = 0, so their product is zero: the grid needs neither a clock enable nor valid flags,
    and one counter controls the whole array. Latency: row r leaves ``R + C - 1 + r`` cycles
    after the tile's ``last`` beat is accepted (at full rate); a tile of K beats takes
    ``K + 2R + C - 3`` cycles at full rate (``K`` for a 1 x 1 array).

    Parameters
    ----------
    rows, cols : int
        R and C.
    a_format, b_format : IntFormat
    acc_width : int
    acc_signed : bool
    reduction, accumulator : str
        PE options, see :class:`hdl.int_mac.IntMACCore`. With ``drain="shift"`` and
        ``accumulator="carry_save"`` both rows of the running sums shift, and one
        carry-propagate adder per grid column resolves the output row.
    drain : str
        ``"overlap"`` or ``"shift"`` (see above).
    pipeline_stages : int
        ``drain="overlap"`` only, 0 to 3: registers around each PE's multiplier, so that no
        path runs from an operand register through a multiplier into an adder (on ECP5 the
        DSP multipliers sit in rows of their own, far from the accumulators' carry chains).
        1 and 2: registers between multiplier and accumulator
        (:class:`hdl.int_mac.IntMACCore`'s ``pipeline_stages``; with 2, one register can sit
        beside the DSP block and one beside the adder); 3: as 2, and the PE's own copy of its
        operands in front of the multiplier. Every output row leaves ``pipeline_stages``
        cycles later (``C + r + pipeline_stages`` cycles after the tile's ``last``); input
        timing and results are unchanged.

    Latency and initiation interval depend on the tile lengths, so ``latency`` and
    ``initiation_interval`` are None for both drains.
    """

    def __init__(self, *, drain: str = "overlap", pipeline_stages: int = 0, **params):
        require_choice("drain", drain, DRAINS)
        if not 0 <= pipeline_stages <= 3 or (pipeline_stages and drain != "overlap"):
            raise ValueError(f"pipeline_stages must be 0 to 3 (above 0 only with "
                             f"drain='overlap'), not {pipeline_stages}")
        self.drain = drain
        self.pipeline_stages = pipeline_stages
        super().__init__(**params)

    def _interface(self):
        ports = output_stationary_ports(self.rows, self.cols, self.a_format, self.b_format,
                                        self.acc_width, self.acc_signed)
        # Row r of a tile leaves C + r cycles after its last beat, so no single number
        # describes every output beat; tiles shorter than max(R, C) k-steps slow the input
        # down, so neither latency nor initiation interval is fixed.
        return ports, None, None

    def elaborate(self, platform):
        if self.drain == "shift":
            return self._elaborate_shift()
        m = Module()
        R, C = self.rows, self.cols
        # Timing: the clock enable of every register in the grid is one gate from flip-flops
        # (the registered output valid and the output's ready), and nothing between a PE's
        # result flag and a flip-flop is wider than the output multiplexer: at 16 x 16 a
        # combinational OR of the row flags feeding the enable and the spacing counter was the
        # critical path (49.7 MHz on ECP5).
        out_valid = Signal()
        advance = Signal()
        m.d.comb += [self.o.valid.eq(out_valid), advance.eq(~out_valid | self.o.ready)]

        # Tile spacing: rows leave one per cycle (R cycles) and a PE's result register is
        # overwritten by the next tile C cycles after it was written at the earliest. A 'last'
        # beat may enter max(R, C) enabled cycles after the previous one: a down-counter of the
        # cycles left, and that it has run out as a flag register of its own.
        spacing = max(R, C)
        left = Signal(range(max(spacing, 2)), name="spacing_left")
        last_allowed = Signal(init=1)
        m.d.comb += self.i.ready.eq(advance & (~self.i.payload.last | last_allowed))
        accept = self.i.valid & self.i.ready
        with m.If(advance):
            with m.If(accept & self.i.payload.last):
                m.d.sync += [left.eq(spacing - 1), last_allowed.eq(spacing == 1)]
            with m.Elif(~last_allowed):
                m.d.sync += [left.eq(left - 1), last_allowed.eq(left == 1)]

        # Skew at the edges: row r (and its valid/last) r cycles late, column c c cycles late.
        valid_in = Signal()
        last_in = Signal()
        m.d.comb += [valid_in.eq(accept), last_in.eq(accept & self.i.payload.last)]
        row_a, row_valid, row_last = [], [], []
        for r in range(R):
            row_a.append(delay_line(m, self.i.payload.a[r], r, advance, f"skew_a{r}"))
            row_valid.append(delay_line(m, valid_in, r, advance, f"skew_valid{r}", reset_less=False))
            row_last.append(delay_line(m, last_in, r, advance, f"skew_last{r}", reset_less=False))
        col_b = [delay_line(m, self.i.payload.b[c], c, advance, f"skew_b{c}") for c in range(C)]

        results = [[None] * C for _ in range(R)]
        row_done = [None] * R
        row_finishing = [None] * R      # the 'last' flag entering PE (r, C-1)
        b_here = list(col_b)
        for r in range(R):
            a_here, valid_here, last_here = row_a[r], row_valid[r], row_last[r]
            for c in range(C):
                core = IntMACCore(a_format=self.a_format, b_format=self.b_format, lanes=1,
                                  acc_width=self.acc_width, acc_signed=self.acc_signed,
                                  pipeline_stages=min(self.pipeline_stages, 2),
                                  reduction=self.reduction, accumulator=self.accumulator)
                m.submodules[f"pe_{r}_{c}"] = core
                inputs = [valid_here, last_here, a_here, b_here[c]]
                if self.pipeline_stages == 3:
                    # The PE's own copy of its operands, which only its multiplier reads, so
                    # that it can sit beside the DSP block (the operand registers that move
                    # on also feed the next PE). With a reset, unlike the operand registers
                    # of the same value, so that synthesis does not merge them into one.
                    inputs = [delay_line(m, v, 1, advance, f"pe_{r}_{c}_in{n}", False)
                              for n, v in enumerate(inputs)]
                m.d.comb += [core.en.eq(advance), core.valid.eq(inputs[0]),
                             core.last.eq(inputs[1]), core.a[0].eq(inputs[2]),
                             core.b[0].eq(inputs[3])]
                results[r][c] = core.result
                if c == C - 1:
                    row_done[r] = core.result_valid
                    row_finishing[r] = last_here
                    continue
                # Operands move one PE to the right per cycle (control bits with a).
                a_here = delay_line(m, a_here, 1, advance, f"pe_{r}_{c}_a")
                valid_here = delay_line(m, valid_here, 1, advance, f"pe_{r}_{c}_valid", False)
                last_here = delay_line(m, last_here, 1, advance, f"pe_{r}_{c}_last", False)
            if r < R - 1:
                b_here = [delay_line(m, b_here[c], 1, advance, f"pe_{r}_{c}_b") for c in range(C)]

        # Row r of a tile completes in column C-1 one cycle after row r-1: at most one row
        # is complete at a time (tile spacing), so an AND-OR selects the outgoing row.
        for c in range(C):
            column = [Mux(row_done[r], results[r][c].as_unsigned(), 0) for r in range(R)]
            m.d.comb += self.o.payload.c[c].eq(reduce(or_, column))
        # The output is valid while a row's result flag is set: the same OR, taken earlier
        # over the 'last' flags entering column C-1 (a 'last' there is always valid) and
        # delayed like them through the PEs' pipeline, into a register that follows the
        # result flags.
        finishing = Signal()
        m.d.comb += finishing.eq(reduce(or_, row_finishing))
        finishing = delay_line(m, finishing, self.pipeline_stages, advance, "finishing",
                               reset_less=False)
        with m.If(advance):
            m.d.sync += out_valid.eq(finishing)
        m.d.comb += self.o.payload.last.eq(row_done[R - 1])
        return m

    def _elaborate_shift(self):
        """``drain="shift"``: accumulators that shift out, one control for the grid."""
        m = Module()
        R, C, W = self.rows, self.cols, self.acc_width
        carry_save = self.accumulator == "carry_save"

        # One down-counter for the whole grid: after a last beat, R + C - 2 flush cycles (until
        # PE (R-1, C-1) has added the tile's final product), then the R output rows, the
        # counter reaching zero on the final row. Flush cycles count every cycle, rows only
        # when they leave.
        flush = R + C - 2
        busy = Signal()
        count = Signal(range(max(flush + R, 2)), name="drain_count")   # (no zero-width signal)
        final = Signal()
        shift = Signal()
        accept = Signal()
        m.d.comb += [
            final.eq(busy & ~count.any()),     # (not == 0: a multi-bit '!' does not lint)
            self.o.valid.eq(busy & (count < R)),
            self.o.payload.last.eq(final),
            shift.eq(self.o.valid & self.o.ready),
            # The final row's shift clears the accumulators in the same cycle in which the
            # next tile's first product is added to them (the rows shifted in are zero).
            self.i.ready.eq(~busy | (final & self.o.ready)),
            accept.eq(self.i.valid & self.i.ready),
        ]
        with m.If(accept & self.i.payload.last):
            m.d.sync += [busy.eq(1), count.eq(flush + R - 1)]
        with m.Elif(busy & (~self.o.valid | self.o.ready)):
            with m.If(final):
                m.d.sync += busy.eq(0)
            with m.Else():
                m.d.sync += count.eq(count - 1)

        # a = 0 in cycles without an accepted beat: a zero product leaves the accumulators as
        # they are, so the grid needs no clock enable and no valid flags. Registers on the a
        # path reset, so a reset also clears the operands in flight; b needs no reset.
        a_rows = []
        for r in range(R):
            a_in = Signal(shape_of(self.a_format), name=f"a_in{r}")
            m.d.comb += a_in.eq(Mux(accept, self.i.payload.a[r], 0))
            a_rows.append(delay_line(m, a_in, r, None, f"skew_a{r}", reset_less=False))
        b_here = [delay_line(m, self.i.payload.b[c], c, None, f"skew_b{c}") for c in range(C)]

        n_acc = 2 if carry_save else 1
        accs = [[[Signal(W, name=f"pe_{r}_{c}_acc{n}") for n in range(n_acc)]
                 for c in range(C)] for r in range(R)]
        for r in range(R):
            a_here = a_rows[r]
            for c in range(C):
                # While a row leaves, row r takes the sums of row r + 1 plus its product: zero,
                # except in row 0 when the next tile's first beat enters with the final row.
                # Row R-1 (of several) never sees a product then and simply clears, with the
                # flip-flops' synchronous reset rather than a multiplexer.
                clears = r == R - 1 and R > 1
                addends = []
                for n, acc in enumerate(accs[r][c]):
                    x = acc
                    if not clears:
                        below = accs[r + 1][c][n] if r < R - 1 else 0
                        x = Signal(W, name=f"pe_{r}_{c}_x{n}")
                        m.d.comb += x.eq(Mux(shift, below, acc))
                    addends.append((x, False))
                out = self._pe_sum(m, a_here, b_here[c], addends, f"pe_{r}_{c}")
                with m.If(shift & clears):
                    m.d.sync += [acc.eq(0) for acc in accs[r][c]]
                with m.Else():
                    m.d.sync += [acc.eq(v) for acc, v in zip(accs[r][c], out)]
                if c < C - 1:
                    a_here = delay_line(m, a_here, 1, None, f"pe_{r}_{c}_a", reset_less=False)
            if r < R - 1:
                b_here = [delay_line(m, b_here[c], 1, None, f"pe_{r}_{c}_b") for c in range(C)]

        # Row 0 is the outgoing row (with carry-save sums, one adder per grid column).
        for c in range(C):
            top = accs[0][c]
            m.d.comb += self.o.payload.c[c].eq((top[0] + top[1])[:W] if carry_save else top[0])
        return m

    def _pe_sum(self, m, a, b, addends, name):
        """``a * b + sum(addends)`` modulo ``2**acc_width`` as the list of the accumulator
        rows' next values (one row, or two carry-save rows)."""
        W = self.acc_width
        if self.accumulator == "carry_save" or self.reduction == "compressor_tree":
            out = product_sum(m, [(a, b, self.a_format.signed, self.b_format.signed)], addends,
                              width=W, reduction=self.reduction,
                              carry_save=self.accumulator == "carry_save", name=name)
            return list(out) if self.accumulator == "carry_save" else [out]
        # The product sign-extended to acc_width first, then a modular add, as in IntMACCore:
        # added as a raw signed product, Yosys folds multiplier and adder into one $macc cell
        # whose iCE40 mapping is far larger (int8 4 x 4, acc32: 6,082 against 3,772 LUT4).
        product = Signal(W, name=f"{name}_product")
        total = Signal(W, name=f"{name}_sum")
        ((x, _),) = addends
        m.d.comb += [product.eq(a * b), total.eq(x + product)]
        return [total]


class WeightStationaryArray(_SystolicArray):
    """Weight-stationary R x C array: ``y = x @ W`` for vectors x against a stored R x C tile W
    (interface: :func:`weight_stationary_ports`).

    Stream ``w`` loads a tile as R beats ``w[0..C-1]`` (beat r is row r of W; ``last`` on the
    final row). Stream ``x`` carries vectors ``x[0..R-1]``; for each, stream ``y`` emits one beat
    ``y[0..C-1]`` with ``y[c] = sum_r x[r] * W[r][c]`` modulo ``2**acc_width``, in order.

    Ordering between the streams: a vector accepted in a cycle after the one in which a load's
    ``last`` beat is accepted uses that load's tile; vectors accepted up to (and including) that
    cycle use the previous tile. Vectors before the first load see a zero tile only in
    simulation (weights have no reset). Weights are double-buffered: a load fills the idle
    bank, and each vector carries a bank-select bit through the grid, so a load never disturbs
    vectors in flight. After a load completes, ``w.ready`` stays low for R + C cycles, until
    every vector using the old bank has left the grid, before the next load may overwrite it.

    ``x[r]`` enters row r r cycles late and moves right one PE per cycle; partial sums move down
    one PE per cycle; column c's result leaves the bottom at cycle R + c and is delayed
    C - 1 - c cycles so the whole row ``y`` leaves together.

    Parameters
    ----------
    rows, cols : int
        R and C.
    a_format : IntFormat
        Format of x.
    b_format : IntFormat
        Format of the weights.
    acc_width : int
        Width of partial sums and of y.
    acc_signed : bool
    reduction, accumulator : str
        PE options as in :class:`hdl.int_mac.IntMACCore`; ``accumulator="carry_save"`` passes
        partial sums down in carry-save form (two rows), resolved once per column.

    Latency: ``R + C - 1`` cycles from accepting x to ``y.valid``. Initiation interval: 1.
    """

    def _interface(self):
        ports = weight_stationary_ports(self.rows, self.cols, self.a_format, self.b_format,
                                        self.acc_width, self.acc_signed)
        # Column c's sum leaves the bottom R + c cycles after x is accepted and is delayed
        # C - 1 - c more, so every y beat follows its x by R + C - 1; one vector per cycle.
        return ports, self.rows + self.cols - 1, 1

    def elaborate(self, platform):
        m = Module()
        R, C, W = self.rows, self.cols, self.acc_width
        carry_save = self.accumulator == "carry_save"
        advance = Signal()
        m.d.comb += advance.eq(~self.y.valid | self.y.ready)

        # Weight loading into the bank that new vectors do not use.
        bank_sel = Signal()          # bank of the vectors accepted from now on
        load_row = Signal(range(max(R, 2)))       # (a zero-width counter would not lint)
        drain = Signal(range(R + C + 1))
        # .any() rather than == 0, which Amaranth writes as a multi-bit '!'.
        m.d.comb += self.w.ready.eq(~drain.any())
        w_accept = self.w.valid & self.w.ready
        with m.If(w_accept):
            with m.If(self.w.payload.last):
                m.d.sync += [load_row.eq(0), bank_sel.eq(~bank_sel), drain.eq(R + C)]
            with m.Elif(load_row != R - 1):
                m.d.sync += load_row.eq(load_row + 1)
        with m.Elif(advance & drain.any()):
            m.d.sync += drain.eq(drain - 1)
        banks = [[[Signal(shape_of(self.b_format), name=f"weight{k}_{r}_{c}", reset_less=True)
                   for c in range(C)] for r in range(R)] for k in range(2)]
        for k in range(2):
            for r in range(R):
                # (== 0 would be written as a multi-bit '!', which Verilator -Wall rejects)
                row_hit = ~load_row.any() if r == 0 else load_row == r
                with m.If(w_accept & row_hit & (bank_sel != k)):
                    m.d.sync += [banks[k][r][c].eq(self.w.payload.w[c]) for c in range(C)]

        m.d.comb += self.x.ready.eq(advance)
        x_accept = Signal()
        m.d.comb += x_accept.eq(self.x.valid & advance)

        psum_above = [[] for _ in range(C)]       # (value, signed) addends from the PE above
        for r in range(R):
            x_here = delay_line(m, self.x.payload.x[r], r, advance, f"skew_x{r}")
            sel_here = delay_line(m, bank_sel, r, advance, f"skew_sel{r}")
            valid_here = delay_line(m, x_accept, r, advance, f"skew_valid{r}", False) \
                if r == R - 1 else None
            for c in range(C):
                weight = Signal(shape_of(self.b_format), name=f"pe_{r}_{c}_w")
                m.d.comb += weight.eq(Mux(sel_here, banks[1][r][c], banks[0][r][c]))
                out = product_sum(m, [(x_here, weight, self.a_format.signed,
                                       self.b_format.signed)], psum_above[c],
                                  width=W, reduction=self.reduction, carry_save=carry_save,
                                  name=f"pe_{r}_{c}")
                rows_out = list(out) if carry_save else [out]
                regs = []
                for n, value in enumerate(rows_out):
                    reg = Signal(W, name=f"pe_{r}_{c}_psum{n}", reset_less=True)
                    with m.If(advance):
                        m.d.sync += reg.eq(value)
                    regs.append((reg, False))
                psum_above[c] = regs
                if r == R - 1 and c == C - 1:
                    # The vector's valid bit reaches the last PE with it; one more register
                    # aligns it with that PE's partial sum (and the de-skewed row).
                    m.d.comb += self.y.valid.eq(
                        delay_line(m, valid_here, 1, advance, "bottom_valid", False))
                if c < C - 1:
                    x_here = delay_line(m, x_here, 1, advance, f"pe_{r}_{c}_x")
                    sel_here = delay_line(m, sel_here, 1, advance, f"pe_{r}_{c}_sel")
                    if valid_here is not None:
                        valid_here = delay_line(m, valid_here, 1, advance, f"pe_{r}_{c}_valid",
                                            False)

        # One carry-propagate adder per column (carry-save), then de-skew.
        for c in range(C):
            rows_in = [v for v, _ in psum_above[c]]
            column_sum = Signal(W, name=f"column{c}_sum")
            m.d.comb += column_sum.eq((rows_in[0] + rows_in[1])[:W] if carry_save else rows_in[0])
            m.d.comb += self.y.payload.y[c].eq(
                delay_line(m, column_sum, C - 1 - c, advance, f"deskew{c}"))
        return m
