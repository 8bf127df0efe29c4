"""Cocotb regression of ``int_mac`` against the NumPy golden model, on Verilator and Icarus.

Each configuration runs >= 2,000 random beats plus the extreme values of its formats, with random
idle cycles on the input and random back-pressure on the output; a second run at full rate checks
the manifest's latency and initiation interval. All 65,536 int8 x int8 pairs run on Verilator.
"""

from __future__ import annotations

import pytest

from sim.runner import run_stream_test
from sim.stimuli.int_mac import full_product_sweep, int_mac_operands, int_mac_stimulus

from .conftest import (SIMULATORS, backpressure_stimulus, check_lint, design_for,
                       full_rate_stimulus, run_configuration, run_seeded, simulator_runs)

#: (id, parameters) — the configurations the foundation issue asks for, each at 0 and 2 stages,
#: plus the remaining pipeline depths once.
BASE_CONFIGS = [
    ("int8xint8_k1", dict(a_format="int8", b_format="int8", lanes=1)),
    ("int8xint4_k8", dict(a_format="int8", b_format="int4", lanes=8)),
    ("uint4xint16_k3_acc22", dict(a_format="uint4", b_format="int16", lanes=3, acc_width=22)),
    ("int1xint1_k64", dict(a_format="int1", b_format="int1", lanes=64)),
]
CONFIGS = [(f"{name}_p{p}", {**params, "pipeline_stages": p})
           for name, params in BASE_CONFIGS for p in (0, 2)]
#: Extra depths and formats, on Icarus only (Verilator builds cost 10-60 s each).
EXTRA_CONFIGS = [
    ("uint8xuint8_k4_p1", dict(a_format="uint8", b_format="uint8", lanes=4, pipeline_stages=1)),
    ("int16xuint3_k5_p3", dict(a_format="int16", b_format="uint3", lanes=5, pipeline_stages=3)),
]
RUNS = simulator_runs(CONFIGS) + simulator_runs(EXTRA_CONFIGS, verilator=())
RANDOM_BEATS = 2000
#: The configuration that also runs on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {'int8xint8_k1_p0'}

#: Bit-weight options (issue 6): every reduction x accumulator combination for int8 x int8 and
#: int4 x uint8 at K = 1 and 8, with the pipeline depth varied across them so that every
#: compressor-tree pipeline cut is exercised. All run on Icarus; on Verilator only one (a
#: compressor-tree design is thousands of gate-level statements: Verilator builds take minutes).
COMBOS = [("adder_tree", "binary"), ("adder_tree", "carry_save"),
          ("compressor_tree", "binary"), ("compressor_tree", "carry_save")]
OPTION_CONFIGS = []
for _n, ((_fa, _fb), _k, (_red, _acc)) in enumerate(
        (f, k, c) for f in (("int8", "int8"), ("int4", "uint8")) for k in (1, 8) for c in COMBOS):
    if (_fa, _k, _red, _acc) == ("int8", 1, "adder_tree", "binary"):
        continue    # already in CONFIGS
    _p = (_n + _n // 4) % 4
    OPTION_CONFIGS.append((
        f"{_fa}x{_fb}_k{_k}_{_red}_{_acc}_p{_p}",
        dict(a_format=_fa, b_format=_fb, lanes=_k, reduction=_red, accumulator=_acc,
             pipeline_stages=_p)))
OPTION_RUNS = [(cid, params, sim) for cid, params in OPTION_CONFIGS for sim in SIMULATORS
               if sim == "icarus" or (params["a_format"], params["lanes"], params["reduction"],
                                      params["accumulator"])
               == ("int4", 1, "compressor_tree", "carry_save")]
OPTION_BEATS = 500


@pytest.mark.parametrize("config_id, params, simulator", RUNS)
def test_random_with_backpressure(config_id, params, simulator, tmp_path):
    run_configuration("int_mac", config_id, params, simulator, tmp_path,
                      backpressure_stimulus(int_mac_operands, int_mac_stimulus, RANDOM_BEATS),
                      cocotb=COCOTB)


@pytest.mark.parametrize("config_id, params, simulator", RUNS)
def test_full_rate_timing(config_id, params, simulator, tmp_path):
    """No idles, no stalls: one beat per cycle and the manifest's latency on every output."""
    run_seeded("int_mac", params, simulator, tmp_path,
               full_rate_stimulus(int_mac_operands, int_mac_stimulus, 300, mean_group=3), seed=7)


def test_all_int8_pairs_verilator(tmp_path):
    """Every one of the 65,536 int8 x int8 products, one output beat each."""
    design = design_for("int_mac", a_format="int8", b_format="int8", lanes=1)
    a, b, last = full_product_sweep(design.params)
    assert len(a) == 65536
    stimulus = int_mac_stimulus(design.params, design.manifest, a, b, last, idle=0.05, stall=0.05, seed=3)
    run_stream_test(design, "verilator", stimulus, tmp_path)


def test_icarus_present_on_ci():
    """CI machines have iverilog: there the Icarus half of the regression must run, not vanish."""
    import os
    if os.environ.get("CI"):
        assert "icarus" in SIMULATORS, "CI=true but iverilog is not on PATH"
    assert SIMULATORS[0] == "verilator"


@pytest.mark.parametrize("config_id, params, simulator", OPTION_RUNS,
                         ids=[f"{c[0]}-{c[2]}" for c in OPTION_RUNS])
def test_bit_weight_options(config_id, params, simulator, tmp_path):
    """Random operands with idle/back-pressure, then a full-rate run checking latency and II,
    for one reduction x accumulator combination."""
    run_configuration("int_mac", config_id, params, simulator, tmp_path / "random",
                      backpressure_stimulus(int_mac_operands, int_mac_stimulus, OPTION_BEATS))
    run_seeded("int_mac", params, simulator, tmp_path / "timing",
               full_rate_stimulus(int_mac_operands, int_mac_stimulus, 100, mean_group=3), seed=7)


def test_bit_weight_options_cover_every_combination():
    seen = {(p["a_format"], p["b_format"], p["lanes"], p["reduction"], p["accumulator"])
            for _, p, _ in OPTION_RUNS}
    seen.add(("int8", "int8", 1, "adder_tree", "binary"))
    assert len(seen) == 2 * 2 * 4
    assert {p["pipeline_stages"] for _, p, _ in OPTION_RUNS
            if p["reduction"] == "compressor_tree"} == {0, 1, 2, 3}


@pytest.mark.parametrize("params", [
    dict(a_format="int8", b_format="int8", lanes=4, reduction="compressor_tree",
         accumulator="carry_save", pipeline_stages=3),
    dict(a_format="uint4", b_format="int3", lanes=3, acc_width=9, reduction="compressor_tree",
         accumulator="binary", pipeline_stages=1),
    dict(a_format="int1", b_format="int1", lanes=5, reduction="adder_tree",
         accumulator="carry_save", pipeline_stages=2),
], ids=["int8_k4_ct_cs_p3", "uint4xint3_acc9_ct_p1", "int1_k5_cs_p2"])
def test_bit_weight_options_lint(params, tmp_path):

    design = design_for("int_mac", **params)
    check_lint(design, tmp_path)
