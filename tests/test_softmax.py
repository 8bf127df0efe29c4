"""``softmax`` generator: cocotb regression against the bit-exact golden model on Verilator and Icarus
with random idles and back-pressure, the error path, parameter errors, the cycle schedule and lint.

The configuration matrix of issue 4 (each algorithm; in_format q4.4 / q8.8; out_format uq0.8 /
uq1.15; max_length 16 / 256; divider and Newton; with and without double buffering) is covered by
six designs, each algorithm once per simulator, so that only three Verilator builds are needed.
Every run has the adversarial vectors (all equal, one dominant, all at the minimum, length 1,
length = max_length), random vectors of lengths 1..max_length (uniform codes and Gaussian with sigma
0.5, 2, 8), and over-long vectors (max_length + 1 and 2 max_length + 3), each followed by a normal one.
A full-rate run per algorithm (default parameters with double_buffer, length-64 vectors back to
back) checks the >= 0.9 elements per cycle target at both ends.
"""

from __future__ import annotations

import numpy as np
import pytest

from generators.softmax import SoftmaxGenerator
from hdl.softmax import softmax_cycles, softmax_widths
from sim.runner import run_stream_test
from sim.stimuli.softmax import (measure_first_output, measure_vector_period, random_vector,
                                 softmax_stimulus, softmax_vectors)

from .conftest import (SIMULATORS, assert_one_line_param_error, check_lint, design_for,
                       run_configuration)


def _config(config_id, simulator, vectors, algorithm, in_format, out_format, max_length,
            **options):
    """One row of :data:`CONFIGS`: the matrix axes of issue 4 by position, other parameters by
    name."""
    return (config_id, simulator, dict(algorithm=algorithm, in_format=in_format,
                                       out_format=out_format, max_length=max_length, **options),
            vectors)


#: (id, simulator, parameters, random vectors), written as id, simulator, random vectors, then
#: the parameters: algorithm, in_format, out_format, max_length and any others by name.
CONFIGS = [
    _config("3p_q8.8_uq0.8_n256_div", "verilator", 40, "three_pass", "q8.8", "uq0.8", 256),
    _config("on_q4.4_uq1.15_n16_nr1_db", "verilator", 400, "online", "q4.4", "uq1.15", 16,
            reciprocal="newton", newton_iters=1, double_buffer=True),
    _config("2px_q8.8_uq1.15_n16_e8", "verilator", 400, "two_pass_extexp", "q8.8", "uq1.15", 16,
            exp_table_bits=8, interpolate=False),
    _config("3p_q4.4_uq1.15_n16_nr3_db", "icarus", 150, "three_pass", "q4.4", "uq1.15", 16,
            reciprocal="newton", newton_iters=3, double_buffer=True),
    _config("on_q8.8_uq0.8_n256_e4", "icarus", 12, "online", "q8.8", "uq0.8", 256,
            exp_table_bits=4, interpolate=False),
    _config("2px_q4.4_uq0.8_n256_nr2_db", "icarus", 12, "two_pass_extexp", "q4.4", "uq0.8", 256,
            reciprocal="newton", double_buffer=True),
]


#: The configurations that also run on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {'on_q4.4_uq1.15_n16_nr1_db', '3p_q4.4_uq1.15_n16_nr3_db'}


@pytest.mark.parametrize("config_id, simulator, params, count", CONFIGS,
                         ids=[f"{c[0]}-{c[1]}" for c in CONFIGS])
def test_regression_with_backpressure(config_id, simulator, params, count, tmp_path):
    if simulator not in SIMULATORS:
        pytest.fail(f"{simulator} is not available")

    def make_stimulus(design, rng, seed):
        vectors = softmax_vectors(design.params["in_format"], design.params["max_length"], rng,
                                  count)
        stimulus = softmax_stimulus(design, vectors, idle=0.3, stall=0.4, seed=seed)
        # The error vectors really are in the stimulus, and so is a correct vector after them.
        expected = np.array(stimulus["expected"]["o"])
        assert expected[:, 2].any() and not expected[-1, 2]
        return stimulus

    run_configuration("softmax", config_id, params, simulator, tmp_path, make_stimulus,
                      cocotb=COCOTB)


