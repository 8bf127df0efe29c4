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

:class:`ShiftAddProducts` and :class:`DequantFirstProducts` are the per-beat product units
(combinational logic, optionally with pipeline registers inside) so that they can be synthesized
alone; :class:`MixedIntPECore` is the clock-enabled datapath around either, with up to
:data:`MAX_PIPELINE_STAGES` pipeline registers for timing closure; :class:`MixedIntPE` its stream
wrapper (:class:`hdl.streaming.StreamPE`);
:func:`mixed_int_pe_ports` declares their interface once. The PE's number rules (value ranges, group
sum width) are here too: :func:`lane_product_range`, :func:`scaled_beat_range`,
:func:`group_sum_width`.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, Value, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

from .checks import require_choice
from .formats import FixedFormat, IntFormat
from .numbers import ACC_BEATS, acc_format, min_signed_width, sum_width
from .ports import LAST_ENDS_GROUP, Field, Ports, Stream, flag, group_sum, shape_of
from .streaming import EnabledCore, StreamPE

__all__ = [
    "MULTIPLIERS", "MAX_PIPELINE_STAGES", "ShiftAddProducts", "DequantFirstProducts",
    "MixedIntPECore", "MixedIntPE",
    "mixed_int_pe_ports", "lane_product_range", "scaled_beat_range", "group_sum_width",
]

MULTIPLIERS = ("shift_add", "dequant_first")
#: Most pipeline registers :class:`MixedIntPECore` can insert (see its ``pipeline_stages``).
MAX_PIPELINE_STAGES = 3


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


def _register(m: Module, en, values, name: str, *, reset_less: bool = True) -> list:
    """Each of ``values`` through a register loaded when ``en`` is high (``<name>_<i>``).

    Data registers need no reset (``reset_less``): the valid bit beside them says what they
    mean; the control bits themselves take ``reset_less=False``.
    """
    regs = []
    for i, value in enumerate(values):
        reg = Signal(Value.cast(value).shape(), name=f"{name}_{i}", reset_less=reset_less)
        with m.If(en):
            m.d.sync += reg.eq(value)
        regs.append(reg)
    return regs


def _adder_tree(m: Module, values, name: str, cut=None):
    """Balanced tree of two-input adders, each result a kept signal.

    ``keep`` stops Yosys from merging the whole tree into one ``$macc`` cell, which it would map
    to a LUT-based carry-save compressor tree; kept two-input adders map to carry-chain adders,
    which on FPGAs take about one LUT per bit instead of two per full adder.

    ``cut = (level, register)`` puts a pipeline register after ``level`` adder levels
    (``level`` 0: before the first), ``register(values, name)`` returning the registered values;
    with fewer levels the tree's result is registered.
    """
    values = list(values)
    level = 0
    if cut is not None and cut[0] == 0:
        values, cut = cut[1](values, f"{name}_cut"), None
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
        if cut is not None and cut[0] == level:
            values, cut = cut[1](values, f"{name}_cut"), None
    if cut is not None:
        values = cut[1](values, f"{name}_cut")
    return values[0]


def _shift_add_multiply(m: Module, code, value, name: str, cut=None):
    """``code * value`` for an unsigned ``code`` as a sum of shifted copies of ``value``.

    Each set bit j of the code adds ``value << j``; with few code bits this is a handful of adders
    instead of a multiplier array (MixPE's shift-and-add product). ``cut``: as for
    :func:`_adder_tree`.
    """
    return _adder_tree(m, [Mux(code[j], value, 0) << j for j in range(len(code))], name, cut)


def _tree_levels(count: int) -> int:
    """Adder levels of :func:`_adder_tree` over ``count`` values."""
    return (count - 1).bit_length()


def _operand_ports(weight_bits: int, act_format: IntFormat, lanes: int, stages: int) -> dict:
    """The operand ports both product units take: activations, weight codes, zero point, and
    the clock enable ``en`` of their pipeline registers when they have ``stages`` > 0."""
    return {
        "a": In(data.ArrayLayout(shape_of(act_format), lanes)),
        "q": In(data.ArrayLayout(unsigned(weight_bits), lanes)),
        "zero": In(unsigned(weight_bits)),
        **({"en": In(1)} if stages else {}),
    }


def _check_unit_stages(stages: int, most: int) -> int:
    """``stages`` of a product unit, checked to be 0 to ``most``."""
    if not 0 <= stages <= most:
        raise ValueError(f"stages must be 0 to {most}, not {stages}")
    return stages


