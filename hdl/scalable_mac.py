"""Precision-scalable integer MAC (AccLLM's reconfigurable engine, Bit Fusion style): one array of
2-bit weight slices computes, per beat, K lanes of A x W8, 2K lanes of A x W4 or 4K lanes of
A x W2, all summed into one accumulator.

Per beat a 2-bit ``mode`` field chooses the weight precision (fixed codes w8 = 0, w4 = 1,
w2 = 2): the beat adds ``sum_i a[i] * weight(w[i], mode)`` over its lanes i < K * 8 / w, where
``weight`` is the low w bits of the 8-bit field ``w[i]`` (two's complement, or unsigned), and a
``last`` beat emits the sum. One beat per cycle in every mode, so MACs per cycle double at W4
and quadruple at W2 (``shared/reference/numerics.md`` section 10).

Structure (the point of the design):

- **Slots and slices.** Each of the K 8-bit weight slots is four 2-bit slices. Slice j of slot
  s multiplies an activation chosen by mode by its 2-bit slice of the weight, shifted by mode
  (:func:`slice_source`):

  ====  =================  ============================  ===========
  mode  activation         weight bits                   shift
  ====  =================  ============================  ===========
  w8    a[s]               w[s] bits 2j+1..2j            2j
  w4    a[2s + j div 2]    w[2s + j div 2] bits of j%2   2 (j % 2)
  w2    a[4s + j]          w[4s + j] bits 1..0           0
  ====  =================  ============================  ===========

  A slice's top bit weighs negatively (``weight_signed``) only where the slice is the top
  slice of a weight in the current mode (w8: j = 3, w4: j odd, w2: every slice).
- **Shift folded into the activation select.** Each slice's activation is selected already
  shifted: its column c is bit c - shift of the mode's activation, so each slice is an
  (A + its largest shift) x 2 product at a fixed position. Only the select inputs and shifts of
  the modes in ``modes`` are built: a w8-only build has no select at all (a plain K-lane A x 8
  MAC whose weight bits are gated by the mode code being valid), and slice 0 (shift 0 in every
  mode) of slot 0 has none either. Signed activations are sign-extended to the slice's width in
  every mode.
- **Row sums on carry chains.** A slice's product is ``row0 + 2 * row1``, the two rows being
  the shifted activation ANDed with the slice's weight bits; where the slice is a signed
  weight's top slice in the current mode, ``row1`` is inverted and the +1 of the negation enters
  as the adder's carry (mode-dependent where the slice is the top slice in some modes only). The
  4K slice products are summed by a balanced tree of carry-propagate adders, then added to the
  accumulator; each adder is only as wide as its sum (and at most ``acc_width``). On iCE40 a
  carry-chain adder costs one LUT4 per bit, a full adder of a compressor tree two: for int8,
  K = 4, all modes, this tree maps to 1032 LUT4 where one bit heap of all partial-product bits
  (Dadda tree, :mod:`hdl.compressor_tree`) took 1373 (Yosys ``synth_ice40``, no DSP; ``int_mac``
  int8 x int8, K = 4: 989).
- **Unbuilt modes.** A beat whose ``mode`` code is not built in (or is 3) selects no weight
  bits (its partial products are all zero) and adds nothing; a sticky flag records it, and the
  output beat's ``error`` says whether any beat of the group had such a code.

:class:`ScalableMACCore` is the datapath (clock enable, no handshake); :class:`ScalableMAC` wraps
it with ``lib.stream`` input and output streams (:class:`hdl.streaming.StreamPE`);
:func:`scalable_mac_ports` declares their interface once.
"""

from __future__ import annotations

from typing import NamedTuple

from amaranth.hdl import Cat, Const, Module, Shape, Signal, Value, signed, unsigned

from .formats import IntFormat
from .numbers import acc_format, dot_product_range
from .ports import LAST, Field, Ports, Stream, flag, group_sum
from .streaming import EnabledCore, StreamPE

