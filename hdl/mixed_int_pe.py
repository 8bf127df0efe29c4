"""Mixed-precision integer PE (MixPE): low-bit weight codes times wider integer activations.

Weights arrive as unsigned ``weight_bits``-bit codes ``q`` with a zero point ``zero`` and an unsigned
fixed-point scale ``scale``; their value is ``scale * (q - zero)``. Each beat carries ``K`` weight codes
and ``K`` activations. Two product structures compute the same exact result:

* ``shift_add`` (MixPE): ``q * a`` from shifts and adds, the zero point applied once per beat as
  ``sum_k q[k] * a[k] - zero * sum_k a[k]``, and the scale applied once per group to the exact integer
  group sum ("dequantize after the group sum"; MixPE, Zhang et al. 2024, section on the mixed-precision
  PE).
* ``dequant_first`` (baseline): every weight is dequantized to ``scale * (q - zero)`` first, then
  multiplied by its activation with a full multiplier.

:class:`ShiftAddProducts` and :class:`DequantFirstProducts` are the per-beat product units (pure
combinational logic) so that they can be synthesized alone; :class:`MixedIntPECore` is the clock-enabled
datapath around either; :class:`MixedIntPE` its stream wrapper (:class:`hdl.streaming.StreamPE`);
:func:`mixed_int_pe_ports` declares their interface once. The PE's number rules (value ranges, group
sum width) are here too: :func:`lane_product_range`, :func:`scaled_beat_range`,
:func:`group_sum_width`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .checks import require_choice
from .formats import FixedFormat, IntFormat
from .numbers import ACC_BEATS, acc_format, min_signed_width, sum_width
from .ports import LAST_ENDS_GROUP, Field, Ports, Stream, flag, group_sum, shape_of
from .streaming import EnabledCore, StreamPE

__all__ = [
    "MULTIPLIERS", "ShiftAddProducts", "DequantFirstProducts", "MixedIntPECore", "MixedIntPE",
    "mixed_int_pe_ports", "lane_product_range", "scaled_beat_range", "group_sum_width",
]

MULTIPLIERS = ("shift_add", "dequant_first")


def lane_product_range(weight_bits: int, act_format: IntFormat) -> tuple[int, int]:
    """Smallest and largest ``(q - zero) * a`` for ``q, zero`` in ``0 .. 2**weight_bits - 1``."""
    dmax = (1 << weight_bits) - 1
    corners = [d * x for d in (-dmax, dmax) for x in (act_format.min, act_format.max)]
    return min(corners), max(corners)


def scaled_beat_range(weight_bits: int, act_format: IntFormat, lanes: int,
                      scale_format: FixedFormat) -> tuple[int, int]:
    """Smallest and largest ``scale * sum_k (q[k] - zero) * a[k]`` of one beat, raw fixed point
    (the scale's fraction bits), with the largest scale code: what one beat adds to the
    accumulator (a one-beat group)."""
    lo, hi = lane_product_range(weight_bits, act_format)
    smax = (1 << scale_format.width) - 1
    return lanes * lo * smax, lanes * hi * smax


def group_sum_width(weight_bits: int, act_format: IntFormat, lanes: int, beats: int) -> int:
    """Two's complement width of an integer group sum of ``beats`` beats that cannot overflow."""
    lo, hi = lane_product_range(weight_bits, act_format)
    return sum_width((lanes * lo, lanes * hi), beats)


def mixed_int_pe_ports(weight_bits: int, act_format: IntFormat, lanes: int,
                       scale_format: FixedFormat, multiplier: str, acc_width: int) -> Ports:
    """The interface of :class:`MixedIntPE` (and of its core)."""
    code = IntFormat(weight_bits, signed=False)
    if multiplier == "shift_add":
        scale = ("scale of the group (unsigned fixed point), read on the group's final beat: "
                 "acc += scale * (the group's sum of (q[k] - zero) * a[k])")
        group_last = ("ends the scale group: acc += scale * (the group's sum of "
                      "(q[k] - zero) * a[k]), and that sum restarts")
    else:
        scale = ("scale of this beat's weights (unsigned fixed point), applied on every beat; "
                 "constant over a group it gives the per-group result")
        group_last = ("ends the scale group (no effect with dequant_first: every beat is "
                      "scaled on its own)")
    frac = scale_format.frac_bits
    return Ports([
        Stream("i", "in", [
            Field("a", act_format, "activation of lane {k}", lanes=lanes),
            Field("q", code, "unsigned weight code of lane {k}: the weight is "
                             "scale * (q[{k}] - zero)", lanes=lanes),
            Field("zero", code, "zero point of this beat's weight codes, subtracted from each "
                                "q[k]"),
            Field("scale", scale_format, scale),
            flag("group_last", group_last),
            LAST_ENDS_GROUP]),
        Stream("o", "out", [
            Field("acc", acc_format(acc_width, frac_bits=frac, fixed=True),
                  group_sum("scale * (q[k] - zero) * a[k]", acc_width,
                            f", exact; raw fixed point with the scale's {frac} fraction bits"),
                  role="result")]),
    ])


def _adder_tree(m: Module, values, name: str):
    """Balanced tree of two-input adders, each result a kept signal.

    ``keep`` stops Yosys from merging the whole tree into one ``$macc`` cell, which it would map
    to a LUT-based carry-save compressor tree; kept two-input adders map to carry-chain adders,
    which on FPGAs take about one LUT per bit instead of two per full adder.
    """
    values = list(values)
    level = 0
    while len(values) > 1:
        summed = []
        for i in range(0, len(values), 2):
            if i + 1 == len(values):
                summed.append(values[i])
                continue
            total = values[i] + values[i + 1]
            node = Signal(total.shape(), name=f"{name}_l{level}_{i // 2}", attrs={"keep": 1})
            m.d.comb += node.eq(total)
            summed.append(node)
        values = summed
        level += 1
    return values[0]


def _shift_add_multiply(m: Module, code, value, name: str):
    """``code * value`` for an unsigned ``code`` as a sum of shifted copies of ``value``.

    Each set bit j of the code adds ``value << j``; with few code bits this is a handful of adders
    instead of a multiplier array (MixPE's shift-and-add product).
    """
    return _adder_tree(m, [Mux(code[j], value, 0) << j for j in range(len(code))], name)


def _operand_ports(weight_bits: int, act_format: IntFormat, lanes: int) -> dict:
    """The operand ports both product units take: activations, weight codes, zero point."""
    return {
        "a": In(data.ArrayLayout(shape_of(act_format), lanes)),
        "q": In(data.ArrayLayout(unsigned(weight_bits), lanes)),
        "zero": In(unsigned(weight_bits)),
    }


class ShiftAddProducts(wiring.Component):
    """MixPE product unit: the integer beat sum ``sum_k (q[k] - zero) * a[k]``, no multipliers.

    Computed as ``sum_k q[k] * a[k] - zero * sum_k a[k]`` with every product built from shifts and
    adds of the activation (the weight and zero codes have only ``weight_bits`` bits). Purely
    combinational.

    Parameters
    ----------
    weight_bits : int
        Width of the unsigned codes ``q`` and ``zero``.
    act_format : IntFormat
        Activation format.
    lanes : int
        K.

    Members
    -------
    a, q : In(array of K), zero : In(weight_bits)
    dot : Out(signed), exact integer beat sum.
    """

    def __init__(self, *, weight_bits: int, act_format: IntFormat, lanes: int):
        self.weight_bits = weight_bits
        self.act_format = act_format
        self.lanes = lanes
        super().__init__({
            **_operand_ports(weight_bits, act_format, lanes),
            "dot": Out(signed(group_sum_width(weight_bits, act_format, lanes, 1))),
        })

    def elaborate(self, platform):
        m = Module()
        weighted = [_shift_add_multiply(m, self.q[k], self.a[k], f"qa{k}") for k in range(self.lanes)]
        act_sum = _adder_tree(m, [self.a[k] for k in range(self.lanes)], "act_sum")
        zero_term = _shift_add_multiply(m, self.zero, act_sum, "zero_term")
        # The exact difference fits ``dot`` (its width comes from the (q - zero) * a range), so the
        # truncation in this assignment never changes the value.
        m.d.comb += self.dot.eq(_adder_tree(m, weighted, "weighted_sum") - zero_term)
        return m


class DequantFirstProducts(wiring.Component):
    """Baseline product unit: ``sum_k (scale * (q[k] - zero)) * a[k]`` with multipliers.

    Each weight is dequantized to the fixed-point value ``scale * (q[k] - zero)`` (a multiplier per
    lane), then multiplied by its activation (a second multiplier per lane). The result is raw fixed
    point with the scale's fraction bits. Purely combinational.

    Parameters
    ----------
    weight_bits : int
    act_format : IntFormat
    lanes : int
    scale_format : FixedFormat
        Unsigned fixed-point scale.
    """

    def __init__(self, *, weight_bits: int, act_format: IntFormat, lanes: int,
                 scale_format: FixedFormat):
        self.weight_bits = weight_bits
        self.act_format = act_format
        self.lanes = lanes
        self.scale_format = scale_format
        super().__init__({
            **_operand_ports(weight_bits, act_format, lanes),
            "scale": In(unsigned(scale_format.width)),
            "dot": Out(signed(min_signed_width(*scaled_beat_range(weight_bits, act_format, lanes,
                                                                  scale_format)))),
        })

    def elaborate(self, platform):
        m = Module()
        terms = []
        for k in range(self.lanes):
            weight = Signal(signed(self.scale_format.width + self.weight_bits + 1), name=f"w{k}")
            m.d.comb += weight.eq(self.scale * (self.q[k] - self.zero))
            terms.append(weight * self.a[k])
        m.d.comb += self.dot.eq(_adder_tree(m, terms, "term_sum"))
        return m


class MixedIntPECore(EnabledCore):
    """Mixed-precision dot-product accumulator datapath, clock-enabled, without handshake.

    A beat (``valid`` and ``en`` high) carries ``a[0..K-1]``, ``q[0..K-1]``, ``zero``, ``scale``,
    ``group_last`` and ``last``. Result, exactly as raw fixed point with the scale's fraction bits::

        P   += sum_k (q[k] - zero) * a[k]          (each beat with its own zero)
        on group end:  acc += scale * P; P = 0    (scale of the group's final beat)
        on last:       result = acc; acc = 0

    A group ends on ``group_last`` or ``last`` (``last`` implies the end of the group).

    ``multiplier="shift_add"`` keeps the integer group sum ``P`` (width :attr:`group_width`) and
    multiplies by the scale once per group. ``multiplier="dequant_first"`` adds every beat's
    dequantized products straight to ``acc`` with that beat's scale; both agree whenever the scale is
    constant over each group (a per-group scale, as the format intends).

    ``acc`` and ``result`` wrap modulo ``2**acc_width``. ``P`` is ``min(acc_width, group sum width
    for 2**16 beats)`` bits: modulo ``2**acc_width`` the scaled sum only depends on ``P`` modulo
    ``2**acc_width``, and a narrower ``P`` cannot overflow in groups of up to 2**16 beats.

    Parameters
    ----------
    weight_bits, act_format, lanes, scale_format :
        As for :class:`DequantFirstProducts`.
    multiplier : {"shift_add", "dequant_first"}
    acc_width : int

    Interface: :func:`mixed_int_pe_ports` (``ports``), with ``result`` the field ``acc``.

    Latency: a beat with ``last`` in (enabled) cycle t gives ``result_valid`` in cycle t + 1;
    ``result_valid`` is high for exactly one enabled cycle per result; one beat per cycle.
    """

    #: A group sum register that cannot overflow in groups of this many beats.
    GROUP_BEATS = ACC_BEATS

    def __init__(self, *, weight_bits: int, act_format: IntFormat, lanes: int,
                 scale_format: FixedFormat, multiplier: str, acc_width: int):
        require_choice("multiplier", multiplier, MULTIPLIERS)
        self.weight_bits, self.act_format, self.lanes = weight_bits, act_format, lanes
        self.scale_format, self.multiplier, self.acc_width = scale_format, multiplier, acc_width
        self.group_width = min(acc_width,
                               group_sum_width(weight_bits, act_format, lanes, self.GROUP_BEATS))
        ports = mixed_int_pe_ports(weight_bits, act_format, lanes, scale_format, multiplier,
                                   acc_width)
        super().__init__(ports, latency=1)

    def product_unit(self) -> wiring.Component:
        """A fresh product unit of this core's configuration (also used by the area report)."""
        common = dict(weight_bits=self.weight_bits, act_format=self.act_format, lanes=self.lanes)
        if self.multiplier == "shift_add":
            return ShiftAddProducts(**common)
        return DequantFirstProducts(**common, scale_format=self.scale_format)

    def elaborate(self, platform):
        m = Module()
        m.submodules.products = products = self.product_unit()
        m.d.comb += [products.a.eq(self.a), products.q.eq(self.q), products.zero.eq(self.zero)]

        acc = Signal(signed(self.acc_width), name="acc")
        acc_next = Signal(signed(self.acc_width), name="acc_next")
        if self.multiplier == "shift_add":
            group_sum = Signal(signed(self.group_width), name="group_sum")
            group_total = Signal(signed(self.group_width), name="group_total")
            group_end = self.group_last | self.last
            # The once-per-group dequantization is also shifts and adds: one kept adder per scale
            # bit maps to carry chains, about a third of the LUTs of Yosys's generic multiplier.
            scaled_group = _shift_add_multiply(m, self.scale, group_total, "scaled_group")
            # Truncation to group_width / acc_width is the documented wrap (see class docstring).
            m.d.comb += [
                group_total.eq(group_sum + products.dot),
                acc_next.eq(Mux(group_end, acc + scaled_group, acc)),
            ]
            with m.If(self.en & self.valid):
                m.d.sync += group_sum.eq(Mux(group_end, 0, group_total))
        else:
            m.d.comb += [
                products.scale.eq(self.scale),
                acc_next.eq(acc + products.dot),
            ]

        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid & self.last)
            with m.If(self.valid):
                with m.If(self.last):
                    m.d.sync += [self.result.eq(acc_next), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(acc_next)
        return m


class MixedIntPE(StreamPE):
    """Stream wrapper of :class:`MixedIntPECore` (interface: :func:`mixed_int_pe_ports`).

    Input stream ``i``: payload ``a[0..K-1]``, ``q[0..K-1]``, ``zero``, ``scale``, ``group_last``,
    ``last``. Output stream ``o``: payload ``acc`` (signed fixed point, ``acc_width`` bits, the
    scale's fraction bits), one beat per input beat with ``last``. It takes one beat per cycle
    while ``o.ready`` is high and never drops or repeats a beat.

    Parameters are those of :class:`MixedIntPECore`.

    Latency: 1 cycle from accepting a ``last`` beat to ``o.valid``. Initiation interval: 1.
    """

    def __init__(self, **params):
        super().__init__(MixedIntPECore(**params))
