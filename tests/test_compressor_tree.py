"""Unit tests of the Dadda bit heap (hdl/compressor_tree.py) in Amaranth's simulator.

Small sizes are checked exhaustively against Python integer arithmetic (the specification: the
sum of the operands / products modulo 2**width).
"""

from __future__ import annotations

import itertools

import pytest
from amaranth.hdl import Module, Signal, signed, unsigned
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out
from amaranth.sim import Simulator

from hdl.compressor_tree import BitHeap, MultiOperandAdder, dadda_heights


def _wrap(value, width, signed_):
    value %= 1 << width
    if signed_ and value >= 1 << (width - 1):
        value -= 1 << width
    return value


def _run_comb(dut, cases, check):
    """Drive each case's inputs, settle, and call check(ctx, case)."""
    async def bench(ctx):
        for case in cases:
            check(ctx, case)
            await ctx.delay(1e-9)

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()


def test_dadda_heights():
    assert dadda_heights(2) == []
    assert dadda_heights(3) == [2]
    assert dadda_heights(16) == [13, 9, 6, 4, 3, 2]
    assert dadda_heights(13) == [9, 6, 4, 3, 2]


def _simulate_sum(count, width_in, is_signed, width_out):
    dut = MultiOperandAdder(count=count, operand_width=width_in, signed=is_signed, width=width_out)
    lo, hi = (-(1 << (width_in - 1)), 1 << (width_in - 1)) if is_signed else (0, 1 << width_in)
    cases = list(itertools.product(range(lo, hi), repeat=count))
    failures = []

    async def bench(ctx):
        for case in cases:
            for k, v in enumerate(case):
                ctx.set(dut.x[k], v % (1 << width_in))
            got = ctx.get(dut.total)
            want = sum(case) % (1 << width_out)
            if got != want:
                failures.append((case, got, want))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    return len(cases), failures


@pytest.mark.parametrize("count, width_in, is_signed, width_out", [
    (3, 3, True, 5), (4, 2, False, 4), (5, 2, True, 3), (6, 1, False, 3), (2, 4, True, 8),
    (7, 1, True, 4),
])
def test_multi_operand_sum_exhaustive(count, width_in, is_signed, width_out):
    n, failures = _simulate_sum(count, width_in, is_signed, width_out)
    assert n == (1 << width_in) ** count
    assert not failures, f"{len(failures)} of {n} wrong, first (operands, got, want): {failures[0]}"


class _Dot(wiring.Component):
    """sum_k a[k] * b[k] through one heap (partial products, sign constants, one adder)."""

    def __init__(self, wa, sa, wb, sb, lanes, width):
        self.params = (wa, sa, wb, sb, lanes, width)
        sh = lambda w, s: signed(w) if s else unsigned(w)  # noqa: E731
        super().__init__({
            **{f"a{k}": In(sh(wa, sa)) for k in range(lanes)},
            **{f"b{k}": In(sh(wb, sb)) for k in range(lanes)},
            "total": Out(width),
        })

    def elaborate(self, platform):
        wa, sa, wb, sb, lanes, width = self.params
        m = Module()
        heap = BitHeap(width, name="dot")
        for k in range(lanes):
            heap.add_product(getattr(self, f"a{k}"), getattr(self, f"b{k}"), sa, sb)
        m.d.comb += self.total.eq(heap.resolve(m))
        return m


@pytest.mark.parametrize("wa, sa, wb, sb, lanes, width", [
    (3, True, 3, True, 2, 7),      # modified Baugh-Wooley, both signed
    (2, True, 3, False, 2, 6),     # signed x unsigned
    (3, False, 2, True, 2, 4),     # unsigned x signed, narrow (wrapping) output
    (3, False, 3, False, 2, 7),
    (1, True, 1, True, 3, 3),      # int1 x int1: (-1)(-1) = 1
    (4, True, 4, True, 1, 8),
])
def test_dot_product_exhaustive(wa, sa, wb, sb, lanes, width):
    dut = _Dot(wa, sa, wb, sb, lanes, width)
    rng_a = range(-(1 << (wa - 1)), 1 << (wa - 1)) if sa else range(1 << wa)
    rng_b = range(-(1 << (wb - 1)), 1 << (wb - 1)) if sb else range(1 << wb)
    operands = list(itertools.product(itertools.product(rng_a, rng_b), repeat=lanes))
    failures = []

    async def bench(ctx):
        for case in operands:
            for k, (x, y) in enumerate(case):
                ctx.set(getattr(dut, f"a{k}"), x)
                ctx.set(getattr(dut, f"b{k}"), y)
            got = ctx.get(dut.total)
            want = sum(x * y for x, y in case) % (1 << width)
            if got != want:
                failures.append((case, got, want))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    assert not failures, f"{len(failures)} of {len(operands)} wrong, first: {failures[0]}"


def test_heap_uses_full_adders_and_one_adder():
    """An int8 x int8 product's 64 bits reduce with Dadda's 35 FA (+ one for the constants)."""
    m = Module()
    m._MustUse__silence = True
    a, b = Signal(signed(8)), Signal(signed(8))
    heap = BitHeap(16, name="p")
    heap.add_product(a, b, True, True)
    heap.reduce(m)
    assert heap.height() <= 2
    assert 35 <= heap.full_adders <= 40 and heap.half_adders <= 10
