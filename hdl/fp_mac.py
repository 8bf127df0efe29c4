"""Low-precision floating-point multiply-accumulate: K products per beat, binary32 result.

Pieces, each usable alone:

* :class:`OperandSpec` / :func:`operand_spec` -- how a code of a format becomes
  ``(-1)**sign * significand * 2**(shift + lsb_exp)`` plus NaN/Inf/zero flags (minifloats from
  their :class:`hdl.formats.MiniFloatFormat` parameters; MX INT8 as fixed point ``q2.6``);
* :class:`FloatProduct` -- the product unit of one lane: exact, or L-Mul (Luo & Sun, "Addition is
  All You Need for Energy-efficient Language Models", 2024) for two normal operands, with exact
  products of subnormal operands or (``lmul_ftz``) subnormal operands flushed to zero;
* :class:`FpMacCore` -- K product units, an exact per-beat sum, and either an exact fixed-point
  accumulator rounded once to binary32 on ``last`` (combinationally, or over several cycles by a
  sequential rounder) or a binary32 accumulator with one roundTiesToEven addition per beat;
  clock enable, no handshake;
* :func:`fp_mac_ports` -- the PE's interface, declared once (:mod:`hdl.ports`);
* :class:`FpMac` -- the ``lib.stream`` wrapper (:class:`hdl.streaming.StreamPE`).
"""

from __future__ import annotations

from dataclasses import dataclass

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .checks import require_choice
from .formats import FixedFormat, Format, MiniFloatFormat
from .fp_round import (FP32_NEG_ZERO, SequentialFixedToFloat32, fp32_accumulate, fp32_result,
                       fp32_select)
from .numbers import ACC_BEATS
from .ports import LAST, Field, Ports, Stream
from .streaming import EnabledCore, StreamPE

__all__ = ["OperandSpec", "operand_spec", "lmul_offset_bits", "FloatProduct", "product_frame",
           "lane_sum", "FpMacCore", "FpMac", "fp_mac_ports", "exact_acc_width", "ACCUMULATORS",
           "MULTIPLIERS", "ROUNDERS", "SEQUENTIAL_STEP"]

#: How the products are accumulated over beats (see :class:`FpMacCore`).
ACCUMULATORS = ("exact", "fp32")
#: Product units the PE offers (see :class:`FloatProduct`).
MULTIPLIERS = ("exact", "lmul", "lmul_ftz")
#: How the exact accumulator's sum becomes binary32 (see :class:`FpMacCore`).
ROUNDERS = ("combinational", "sequential")
#: Coarse shift of the sequential rounder (:class:`hdl.fp_round.SequentialFixedToFloat32`).
SEQUENTIAL_STEP = 4


@dataclass(frozen=True)
class OperandSpec:
    """Hardware view of an operand format.

    A code is worth ``(-1)**sign * sig * 2**(shift + lsb_exp)`` with ``sig < 2**sig_width`` and
    ``0 <= shift <= shift_max``.
    """

    fmt: Format
    sig_width: int
    shift_max: int
    lsb_exp: int

    @property
    def is_float(self) -> bool:
        return isinstance(self.fmt, MiniFloatFormat)


def operand_spec(fmt: Format) -> OperandSpec:
    """:class:`OperandSpec` of a signed minifloat or of a signed fixed-point format."""
    if isinstance(fmt, MiniFloatFormat) and fmt.signed:
        E, M = fmt.exp_bits, fmt.man_bits
        top_field = (1 << E) - 1 - (1 if fmt.flavour == "ieee" else 0)  # largest finite field
        # A normal code is (2**M + m) * 2**(e - bias - M)
        #   = (2**M + m) * 2**(e - 1) * 2**(1 - bias - M);
        # a subnormal one has e = 0 and the weight of e = 1.
        return OperandSpec(fmt, M + 1, top_field - 1, 1 - fmt.bias - M)
    if isinstance(fmt, FixedFormat) and fmt.signed:
        return OperandSpec(fmt, fmt.width, 0, -fmt.frac_bits)
    raise ValueError(f"unsupported operand format {fmt.name}")


