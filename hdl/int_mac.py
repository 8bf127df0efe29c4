"""Bit-parallel integer multiply-accumulate: a K-lane dot product per beat, accumulated over beats.

:class:`IntMACCore` is the datapath (multipliers, adder tree, optional pipeline registers,
accumulator and result register) with a single clock enable and no handshake, so that arrays can
instantiate it directly. :class:`IntMAC` wraps it with ``lib.stream`` input and output streams.

Two options treat the bits of the operands as one more dimension of the sum (see
:mod:`hdl.compressor_tree`):

- ``reduction="adder_tree"``: one product per lane (Yosys maps each ``*``), then a balanced tree
  of binary adders; ``"compressor_tree"``: the partial-product bits of all K lanes go into one
  Dadda carry-save tree of full/half adders with a single carry-propagate adder at the end (with
  no pipeline register in between, the accumulator joins the same tree).
- ``accumulator="binary"``: one register holding the running sum, updated through a
  carry-propagate adder; ``"carry_save"``: two registers (sum and carry rows) updated through
  full adders only; the carry-propagate addition happens only when a result is made.

:func:`product_sum` is the same arithmetic without accumulator, for arrays whose partial sums
travel between PEs (weight-stationary).
"""

from __future__ import annotations

from amaranth.hdl import Module, Signal, unsigned

from .checks import require_choice
from .compressor_tree import BitHeap
from .formats import IntFormat
from .numbers import acc_format
from .ports import LAST, Field, Ports, Stream, group_sum
from .streaming import EnabledCore, StreamPE

__all__ = ["IntMACCore", "IntMAC", "int_mac_ports", "product_sum", "REDUCTIONS",
           "ACCUMULATORS"]

#: How the products of one beat are summed (see the module docstring).
REDUCTIONS = ("adder_tree", "compressor_tree")
#: How the running sum is kept.
ACCUMULATORS = ("binary", "carry_save")


def product_sum(m: Module, products, addends, *, width: int, reduction: str, carry_save: bool,
                name: str):
    """``sum(a * b) + sum(addends)`` modulo ``2**width``, combinational, built in ``m``.

    Parameters
    ----------
    products : list of (a, b, a_signed, b_signed)
    addends : list of (value, signed)
        Further operands (a partial sum, or both rows of a carry-save partial sum).
    width : int
    reduction : str
        ``"adder_tree"`` (a multiplier per product, then adders) or ``"compressor_tree"`` (all
        partial-product bits and addends in one Dadda tree).
    carry_save : bool
        Return two carry-save rows (``width`` bits each, their sum is the result) instead of one
        resolved value; then no carry-propagate adder is built.
    name : str
        Signal name prefix.

    Returns
    -------
    A ``width``-bit value, or a tuple of two ``width``-bit rows when ``carry_save``.
    """
    heap = BitHeap(width, name=name)
    if reduction == "adder_tree":
        terms = [a * b for a, b, _, _ in products]
        if not carry_save:
            total = terms[0]
            for term in terms[1:]:
                total = total + term
            for value, _ in addends:
                total = total + value
            # Assignment sign-extends a narrower signed sum (slicing would zero-extend it).
            result = Signal(width, name=f"{name}_sum")
            m.d.comb += result.eq(total)
            return result
        for n, term in enumerate(terms):
            product = Signal(term.shape(), name=f"{name}_product{n}")
            m.d.comb += product.eq(term)
            heap.add_value(product, signed=term.shape().signed)
    else:
        for a, b, a_signed, b_signed in products:
            heap.add_product(a, b, a_signed, b_signed)
    for value, signed_ in addends:
        heap.add_value(value, signed=signed_)
    if carry_save:
        heap.reduce(m)
        return heap.rows()
    return heap.resolve(m)


def int_mac_ports(a_format: IntFormat, b_format: IntFormat, lanes: int, acc_width: int,
                  acc_signed: bool) -> Ports:
    """The interface of :class:`IntMAC` (and of its core)."""
    return Ports([
        Stream("i", "in", [
            Field("a", a_format, "operand a of lane {k}: the beat adds a[{k}] * b[{k}] (with the "
                                 "other lanes' products) to the accumulator", lanes=lanes),
            Field("b", b_format, "operand b of lane {k}, multiplied by a[{k}]", lanes=lanes),
            LAST]),
        Stream("o", "out", [
            Field("acc", acc_format(acc_width, signed=acc_signed),
                  group_sum("a[k] * b[k]", acc_width), role="result")]),
    ])