@pytest.mark.parametrize("algorithm", ["three_pass", "online", "two_pass_extexp"])
def test_full_rate_throughput(algorithm, tmp_path):
    """Issue 4: with ``double_buffer``, back-to-back vectors of length 64 stream at >= 0.9 elements
    per cycle at both ends (default parameters: divider reciprocal, max_length 256), outputs
    bit-exact. The bench measures accepted input beats and output beats per cycle."""
    if "icarus" not in SIMULATORS:
        pytest.fail("icarus is not available")
    design = design_for("softmax", algorithm=algorithm, double_buffer=True)
    rng = np.random.default_rng(64)
    fmt = design.params["in_format"]
    vectors = [random_vector(fmt, rng, 64, kind) for kind in ["uniform", "gauss2", "gauss8"] * 4]
    stimulus = softmax_stimulus(design, vectors, idle=0.0, stall=0.0, seed=1, min_rate=0.9)
    run_stream_test(design, "icarus", stimulus, tmp_path)


@pytest.mark.parametrize("values, message", [
    (dict(in_format="q2.2", exp_table_bits=6), "--exp-table-bits: 6 gives a table larger than"),
    (dict(newton_iters=2), "--newton-iters: only allowed with --reciprocal newton"),
    (dict(recip_table_bits=6), "--recip-table-bits: only allowed with --reciprocal newton"),
    (dict(out_format="uq2.8"), "--out-format: 'uq2.8' is not allowed"),
    (dict(out_format="uq0.20"), "--out-format"),
    (dict(in_format="q16.4"), "--in-format"),
    (dict(max_length=1), "--max-length"),
    (dict(algorithm="four_pass"), "--algorithm"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error("softmax", values, message, "allowed", resolve_only=True)


def test_defaults_resolved():
    p = SoftmaxGenerator().resolve({"reciprocal": "newton"})
    assert p["newton_iters"] == 2 and p["recip_table_bits"] >= 2
    p = SoftmaxGenerator().resolve({})
    assert p["newton_iters"] == 0 and p["recip_table_bits"] == 0 and p["exp_table_bits"] == 6
    # 4-bit inputs have only 32 distinct exponent inputs: the default table shrinks to match.
    assert SoftmaxGenerator().resolve({"in_format": "q2.2"})["exp_table_bits"] == 5
    manifest = design_for("softmax").manifest
    assert manifest["latency"] is None and manifest["initiation_interval"] is None
    assert [f["name"] for f in manifest["streams"]["o"]["fields"]] == ["y", "last", "error"]


@pytest.mark.parametrize("values, length", [
    (dict(algorithm="three_pass", max_length=64), 16),
    (dict(algorithm="three_pass", max_length=64, double_buffer=True), 64),
    (dict(algorithm="three_pass", max_length=64, double_buffer=True), 16),
    (dict(algorithm="online", max_length=64, reciprocal="newton"), 64),
    (dict(algorithm="online", max_length=64, double_buffer=True), 64),
    (dict(algorithm="two_pass_extexp", max_length=64, double_buffer=True), 16),
    (dict(algorithm="two_pass_extexp", max_length=64, double_buffer=True), 64),
    (dict(algorithm="online", max_length=64, reciprocal="newton", newton_iters=1,
          double_buffer=True), 16),
])
def test_cycle_schedule(values, length):
    """The documented schedule (used by the report) is what the hardware does at full rate, and
    with double buffering vectors of length 64 take at most 64 / 0.9 cycles."""
    params = SoftmaxGenerator().resolve(values)
    cycles = softmax_cycles(softmax_widths(params), params["algorithm"], length)
    expected = cycles["double" if params["double_buffer"] else "single"]
    assert measure_vector_period(params, length) == expected
    if params["double_buffer"] and length == 64:
        assert length / expected >= 0.9


@pytest.mark.parametrize("values, length", [
    (dict(), 16), (dict(), 3), (dict(algorithm="online"), 16),
    (dict(algorithm="two_pass_extexp", double_buffer=True), 5),
    (dict(algorithm="three_pass", reciprocal="newton", double_buffer=True), 16),
])
def test_first_output_latency(values, length):
    """The documented latency (``first_output`` of the schedule, which grew with the pipelining
    for timing closure) is the simulated one: first accepted element to first output beat."""
    params = SoftmaxGenerator().resolve({"max_length": 64, **values})
    cycles = softmax_cycles(softmax_widths(params), params["algorithm"], length)
    assert measure_first_output(params, length) == cycles["first_output"]


#: The Verilator-simulated designs are already built with -Wall and the project's waivers; lint
#: the Icarus-simulated ones here.
LINT_CONFIGS = [c for c in CONFIGS if c[1] == "icarus"]


@pytest.mark.parametrize("params", [c[2] for c in LINT_CONFIGS], ids=[c[0] for c in LINT_CONFIGS])
def test_lint(params, tmp_path):
    check_lint(design_for("softmax", **params), tmp_path, yosys=params["max_length"] == 16)