def lmul_offset_bits(man_bits: int) -> int:
    """l(m) of L-Mul: the offset term is 2**-l(m) (paper, eq. for the mantissa correction)."""
    if man_bits <= 3:
        return man_bits
    return 3 if man_bits == 4 else 4


def _unpack(m: Module, code, spec: OperandSpec, prefix: str) -> dict:
    """Sign, significand, shift and class flags of one operand code."""
    fmt = spec.fmt
    out = {}
    if isinstance(fmt, FixedFormat):
        value = code.as_signed()
        out["sign"] = code[-1]
        sig = Signal(spec.sig_width, name=f"{prefix}_sig")
        m.d.comb += sig.eq(Mux(out["sign"], -value, value))
        out.update(sig=sig, shift=Const(0, 1), zero=~code.any(), normal=Const(0, 1),
                   nan=Const(0, 1), inf=Const(0, 1), man=None, exp=None)
        return out
    E, M = fmt.exp_bits, fmt.man_bits
    man, exp, sign = code[:M], code[M:M + E], code[M + E]
    ones = (1 << E) - 1
    if fmt.flavour == "ieee":
        nan = (exp == ones) & man.any()
        inf = (exp == ones) & ~man.any()
    elif fmt.flavour == "fn":
        nan = (exp == ones) & (man == (1 << M) - 1)
        inf = Const(0, 1)
    else:
        nan = inf = Const(0, 1)
    special = Signal(name=f"{prefix}_special")
    m.d.comb += special.eq(nan | inf)
    sig = Signal(spec.sig_width, name=f"{prefix}_sig")
    shift = Signal(range(spec.shift_max + 1), name=f"{prefix}_shift")
    # Inf/NaN codes contribute no magnitude (their flags decide the result).
    m.d.comb += [
        sig.eq(Mux(special, 0, Cat(man, exp.any()))),
        shift.eq(Mux(special | ~exp.any(), 0, exp - 1)),
    ]
    out.update(sign=sign, sig=sig, shift=shift, zero=~exp.any() & ~man.any(),
               normal=exp.any() & ~special, nan=nan, inf=inf, man=man, exp=exp)
    return out