class ShiftAddProducts(wiring.Component):
    """MixPE product unit: the integer beat sum ``sum_k (q[k] - zero) * a[k]``, no multipliers.

    Computed as ``sum_k q[k] * a[k] - zero * sum_k a[k]`` with every product built from shifts and
    adds of the activation (the weight and zero codes have only ``weight_bits`` bits).
    Combinational with ``stages`` = 0; with ``stages`` = 1 a register (loaded when ``en`` is high)
    holds the lane products ``q[k] * a[k]``, the activation sum and the zero point, before the
    adder tree and the zero-point product.

    Parameters
    ----------
    weight_bits : int
        Width of the unsigned codes ``q`` and ``zero``.
    act_format : IntFormat
        Activation format.
    lanes : int
        K.
    stages : int
        Pipeline registers inside the unit, 0 or 1 (its latency, :attr:`latency`).

    Members
    -------
    a, q : In(array of K), zero : In(weight_bits), en : In(1) (only with ``stages`` > 0)
    dot : Out(signed), exact integer beat sum, ``stages`` enabled cycles after its operands.
    """

    def __init__(self, *, weight_bits: int, act_format: IntFormat, lanes: int, stages: int = 0):
        self.weight_bits = weight_bits
        self.act_format = act_format
        self.lanes = lanes
        self.latency = _check_unit_stages(stages, 1)
        super().__init__({
            **_operand_ports(weight_bits, act_format, lanes, stages),
            "dot": Out(signed(group_sum_width(weight_bits, act_format, lanes, 1))),
        })

    def elaborate(self, platform):
        m = Module()
        weighted = [_shift_add_multiply(m, self.q[k], self.a[k], f"qa{k}") for k in range(self.lanes)]
        act_sum = _adder_tree(m, [self.a[k] for k in range(self.lanes)], "act_sum")
        zero = self.zero
        if self.latency:
            # The cut sits where both branches have done about half of their adder levels:
            # the lane products and the activation sum on one side, the weighted sum tree,
            # the zero-point product and the difference on the other.
            *weighted, act_sum, zero = _register(m, self.en, [*weighted, act_sum, zero], "lane")
        zero_term = _shift_add_multiply(m, zero, act_sum, "zero_term")
        # The exact difference fits ``dot`` (its width comes from the (q - zero) * a range), so the
        # truncation in this assignment never changes the value.
        m.d.comb += self.dot.eq(_adder_tree(m, weighted, "weighted_sum") - zero_term)
        return m


