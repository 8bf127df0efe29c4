"""``mx_dot`` (OCP MX v1.0 block dot product): golden model checks, parameters, lint, and cocotb
regressions on Verilator and Icarus with random back-pressure: every element type at K = 8 and
K = 32, random and extreme scales (0, 254, 0xFF), special values, ignored ``last`` flags."""

from __future__ import annotations


import numpy as np
import pytest

from generators import get_generator
from hdl.mx import dequantize_mx, quantize_mx
from sim.golden.mx_dot import mx_dot as golden
from sim.stimuli.mx_dot import mx_dot_operands, mx_dot_stimulus

from .conftest import (SIMULATORS, assert_one_line_param_error, backpressure_stimulus, check_lint,
                       design_for, full_rate_stimulus, run_configuration, run_seeded,
                       simulator_runs)

RANDOM_BLOCKS = 40


def _f32(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def test_golden_block_value_and_scales():
    """One block of ones times twos with scales 2**3 and 2**-5: 32 * 2 * 2**-2 = 16; the scales of
    the second beat are ignored; a 0xFF scale gives NaN."""
    resolved = get_generator("mx_dot").resolve({"lanes": 16})
    one, two = 0x38, 0x40               # e4m3 codes of 1.0 and 2.0
    a = np.full((2, 16), one)
    b = np.full((2, 16), two)
    last = np.array([False, True])
    assert golden(a, b, [130, 7], [122, 0], last, a_elem="mxfp8_e4m3", b_elem="mxfp8_e4m3") \
        == [_f32(16.0)]
    assert golden(a, b, [0xFF, 1], [127, 1], last, a_elem=resolved["a_elem"],
                  b_elem=resolved["b_elem"]) == [0x7FC00000]
    # last on a non-final beat is ignored: still one output after the block.
    assert golden(a, b, [127, 0], [127, 0], np.array([True, True]), a_elem="mxfp8_e4m3",
                  b_elem="mxfp8_e4m3") == [_f32(64.0)]


def test_golden_matches_float64_dot_of_dequantized_blocks():
    """Blocks quantized from Gaussian data: the golden value equals float32(float64 dot) where
    the float64 dot is exact (e4m3 products of 8 bits over a small exponent range)."""
    rng = np.random.default_rng(4)
    for _ in range(50):
        va, vb = rng.standard_normal(32), rng.standard_normal(32)
        (xa,), ca = quantize_mx(va, "mxfp8_e4m3")
        (xb,), cb = quantize_mx(vb, "mxfp8_e4m3")
        da = dequantize_mx([xa], ca, "mxfp8_e4m3")
        db = dequantize_mx([xb], cb, "mxfp8_e4m3")
        expected = _f32(float(np.dot(da, db)))
        got = golden(ca.reshape(4, 8), cb.reshape(4, 8), [xa] * 4, [xb] * 4,
                     np.array([False, False, False, True]), a_elem="mxfp8_e4m3",
                     b_elem="mxfp8_e4m3")
        assert got == [expected]


def test_lanes_must_divide_the_block():
    assert_one_line_param_error("mx_dot", {"lanes": 3}, "1, 2, 4, 8, 16, 32")


def test_unknown_element_is_one_line():
    assert_one_line_param_error("mx_dot", {"a_elem": "fp8_e4m3"}, "mxint8")


@pytest.mark.parametrize("params", [dict(a_elem="mxint8", b_elem="mxfp4_e2m1", lanes=4),
                                    dict(a_elem="mxfp8_e5m2", b_elem="mxfp6_e2m3", lanes=1)],
                         ids=["int8xfp4_k4", "e5m2xe2m3_k1"])
def test_lint(params, tmp_path):
    design = design_for("mx_dot", **params)
    check_lint(design, tmp_path)


#: Every element type appears at K = 8 and at K = 32 (on the a or the b side).
CONFIGS = [
    ("e4m3xe5m2_k8", dict(a_elem="mxfp8_e4m3", b_elem="mxfp8_e5m2", lanes=8)),
    ("e3m2xe2m3_k8", dict(a_elem="mxfp6_e3m2", b_elem="mxfp6_e2m3", lanes=8)),
    ("e2m1xint8_k8", dict(a_elem="mxfp4_e2m1", b_elem="mxint8", lanes=8)),
    ("e5m2xe4m3_k32", dict(a_elem="mxfp8_e5m2", b_elem="mxfp8_e4m3", lanes=32)),
    ("e2m3xe2m1_k32", dict(a_elem="mxfp6_e2m3", b_elem="mxfp4_e2m1", lanes=32)),
    ("int8xe3m2_k32", dict(a_elem="mxint8", b_elem="mxfp6_e3m2", lanes=32)),
]


#: Every configuration on Icarus; two on Verilator too (its builds of the wide exact frame
#: cost 30-120 s each).
ON_VERILATOR = {"e4m3xe5m2_k8", "e2m3xe2m1_k32"}
#: The configuration that also runs on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {'e4m3xe5m2_k8'}
RUNS = simulator_runs(CONFIGS, verilator=ON_VERILATOR)


@pytest.mark.parametrize("config_id, params, simulator", RUNS)
def test_random_with_backpressure(config_id, params, simulator, tmp_path):
    run_configuration("mx_dot", config_id, params, simulator, tmp_path,
                      backpressure_stimulus(mx_dot_operands, mx_dot_stimulus, RANDOM_BLOCKS),
                      cocotb=COCOTB)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_full_rate_timing(simulator, tmp_path):
    """No idles, no stalls: one beat per cycle and the manifest's latency on every output."""
    run_seeded("mx_dot", CONFIGS[0][1], simulator, tmp_path,
               full_rate_stimulus(mx_dot_operands, mx_dot_stimulus, 20, mean_group=1.5), seed=9)