class FloatProduct(wiring.Component):
    """Product unit: ``a * b`` as sign, significand and shift, with class flags.

    The product is ``(-1)**sign * sig * 2**(shift + a.lsb_exp + b.lsb_exp)``.

    Parameters
    ----------
    a_spec, b_spec : OperandSpec
    multiplier : {"exact", "lmul", "lmul_ftz", "lmul_normals_only"}
        ``lmul``: when both operands are normal, ``sig`` is the L-Mul value
        ``(1 + x_m + y_m + 2**-l(M)) * 2**(x_e + y_e)`` with ``M`` the larger mantissa width
        (exact in this frame); products with a zero, subnormal, NaN or Inf operand are exact.
        ``lmul_ftz``: L-Mul with subnormal operands flushed to zero (they count as zeros of
        their own sign everywhere: the product is a signed zero, and Inf x subnormal is NaN), so
        that only the L-Mul adder computes magnitudes and no exact multiplier is built.
        ``lmul_normals_only`` (area studies only, not offered by the generator): the L-Mul
        adder without the exact multiplier, i.e. subnormal operands are treated as normal.

    Members
    -------
    a, b : In
        Operand codes.
    sign, sig, shift : Out
    nan : Out(1)
        A NaN operand or Inf x 0.
    inf : Out(1)
        An infinite product (not NaN).
    zero : Out(1)
        A zero product (its sign is ``sign``).

    Combinational.
    """

    def __init__(self, *, a_spec: OperandSpec, b_spec: OperandSpec, multiplier: str = "exact"):
        if multiplier not in MULTIPLIERS + ("lmul_normals_only",):
            raise ValueError(f"multiplier must be one of {MULTIPLIERS + ('lmul_normals_only',)}")
        if multiplier != "exact" and not (a_spec.is_float and b_spec.is_float):
            raise ValueError("lmul needs minifloat operands")
        self.a_spec, self.b_spec, self.multiplier = a_spec, b_spec, multiplier
        super().__init__({
            "a": In(a_spec.fmt.width), "b": In(b_spec.fmt.width),
            "sign": Out(1), "sig": Out(a_spec.sig_width + b_spec.sig_width),
            "shift": Out(range(a_spec.shift_max + b_spec.shift_max + 1)),
            "nan": Out(1), "inf": Out(1), "zero": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        a = _unpack(m, self.a, self.a_spec, "a")
        b = _unpack(m, self.b, self.b_spec, "b")
        if self.multiplier == "lmul_ftz":
            # Flush to zero: exponent field 0 (zero or subnormal) is a zero of its sign.
            a["zero"], b["zero"] = ~a["exp"].any(), ~b["exp"].any()
        m.d.comb += [
            self.sign.eq(a["sign"] ^ b["sign"]),
            self.shift.eq(a["shift"] + b["shift"]),
            self.nan.eq(a["nan"] | b["nan"] | (a["inf"] & b["zero"]) | (a["zero"] & b["inf"])),
            self.inf.eq((a["inf"] | b["inf"]) & ~a["nan"] & ~b["nan"] & ~a["zero"] & ~b["zero"]),
            self.zero.eq(a["zero"] | b["zero"]),
        ]
        if self.multiplier == "exact":
            m.d.comb += self.sig.eq(a["sig"] * b["sig"])
            return m
        Ma, Mb = self.a_spec.fmt.man_bits, self.b_spec.fmt.man_bits
        l = lmul_offset_bits(max(Ma, Mb))
        # (1 + ma/2**Ma + mb/2**Mb + 2**-l) in units of 2**-(Ma + Mb), the exact product's LSB.
        approx = (Const(1 << (Ma + Mb), Ma + Mb + 2) + (a["man"] << Mb) + (b["man"] << Ma)
                  + (1 << (Ma + Mb - l)))
        if self.multiplier in ("lmul_ftz", "lmul_normals_only"):
            # NaN/Inf operands leave a meaningless magnitude: their flags decide the result.
            m.d.comb += self.sig.eq(Mux(a["zero"] | b["zero"], 0, approx))
        else:
            m.d.comb += self.sig.eq(Mux(a["normal"] & b["normal"], approx, a["sig"] * b["sig"]))
        return m


def product_frame(a_spec: OperandSpec, b_spec: OperandSpec) -> tuple[int, int]:
    """``(lsb_exp, magnitude_width)`` of one product as a fixed-point integer."""
    width = a_spec.sig_width + b_spec.sig_width + a_spec.shift_max + b_spec.shift_max
    return a_spec.lsb_exp + b_spec.lsb_exp, width


def lane_sum(m: Module, products, prefix: str = "dot", *, carries: list | None = None):
    """Exact sum of :class:`FloatProduct` outputs as a two's complement integer, plus the
    beat's flags ``(sum, nan, pos_inf, neg_inf, all_neg_zero)``.

    ``carries``: when a list is given, negative terms are only inverted (``-x = ~x + 1``) and
    their ``+ 1`` corrections (the product signs) are appended to it: the caller adds them where
    they cost no adder of their own, as the carry input of its accumulator addition."""
    terms = []
    for k, p in enumerate(products):
        magnitude = p.sig << p.shift
        term = Signal(signed(len(magnitude) + 1), name=f"{prefix}_term{k}")
        if carries is None:
            m.d.comb += term.eq(Mux(p.sign, -magnitude, magnitude))
        else:
            m.d.comb += term.eq(magnitude ^ p.sign.replicate(len(term)))
            carries.append(p.sign)
        terms.append(term)
    while len(terms) > 1:
        terms = [terms[i] + terms[i + 1] if i + 1 < len(terms) else terms[i]
                 for i in range(0, len(terms), 2)]
    total = Signal(signed(len(terms[0])), name=prefix)
    m.d.comb += total.eq(terms[0])
    pos_inf = Cat(*(p.inf & ~p.sign for p in products)).any()
    neg_inf = Cat(*(p.inf & p.sign for p in products)).any()
    nan = Cat(*(p.nan for p in products)).any() | (pos_inf & neg_inf)
    neg_zero = Cat(*(p.zero & p.sign for p in products)).all()
    return total, nan, pos_inf, neg_inf, neg_zero


def exact_acc_width(a_fmt: Format, b_fmt: Format, lanes: int, beats: int = ACC_BEATS) -> int:
    """Width of the exact accumulator: ``beats * lanes`` largest products plus a sign bit (it
    never overflows within :data:`hdl.numbers.ACC_BEATS` beats)."""
    _, width = product_frame(operand_spec(a_fmt), operand_spec(b_fmt))
    return width + (lanes * beats - 1).bit_length() + 1


def fp_mac_ports(a_format: Format, b_format: Format, lanes: int, accumulator: str = "exact",
                 multiplier: str = "exact") -> Ports:
    """The interface of :class:`FpMac` (and of its core)."""
    product = {"exact": "exact product", "lmul": "L-Mul product",
               "lmul_ftz": "L-Mul product, subnormal operands as zeros"}[multiplier]
    if accumulator == "exact":
        y = ("binary32 code of the accumulation group's sum of all its products, held exactly "
             "and rounded once (round to nearest, ties to even)")
    else:
        y = ("binary32 code of the accumulation group's sum: each beat's exact product sum "
             "added to a binary32 accumulator with one round-to-nearest-even addition")
    return Ports([
        Stream("i", "in", [
            Field("a", a_format, f"operand a of lane {{k}} ({a_format.name} code): the beat adds "
                                 f"a[{{k}}] * b[{{k}}] ({product}) to the sum",
                  lanes=lanes),
            Field("b", b_format, f"operand b of lane {{k}} ({b_format.name} code), multiplied by "
                                 f"a[{{k}}]", lanes=lanes),
            LAST]),
        Stream("o", "out", [
            Field("y", "fp32", y + "; NaN operands or Inf x 0 give NaN 0x7FC00000",
                  role="result")]),
    ])


class FpMacCore(EnabledCore):
    """Floating-point dot-product accumulator datapath, clock-enabled, without handshake.

    Each enabled cycle with ``valid`` takes one beat ``a[0..K-1]``, ``b[0..K-1]``, ``last``.
    The K products (exact or L-Mul) are summed exactly. With ``accumulator="exact"`` the beat
    sums are held exactly in a fixed-point register of :func:`exact_acc_width` bits; a beat with
    ``last`` loads that sum, rounded once to binary32 (roundTiesToEven), into ``result``. With
    ``accumulator="fp32"`` every beat's exact sum is added to a binary32 accumulator with one
    rounding; ``last`` loads the new accumulator into ``result``. Either way the accumulator then
    restarts (from -0, the identity of IEEE addition, so that an all -0 sum stays -0).

    Special values: a NaN operand, Inf x 0 or Infs of both signs give the canonical NaN
    0x7FC00000; otherwise an infinite product gives that Inf; an exact zero is +0 unless every
    term was -0.

    With ``rounder="sequential"`` (exact accumulator only) a ``last`` beat hands the group's
    exact sum and flags to a :class:`hdl.fp_round.SequentialFixedToFloat32` (coarse step
    :data:`SEQUENTIAL_STEP`), which normalizes it over several cycles while the accumulator
    already takes the next group; same results. A ``last`` beat that arrives while the rounder is
    still busy waits (``done`` low) until the rounder's final cycle; other beats never wait.

    Parameters
    ----------
    a_format, b_format : MiniFloatFormat
    lanes : int
    accumulator : {"exact", "fp32"}
    multiplier : {"exact", "lmul", "lmul_ftz"}
    rounder : {"combinational", "sequential"}

    Interface: :func:`fp_mac_ports` (``ports``), with ``result`` the field ``y``; the sequential
    rounder adds ``done`` (the beat is consumed in an enabled cycle where it is high).

    Latency: combinational rounder: ``result_valid`` one enabled cycle after the ``last`` beat,
    one beat per cycle. Sequential: ``result_valid`` ``1 + c`` enabled cycles after the ``last``
    beat, ``c`` = :func:`hdl.fp_round.sequential_rounder_cycles` of the group's exact sum
    (data-dependent: 1 to N/4 + 3 with N the rounder register width, the accumulator width - 1
    rounded up to a multiple of 4; latency 2 to 17 for fp8_e4m3 at K = 1); a ``last`` beat is
    accepted no earlier than ``c`` enabled cycles after the previous ``last`` beat, every other
    beat without waiting. The manifest says null for latency and initiation interval.
    """

    def __init__(self, *, a_format: Format, b_format: Format, lanes: int,
                 accumulator: str = "exact", multiplier: str = "exact",
                 rounder: str = "combinational"):
        require_choice("accumulator", accumulator, ACCUMULATORS)
        require_choice("rounder", rounder, ROUNDERS)
        if rounder == "sequential" and accumulator != "exact":
            raise ValueError("the sequential rounder needs the exact accumulator")
        self.a_spec, self.b_spec = operand_spec(a_format), operand_spec(b_format)
        self.lanes, self.accumulator, self.multiplier = lanes, accumulator, multiplier
        self.rounder = rounder
        ports = fp_mac_ports(a_format, b_format, lanes, accumulator, multiplier)
        if rounder == "sequential":
            super().__init__(ports, latency=None, initiation_interval=None, multi_cycle=True)
        else:
            super().__init__(ports, latency=1)

    def elaborate(self, platform):
        m = Module()
        products = []
        for k in range(self.lanes):
            p = FloatProduct(a_spec=self.a_spec, b_spec=self.b_spec, multiplier=self.multiplier)
            m.submodules[f"product{k}"] = p
            m.d.comb += [p.a.eq(self.a[k]), p.b.eq(self.b[k])]
            products.append(p)
        lsb_exp, _ = product_frame(self.a_spec, self.b_spec)
        if self.rounder == "sequential":
            self._sequential(m, products, lsb_exp)
            return m
        dot, nan, pos_inf, neg_inf, neg_zero = lane_sum(m, products)

        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid & self.last)

        if self.accumulator == "fp32":
            acc = Signal(32, init=FP32_NEG_ZERO)
            new = fp32_accumulate(m, acc, dot, addend_lsb_exp=lsb_exp, nan=nan, pos_inf=pos_inf,
                                  neg_inf=neg_inf, neg_zero=neg_zero)
            with m.If(self.en & self.valid):
                with m.If(self.last):
                    m.d.sync += [self.result.eq(new), acc.eq(FP32_NEG_ZERO)]
                with m.Else():
                    m.d.sync += acc.eq(new)
            return m

        total, flags, restart, keep = self._exact_sum(m, dot, nan, pos_inf, neg_inf, neg_zero)
        t_nan, t_pinf, t_ninf, t_neg_zero = flags
        y = fp32_result(m, total, lsb_exp=lsb_exp, nan=t_nan, pos_inf=t_pinf, neg_inf=t_ninf,
                        neg_zero=t_neg_zero, name="y")
        with m.If(self.en & self.valid):
            with m.If(self.last):
                m.d.sync += [self.result.eq(y)] + restart
            with m.Else():
                m.d.sync += keep
        return m

    def _exact_sum(self, m, dot, nan, pos_inf, neg_inf, neg_zero, carries=()):
        """The exact accumulator: ``(total, (nan, pos_inf, neg_inf, neg_zero) of the group so
        far, statements that restart it, statements that keep total)``; ``carries`` are added
        to the sum (see :func:`lane_sum`)."""
        width = exact_acc_width(self.a_spec.fmt, self.b_spec.fmt, self.lanes)
        acc = Signal(signed(width))
        acc_nan, acc_pinf, acc_ninf = Signal(), Signal(), Signal()
        acc_neg_zero = Signal(init=1)
        total = Signal(signed(width))
        t_nan, t_pinf, t_ninf, t_neg_zero = Signal(), Signal(), Signal(), Signal()
        m.d.comb += [
            total.eq(acc + dot + sum(carries) if carries else acc + dot),
            t_pinf.eq(acc_pinf | pos_inf), t_ninf.eq(acc_ninf | neg_inf),
            t_nan.eq(acc_nan | nan | (t_pinf & t_ninf)),
            t_neg_zero.eq(acc_neg_zero & neg_zero),
        ]
        restart = [acc.eq(0), acc_nan.eq(0), acc_pinf.eq(0), acc_ninf.eq(0), acc_neg_zero.eq(1)]
        keep = [acc.eq(total), acc_nan.eq(t_nan), acc_pinf.eq(t_pinf), acc_ninf.eq(t_ninf),
                acc_neg_zero.eq(t_neg_zero)]
        return total, (t_nan, t_pinf, t_ninf, t_neg_zero), restart, keep

    def _sequential(self, m, products, lsb_exp):
        """Exact accumulator, rounded by the sequential rounder (see the class docstring)."""
        carries = []
        dot, nan, pos_inf, neg_inf, neg_zero = lane_sum(m, products, carries=carries)
        total, flags, restart, keep = self._exact_sum(m, dot, nan, pos_inf, neg_inf, neg_zero,
                                                      carries)
        rounder = SequentialFixedToFloat32(width=len(total), lsb_exp=lsb_exp,
                                           step=SEQUENTIAL_STEP)
        m.submodules.rounder = rounder
        # The flags of the group being rounded.
        group_flags = [Signal(name=f"group_{n}") for n in ("nan", "pinf", "ninf", "neg_zero")]
        r_nan, r_pinf, r_ninf, r_neg_zero = group_flags
        take = Signal()
        m.d.comb += [
            # Only a group's final beat needs the rounder; it waits for the rounder's last cycle.
            self.done.eq(~self.last | rounder.ready),
            take.eq(self.en & self.valid & self.done),
            rounder.en.eq(self.en),
            rounder.start.eq(take & self.last),
            rounder.value.eq(total),
        ]
        with m.If(take):
            with m.If(self.last):
                m.d.sync += restart + [r.eq(t) for r, t in zip(group_flags, flags)]
            with m.Else():
                m.d.sync += keep
        y = fp32_select(m, rounder.code, zero=rounder.zero, nan=r_nan, pos_inf=r_pinf,
                        neg_inf=r_ninf, neg_zero=r_neg_zero, name="y")
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(rounder.done)
            with m.If(rounder.done):
                m.d.sync += self.result.eq(y)


class FpMac(StreamPE):
    """Stream wrapper of :class:`FpMacCore` (interface: :func:`fp_mac_ports`).

    Input stream ``i``: payload ``a[0..K-1]``, ``b[0..K-1]`` (codes), ``last``. Output stream
    ``o``: payload ``y`` (binary32 code), one beat per input beat with ``last``. It takes one
    beat per cycle while ``o.ready`` is high and never drops or repeats a beat.

    Parameters are those of :class:`FpMacCore`.

    Latency: 1 cycle from accepting a ``last`` beat to ``o.valid``, initiation interval 1; with
    the sequential rounder both are data-dependent (see :class:`FpMacCore`; the manifest says
    null).
    """

    def __init__(self, **params):
        super().__init__(FpMacCore(**params))
