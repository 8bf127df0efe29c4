"""Binary32 rounding of exact fixed-point sums, and an fp32 accumulation step built on it.

:class:`FixedToFloat32` rounds a two's complement integer ``value * 2**lsb_exp`` (``lsb_exp``
static) to IEEE 754 binary32 with roundTiesToEven: subnormal results are kept, magnitudes at or
above ``2**128`` after rounding give +-Inf, and a nonzero value that rounds to zero keeps its sign.
It is purely combinational. :class:`SequentialFixedToFloat32` gives the same codes for the
normal binary32 range over several clock cycles, with a fraction of the logic.

:func:`fp32_to_fixed` unpacks a finite binary32 code into the same kind of fixed-point integer, so
that "fp32 accumulator + exact addend, rounded once" is an exact integer addition followed by one
:class:`FixedToFloat32`.

References: IEEE Std 754-2019, 4.3.1 (roundTiesToEven), 7.4 (overflow), 6.3 (sign of zero).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

__all__ = ["one_position_tree", "FixedToFloat32", "SequentialFixedToFloat32", "sequential_rounder_cycles",
           "fp32_to_fixed", "fp32_special", "fp32_result", "fp32_select", "fp32_accumulate",
           "FP32_INF", "FP32_NAN", "FP32_NEG_ZERO",
           "FP32_MIN_EXP", "FP32_MAX_EXP"]

#: Canonical quiet NaN, +Inf and -0 codes of binary32.
FP32_NAN = 0x7FC00000
FP32_INF = 0x7F800000
FP32_NEG_ZERO = 0x80000000
#: Weight exponent of the smallest binary32 subnormal (2**-149) and the overflow threshold 2**128.
FP32_MIN_EXP = -149
FP32_MAX_EXP = 128
#: Weight exponent of the smallest normal binary32 number.
FP32_MIN_NORMAL_EXP = -126
_MAN = 23


def _one_position(m: Module, bits, *, highest: bool, name: str):
    """Index of the highest (or lowest) one of ``bits``; 0 when there is none.

    A priority chain, which ABC maps into compact logic; above 64 bits, chains within 16-bit
    chunks and one across the chunks, so the depth stays ~W/16 + 16 (a single chain over the
    300-400 bits of an fp32 accumulation frame exhausts the call stack of Yosys's XAIGER
    writer)."""
    width = len(bits)
    order = range(0, width, width if width <= 64 else 16)
    position = Signal(range(max(2, width)), name=name)
    for base in (order if highest else reversed(order)):
        chunk = bits[base:base + order.step]
        offset = Signal(range(max(2, len(chunk))), name=f"{name}_in{base}")
        for i in (range(len(chunk)) if highest else reversed(range(len(chunk)))):
            with m.If(chunk[i]):
                m.d.comb += offset.eq(i)
        with m.If(chunk.any()):
            m.d.comb += position.eq(base + offset)
    return position


def one_position_tree(m: Module, bits, *, highest: bool, name: str):
    """Index of the highest (or lowest) one of ``bits``; 0 when there is none.

    A binary tree (the classic leading-zero counter): each node keeps its half that holds the
    wanted one and prepends one index bit, about W multiplexer bits in all instead of the
    chain's W * log2(W), and log2(W) levels deep."""
    size = 1 << max(1, (len(bits) - 1).bit_length())
    level = [(bits[i] if i < len(bits) else Const(0, 1), Const(0, 0)) for i in range(size)]
    depth = 0
    while len(level) > 1:
        depth += 1
        nxt = []
        for i in range(0, len(level), 2):
            (any_lo, at_lo), (any_hi, at_hi) = level[i], level[i + 1]
            found = Signal(name=f"{name}_any{depth}_{i // 2}")
            at = Signal(depth, name=f"{name}_at{depth}_{i // 2}")
            m.d.comb += found.eq(any_lo | any_hi)
            if highest:
                m.d.comb += at.eq(Mux(any_hi, Cat(at_hi, Const(1, 1)), at_lo))
            else:
                m.d.comb += at.eq(Mux(any_lo, at_lo, Cat(at_hi, Const(1, 1))))
            nxt.append((found, at))
        level = nxt
    found, at = level[0]
    position = Signal(range(max(2, len(bits))), name=name)
    # Without a one, the highest-one tree already gives 0; the lowest-one tree all ones.
    m.d.comb += position.eq(at if highest else Mux(found, at, 0))
    return position


