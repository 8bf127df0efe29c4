"""Amaranth-simulator tests of the base-2 exponential blocks (:mod:`hdl.exp2`), exhaustive over their
input ranges, against the golden model's definition (:mod:`sim.golden.softmax`), with their documented
pipeline latencies under a random clock enable."""

from __future__ import annotations

import math

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators.softmax import SoftmaxGenerator
from hdl.softmax import softmax_widths
from hdl.exp2 import EXP2_LATENCY, EXP2_TABLE_LATENCY, Exp2, Exp2Table
from sim.golden.softmax import exp2_frac, exp2_split


def _widths(**values):
    return softmax_widths(SoftmaxGenerator().resolve(values))


def _run_pipelined(dut, latency, inputs, port_in, ports_out, seed=0):
    """Feed every input value to a pipelined block with a random clock enable (low a quarter of
    the time); the outputs, as int arrays, must appear exactly ``latency`` enabled cycles later
    and hold while the enable is low."""
    rng = np.random.default_rng(seed)
    results = {name: [] for name in ports_out}

    async def bench(ctx):
        enabled = 0
        while enabled < len(inputs) + latency - 1:
            en = int(rng.random() > 0.25)
            before = {name: ctx.get(port) for name, port in ports_out.items()}
            ctx.set(dut.en, en)
            ctx.set(port_in, int(inputs[min(enabled, len(inputs) - 1)]))
            await ctx.tick()
            if not en:
                assert before == {name: ctx.get(port) for name, port in ports_out.items()}
                continue
            enabled += 1
            if enabled >= latency:
                for name, port in ports_out.items():
                    results[name].append(ctx.get(port))

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return {name: np.array(v, dtype=np.int64) for name, v in results.items()}


@pytest.mark.parametrize("table_bits, interpolate, out_format", [
    (2, False, "uq0.8"), (6, False, "uq0.8"), (10, False, "uq0.8"),
    (4, True, "uq0.8"), (6, True, "uq0.8"), (3, True, "uq1.15"),
])
def test_exp2_table_exhaustive(table_bits, interpolate, out_format):
    w = _widths(exp_table_bits=table_bits, interpolate=interpolate, out_format=out_format)
    dut = Exp2Table(table_bits=w.table_bits, interp_bits=w.interp_bits, frac_bits=w.exp_frac)
    f = np.arange(2 ** w.t_frac)
    got = _run_pipelined(dut, EXP2_TABLE_LATENCY, f, dut.f, {"v": dut.v})["v"]
    np.testing.assert_array_equal(got, exp2_frac(f, w))
    # The definition itself is 2^f to within the table's (or interpolation's) error.
    exact = 2.0 ** (f / 2 ** w.t_frac) * 2 ** w.exp_frac
    bound = 0.5 + 1 if interpolate else 0.5
    if interpolate:
        # Linear interpolation of 2^f over a step h = 2^-k errs by at most ln2^2 h^2 / 8 * 2^f.
        bound += math.log(2) ** 2 * 2.0 ** (-2 * w.table_bits) / 8 * 2 * 2 ** w.exp_frac
    assert np.max(np.abs(got - exact)) <= bound


@pytest.mark.parametrize("in_format, algorithm", [
    ("q4.4", "three_pass"), ("q4.4", "two_pass_extexp"), ("q2.6", "online"), ("q7.5", "three_pass"),
])
def test_exp2_split_exhaustive(in_format, algorithm):
    """Every input u of the exponential: differences x - max (W + 1 bits) or x itself (W bits)."""
    w = _widths(in_format=in_format, algorithm=algorithm)
    u_width = w.in_width if algorithm == "two_pass_extexp" else w.in_width + 1
    dut = Exp2(widths=w, u_width=u_width)
    u = np.arange(-2 ** (u_width - 1), 2 ** (u_width - 1))
    got = _run_pipelined(dut, EXP2_LATENCY, u, dut.u, {"v": dut.v, "n": dut.n})
    v, n = exp2_split(u, w)
    np.testing.assert_array_equal(got["v"], v)
    np.testing.assert_array_equal(got["n"], n)
    # v * 2^(n - P) approximates exp(u) (relative error of the table step and t's rounding).
    approx = got["v"] * 2.0 ** (got["n"] - w.exp_frac)
    exact = np.exp(u * 2.0 ** -w.in_frac)
    rel = np.abs(approx / exact - 1)
    assert rel.max() < 2 ** -(w.table_bits + 1 + w.interp_bits - 2) + 2 ** -(w.exp_frac - 2)


def test_exp2_table_entry_range():
    """Width sanity: entries lie in [2^P, 2^(P+1)) for the largest table."""
    w = _widths(exp_table_bits=10, interpolate=False)
    v = exp2_frac(np.arange(2 ** w.t_frac), w)
    assert v.min() == 2 ** w.exp_frac and v.max() < 2 ** (w.exp_frac + 1)