class IntMACCore(EnabledCore):
    """Integer dot-product accumulator datapath, clock-enabled, without handshake.

    Each cycle with ``en`` = 1 the pipeline advances by one step. A beat presented with
    ``valid`` = 1 (and ``en`` = 1) enters the pipeline; ``pipeline_stages`` cycles later its dot
    product ``sum_k a[k] * b[k]`` reaches the accumulator. A beat with ``last`` = 1 loads
    ``acc + dot`` into ``result``, sets ``result_valid`` and clears the accumulator.
    ``result_valid`` is recomputed on every enabled cycle, so it is high for exactly one enabled
    cycle per result; hold ``en`` low to keep a result.

    Parameters
    ----------
    a_format, b_format : IntFormat
        Operand formats (signed or unsigned).
    lanes : int
        Number of products per beat (K).
    acc_width : int
        Accumulator and result width; sums wrap modulo ``2**acc_width``.
    acc_signed : bool
        Whether ``result`` is two's complement.
    pipeline_stages : int
        Registers between the inputs and the accumulator, 0 to 3. With the adder tree: after the
        dot product (1), also after the multipliers (2), also in the middle of the adder tree (3).
        With the compressor tree: after the tree has reduced the dot product to two carry-save
        rows (1), also between its Dadda levels, evenly spaced (2 and 3).
    reduction : str
        ``"adder_tree"`` or ``"compressor_tree"`` (see the module docstring).
    accumulator : str
        ``"binary"`` or ``"carry_save"`` (see the module docstring).

    Latency: a beat with ``last`` presented in cycle t gives ``result_valid`` in cycle
    t + 1 + ``pipeline_stages`` (counting enabled cycles), whatever the options.
    """

    def __init__(self, *, a_format: IntFormat, b_format: IntFormat, lanes: int, acc_width: int,
                 acc_signed: bool = True, pipeline_stages: int = 0,
                 reduction: str = "adder_tree", accumulator: str = "binary"):
        if not 0 <= pipeline_stages <= 3:
            raise ValueError(f"pipeline_stages must be 0 to 3, not {pipeline_stages}")
        require_choice("reduction", reduction, REDUCTIONS)
        require_choice("accumulator", accumulator, ACCUMULATORS)
        self.a_format = a_format
        self.b_format = b_format
        self.lanes = lanes
        self.acc_width = acc_width
        self.acc_signed = acc_signed
        self.pipeline_stages = pipeline_stages
        self.reduction = reduction
        self.accumulator = accumulator
        super().__init__(int_mac_ports(a_format, b_format, lanes, acc_width, acc_signed),
                         latency=1 + pipeline_stages)

    def elaborate(self, platform):
        m = Module()
        stages = self.pipeline_stages
        # Control bits travel beside the data through the same pipeline registers.
        ctrl = [self.valid, self.last]

        def register(values, name):
            """One pipeline step for ``values`` (and the control bits), enabled by ``en``."""
            nonlocal ctrl
            regs = []
            for i, v in enumerate(values + ctrl):
                is_ctrl = i >= len(values)
                # Data registers need no reset: only the valid bit decides what they mean.
                r = Signal(v.shape(), name=f"{name}_{i}", reset_less=not is_ctrl)
                with m.If(self.en):
                    m.d.sync += r.eq(v)
                regs.append(r)
            ctrl = regs[len(values):]
            return regs[:len(values)]

        if self.reduction == "compressor_tree":
            heap = self._compressor_dot(m, register)
            return self._accumulate(m, heap, *ctrl)

        terms = [self.a[k] * self.b[k] for k in range(self.lanes)]
        if stages >= 2:
            terms = register(terms, "product")
        # Balanced adder tree; with three stages, a register after half of its levels.
        levels = max(1, (self.lanes - 1).bit_length())
        level = 0
        while len(terms) > 1:
            terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                     for i in range(0, len(terms), 2)]
            level += 1
            if stages >= 3 and level == (levels + 1) // 2:
                terms = register(terms, "partial")
        if stages >= 3 and self.lanes == 1:
            terms = register(terms, "partial")
        dot = terms[0]
        if stages >= 1:
            (dot,) = register([dot], "dot")
        valid, last = ctrl
        if self.accumulator == "carry_save":
            heap = BitHeap(self.acc_width, name="acc")
            # A named wire, so that each bit does not repeat the adder tree's expression.
            dot_value = Signal(dot.shape(), name="dot_value")
            m.d.comb += dot_value.eq(dot)
            heap.add_value(dot_value, signed=dot.shape().signed)
            return self._accumulate(m, heap, valid, last)

        acc = Signal.like(self.result, name="acc")
        total = Signal.like(self.result, name="total")
        # The dot product is sign-extended to acc_width explicitly and added modulo 2^acc_width
        # (the documented two's complement wrap). Written as a signed add of the raw product,
        # Yosys folds multiplier and accumulator into one $macc whose LUT mapping is ~1.6x larger
        # on iCE40 (388 vs 246 LUT4 for int8 K=1); the modular add keeps a plain multiplier plus
        # a carry-chain adder.
        dot_ext = Signal(unsigned(self.acc_width), name="dot_ext")
        m.d.comb += dot_ext.eq(dot)
        m.d.comb += total.eq(acc.as_unsigned() + dot_ext)
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(valid & last)
            with m.If(valid):
                with m.If(last):
                    m.d.sync += [self.result.eq(total), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(total)
        return m

    def _compressor_dot(self, m, register) -> BitHeap:
        """All partial-product bits in one heap, with the pipeline cuts of ``pipeline_stages``.

        Returns the heap that the accumulator joins: the raw product heap when there is no
        pipeline register, else a heap holding the registered carry-save dot product."""
        a_signed, b_signed = self.a_format.signed, self.b_format.signed
        heap = BitHeap(self.acc_width, name="dot")
        for k in range(self.lanes):
            heap.add_product(self.a[k], self.b[k], a_signed, b_signed)
        stages = self.pipeline_stages
        if stages == 0:
            return heap
        levels = heap.levels()
        done = 0
        cuts = stages - 1
        for n in range(1, cuts + 1):
            at = (levels * n + cuts) // (cuts + 1)     # evenly spaced, rounded up
            heap.reduce(m, at - done)
            done = at
            heap.register(m, self.en, f"tree{n}")
            register([], f"tree{n}_ctrl")
        heap.reduce(m)
        heap.register(m, self.en, "dot")
        register([], "dot_ctrl")
        first, second = heap.rows()
        acc_heap = BitHeap(self.acc_width, name="acc")
        acc_heap.add_value(first, signed=False)
        acc_heap.add_value(second, signed=False)
        return acc_heap

    def _accumulate(self, m, heap: BitHeap, valid, last):
        """Accumulator and result register around ``heap`` (which holds this beat's dot)."""
        width = self.acc_width
        if self.accumulator == "binary":
            acc = Signal(width, name="acc")
            heap.add_value(acc, signed=False)
            total = Signal(width, name="total")
            m.d.comb += total.eq(heap.resolve(m))
            next_rows = [(acc, total)]
        else:
            acc_sum = Signal(width, name="acc_sum")
            acc_carry = Signal(width, name="acc_carry")
            heap.add_value(acc_sum, signed=False)
            heap.add_value(acc_carry, signed=False)
            heap.reduce(m)
            first, second = heap.rows()
            # The carry-propagate adder feeds only the result register, not the loop.
            total = Signal(width, name="total")
            m.d.comb += total.eq((first + second)[:width])
            next_rows = [(acc_sum, first), (acc_carry, second)]
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(valid & last)
            with m.If(valid):
                with m.If(last):
                    m.d.sync += self.result.eq(total)
                    m.d.sync += [reg.eq(0) for reg, _ in next_rows]
                with m.Else():
                    m.d.sync += [reg.eq(value) for reg, value in next_rows]
        return m


class IntMAC(StreamPE):
    """Stream wrapper of :class:`IntMACCore` (interface: :func:`int_mac_ports`).

    Input stream ``i``: payload ``a[0..K-1]``, ``b[0..K-1]``, ``last``. Output stream ``o``:
    payload ``acc``, one beat per input beat with ``last`` = 1, carrying the sum of
    ``a[k] * b[k]`` over all lanes of all beats since the previous output (that beat included).
    It takes one beat per cycle while ``o.ready`` is high and never drops or repeats a beat.

    Parameters are those of :class:`IntMACCore`.

    Latency: ``1 + pipeline_stages`` cycles from accepting a ``last`` beat to ``o.valid``.
    Initiation interval: 1.
    """

    def __init__(self, **params):
        super().__init__(IntMACCore(**params))