class FixedToFloat32(wiring.Component):
    """Round ``value * 2**lsb_exp`` to binary32, round to nearest, ties to even.

    Parameters
    ----------
    width : int
        Width of the two's complement input ``value``.
    lsb_exp : int
        Weight exponent of the input's least significant bit.
    tree : bool
        Find the leading and lowest ones with binary trees (:func:`one_position_tree`) instead
        of priority chains: the same function with fewer gates before technology mapping (the
        chains, the default, are what ABC maps compactly).

    Members
    -------
    value : In(signed(width))
    code : Out(32)
        The binary32 code. Zero input gives +0 (the caller decides the sign of exact zeros);
        a nonzero value that rounds to zero gives a zero of its own sign.

    The magnitude is normalized by a shift that puts its leading one on top, clamped so that
    results below 2**-126 come out as subnormals; only the 25 bits that survive (significand and
    round bit) are selected, and the sticky bit compares the position of the lowest one with the
    rounding point instead of OR-ing a shifted-out field. Combinational (latency 0).
    """

    def __init__(self, *, width: int, lsb_exp: int, tree: bool = False):
        if width < 2:
            raise ValueError("width must be at least 2")
        self.width = width
        self.tree = tree
        self.lsb_exp = lsb_exp
        super().__init__({"value": In(signed(width)), "code": Out(32)})

    def elaborate(self, platform):
        m = Module()
        neg = self.value[-1]
        mag_in = Signal(unsigned(self.width))
        # |value| as (value xor sign) + sign: one adder instead of a negation and a multiplexer;
        # |min| fits in width unsigned bits.
        m.d.comb += mag_in.eq((self.value.as_unsigned() ^ neg.replicate(self.width)) + neg)
        # At least significand + round bit + one sticky position, so every field below exists.
        pad = max(0, _MAN + 3 - self.width)
        # Zeros above when even the top bit weighs less than 2**-126 (every result subnormal),
        # so that the normalizing shift below never has to go right.
        pad_top = max(0, FP32_MIN_NORMAL_EXP - (self.lsb_exp + self.width - 1))
        mag = Cat(Const(0, pad), mag_in, Const(0, pad_top))
        W, lsb = len(mag), self.lsb_exp - pad

        find = one_position_tree if self.tree else _one_position
        lead = find(m, mag, highest=True, name="lead")
        low = find(m, mag, highest=False, name="low")
        nonzero = mag.any()
        lzc = W - 1 - lead

        # Shifting left by ``shift`` puts the leading one at bit W-1, whose weight is then
        # 2**(lsb + W - 1 - shift). Results below 2**-126 are subnormal: the shift stops at
        # ``shift_max``, where bit W-1 weighs 2**-126, so the significand holds 2**-126 .. 2**-149.
        shift_max = lsb + W - 1 - FP32_MIN_NORMAL_EXP
        assert shift_max >= 0
        shift = Signal(range(W), name="shift")
        if shift_max >= W - 1:
            m.d.comb += shift.eq(lzc)
        else:
            m.d.comb += shift.eq(Mux(lzc > shift_max, shift_max, lzc))
        # Bits W-25 .. W-1 of ``mag << shift``, written as a right shift of a zero-extended
        # copy so that no intermediate grows by 2**len(shift) bits.
        top = Signal(_MAN + 2, name="top")               # significand (24 bits) over round bit
        right = Signal(range(W + 1), name="right_shift")
        m.d.comb += [right.eq(W - shift),
                     top.eq((Cat(Const(0, _MAN + 2), mag) >> right)[:_MAN + 2])]
        round_bit = top[0]
        significand = top[1:]
        # Any one below the round bit: the lowest one of ``mag`` lands below bit W-25.
        sticky = Signal()
        m.d.comb += sticky.eq(low + shift < W - _MAN - 2)
        rounded = Signal(_MAN + 2)
        m.d.comb += rounded.eq(significand + (round_bit & (sticky | significand[0])))

        # Code magnitude = (biased exponent - 1) * 2**23 + significand with its leading one:
        # the leading one adds the missing 1 to a normal exponent (and is absent for
        # subnormals, whose exponent field is 0), and a rounding carry moves into the exponent.
        exp_m1 = Signal(range(shift_max + 1), name="exp_minus_1")
        m.d.comb += exp_m1.eq(shift_max - shift)
        code_mag = Signal(len(exp_m1) + _MAN + 1)
        m.d.comb += code_mag.eq((exp_m1 << _MAN) + rounded)
        mag_out = Signal(31)
        with m.If(~nonzero):
            m.d.comb += mag_out.eq(0)
        if lsb + W > FP32_MAX_EXP - 1:                   # 2**127 or more is reachable
            with m.Elif(code_mag >= FP32_INF):
                m.d.comb += mag_out.eq(FP32_INF)
        with m.Else():
            m.d.comb += mag_out.eq(code_mag)
        m.d.comb += self.code.eq(Cat(mag_out, neg))
        return m