class DequantFirstProducts(wiring.Component):
    """Baseline product unit: ``sum_k (scale * (q[k] - zero)) * a[k]`` with multipliers.

    Each weight is dequantized to the fixed-point value ``scale * (q[k] - zero)`` (a multiplier per
    lane), then multiplied by its activation (a second multiplier per lane). The result is raw fixed
    point with the scale's fraction bits. Combinational with ``stages`` = 0; pipeline registers
    (loaded when ``en`` is high) after the second multipliers (``stages`` >= 1) and also after
    the first ones (``stages`` = 2).

    Parameters
    ----------
    weight_bits : int
    act_format : IntFormat
    lanes : int
    scale_format : FixedFormat
        Unsigned fixed-point scale.
    stages : int
        Pipeline registers inside the unit, 0 to 2 (its latency, :attr:`latency`).
    """

    def __init__(self, *, weight_bits: int, act_format: IntFormat, lanes: int,
                 scale_format: FixedFormat, stages: int = 0):
        self.weight_bits = weight_bits
        self.act_format = act_format
        self.lanes = lanes
        self.scale_format = scale_format
        self.latency = _check_unit_stages(stages, 2)
        super().__init__({
            **_operand_ports(weight_bits, act_format, lanes, stages),
            "scale": In(unsigned(scale_format.width)),
            "dot": Out(signed(min_signed_width(*scaled_beat_range(weight_bits, act_format, lanes,
                                                                  scale_format)))),
        })

    def elaborate(self, platform):
        m = Module()
        weights = []
        for k in range(self.lanes):
            weight = Signal(signed(self.scale_format.width + self.weight_bits + 1), name=f"w{k}")
            m.d.comb += weight.eq(self.scale * (self.q[k] - self.zero))
            weights.append(weight)
        a = [self.a[k] for k in range(self.lanes)]
        if self.latency >= 2:
            regs = _register(m, self.en, weights + a, "weight")
            weights, a = regs[:self.lanes], regs[self.lanes:]
        terms = [weight * x for weight, x in zip(weights, a)]
        if self.latency >= 1:
            terms = _register(m, self.en, terms, "term")
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
    pipeline_stages : int
        Pipeline registers for timing closure, 0 to :data:`MAX_PIPELINE_STAGES`; the results do
        not change, the latency grows by one cycle per stage. With ``shift_add``: after the
        product unit's beat sum (1), also in the middle of the once-per-group scale product,
        between the group sum and the accumulator (2), also inside the product unit, after the
        lane products (3). With ``dequant_first``: after the product unit (1), also after its
        second multipliers (2), also after its first ones (3). The valid, ``last`` and group-end
        bits (and the scale read at the group end) travel beside the data.

    Interface: :func:`mixed_int_pe_ports` (``ports``), with ``result`` the field ``acc``.

    Latency: a beat with ``last`` in (enabled) cycle t gives ``result_valid`` in cycle
    t + 1 + ``pipeline_stages``; ``result_valid`` is high for exactly one enabled cycle per
    result; one beat per cycle.
    """

    #: A group sum register that cannot overflow in groups of this many beats.
    GROUP_BEATS = ACC_BEATS

    def __init__(self, *, weight_bits: int, act_format: IntFormat, lanes: int,
                 scale_format: FixedFormat, multiplier: str, acc_width: int,
                 pipeline_stages: int = 0):
        require_choice("multiplier", multiplier, MULTIPLIERS)
        if not 0 <= pipeline_stages <= MAX_PIPELINE_STAGES:
            raise ValueError(f"pipeline_stages must be 0 to {MAX_PIPELINE_STAGES}, "
                             f"not {pipeline_stages}")
        self.weight_bits, self.act_format, self.lanes = weight_bits, act_format, lanes
        self.scale_format, self.multiplier, self.acc_width = scale_format, multiplier, acc_width
        self.pipeline_stages = pipeline_stages
        self.group_width = min(acc_width,
                               group_sum_width(weight_bits, act_format, lanes, self.GROUP_BEATS))
        ports = mixed_int_pe_ports(weight_bits, act_format, lanes, scale_format, multiplier,
                                   acc_width)
        super().__init__(ports, latency=1 + pipeline_stages)

    def _unit_stages(self) -> int:
        """How many of the pipeline stages sit inside the product unit."""
        if self.multiplier == "shift_add":
            return max(0, self.pipeline_stages - 2)
        return max(0, self.pipeline_stages - 1)

    def product_unit(self) -> wiring.Component:
        """A fresh product unit of this core's configuration (also used by the area report)."""
        common = dict(weight_bits=self.weight_bits, act_format=self.act_format, lanes=self.lanes,
                      stages=self._unit_stages())
        if self.multiplier == "shift_add":
            return ShiftAddProducts(**common)
        return DequantFirstProducts(**common, scale_format=self.scale_format)

    def elaborate(self, platform):
        m = Module()
        m.submodules.products = products = self.product_unit()
        m.d.comb += [products.a.eq(self.a), products.q.eq(self.q), products.zero.eq(self.zero)]
        if products.latency:
            m.d.comb += products.en.eq(self.en)

        shift_add = self.multiplier == "shift_add"
        # The control bits of a beat (and, with shift_add, the scale read at its group end)
        # travel beside its data through every pipeline register.
        flags = [self.valid, self.last] + ([self.group_last | self.last] if shift_add else [])
        carried = [self.scale] if shift_add else []

        def step(values, name):
            """One pipeline register for ``values`` and the control bits beside them."""
            nonlocal flags, carried
            regs = _register(m, self.en, values + carried, name)
            values, carried = regs[:len(values)], regs[len(values):]
            flags = _register(m, self.en, flags, f"{name}_ctrl", reset_less=False)
            return values

        for n in range(products.latency):
            step([], f"products{n}")
        dot = products.dot
        if self.pipeline_stages >= 1:
            (dot,) = step([dot], "dot")

        acc = Signal(signed(self.acc_width), name="acc")
        acc_next = Signal(signed(self.acc_width), name="acc_next")
        if shift_add:
            # The group sum loop runs with the control bits of its own stage.
            loop_valid, _, loop_group_end = flags
            (scale,) = carried
            carried = []    # the scale is used up before the stage 2 cut
            group_sum = Signal(signed(self.group_width), name="group_sum")
            group_total = Signal(signed(self.group_width), name="group_total")
            # Stage 2 splits the scale product's adder levels in the middle: the group sum loop
            # and the first half on one side, the second half and the accumulator on the other.
            cut = (None if self.pipeline_stages < 2 else
                   ((_tree_levels(len(scale)) + 1) // 2, step))
            # The once-per-group dequantization is also shifts and adds: one kept adder per scale
            # bit maps to carry chains, about a third of the LUTs of Yosys's generic multiplier.
            scaled_group = _shift_add_multiply(m, scale, group_total, "scaled_group", cut)
            group_end = flags[2]
            # Truncation to group_width / acc_width is the documented wrap (see class docstring).
            m.d.comb += [
                group_total.eq(group_sum + dot),
                acc_next.eq(Mux(group_end, acc + scaled_group, acc)),
            ]
            with m.If(self.en & loop_valid):
                m.d.sync += group_sum.eq(Mux(loop_group_end, 0, group_total))
        else:
            m.d.comb += [
                products.scale.eq(self.scale),
                acc_next.eq(acc + dot),
            ]

        valid, last = flags[:2]
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(valid & last)
            with m.If(valid):
                with m.If(last):
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

    Latency: ``1 + pipeline_stages`` cycles from accepting a ``last`` beat to ``o.valid``.
    Initiation interval: 1.
    """

    def __init__(self, **params):
        super().__init__(MixedIntPECore(**params))
