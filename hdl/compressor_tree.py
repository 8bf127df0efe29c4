"""Bit heap with a Dadda carry-save compressor tree: many weighted bits summed with one adder.

A :class:`BitHeap` collects bits by weight (column ``j`` holds bits worth ``2**j``) modulo
``2**width``: the partial-product bits of any number of multipliers, whole operands (an
accumulator, a partial sum in carry-save form) and constants. :meth:`BitHeap.reduce` compresses
the columns with full adders (3 bits -> sum + carry) and half adders (2 bits -> sum + carry),
following Dadda's schedule, until every column holds at most two bits; :meth:`BitHeap.rows` then
gives the two carry-save rows and :meth:`BitHeap.resolve` the single carry-propagate addition.

Dadda rather than Wallace: Dadda reduces each column only as far as the next height of the
sequence 2, 3, 4, 6, 9, 13, 19, ... requires, which gives the same number of levels as Wallace
with fewer half adders, and the final adder is what the FPGA carry chain or a fast adder handles.

Signs are handled without sign extension: a bit ``x`` of negative weight ``-2**j`` (the top bit of
a two's complement operand, or of a partial product that involves exactly one such top bit) is
entered as ``~x`` at ``+2**j`` plus the constant ``-2**j``, since ``-x = (1 - x) - 1``. All
constants are summed into one number (modulo ``2**width``) whose one bits join the heap. For a
signed x signed product this is the modified Baugh-Wooley scheme; it also covers signed x
unsigned, 1-bit operands and any output width.

:class:`MultiOperandAdder` is a small component over the heap, used by the unit tests.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["BitHeap", "dadda_heights", "MultiOperandAdder"]


def dadda_heights(max_height: int) -> list[int]:
    """The Dadda target heights below ``max_height``, largest first, ending in 2."""
    heights = [2]
    while heights[-1] * 3 // 2 < max_height:
        heights.append(heights[-1] * 3 // 2)
    return [h for h in reversed(heights) if h < max_height]


class BitHeap:
    """Weighted bits to be summed modulo ``2**width``.

    Parameters
    ----------
    width : int
        Result width; bits of weight ``2**width`` or more are dropped (the sum wraps).
    name : str
        Prefix of the signals the compressors create.
    """

    def __init__(self, width: int, name: str = "heap"):
        self.width = width
        self.name = name
        self.columns: list[list] = [[] for _ in range(width)]
        self.constant = 0
        self.full_adders = 0
        self.half_adders = 0
        self._constant_placed = False

    # -- filling ---------------------------------------------------------------------------

    def add_bit(self, weight: int, bit, negative: bool = False):
        """Add ``bit * 2**weight`` (``-bit * 2**weight`` when ``negative``)."""
        if weight >= self.width:
            return        # worth a multiple of 2**width: nothing modulo 2**width
        if negative:
            self.columns[weight].append(~bit)
            self.constant -= 1 << weight
        else:
            self.columns[weight].append(bit)

    def add_constant(self, value: int):
        self.constant += value

    def add_value(self, value, signed: bool, shift: int = 0):
        """Add an integer ``value`` (its own two's complement or unsigned width) times 2**shift."""
        width = len(value)
        for i in range(width):
            self.add_bit(i + shift, value[i], negative=signed and i == width - 1)

    def add_product(self, a, b, a_signed: bool, b_signed: bool):
        """Add the partial products of ``a * b``: one AND per bit pair, signs as in the module
        docstring (a pair is negative when exactly one of its bits is a negative top bit)."""
        wa, wb = len(a), len(b)
        for i in range(wa):
            for j in range(wb):
                if i + j >= self.width:
                    continue
                neg = (a_signed and i == wa - 1) != (b_signed and j == wb - 1)
                self.add_bit(i + j, a[i] & b[j], negative=neg)

    # -- shape -------------------------------------------------------------------------------

    def place_constant(self):
        """Enter the accumulated constant as bits (done once, before reducing)."""
        if self._constant_placed:
            return
        self._constant_placed = True
        constant = self.constant % (1 << self.width)
        for j in range(self.width):
            if (constant >> j) & 1:
                self.columns[j].append(Const(1, 1))
        self.constant = 0

    def height(self) -> int:
        return max((len(c) for c in self.columns), default=0)

    def levels(self) -> int:
        """Dadda levels needed to reach two bits per column."""
        self.place_constant()
        return len(dadda_heights(self.height()))

    # -- compression -------------------------------------------------------------------------

    def _adder(self, m: Module, bits, weight: int):
        index = self.full_adders + self.half_adders
        s = Signal(name=f"{self.name}_s{index}_w{weight}")
        c = Signal(name=f"{self.name}_c{index}_w{weight + 1}")
        if len(bits) == 3:
            x, y, z = bits
            m.d.comb += [s.eq(x ^ y ^ z), c.eq((x & y) | (z & (x ^ y)))]
            self.full_adders += 1
        else:
            x, y = bits
            m.d.comb += [s.eq(x ^ y), c.eq(x & y)]
            self.half_adders += 1
        return s, c

    def reduce(self, m: Module, levels: int | None = None):
        """Run ``levels`` Dadda levels (all remaining ones by default) of full/half adders."""
        self.place_constant()
        schedule = dadda_heights(self.height())
        if levels is not None:
            schedule = schedule[:levels]
        for target in schedule:
            carries_in: list = []
            new_columns = []
            for j, old in enumerate(self.columns):
                old = list(old)
                new = list(carries_in)
                carries_in = []
                height = len(old) + len(new)
                while height > target:
                    take = 2 if height == target + 1 else 3
                    assert len(old) >= take, "Dadda schedule violated"
                    bits, old = old[:take], old[take:]
                    s, c = self._adder(m, bits, j)
                    new.append(s)
                    if j + 1 < self.width:
                        carries_in.append(c)
                    height -= take - 1
                new_columns.append(new + old)
            self.columns = new_columns
        return self

    def register(self, m: Module, enable, name: str):
        """Replace every bit by a register loaded when ``enable`` is high (a pipeline cut)."""
        self.place_constant()
        for j, column in enumerate(self.columns):
            regs = []
            for n, bit in enumerate(column):
                if isinstance(bit, Const):
                    regs.append(bit)    # constants need no register
                    continue
                r = Signal(name=f"{name}_w{j}_{n}", reset_less=True)
                with m.If(enable):
                    m.d.sync += r.eq(bit)
                regs.append(r)
            self.columns[j] = regs
        return self

    # -- results -----------------------------------------------------------------------------

    def rows(self) -> tuple:
        """The two carry-save rows (``width`` bits each) of a heap reduced to height 2."""
        self.place_constant()
        assert self.height() <= 2, "reduce() first"
        zero = Const(0, 1)
        first = Cat(*(c[0] if len(c) > 0 else zero for c in self.columns))
        second = Cat(*(c[1] if len(c) > 1 else zero for c in self.columns))
        return first, second

    def resolve(self, m: Module):
        """The sum (``width`` bits, unsigned view) after the one carry-propagate adder."""
        self.reduce(m)
        first, second = self.rows()
        return (first + second)[:self.width]


class MultiOperandAdder(wiring.Component):
    """Sum of ``count`` operands through one :class:`BitHeap`, combinational.

    Parameters
    ----------
    count : int
        Number of operands.
    operand_width : int
    signed : bool
        Whether the operands are two's complement.
    width : int
        Output width; the sum wraps modulo ``2**width``.

    Ports: ``x`` (``count`` operands), ``total``; no latency (combinational).
    """

    def __init__(self, *, count: int, operand_width: int, signed: bool, width: int):
        self.count = count
        self.operand_width = operand_width
        self.signed = signed
        self.width = width
        super().__init__({
            "x": In(data.ArrayLayout(unsigned(operand_width), count)),
            "total": Out(width),
        })

    def elaborate(self, platform):
        m = Module()
        heap = BitHeap(self.width, name="sum")
        for k in range(self.count):
            heap.add_value(self.x[k], signed=self.signed)
        m.d.comb += self.total.eq(heap.resolve(m))
        return m
