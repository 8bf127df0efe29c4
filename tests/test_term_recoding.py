"""Amaranth-simulator unit tests of the term blocks: the canonical-signed-digit recoder, the
lowest-term picker, the BitMoD decoder (all exhaustive) and the serial cores' cycle counts
(zero skipping) against the golden models."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.bitmod_mac import BitmodDecoder
from hdl.bitserial_mac import BitSerialMACCore
from hdl.formats import IntFormat
from hdl.term_recoding import LowestTermPicker, NafRecoder
from sim.golden.bitmod_mac import decode_table, terms_needed
from sim.golden.bitserial_mac import csd_digits, cycles_per_beat, decode_weights
from sim.golden.int_mac import int_mac


def _run_comb(dut, bench):
    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def _term_value(term) -> int:
    nz, neg, exp = term
    return 0 if not nz else (-1 if neg else 1) << exp


@pytest.mark.parametrize("width, signed", [(8, True), (8, False), (3, True), (5, False)])
def test_naf_recoder_exhaustive(width, signed):
    """Every value: the digits equal the golden CSD digits (the NAF is unique)."""
    digits = width if signed else width + 1
    dut = NafRecoder(width + 1, digits)
    fmt = IntFormat(width, signed)
    seen = []

    async def bench(ctx):
        for value in range(fmt.min, fmt.max + 1):
            ctx.set(dut.value, value)
            seen.append((value, ctx.get(dut.pos), ctx.get(dut.neg)))

    _run_comb(dut, bench)
    assert len(seen) == 1 << width
    for value, pos, neg in seen:
        expected = csd_digits(value) + [0] * digits
        assert len(csd_digits(value)) <= digits
        got = [((pos >> i) & 1) - ((neg >> i) & 1) for i in range(digits)]
        assert got == expected[:digits], f"value {value}: digits {got}, expected {expected}"


def test_lowest_term_picker_exhaustive():
    digits = 5
    dut = LowestTermPicker(digits)
    seen = []

    async def bench(ctx):
        for active in range(1 << digits):
            for negative in range(1 << digits):
                ctx.set(dut.active, active)
                ctx.set(dut.negative, negative)
                term = ctx.get(dut.term)
                seen.append((active, negative, (term.nz, term.neg, term.exp), ctx.get(dut.rest)))

    _run_comb(dut, bench)
    for active, negative, (nz, neg, exp), rest in seen:
        if active == 0:
            assert (nz, rest) == (0, 0)
            continue
        low = (active & -active).bit_length() - 1
        assert (nz, exp, neg) == (1, low, (negative >> low) & 1), (active, negative)
        assert rest == active & ~(1 << low)


@pytest.mark.parametrize("weight_bits", [3, 4])
def test_bitmod_decoder_exhaustive(weight_bits):
    """Every code under every dtype: the two terms add up to the golden table's value, with the
    fewest terms, the non-zero term first; dtypes 6 and 7 flag an error and decode to 0."""
    dut = BitmodDecoder(weight_bits)
    table = decode_table(weight_bits)
    seen = []

    async def bench(ctx):
        for dtype in range(8):
            for code in range(1 << weight_bits):
                ctx.set(dut.code, code)
                ctx.set(dut.dtype, dtype)
                first, second = ctx.get(dut.first), ctx.get(dut.second)
                seen.append((dtype, code, (first.nz, first.neg, first.exp),
                             (second.nz, second.neg, second.exp), ctx.get(dut.error)))

    _run_comb(dut, bench)
    assert len(seen) == 8 << weight_bits
    for dtype, code, first, second, error in seen:
        value = _term_value(first) + _term_value(second)
        assert value == table[dtype, code], f"dtype {dtype} code {code}: {value}"
        assert error == (dtype >= 6)
        assert first[0] + second[0] == terms_needed(value)
        assert first[0] >= second[0]


def _drive_core(core, beats, lanes):
    """Run beats through the core at full rate; return (cycles per beat, results)."""
    cycles, results = [], []

    async def bench(ctx):
        ctx.set(core.en, 1)
        for a, w, prec, last in beats:
            ctx.set(core.valid, 1)
            for k in range(lanes):
                ctx.set(core.a[k], int(a[k]))
                ctx.set(core.w[k], int(w[k]))
            ctx.set(core.prec, int(prec))
            ctx.set(core.last, int(last))
            n = 1
            while not ctx.get(core.done):
                await ctx.tick()
                n += 1
                assert n < 64, "core never finished the beat"
            await ctx.tick()
            cycles.append(n)
            if last:
                assert ctx.get(core.result_valid)
                results.append(ctx.get(core.result))
        ctx.set(core.valid, 0)

    sim = Simulator(core)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    return cycles, results


@pytest.mark.parametrize("serial_mode, bits_per_cycle, signed",
                         [("terms", 1, True), ("terms", 1, False), ("bits", 2, True),
                          ("bits", 4, False)])
def test_core_cycles_per_beat(serial_mode, bits_per_cycle, signed):
    """The core takes exactly the golden number of cycles per beat (zero terms skipped) and
    accumulates the right sums."""
    lanes, wmax = 3, 8
    act = IntFormat(6, True)
    core = BitSerialMACCore(act_format=act, weight_bits=wmax, weight_signed=signed, lanes=lanes,
                            bits_per_cycle=bits_per_cycle, serial_mode=serial_mode, acc_width=32)
    rng = np.random.default_rng(11)
    n = 150
    a = rng.integers(act.min, act.max, size=(n, lanes), endpoint=True)
    w = rng.integers(0, 1 << wmax, size=(n, lanes))
    w[:20] = 0                       # all-zero beats still take one cycle
    w[20:30] = 0b01010101            # the most non-zero digits
    prec = rng.integers(2 if signed else 1, wmax, size=n, endpoint=True)
    last = rng.random(n) < 0.3
    last[-1] = True
    cycles, results = _drive_core(core, list(zip(a, w, prec, last)), lanes)
    weights = decode_weights(w, prec, signed=signed)
    expected_cycles = cycles_per_beat(weights, prec, serial_mode=serial_mode,
                                      bits_per_cycle=bits_per_cycle)
    assert cycles == expected_cycles.tolist()
    assert results == int_mac(a, weights, last, acc_width=32).tolist()
