"""Binary32 rounding: the golden rounding against NumPy's float32 cast, and the hardware rounder
(:class:`hdl.fp_round.FixedToFloat32`, and the :class:`hdl.fp_round.SequentialFixedToFloat32`
with its cycle counts) against the golden rounding in the Amaranth simulator."""

from __future__ import annotations

from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.fp_round import FixedToFloat32, SequentialFixedToFloat32, sequential_rounder_cycles
from sim.golden.fp32_round import fp32_value, round_to_fp32


def _numpy_fp32_code(x: float) -> int:
    return int(np.array([x], dtype=np.float64).astype(np.float32).view(np.uint32)[0])


def test_golden_rounding_matches_numpy_on_float64_values():
    """NumPy's float64 -> float32 cast is one correct rounding; any float64 is exact as a
    Fraction, so the two must agree on every value (random bit patterns cover subnormals,
    ties, overflow)."""
    rng = np.random.default_rng(5)
    bits = rng.integers(0, 2**64, size=20000, dtype=np.uint64)
    # Bias the exponents towards binary32's range, where rounding actually happens.
    exps = rng.integers(1023 - 160, 1023 + 131, size=bits.size, dtype=np.uint64)
    bits = (bits & np.uint64(0x800FFFFFFFFFFFFF)) | (exps << np.uint64(52))
    values = bits.view(np.float64)
    # Ties: float64 values exactly halfway between binary32 neighbours.
    f32 = rng.integers(0, 0x7F7FFFFF, size=2000, dtype=np.uint32).view(np.float32)
    f32 = f32.astype(np.float64)
    nxt = np.nextafter(f32.astype(np.float32), np.float32(np.inf)).astype(np.float64)
    ties = (f32 + nxt) / 2
    checked = 0
    with np.errstate(over="ignore"):
        for x in np.concatenate([values, ties, -ties]):
            if not np.isfinite(x) or x == 0:
                continue
            assert round_to_fp32(Fraction(float(x))) == _numpy_fp32_code(float(x)), x
            checked += 1
    assert checked > 20000


@pytest.mark.parametrize("code", [0x00000001, 0x007FFFFF, 0x00800000, 0x3F800000, 0x7F7FFFFF,
                                  0x80000001, 0xC0490FDB])
def test_golden_round_trip(code):
    assert round_to_fp32(fp32_value(code)) == code


def _golden(value: int, lsb_exp: int) -> int:
    if value == 0:
        return 0
    return round_to_fp32(Fraction(value) * Fraction(2) ** lsb_exp)


def _simulate(width: int, lsb_exp: int, values) -> list[int]:
    dut = FixedToFloat32(width=width, lsb_exp=lsb_exp)
    out = []

    async def bench(ctx):
        for v in values:
            ctx.set(dut.value, int(v))
            out.append(ctx.get(dut.code))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("width, lsb_exp", [
    (12, -158),   # tiny values: subnormal results with rounding, ties, round to +-0
    (12, -155),   # across the subnormal range with rounding
    (12, 117),    # near and beyond the overflow threshold 2**128
])
def test_rounder_exhaustive(width, lsb_exp):
    values = list(range(-(1 << (width - 1)), 1 << (width - 1)))
    got = _simulate(width, lsb_exp, values)
    bad = [(v, hex(g), hex(_golden(v, lsb_exp))) for v, g in zip(values, got)
           if g != _golden(v, lsb_exp)]
    assert not bad, f"MISMATCH (value, rtl, golden): {bad[:5]} of {len(bad)}"


@pytest.mark.parametrize("width, lsb_exp", [
    (40, -160), (40, -30), (40, 90), (30, -175),
    (53, -18),      # fp_mac e4m3 x e4m3 exact accumulator
    (100, -180),    # above 64 bits the leading/lowest-one search is chunked; across 2**-126
    (130, 0),       # chunked, up to and beyond 2**128
])
def test_rounder_structured(width, lsb_exp):
    """Every leading-one position, with every pattern of kept LSB, round bit and sticky bits
    around the binary32 rounding point, both signs, plus random values."""
    values = _structured_values(width, lsb_exp)
    got = _simulate(width, lsb_exp, values)
    bad = [(v, hex(g), hex(_golden(v, lsb_exp))) for v, g in zip(values, got)
           if g != _golden(v, lsb_exp)]
    assert not bad, f"MISMATCH (value, rtl, golden): {bad[:5]} of {len(bad)}"


