"""3D-Cube tensor engine (the TPE paper's cube shape): an R x C grid of K-lane dot-product units.

:class:`CubeArray` computes ``C = A @ B`` per tile. Every beat brings a k-block: the R x K block
of A and the K x C block of B. Row r of the A block is broadcast to the C units of grid row r,
column c of the B block to the R units of grid column c, and unit (r, c) adds the K products
``sum_j A[r][j] * B[j][c]`` to its accumulator in one cycle; the bits of the K products go
through the :mod:`hdl.int_mac` arithmetic (:func:`hdl.int_mac.product_sum`) with its
``reduction`` and ``accumulator`` options (``shared/reference/numerics.md`` section 7: the
partial products of the K lanes in one compressor tree, the running sum in carry-save form).

What keeps it small (the point of the cube against the systolic array):

- broadcast operands: no skew registers, every unit sees its operands in the beat's cycle;
- one control for the whole grid (the accept decision, the output row counter, ``pending``);
- no second register set: the tile's results leave straight from the accumulators, row r in
  output beat r, and row r's accumulators restart at zero when it leaves. With the carry-save
  accumulator the carry-propagate adder sits after the row multiplexer, one per grid column
  (shared by the R rows) instead of one per unit.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal
from amaranth.lib import wiring

from .checks import require_choice
from .formats import IntFormat
from .int_mac import ACCUMULATORS, REDUCTIONS, product_sum
from .ports import Field, Ports, Stream, flag
from .systolic_array import output_stationary_ports

__all__ = ["CubeArray", "cube_array_ports"]


def cube_array_ports(rows: int, cols: int, lanes: int, a_format: IntFormat, b_format: IntFormat,
                     acc_width: int, acc_signed: bool) -> Ports:
    """The interface of :class:`CubeArray` (stream ``o`` as the output-stationary array's)."""
    R, C, K = rows, cols, lanes
    return Ports([
        Stream("i", "in", [
            Field("a", a_format, f"A[r][j] for {{i}} = r*{K} + j: row r of the tile's A at "
                                 f"position j of this beat's k-block (the R x {K} block of A)",
                  lanes=R * K),
            Field("b", b_format, f"B[j][c] for {{i}} = j*{C} + c: column c of the tile's B at "
                                 f"position j of this beat's k-block (the {K} x C block of B)",
                  lanes=K * C),
            flag("last", "ends the tile (its final k-block): its R result rows follow on "
                         "stream o")]),
        output_stationary_ports(R, C, a_format, b_format, acc_width, acc_signed)["o"],
    ])


class CubeArray(wiring.Component):
    """R x C x K cube: ``C = A @ B`` for an R x (n*K) tile of A and an (n*K) x C tile of B
    delivered as n beats (interface: :func:`cube_array_ports`).

    Input stream ``i``: one beat per k-block, carrying ``a[0..R*K-1]`` (row r, lane j at
    r*K + j), ``b[0..K*C-1]`` (lane j, column c at j*C + c) and ``last`` on the tile's final
    k-block. Output stream ``o``: after a tile's ``last``, R beats, beat r carrying
    ``c[0..C-1]`` (row r of the tile's ``A @ B``, modulo ``2**acc_width``) and ``last`` on
    r = R-1.

    Tile spacing: the results leave from the accumulators, so while a tile's rows wait the
    input stalls (``i.ready`` low); the next tile's first beat is accepted in the cycle the final
    row leaves (its accumulators start again from zero in that cycle). At full rate every beat
    is accepted one cycle after the previous one, except the beat after a ``last`` beat: R cycles
    after it (R - 1 cycles of stall per tile; none for R = 1). ``i.ready`` depends on
    ``o.ready`` (it is high when nothing waits, or when the final row leaves).

    Parameters
    ----------
    rows, cols, lanes : int
        R, C and K.
    a_format, b_format : IntFormat
    acc_width : int
        Accumulator and output width; sums wrap modulo ``2**acc_width``.
    acc_signed : bool
        Whether the results are two's complement.
    reduction, accumulator : str
        The unit's options, see :class:`hdl.int_mac.IntMACCore`.

    Latency: row r of a tile leaves 1 + r cycles after its ``last`` beat is accepted (at full
    rate), so ``latency`` is 1 for R = 1 and None otherwise. Initiation interval: 1 for R = 1,
    else data-dependent (None).
    """

    def __init__(self, *, rows: int, cols: int, lanes: int, a_format: IntFormat,
                 b_format: IntFormat, acc_width: int, acc_signed: bool = True,
                 reduction: str = "adder_tree", accumulator: str = "binary"):
        if min(rows, cols, lanes) < 1:
            raise ValueError(f"rows, cols and lanes must be at least 1, not {rows}, {cols}, "
                             f"{lanes}")
        require_choice("reduction", reduction, REDUCTIONS)
        require_choice("accumulator", accumulator, ACCUMULATORS)
        self.rows, self.cols, self.lanes = rows, cols, lanes
        self.a_format, self.b_format = a_format, b_format
        self.acc_width, self.acc_signed = acc_width, acc_signed
        self.reduction, self.accumulator = reduction, accumulator
        self.ports = cube_array_ports(rows, cols, lanes, a_format, b_format, acc_width,
                                      acc_signed)
        # Row r leaves 1 + r cycles after the last beat and the beat after a last waits R
        # cycles: fixed numbers only when there is a single row.
        self.latency = 1 if rows == 1 else None
        self.initiation_interval = 1 if rows == 1 else None
        super().__init__(self.ports.signature())

    def elaborate(self, platform):
        m = Module()
        R, C, K, W = self.rows, self.cols, self.lanes, self.acc_width
        carry_save = self.accumulator == "carry_save"

        # -- control, one for the whole grid ------------------------------------------------
        pending = Signal()                   # a tile's rows wait in the accumulators
        # (a zero-width counter would not lint)
        row = Signal(range(R), name="out_row") if R > 1 else Const(0, 1)
        last_row = Signal()
        m.d.comb += last_row.eq(row == R - 1 if R > 1 else 1)
        fire = Signal()
        m.d.comb += fire.eq(self.o.valid & self.o.ready)
        m.d.comb += self.i.ready.eq(~pending | (fire & last_row))
        accept = Signal()
        m.d.comb += accept.eq(self.i.valid & self.i.ready)
        m.d.comb += [self.o.valid.eq(pending), self.o.payload.last.eq(last_row)]
        with m.If(fire):
            if R > 1:
                m.d.sync += row.eq(Mux(last_row, 0, row + 1))
            with m.If(last_row):
                m.d.sync += pending.eq(0)
        with m.If(accept & self.i.payload.last):
            m.d.sync += pending.eq(1)

        # -- units --------------------------------------------------------------------------
        a, b = self.i.payload.a, self.i.payload.b
        accs = []                            # per row, per column: the accumulator rows
        # (A comparison with zero is written as a reduction: Amaranth would emit a multi-bit
        # logical NOT, which Verilator's lint rejects.)
        at_row = [~row.any() if r == 0 else row == r for r in range(R)]
        for r in range(R):
            leaves = Signal(name=f"leave_{r}")
            m.d.comb += leaves.eq(fire & at_row[r])
            row_accs = []
            for c in range(C):
                # Reset, unlike data registers elsewhere: the first tile adds to them.
                regs = [Signal(W, name=f"acc_{r}_{c}_{n}") for n in range(2 if carry_save else 1)]
                # Only the final row can leave in the cycle a new beat arrives (the other rows
                # left earlier and hold zero): that row starts the new tile from zero.
                base = [Mux(leaves, 0, reg) if r == R - 1 else reg for reg in regs]
                products = [(a[r * K + j], b[j * C + c], self.a_format.signed,
                             self.b_format.signed) for j in range(K)]
                total = product_sum(m, products, [(v, False) for v in base], width=W,
                                    reduction=self.reduction, carry_save=carry_save,
                                    name=f"u_{r}_{c}")
                for reg, value in zip(regs, total if carry_save else [total]):
                    with m.If(accept):
                        m.d.sync += reg.eq(value)
                    with m.Elif(leaves):
                        m.d.sync += reg.eq(0)
                row_accs.append(regs)
            accs.append(row_accs)

        # -- output: row ``row`` straight from the accumulators ------------------------------
        for c in range(C):
            chosen = []
            for n in range(len(accs[0][c])):
                # A multiplexer chain rather than a case statement, which for R not a power of
                # two would leave row codes uncovered (Verilator's lint rejects that).
                value = accs[R - 1][c][n]
                for r in range(R - 2, -1, -1):
                    value = Mux(at_row[r], accs[r][c][n], value)
                chosen.append(value)
            value = (chosen[0] + chosen[1])[:W] if carry_save else chosen[0]
            m.d.comb += self.o.payload.c[c].eq(value)
        return m
