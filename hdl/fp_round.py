"""Binary32 rounding of exact fixed-point sums, and an fp32 accumulation step built on it.

:class:`FixedToFloat32` rounds a two's complement integer ``value * 2**lsb_exp`` (``lsb_exp``
static) to IEEE 754 binary32 with roundTiesToEven: subnormal results are kept, magnitudes at or
above ``2**128`` after rounding give +-Inf, and a nonzero value that rounds to zero keeps its sign.
It is purely combinational.

:func:`fp32_to_fixed` unpacks a finite binary32 code into the same kind of fixed-point integer, so
that "fp32 accumulator + exact addend, rounded once" is an exact integer addition followed by one
:class:`FixedToFloat32`.

References: IEEE Std 754-2019, 4.3.1 (roundTiesToEven), 7.4 (overflow), 6.3 (sign of zero).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["FixedToFloat32", "fp32_to_fixed", "fp32_special", "fp32_accumulate",
           "FP32_INF", "FP32_NAN", "FP32_NEG_ZERO",
           "FP32_MIN_EXP", "FP32_MAX_EXP"]

#: Canonical quiet NaN, +Inf and -0 codes of binary32.
FP32_NAN = 0x7FC00000
FP32_INF = 0x7F800000
FP32_NEG_ZERO = 0x80000000
#: Weight exponent of the smallest binary32 subnormal (2**-149) and the overflow threshold 2**128.
FP32_MIN_EXP = -149
FP32_MAX_EXP = 128
_MAN = 23


class FixedToFloat32(wiring.Component):
    """Round ``value * 2**lsb_exp`` to binary32, round to nearest, ties to even.

    Parameters
    ----------
    width : int
        Width of the two's complement input ``value``.
    lsb_exp : int
        Weight exponent of the input's least significant bit.

    Members
    -------
    value : In(signed(width))
    code : Out(32)
        The binary32 code. Zero input gives +0 (the caller decides the sign of exact zeros);
        a nonzero value that rounds to zero gives a zero of its own sign.

    Combinational (latency 0).
    """

    def __init__(self, *, width: int, lsb_exp: int):
        if width < 2:
            raise ValueError("width must be at least 2")
        self.width = width
        self.lsb_exp = lsb_exp
        super().__init__({"value": In(signed(width)), "code": Out(32)})

    def elaborate(self, platform):
        m = Module()
        W = self.width
        neg = self.value[-1]
        mag = Signal(unsigned(W))
        m.d.comb += mag.eq(Mux(neg, -self.value, self.value))  # |min| fits in W unsigned bits

        # Position of the leading one (0 when mag == 0; then nothing below matters).
        lead = Signal(range(W))
        for i in range(W):
            with m.If(mag[i]):
                m.d.comb += lead.eq(i)

        # The result quantum is 2**q with q = max(exp(lead) - 23, -149); s = q - lsb_exp is the
        # number of input bits below the quantum. Padding 24 zero bits below makes s + 24 >= 1,
        # so the round bit always exists.
        sub_floor = FP32_MIN_EXP - self.lsb_exp          # s for subnormal results (static)
        s_hi = max(W - 1 - _MAN, sub_floor)
        shift = Signal(range(1, s_hi + _MAN + 2))          # s + 24, always >= 1
        shift_m1 = Signal(range(0, s_hi + _MAN + 1))
        normal_shift = Signal(signed(max(W, 40).bit_length() + 2))
        m.d.comb += normal_shift.eq(lead - _MAN)
        m.d.comb += shift.eq(Mux(normal_shift > sub_floor, normal_shift, sub_floor) + _MAN + 1)
        m.d.comb += shift_m1.eq(shift - 1)

        ext = Cat(Const(0, _MAN + 1), mag)                 # mag * 2**24
        top = Signal(len(ext))
        m.d.comb += top.eq(ext >> shift_m1)             # round bit in top[0]
        kept = top[1:]
        round_bit = top[0]
        sticky = Signal()
        # Bits strictly below the round bit: ext[i] for i < shift - 1.
        # (Comparisons that can never hold are left out: Verilator flags constant compares.)
        below = [ext[i] & (shift > i + 1) for i in range(_MAN + 1, min(len(ext), s_hi + _MAN))]
        m.d.comb += sticky.eq(Cat(*below).any() if below else 0)

        rounded = Signal(len(kept) + 1)
        m.d.comb += rounded.eq(kept + (round_bit & (sticky | kept[0])))

        # Code magnitude = (q + 149) * 2**23 + rounded: a carry out of the significand (or out of
        # the subnormal range) moves into the exponent field by itself.
        q_plus = Signal(range(0, max(2, s_hi + self.lsb_exp - FP32_MIN_EXP + 2)))
        m.d.comb += q_plus.eq(shift - _MAN - 1 + self.lsb_exp - FP32_MIN_EXP)
        code_mag = Signal(max(len(rounded), 23 + len(q_plus)) + 1)
        m.d.comb += code_mag.eq((q_plus << _MAN) + rounded)
        mag_out = Signal(31)
        with m.If(~mag.any()):
            m.d.comb += mag_out.eq(0)
        with m.Elif(code_mag >= FP32_INF):
            m.d.comb += mag_out.eq(FP32_INF)
        with m.Else():
            m.d.comb += mag_out.eq(code_mag)
        m.d.comb += self.code.eq(Cat(mag_out, neg))
        return m


def fp32_to_fixed(m: Module, code, *, lsb_exp: int, width: int, name: str = "acc_fixed"):
    """Two's complement ``width``-bit integer equal to a finite binary32 ``code`` / 2**lsb_exp.

    ``lsb_exp`` must be <= -149 (every binary32 value is then an integer multiple of 2**lsb_exp)
    and ``width`` large enough for 2**128. Inf/NaN codes give a meaningless value: callers
    handle them separately.
    """
    assert lsb_exp <= FP32_MIN_EXP
    exp_field = code[23:31]
    significand = Cat(code[:23], exp_field.any())
    # value = significand * 2**(max(exp_field, 1) - 150)
    offset = FP32_MIN_EXP - lsb_exp
    amount = Signal(range(254 + offset + 1), name=f"{name}_shift")
    m.d.comb += amount.eq(Mux(exp_field.any(), exp_field - 1, 0) + offset)
    magnitude = Signal(unsigned(width), name=f"{name}_mag")
    m.d.comb += magnitude.eq(significand << amount)
    value = Signal(signed(width), name=name)
    m.d.comb += value.eq(Mux(code[31], -magnitude, magnitude))
    return value


def fp32_special(code):
    """``(is_nan, is_inf, is_neg_zero)`` of a binary32 code (Amaranth expressions)."""
    exp_ones = code[23:31] == 0xFF
    man_zero = ~code[:23].any()
    return exp_ones & ~man_zero, exp_ones & man_zero, code == FP32_NEG_ZERO


def fp32_accumulate(m: Module, acc_code, addend, *, addend_lsb_exp: int, nan, pos_inf, neg_inf,
                    neg_zero, name: str = "sum"):
    """Next binary32 accumulator: ``acc_code`` plus an exact addend, rounded once.

    ``addend`` is a two's complement integer worth ``addend * 2**addend_lsb_exp``; ``nan``,
    ``pos_inf``, ``neg_inf`` say whether the addend's terms held a NaN (or Infs of both signs),
    a +Inf or a -Inf; ``neg_zero`` whether every term was -0. Returns a 32-bit signal.

    The sum is formed exactly in a fixed-point frame that holds every binary32 value and the
    addend, then rounded by one :class:`FixedToFloat32`: a single roundTiesToEven (IEEE 754
    5.4.1 / 6.3: an exact zero sum is +0 unless both operands are -0).
    """
    frame_lsb = min(FP32_MIN_EXP, addend_lsb_exp)
    addend_msb = addend_lsb_exp + len(addend)       # exclusive, with the sign bit
    width = max(FP32_MAX_EXP + 1, addend_msb) - frame_lsb + 2
    acc_fixed = fp32_to_fixed(m, acc_code, lsb_exp=frame_lsb, width=width, name=f"{name}_acc")
    total = Signal(signed(width), name=f"{name}_exact")
    m.d.comb += total.eq(acc_fixed + (addend << (addend_lsb_exp - frame_lsb)))
    rounder = FixedToFloat32(width=width, lsb_exp=frame_lsb)
    m.submodules[f"{name}_round"] = rounder
    m.d.comb += rounder.value.eq(total)

    acc_nan, acc_inf, acc_neg_zero = fp32_special(acc_code)
    acc_neg = acc_code[31]
    result = Signal(32, name=f"{name}_code")
    with m.If(acc_nan | nan | (acc_inf & acc_neg & pos_inf) | (acc_inf & ~acc_neg & neg_inf)):
        m.d.comb += result.eq(FP32_NAN)
    with m.Elif(acc_inf):
        m.d.comb += result.eq(acc_code)
    with m.Elif(pos_inf):
        m.d.comb += result.eq(FP32_INF)
    with m.Elif(neg_inf):
        m.d.comb += result.eq(FP32_INF | FP32_NEG_ZERO)
    with m.Elif(~total.any()):
        m.d.comb += result.eq(Mux(acc_neg_zero & neg_zero, FP32_NEG_ZERO, 0))
    with m.Else():
        m.d.comb += result.eq(rounder.code)
    return result