def _structured_values(width: int, lsb_exp: int, randoms: int = 1500) -> list[int]:
    """Values of :func:`test_rounder_structured`, sorted."""
    rng = np.random.default_rng(width + abs(lsb_exp))
    values = set()
    for lead in range(width - 1):
        for pattern in range(16):
            v = 1 << lead
            # Quantum position for this leading bit (normal, or the subnormal floor).
            q = max(lead + lsb_exp - 23, -149) - lsb_exp
            for bit, pos in ((pattern & 1, q), (pattern >> 1 & 1, q - 1), (pattern >> 2 & 1, q - 2),
                             (pattern >> 3 & 1, 0)):
                if 0 <= pos < lead and bit:
                    v |= 1 << pos
            values.update((v, -v))
    # Random values of every magnitude (Python integers: wider than NumPy's int64).
    for _ in range(randoms):
        bits = int(rng.integers(1, width))
        values.add(int.from_bytes(rng.bytes(width // 8 + 1), "little") % (1 << bits)
                   * (1 if rng.integers(2) else -1))
    values.update((0, 1, -1, (1 << (width - 1)) - 1, -(1 << (width - 1))))
    return sorted(values)


def _simulate_sequential(width: int, lsb_exp: int, step: int, values) -> list[tuple]:
    """(code, zero, cycles from start to done) of each value through the sequential rounder,
    one value after the other, with a cycle of ``en`` low inside each rounding."""
    dut = SequentialFixedToFloat32(width=width, lsb_exp=lsb_exp, step=step)
    out = []

    async def bench(ctx):
        for v in values:
            ctx.set(dut.value, int(v))
            ctx.set(dut.start, 1)
            ctx.set(dut.en, 1)
            assert ctx.get(dut.ready)
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles, ticks = 1, 0
            while not ctx.get(dut.done) and ticks < 1000:
                stall = ticks == 1                  # a cycle without en changes nothing
                ctx.set(dut.en, not stall)
                await ctx.tick()
                ctx.set(dut.en, 1)
                cycles, ticks = cycles + (not stall), ticks + 1
            out.append((ctx.get(dut.code), ctx.get(dut.zero), cycles))
            await ctx.tick()

    sim = Simulator(dut)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return out


@pytest.mark.parametrize("width, lsb_exp, step, randoms", [
    (53, -18, 4, 300),    # fp_mac e4m3 x e4m3 exact accumulator, the generator's step
    (25, -4, 4, 300),     # fp4 x fp4: the register is padded below (24 + round + sticky bits)
    (102, -48, 4, 30),    # fp16 x fp16 at K = 32
    (30, 97, 1, 100),     # up to 2**126, shifts by one only
])
def test_sequential_rounder(width, lsb_exp, step, randoms):
    """The sequential rounder gives the golden code (its ``zero`` flag for zero) for the
    structured values, in the cycles that :func:`sequential_rounder_cycles` models."""
    values = _structured_values(width, lsb_exp, randoms)
    got = _simulate_sequential(width, lsb_exp, step, values)
    bad = []
    for v, (code, zero, cycles) in zip(values, got):
        want = (0 if v == 0 else _golden(v, lsb_exp), int(v == 0),
                sequential_rounder_cycles(v, width=width, lsb_exp=lsb_exp, step=step))
        if (code if v else 0, zero, cycles) != want:
            bad.append((v, (hex(code), zero, cycles), (hex(want[0]),) + want[1:]))
    assert not bad, f"MISMATCH (value, rtl, expected): {bad[:5]} of {len(bad)}"


def test_sequential_rounder_cycles_bounds():
    """fp_mac e4m3 x e4m3 K = 1 (53-bit sum, 52-bit register): 1 cycle for a value with its
    leading one on top, 14 for zero (13 coarse shifts), at most 16 (12 coarse and 3 fine
    shifts)."""
    cycles = lambda v: sequential_rounder_cycles(v, width=53, lsb_exp=-18, step=4)  # noqa: E731
    assert cycles((1 << 51) + 5) == 1 and cycles(-(1 << 52)) == 1
    assert cycles(0) == 14
    assert cycles(1) == 16 and cycles(-2) == 16 and cycles(-1) == 14
    assert max(cycles(1 << k) for k in range(52)) == 16


def test_sequential_rounder_rejects_subnormal_frames():
    with pytest.raises(ValueError, match="normal binary32 range"):
        SequentialFixedToFloat32(width=20, lsb_exp=-140)
    with pytest.raises(ValueError, match="normal binary32 range"):
        SequentialFixedToFloat32(width=40, lsb_exp=100)