__all__ = ["ScalableMACCore", "ScalableMAC", "scalable_mac_ports", "MODES", "MODE_CODES",
           "MODE_WIDTH", "WEIGHT_FIELD_BITS", "mode_weight_bits", "used_lanes", "port_lanes",
           "weight_format", "beat_range", "acc_signed", "mode_values", "slice_source",
           "SliceSource"]

#: Weight precisions, in code order; the ``mode`` field's code of each is fixed.
MODES = ("w8", "w4", "w2")
MODE_CODES = {"w8": 0, "w4": 1, "w2": 2}
#: Width of the ``mode`` field (code 3 is never a mode).
MODE_WIDTH = 2
#: Width of each ``w`` field: one weight slot.
WEIGHT_FIELD_BITS = 8
_SLICE_BITS = 2
_SLICES = WEIGHT_FIELD_BITS // _SLICE_BITS


def mode_weight_bits(mode: str) -> int:
    """Weight precision of ``mode`` (``"w4"`` -> 4)."""
    return int(mode[1:])


def used_lanes(lanes: int, mode: str) -> int:
    """Lanes a beat of ``mode`` uses: K * 8 / w."""
    return lanes * WEIGHT_FIELD_BITS // mode_weight_bits(mode)


def port_lanes(lanes: int, modes) -> int:
    """Entries of the ``a`` and ``w`` vectors: the lanes of the widest mode built (4K with w2,
    else 2K with w4, else K)."""
    return max(used_lanes(lanes, mode) for mode in modes)


def weight_format(mode: str, weight_signed: bool) -> IntFormat:
    """The weights' format in ``mode``."""
    return IntFormat(mode_weight_bits(mode), weight_signed)


def beat_range(act_format: IntFormat, lanes: int, modes, weight_signed: bool) -> tuple[int, int]:
    """Smallest and largest sum one beat adds, over the modes built."""
    ranges = [dot_product_range(act_format, weight_format(mode, weight_signed),
                                used_lanes(lanes, mode)) for mode in modes]
    return min(lo for lo, _ in ranges), max(hi for _, hi in ranges)


def acc_signed(act_format: IntFormat, weight_signed: bool) -> bool:
    """The accumulator is two's complement unless activations and weights are both unsigned."""
    return act_format.signed or weight_signed


class SliceSource(NamedTuple):
    """Where slice j of slot s takes its operands in one mode."""

    lane: int       #: index of a and w
    position: int   #: slice index within the weight: weight bits 2*position+1 .. 2*position
    shift: int      #: column of the product's bit 0 (= 2 * position)
    top: bool       #: the weight's top slice (its high bit weighs negatively when signed)


class _Term(NamedTuple):
    """A partial sum: ``value * 2**offset``."""

    value: Value
    offset: int


def _either(bits):
    """OR of one-bit values."""
    out = bits[0]
    for bit in bits[1:]:
        out = out | bit
    return out


