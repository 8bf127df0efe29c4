"""Amaranth-simulator tests of the reciprocal block (:mod:`hdl.reciprocal`): exhaustive over every
normalized input of small configurations (divider, Newton with 0..3 steps), sampled for the default
softmax widths, and the documented latency."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.softmax import SoftmaxGenerator
from hdl.softmax import softmax_widths
from hdl.reciprocal import Reciprocal, reciprocal_latency
from sim.golden.softmax import reciprocal


def _run(w, inputs):
    """Start the block once per input; check ``done`` comes exactly ``latency`` cycles later."""
    dut = Reciprocal(widths=w)
    latency = reciprocal_latency(w)
    results = []

    async def bench(ctx):
        for value in inputs:
            ctx.set(dut.m, int(value))
            ctx.set(dut.start, 1)
            await ctx.tick()
            ctx.set(dut.start, 0)
            cycles = 1
            while not ctx.get(dut.done):
                await ctx.tick()
                cycles += 1
                assert cycles <= latency, "done is late"
            assert cycles == latency, f"done after {cycles} cycles, documented {latency}"
            results.append(ctx.get(dut.r))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return np.array(results, dtype=np.int64)


def _small(reciprocal_kind, iters=0, table_bits=0, Q=8, B=11):
    base = softmax_widths(SoftmaxGenerator().resolve({}))
    return dataclasses.replace(base, recip_frac=Q, norm_frac=B,
                               recip_table_bits=table_bits if reciprocal_kind == "newton" else 0,
                               newton_iters=iters)


@pytest.mark.parametrize("kind, iters, table_bits", [
    ("divider", 0, 0), ("newton", 0, 6), ("newton", 1, 4), ("newton", 2, 3), ("newton", 3, 2),
])
def test_reciprocal_exhaustive(kind, iters, table_bits):
    w = _small(kind, iters, table_bits)
    B, Q = w.norm_frac, w.recip_frac
    m = np.arange(2 ** B, 2 ** (B + 1))
    got = _run(w, m)
    np.testing.assert_array_equal(got, reciprocal(m, w))
    exact = 2.0 ** (Q + B) / m
    if kind == "divider":
        assert np.all((got <= exact) & (got > exact - 1))      # floor of the exact quotient
    elif iters >= 2:
        assert np.max(np.abs(got - exact)) <= 3                # converged to a few LSBs


@pytest.mark.parametrize("values", [
    dict(), dict(reciprocal="newton"), dict(reciprocal="newton", newton_iters=1),
    dict(reciprocal="newton", newton_iters=3, out_format="uq1.15", max_length=4096),
], ids=["divider", "newton2", "newton1", "newton3_uq1.15"])
def test_reciprocal_default_widths_sampled(values):
    w = softmax_widths(SoftmaxGenerator().resolve(values))
    B, Q = w.norm_frac, w.recip_frac
    rng = np.random.default_rng(11)
    m = np.concatenate(([2 ** B, 2 ** (B + 1) - 1], rng.integers(2 ** B, 2 ** (B + 1), 300)))
    got = _run(w, m)
    np.testing.assert_array_equal(got, reciprocal(m, w))
    # Relative accuracy of the defaults: within 2^-(Q-2) of 1/M.
    exact = 2.0 ** (Q + B) / m
    assert np.max(np.abs(got / exact - 1)) < 2.0 ** -(Q - 2)