class SequentialFixedToFloat32(wiring.Component):
    """Round ``value * 2**lsb_exp`` to binary32 (roundTiesToEven) over several cycles.

    The same function as :class:`FixedToFloat32` for inputs whose results are normal numbers
    (``lsb_exp >= -126`` and ``lsb_exp + width <= 128``, checked: no subnormal, no overflow),
    built for area: one register of the magnitude that shifts left until its leading one is on
    top, a small exponent counter, and one rounding increment.

    Parameters
    ----------
    width, lsb_exp : int
        As for :class:`FixedToFloat32`.
    step : int
        Coarse shift: while the top ``step`` bits of the register are all zero it shifts by
        ``step``, then by one until the leading one is on top (``step`` = 1: by one only).

    Members
    -------
    en : In(1)
        Clock enable: nothing changes in a cycle without it.
    start : In(1)
        Load ``value`` in this enabled cycle; allowed while ``ready`` is high.
    value : In(signed(width))
    ready : Out(1)
        No rounding in progress, or the current one ends in this cycle (``done``).
    done : Out(1)
        ``code`` and ``zero`` hold the result of the value loaded last, in this cycle only.
    code : Out(32)
        The binary32 code of a nonzero value (meaningless for zero).
    zero : Out(1)
        The value was zero (the caller decides the sign of exact zeros).

    Timing: ``done`` is high in the ``1 + c + f``-th enabled cycle after the ``start`` cycle,
    after ``c`` coarse and ``f`` fine shifts (:func:`sequential_rounder_cycles`): data-dependent,
    from 1 (leading one already on top) to ``max(N/step + 1, N/step + step - 1)`` with ``N`` the
    register width (zero takes ``N/step + 1``). Cycles without ``en`` change nothing.

    The register holds the magnitude in ones' complement, ``v = value xor sign`` (``|value| = v
    + sign``, the register is filled with ``sign`` from below while it shifts), so no negation
    is built: the ``+ sign`` only matters when every bit below the round bit is one, and is
    folded into the rounding increment.
    """

    def __init__(self, *, width: int, lsb_exp: int, step: int = 4):
        if width < 2:
            raise ValueError("width must be at least 2")
        if lsb_exp < FP32_MIN_NORMAL_EXP or lsb_exp + width > FP32_MAX_EXP:
            raise ValueError("the sequential rounder needs a frame within the normal binary32 "
                             "range (no subnormal or overflowing results)")
        if step < 1:
            raise ValueError("step must be at least 1")
        self.width, self.lsb_exp, self.step = width, lsb_exp, step
        self.bits, self.pad = _sequential_register(width, step)
        super().__init__({"en": In(1), "start": In(1), "value": In(signed(width)),
                          "ready": Out(1), "done": Out(1), "code": Out(32), "zero": Out(1)})

    def elaborate(self, platform):
        m = Module()
        N, step = self.bits, self.step
        reg = Signal(N)
        sign = Signal()
        busy = Signal()
        # Biased binary32 exponent of the register's top bit. A zero value makes the register
        # shift N places in all (the limit); every other value stops earlier, or exactly there
        # when its ones' complement is 0 (value -1 without padding: all ones shifted in).
        top_exp = self.lsb_exp - self.pad + N - 1 + 127
        limit = top_exp - N
        exp = Signal(range(min(limit, 0), top_exp + 1))

        head_zero = ~reg[N - step:].any()
        at_limit = exp == limit
        done = Signal()
        m.d.comb += [
            done.eq(busy & ((head_zero & at_limit) | reg[N - 1])),
            self.done.eq(done),
            self.ready.eq(~busy | done),
            self.zero.eq(head_zero),
        ]
        with m.If(self.en):
            with m.If(self.start):
                m.d.sync += [
                    reg.eq(Cat(Const(0, self.pad), self.value[:-1]) ^
                           self.value[-1].replicate(N)),
                    sign.eq(self.value[-1]), exp.eq(top_exp), busy.eq(1),
                ]
            with m.Elif(done):
                m.d.sync += busy.eq(0)
            with m.Elif(busy & head_zero):
                m.d.sync += [reg.eq(Cat(sign.replicate(step), reg[:-step])),
                             exp.eq(exp - step)]
            if step > 1:
                with m.Elif(busy):
                    m.d.sync += [reg.eq(Cat(sign, reg[:-1])), exp.eq(exp - 1)]

        # Leading one on top: significand (24 bits), round bit and the bits below. The
        # magnitude is reg + sign: with sign, a carry enters the round bit exactly when every
        # bit below is one, and the low bits of the magnitude are nonzero unless they all equal
        # sign, so sticky = any(low xor sign).
        significand, round_bit, low = reg[N - _MAN - 1:], reg[N - _MAN - 2], reg[:N - _MAN - 2]
        sticky = Signal()
        m.d.comb += sticky.eq((low ^ sign.replicate(len(low))).any())
        carry = sign & ~sticky
        # A carry into a round bit of 1 goes on into the significand (round bit 0 after it: no
        # rounding); otherwise round to nearest, ties to even, on the round bit carry ^ r.
        increment = (carry & round_bit) | ((carry ^ round_bit) & (sticky | significand[0]))
        # Field (exponent, fraction) + increment: a carry out of the fraction raises the
        # exponent, as the leading one it stands for does.
        magnitude = Signal(31)
        m.d.comb += [magnitude.eq(Cat(significand[:_MAN], exp[:8]) + increment),
                     self.code.eq(Cat(magnitude, sign))]
        return m