def slice_source(mode: str, slot: int, j: int) -> SliceSource:
    """Operands of slice ``j`` of weight slot ``slot`` in ``mode`` (see the module docstring)."""
    per_weight = mode_weight_bits(mode) // _SLICE_BITS      # slices per weight
    position = j % per_weight
    lane = slot * (_SLICES // per_weight) + j // per_weight
    return SliceSource(lane, position, _SLICE_BITS * position, position == per_weight - 1)


def mode_values(act_format: IntFormat, lanes: int, modes, weight_signed: bool) -> dict[int, str]:
    """``mode`` code -> meaning, for the manifest."""
    values = {}
    for mode in MODES:
        bits, n = mode_weight_bits(mode), used_lanes(lanes, mode)
        fmt = weight_format(mode, weight_signed)
        if mode in modes:
            values[MODE_CODES[mode]] = (
                f"{mode}: lanes 0..{n - 1}, weight w[i] = its low {bits} bits as "
                f"{fmt.name} ({fmt.min} to {fmt.max}), higher bits ignored; "
                f"{n} {act_format.name} x {fmt.name} products per beat")
        else:
            values[MODE_CODES[mode]] = (f"{mode}: not built: the beat adds nothing and the output "
                                        f"beat's error is set")
    values[(1 << MODE_WIDTH) - 1] = ("invalid: the beat adds nothing and the output beat's error "
                                     "is set")
    return values


def scalable_mac_ports(act_format: IntFormat, lanes: int, modes, weight_signed: bool,
                       acc_width: int) -> Ports:
    """The interface of :class:`ScalableMAC` (and of its core)."""
    n = port_lanes(lanes, modes)
    coding = "two's complement" if weight_signed else "unsigned"
    used = ", ".join(f"{mode}: 0..{used_lanes(lanes, mode) - 1}" for mode in modes)
    names = " / ".join(modes)
    bits = " / ".join(str(mode_weight_bits(mode)) for mode in modes)
    return Ports([
        Stream("i", "in", [
            Field("a", act_format,
                  f"activation of lane {{k}}: the beat adds a[{{k}}] * weight(w[{{k}}], mode) "
                  f"(with the other used lanes' products) when its mode uses lane {{k}} "
                  f"(lanes {used}); ignored otherwise", lanes=n),
            Field("w", IntFormat(WEIGHT_FIELD_BITS, signed=False),
                  f"weight slot of lane {{k}}: in mode {names} the weight is its low {bits} "
                  f"bits, {coding}; higher bits ignored", lanes=n),
            Field("mode", IntFormat(MODE_WIDTH, signed=False),
                  "this beat's weight precision (lanes and weight bits used)", role="control",
                  values=mode_values(act_format, lanes, modes, weight_signed)),
            LAST]),
        Stream("o", "out", [
            Field("acc", acc_format(acc_width, signed=acc_signed(act_format, weight_signed)),
                  group_sum("a[k] * weight(w[k], mode)", acc_width,
                            " (k over the lanes each beat's mode uses; a beat with a mode code "
                            "not built adds nothing)"),
                  role="result"),
            flag("error", "flags a beat in the accumulation group whose mode code is not built "
                          "(or is 3)", role="status",
                 values={0: "every beat of the group had a built mode",
                         1: "some beat of the group had a mode code not built: it added "
                            "nothing to acc"})]),
    ])


class ScalableMACCore(EnabledCore):
    """Precision-scalable dot-product accumulator datapath, clock-enabled, without handshake
    (structure: see the module docstring).

    A beat presented with ``valid`` = 1 and ``en`` = 1 adds ``sum_i a[i] * weight(w[i], mode)``
    over the lanes its ``mode`` uses to the accumulator, or nothing when ``mode`` is a code not
    built (which also sets the sticky error flag of the group). A beat with ``last`` = 1 loads
    the sum (that beat included) into ``result`` and the group's flag into ``error``, sets
    ``result_valid`` for one enabled cycle and clears the accumulator and the flag.

    Parameters
    ----------
    act_format : IntFormat
        Activation format, signed or unsigned.
    lanes : int
        K, 8-bit weight slots (lanes at W8; 2K at W4, 4K at W2).
    modes : tuple of str
        Modes built, a non-empty subset of :data:`MODES`.
    weight_signed : bool
        Weights are two's complement at their precision (else unsigned).
    acc_width : int
        Accumulator and ``result`` width; sums wrap modulo ``2**acc_width``.

    Latency: a beat with ``last`` presented in (enabled) cycle t gives ``result_valid`` in cycle
    t + 1. Initiation interval: 1 in every mode.
    """

    def __init__(self, *, act_format: IntFormat, lanes: int, modes, weight_signed: bool,
                 acc_width: int):
        modes = tuple(modes)
        if not modes or any(mode not in MODES for mode in modes):
            raise ValueError(f"modes must be a non-empty subset of {', '.join(MODES)}, not "
                             f"{modes!r}")
        self.act_format = act_format
        self.lanes = lanes
        self.modes = tuple(mode for mode in MODES if mode in modes)
        self.weight_signed = weight_signed
        self.acc_width = acc_width
        super().__init__(scalable_mac_ports(act_format, lanes, self.modes, weight_signed,
                                            acc_width), latency=1)

    def _is_mode(self, m, modes):
        """1 when the beat's mode is one of ``modes`` (a constant 0 for none); one wire per set
        of modes."""
        key = tuple(mode for mode in self.modes if mode in modes)
        if not key:
            return Const(0, 1)
        if key not in self._selects:
            select = Signal(name="is_" + "_".join(key))
            # (Code 0 as a reduction: Amaranth would emit a multi-bit logical NOT, which
            # Verilator's lint rejects.)
            m.d.comb += select.eq(_either([self.mode == MODE_CODES[mode] if MODE_CODES[mode]
                                           else ~self.mode.any() for mode in key]))
            self._selects[key] = select
        return self._selects[key]

    def elaborate(self, platform):
        m = Module()
        self._selects = {}
        built = self._is_mode(m, self.modes)

        terms = [self._slice(m, slot, j) for slot in range(self.lanes) for j in range(_SLICES)]
        level = 0
        while len(terms) > 1:
            terms = [self._add(m, terms[i], terms[i + 1], f"sum{level}_{i // 2}")
                     if i + 1 < len(terms) else terms[i] for i in range(0, len(terms), 2)]
            level += 1
        (dot,) = terms
        assert dot.offset == 0

        width = self.acc_width
        acc = Signal(width, name="acc")
        # Sign-extended explicitly and added modulo 2^acc_width, as in hdl.int_mac (a plain
        # carry-chain adder, not folded into the tree).
        dot_ext = Signal(width, name="dot_ext")
        total = Signal(width, name="total")
        m.d.comb += [dot_ext.eq(dot.value), total.eq(acc + dot_ext)]
        error_seen = Signal()     # a beat of the current group had a mode not built
        beat_error = ~built
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid & self.last)
            with m.If(self.valid):
                with m.If(self.last):
                    m.d.sync += [self.result.eq(total), acc.eq(0),
                                 self.error.eq(error_seen | beat_error), error_seen.eq(0)]
                with m.Else():
                    m.d.sync += [acc.eq(total), error_seen.eq(error_seen | beat_error)]
        return m

    def _select(self, m, vector, choices, name):
        """The bit of ``vector`` the current mode takes, from ``choices``: ``{(lane, index):
        modes}``; 0 in other modes. No select when every mode built takes the same bit (the
        weight bits are zero when the mode is not built, which suffices there)."""
        if len(choices) == 1 and vector is self.a:
            ((lane, index), modes), = choices.items()
            if len(modes) == len(self.modes):
                return vector[lane][index]
        out = Signal(name=name)
        m.d.comb += out.eq(_either([
            vector[lane][index] & self._is_mode(m, modes)
            for (lane, index), modes in choices.items()]))
        return out

    def _slice(self, m, slot, j) -> _Term:
        """The product of slice ``j`` of ``slot``: the shifted activation times the 2-bit weight
        slice, as ``row0 + 2 * row1`` (``row1`` negated where the slice is a signed weight's top
        slice in the current mode)."""
        act_width, act_signed = self.act_format.width, self.act_format.signed
        sources = {mode: slice_source(mode, slot, j) for mode in self.modes}
        name = f"s{slot}_j{j}"
        # The 2-bit weight slice: zero when the mode is not built.
        wbits = []
        for t in range(_SLICE_BITS):
            choices = {}
            for mode, src in sources.items():
                choices.setdefault((src.lane, _SLICE_BITS * src.position + t), []).append(mode)
            wbits.append(self._select(m, self.w, choices, f"wbit_{name}_{t}"))
        # The activation shifted by the mode's shift, sign-extended to the largest shift
        # (columns below the smallest shift are zero in every mode: not built).
        low = min(src.shift for src in sources.values())
        span = act_width + max(src.shift for src in sources.values())
        columns = []
        for col in range(low, span):
            choices = {}
            for mode, src in sources.items():
                index = col - src.shift
                if index >= act_width and act_signed:
                    index = act_width - 1
                if 0 <= index < act_width:
                    choices.setdefault((src.lane, index), []).append(mode)
            columns.append(self._select(m, self.a, choices, f"act_{name}_c{col}") if choices
                           else Const(0, 1))
        shape = signed(span - low) if act_signed else unsigned(span - low)
        act = Signal(shape, name=f"act_{name}")
        rows = [Signal(shape, name=f"row_{name}_{t}") for t in range(_SLICE_BITS)]
        m.d.comb += act.eq(Cat(*columns))
        for row, wbit in zip(rows, wbits):
            m.d.comb += row.eq(act & wbit.replicate(len(act)))
        # -row1 = ~row1 + 1: the inverted row, and the 1 as the carry into the sum.
        negative = [self.weight_signed and src.top for src in sources.values()]
        if all(negative):
            neg = Const(1, 1)
        else:
            neg = self._is_mode(m, [mode for mode, n in zip(sources, negative) if n])
        upper = rows[1]
        if any(negative):
            # Signed (one bit wider for unsigned activations) so that the inverted row is negative.
            upper = Signal(shape if act_signed else signed(len(act) + 1), name=f"row_{name}_1n")
            m.d.comb += upper.eq(rows[1].as_unsigned() ^ neg.replicate(len(upper)))
        return self._add(m, _Term(rows[0], low), _Term(upper, low + 1), f"p_{name}",
                         carry=neg if any(negative) else None)

    def _add(self, m, x: _Term, y: _Term, name: str, carry=None) -> _Term:
        """``x + y`` (+ ``carry`` at ``y``'s weight when ``x`` is the lower) modulo
        ``2**acc_width``, through one carry-propagate adder: the bits of the lower term below the
        other one's offset pass through."""
        if x.offset > y.offset:
            x, y = y, x
        gap = y.offset - x.offset
        assert len(x.value) > gap
        high = x.value >> gap if gap else x.value
        natural = (high + y.value).shape()
        # Bits from 2^acc_width up are dropped (the sum wraps modulo 2^acc_width anyway).
        width = min(natural.width, self.acc_width - y.offset)
        # 'keep': otherwise Yosys merges the tree of adders into one $macc, which it maps to
        # full adders in LUTs instead of carry chains (int8, K = 4: 1306 instead of 1032 iCE40
        # LUT4).
        out = Signal(Shape(width, natural.signed), name=name, attrs={"keep": 1})
        m.d.comb += out.eq(high + y.value + carry if carry is not None else high + y.value)
        if not gap:
            return _Term(out, x.offset)
        value = Cat(x.value[:gap], out)
        return _Term(value.as_signed() if natural.signed else value, x.offset)


class ScalableMAC(StreamPE):
    """Stream wrapper of :class:`ScalableMACCore` (interface: :func:`scalable_mac_ports`).

    Input stream ``i``: payload ``a[0..N-1]``, ``w[0..N-1]`` (N = 4K with w2 built, else 2K with
    w4, else K), ``mode``, ``last``. Output stream ``o``: payload ``acc`` and ``error``, one beat
    per input beat with ``last`` = 1: ``acc`` is the group's sum of ``a[i] * weight(w[i],
    mode)`` over the lanes each beat's mode uses; ``error`` = 1 when some beat of the group had
    a mode code not built (it added nothing). It takes one beat per cycle in every mode while
    ``o.ready`` is high and never drops or repeats a beat.

    Parameters are those of :class:`ScalableMACCore`.

    Latency: 1 cycle from accepting a ``last`` beat to ``o.valid``. Initiation interval: 1.
    """

    def __init__(self, **params):
        super().__init__(ScalableMACCore(**params))
