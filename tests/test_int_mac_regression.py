"""Cocotb regression of ``int_mac`` against the NumPy golden model, on Verilator and Icarus.

Each configuration runs >= 2,000 random beats plus the extreme values of its formats, with random
idle cycles on the input and random back-pressure on the output; a second run at full rate checks
the manifest's latency and initiation interval. All 65,536 int8 x int8 pairs run on Verilator.
"""

from __future__ import annotations

import numpy as np
import pytest

from sim.runner import available_simulators, run_stream_test
from sim.stimuli.int_mac import full_product_sweep, int_mac_operands, int_mac_stimulus

from .conftest import design_for

#: (id, parameters) — the configurations the foundation issue asks for, each at 0 and 2 stages,
#: plus the remaining pipeline depths once.
BASE_CONFIGS = [
    ("int8xint8_k1", dict(a_format="int8", b_format="int8", lanes=1)),
    ("int8xint4_k8", dict(a_format="int8", b_format="int4", lanes=8)),
    ("uint4xint16_k3_acc12", dict(a_format="uint4", b_format="int16", lanes=3, acc_width=12)),
    ("int1xint1_k64", dict(a_format="int1", b_format="int1", lanes=64)),
]
CONFIGS = [(f"{name}_p{p}", {**params, "pipeline_stages": p})
           for name, params in BASE_CONFIGS for p in (0, 2)]
CONFIGS += [
    ("uint8xuint8_k4_p1", dict(a_format="uint8", b_format="uint8", lanes=4, pipeline_stages=1)),
    ("int16xuint3_k5_p3", dict(a_format="int16", b_format="uint3", lanes=5, pipeline_stages=3)),
]
SIMULATORS = available_simulators()
RANDOM_BEATS = 2000


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("config_id, params", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_random_with_backpressure(config_id, params, simulator, tmp_path):
    design = design_for("int_mac", **params)
    seed = sum(map(ord, config_id))
    a, b, last = int_mac_operands(design.params, np.random.default_rng(seed), RANDOM_BEATS)
    stimulus = int_mac_stimulus(design, a, b, last, idle=0.3, stall=0.4, seed=seed)
    run_stream_test(design, simulator, stimulus, tmp_path)


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("config_id, params", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_full_rate_timing(config_id, params, simulator, tmp_path):
    """No idles, no stalls: one beat per cycle and the manifest's latency on every output."""
    design = design_for("int_mac", **params)
    a, b, last = int_mac_operands(design.params, np.random.default_rng(7), 300, mean_group=3)
    stimulus = int_mac_stimulus(design, a, b, last, idle=0.0, stall=0.0, seed=7,
                                check_timing=True)
    run_stream_test(design, simulator, stimulus, tmp_path)


def test_all_int8_pairs_verilator(tmp_path):
    """Every one of the 65,536 int8 x int8 products, one output beat each."""
    design = design_for("int_mac", a_format="int8", b_format="int8", lanes=1)
    a, b, last = full_product_sweep(design.params)
    assert len(a) == 65536
    stimulus = int_mac_stimulus(design, a, b, last, idle=0.05, stall=0.05, seed=3)
    run_stream_test(design, "verilator", stimulus, tmp_path)


def test_icarus_present_on_ci():
    """CI machines have iverilog: there the Icarus half of the regression must run, not vanish."""
    import os
    if os.environ.get("CI"):
        assert "icarus" in SIMULATORS, "CI=true but iverilog is not on PATH"
    assert SIMULATORS[0] == "verilator"