def _sequential_register(width: int, step: int) -> tuple[int, int]:
    """(bits, padding below) of the sequential rounder's register: width - 1 bits (the ones'
    complement magnitude always fits), padded below to hold significand, round bit and a sticky
    bit, and to a multiple of the coarse step."""
    bits = -(-max(width - 1, _MAN + 3) // step) * step
    return bits, bits - (width - 1)


def sequential_rounder_cycles(value: int, *, width: int, lsb_exp: int, step: int) -> int:
    """Enabled cycles from ``start`` to ``done`` of a :class:`SequentialFixedToFloat32` for a
    two's complement ``value`` (a model of its schedule, for tests and cycle estimates)."""
    N, pad = _sequential_register(width, step)
    sign = value < 0
    v = ((value ^ -sign) if sign else value) << pad | ((1 << pad) - 1) * sign
    cycles = 1
    for _ in range(N // step):
        if v >> (N - step):
            break
        v = (v << step | ((1 << step) - 1) * sign) & ((1 << N) - 1)
        cycles += 1
    else:
        if not v >> (N - step):
            return cycles
    while not v >> (N - 1):
        v = (v << 1 | sign) & ((1 << N) - 1)
        cycles += 1
    return cycles


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


def fp32_result(m: Module, total, *, lsb_exp: int, nan, pos_inf, neg_inf, neg_zero,
                name: str = "result", tree: bool = False):
    """Binary32 code of an exact sum ``total * 2**lsb_exp`` and its special-value flags.

    ``nan``: a NaN term, Inf x 0, or Infs of both signs; ``pos_inf`` / ``neg_inf``: an infinite
    term of that sign; ``neg_zero``: every term was -0. NaN gives the canonical 0x7FC00000, an
    infinity that Inf, an exact zero +0 (-0 when ``neg_zero``: IEEE 754 6.3), anything else
    ``total`` rounded once by a :class:`FixedToFloat32` (``tree``: its option). Returns a 32-bit
    signal.
    """
    rounder = FixedToFloat32(width=len(total), lsb_exp=lsb_exp, tree=tree)
    m.submodules[f"{name}_round"] = rounder
    m.d.comb += rounder.value.eq(total)
    return fp32_select(m, rounder.code, zero=~total.any(), nan=nan, pos_inf=pos_inf,
                       neg_inf=neg_inf, neg_zero=neg_zero, name=name)


def fp32_select(m: Module, code, *, zero, nan, pos_inf, neg_inf, neg_zero, name: str = "result"):
    """The result code of a rounded sum ``code`` under the special-value flags of
    :func:`fp32_result` (``zero``: the exact sum is zero). Returns a 32-bit signal."""
    result = Signal(32, name=f"{name}_code")
    with m.If(nan):
        m.d.comb += result.eq(FP32_NAN)
    with m.Elif(pos_inf):
        m.d.comb += result.eq(FP32_INF)
    with m.Elif(neg_inf):
        m.d.comb += result.eq(FP32_INF | FP32_NEG_ZERO)
    with m.Elif(zero):
        m.d.comb += result.eq(Mux(neg_zero, FP32_NEG_ZERO, 0))
    with m.Else():
        m.d.comb += result.eq(code)
    return result


def fp32_accumulate(m: Module, acc_code, addend, *, addend_lsb_exp: int, nan, pos_inf, neg_inf,
                    neg_zero, name: str = "sum"):
    """Next binary32 accumulator: ``acc_code`` plus an exact addend, rounded once.

    ``addend`` is a two's complement integer worth ``addend * 2**addend_lsb_exp``; ``nan``,
    ``pos_inf``, ``neg_inf`` say whether the addend's terms held a NaN (or Infs of both signs),
    a +Inf or a -Inf; ``neg_zero`` whether every term was -0. Returns a 32-bit signal.

    The sum is formed exactly in a fixed-point frame that holds every binary32 value and the
    addend, then rounded once (:func:`fp32_result`): a single roundTiesToEven (IEEE 754
    5.4.1 / 6.3: an exact zero sum is +0 unless both operands are -0).
    """
    frame_lsb = min(FP32_MIN_EXP, addend_lsb_exp)
    addend_msb = addend_lsb_exp + len(addend)       # exclusive, with the sign bit
    width = max(FP32_MAX_EXP + 1, addend_msb) - frame_lsb + 2
    acc_fixed = fp32_to_fixed(m, acc_code, lsb_exp=frame_lsb, width=width, name=f"{name}_acc")
    total = Signal(signed(width), name=f"{name}_exact")
    m.d.comb += total.eq(acc_fixed + (addend << (addend_lsb_exp - frame_lsb)))

    # The accumulator is one more term: its NaN, its infinity, its -0.
    acc_nan, acc_inf, acc_neg_zero = fp32_special(acc_code)
    acc_neg = acc_code[31]
    any_pos_inf = (acc_inf & ~acc_neg) | pos_inf
    any_neg_inf = (acc_inf & acc_neg) | neg_inf
    return fp32_result(m, total, lsb_exp=frame_lsb, nan=acc_nan | nan | (any_pos_inf & any_neg_inf),
                       pos_inf=any_pos_inf, neg_inf=any_neg_inf,
                       neg_zero=acc_neg_zero & neg_zero, name=name)
