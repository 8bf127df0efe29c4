"""``systolic_array``: golden GEMM model, cocotb regressions (both dataflows, both simulators,
random idle and back-pressure on every stream; output-stationary with both drains), full-rate
timing of the output-stationary drains, manifest, parameter errors and lint."""

from __future__ import annotations

import json

import numpy as np
import pytest

from jsonschema import Draft202012Validator

from generators.manifest import load_schema
from hdl.formats import parse_format
from hdl.systolic_array import DRAINS
from sim.golden.systolic_array import output_stationary, weight_stationary
from sim.runner import run_stream_test
from sim.stimuli.systolic_array import (os_cycles, os_operands, os_stimulus, ws_events,
                                        ws_stimulus)

from .conftest import (SIMULATORS, assert_one_line_param_error, backpressure_stimulus, check_lint,
                       check_cli_error_and_help, config_seed, design_for, run_configuration)

#: (id, parameters, simulators, count): the ids say the dataflow (os_: output-stationary, K random
#: in 1..40 per tile, count = tiles; ws_: weight-stationary, reloads between vector bursts,
#: count = loads).
_SHARED = dict(rows=2, cols=2, reduction="compressor_tree", accumulator="carry_save")
CONFIGS = [
    ("os_2x2_ct_cs", _SHARED, SIMULATORS, 60),
    ("os_3x5", dict(rows=3, cols=5), SIMULATORS, 50),
    ("os_3x5_int4xuint8_ct", dict(rows=3, cols=5, a_format="int4", b_format="uint8",
                                  reduction="compressor_tree"), ["icarus"], 30),
    ("os_8x8", dict(rows=8, cols=8), ["verilator"], 30),
    # Registers around each PE's multiplier (rows leave pipeline_stages cycles later).
    ("os_3x5_p2", dict(rows=3, cols=5, pipeline_stages=2), SIMULATORS, 30),
    ("os_2x2_ct_cs_p1", dict(_SHARED, pipeline_stages=1), ["icarus"], 30),
    ("ws_2x2_ct_cs", _SHARED, SIMULATORS, 30),
    ("ws_4x3", dict(rows=4, cols=3), SIMULATORS, 30),
    ("ws_4x3_uint4xint8_cs", dict(rows=4, cols=3, a_format="uint4", b_format="int8",
                                  accumulator="carry_save"), ["icarus"], 20),
    ("ws_8x8", dict(rows=8, cols=8), SIMULATORS, 20),
]
OS_CONFIGS = [c for c in CONFIGS if c[0].startswith("os_")]
WS_CONFIGS = [c for c in CONFIGS if c[0].startswith("ws_")]

#: ``drain="shift"`` (the accumulators shift out; the next tile waits): every run mixes K = 1,
#: tiles shorter than max(R, C) (30 %) and long ones (up to 40 beats); count = tiles.
SHIFT_CONFIGS = [
    ("os_shift_1x1", dict(rows=1, cols=1), SIMULATORS, 40),
    ("os_shift_4x4_ct", dict(rows=4, cols=4, reduction="compressor_tree"), SIMULATORS, 20),
    ("os_shift_3x5", dict(rows=3, cols=5), SIMULATORS, 30),
    ("os_shift_5x2_cs", dict(rows=5, cols=2, accumulator="carry_save"), SIMULATORS, 30),
    ("os_shift_2x3_ct_cs_uint4xint3", dict(rows=2, cols=3, a_format="uint4", b_format="int3",
                                           reduction="compressor_tree",
                                           accumulator="carry_save"), ["icarus"], 30),
]

#: The configurations that also run on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {'os_3x5', 'ws_4x3', 'os_shift_3x5'}


def _runs(configs):
    return [pytest.param(cid, params, sim, n, id=f"{cid}-{sim}")
            for cid, params, sims, n in configs for sim in sims if sim in SIMULATORS]


# -- golden model ----------------------------------------------------------------------------

def test_golden_output_stationary_is_a_matrix_product():
    a = np.array([[1, 2], [3, 4], [5, 6]])          # K = 3 beats of a[0..1] (R = 2)
    b = np.array([[1, 0, -1], [2, 1, 0], [0, 3, 1]])  # K = 3 beats of b[0..2] (C = 3)
    last = np.array([False, False, True])
    c, row_last = output_stationary(a, b, last, acc_width=8)
    # A is 2 x 3 with columns a[k]; B is 3 x 3 with rows b[k].
    assert c.tolist() == [[7, 18, 4], [10, 22, 4]]
    assert row_last.tolist() == [False, True]
    c, _ = output_stationary(np.array([[127]]), np.array([[127]]), np.array([True]),
                             acc_width=8)
    assert c.tolist() == [[1]]                      # 16129 mod 256 as int8


def test_golden_weight_stationary_uses_latest_load():
    w1, w2 = np.array([[1, 2], [3, 4]]), np.array([[0, 1], [1, 0]])
    y = weight_stationary([("load", w1), ("x", [1, 1]), ("load", w2), ("x", [5, 7])],
                          acc_width=16)
    assert y.tolist() == [[4, 6], [7, 5]]
    with pytest.raises(ValueError):
        weight_stationary([("x", [1, 1])], acc_width=8)


# -- regressions -----------------------------------------------------------------------------

OS_RUNS = _runs(OS_CONFIGS)


@pytest.mark.parametrize("config_id, params, simulator, tiles", OS_RUNS)
def test_output_stationary(config_id, params, simulator, tiles, tmp_path):
    params = {"dataflow": "output_stationary", **params}
    run_configuration("systolic_array", config_id, params, simulator, tmp_path,
                      backpressure_stimulus(os_operands, os_stimulus, tiles), cocotb=COCOTB)


SHIFT_RUNS = _runs(SHIFT_CONFIGS)


@pytest.mark.parametrize("config_id, params, simulator, tiles", SHIFT_RUNS)
def test_output_stationary_shift_drain(config_id, params, simulator, tiles, tmp_path):
    params = {"dataflow": "output_stationary", "drain": "shift", **params}
    R, C = params["rows"], params["cols"]

    def make_stimulus(design, rng, seed):
        a, b, last = os_operands(design.params, rng, tiles, short=0.3)
        lengths = np.diff(np.flatnonzero(last), prepend=-1)
        assert 1 in lengths and lengths.max() >= 2 * (R + C)
        assert max(R, C) <= 2 or any(1 < k < max(R, C) for k in lengths)
        return os_stimulus(design.params, design.manifest, a, b, last, idle=0.3, stall=0.4,
                           seed=seed)

    run_configuration("systolic_array", config_id, params, simulator, tmp_path, make_stimulus,
                      cocotb=COCOTB)


def test_os_cycle_model_by_hand():
    """The timing model the full-rate runs are checked against, on hand-counted cases."""
    last = [False, True, True, False, False, True]           # tiles of K = 2, 1, 3
    accepted, rows = os_cycles(dict(rows=2, cols=3, drain="overlap"), last)
    # overlap: a 'last' at least max(R, C) = 3 cycles after the previous; row r at +C + r.
    assert accepted.tolist() == [0, 1, 4, 5, 6, 7]
    assert rows.tolist() == [4, 5, 7, 8, 10, 11]
    accepted, rows = os_cycles(dict(rows=2, cols=3, drain="shift"), last)
    # shift: rows at +R + C - 1 + r; the next beat enters with the final row (+2R + C - 2).
    assert accepted.tolist() == [0, 1, 6, 11, 12, 13]
    assert rows.tolist() == [5, 6, 10, 11, 17, 18]
    accepted, rows = os_cycles(dict(rows=1, cols=1, drain="shift"), [True, True, False, True])
    assert accepted.tolist() == [0, 1, 2, 3] and rows.tolist() == [1, 2, 4]
    # overlap with a pipeline register in the PEs: the same input timing, rows one cycle later.
    accepted, rows = os_cycles(dict(rows=2, cols=3, drain="overlap", pipeline_stages=1), last)
    assert accepted.tolist() == [0, 1, 4, 5, 6, 7]
    assert rows.tolist() == [5, 6, 8, 9, 11, 12]


#: (drain, pipeline_stages) of the full-rate timing test.
TIMING_VARIANTS = [(drain, 0) for drain in DRAINS] + [("overlap", 3)]


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("drain, stages", TIMING_VARIANTS,
                         ids=[f"{d}-p{p}" for d, p in TIMING_VARIANTS])
def test_output_stationary_full_rate_timing(drain, stages, simulator, tmp_path):
    """Back to back input and an always-ready output: every beat and row in the cycle that the
    drain's documented timing gives (tiles of K = 1 to 12, many shorter than max(R, C))."""
    params = {"dataflow": "output_stationary", "rows": 3, "cols": 5}
    if drain != "overlap":
        params["drain"] = drain
    if stages:
        params["pipeline_stages"] = stages
    design = design_for("systolic_array", **params)
    seed = config_seed(f"os_timing_{drain}")
    a, b, last = os_operands(design.params, np.random.default_rng(seed), 16, k_max=12, short=0.4)
    stimulus = os_stimulus(design.params, design.manifest, a, b, last, idle=0.0, stall=0.0,
                           seed=seed)
    record = run_stream_test(design, simulator, stimulus, tmp_path)
    accepted, rows = os_cycles(design.params, last)
    start = int(record.accepted["i"][0])
    assert (record.accepted["i"] - start).tolist() == accepted.tolist()
    assert (record.first_valid["o"] - start).tolist() == rows.tolist()


WS_RUNS = _runs(WS_CONFIGS)


@pytest.mark.parametrize("config_id, params, simulator, loads", WS_RUNS)
def test_weight_stationary(config_id, params, simulator, loads, tmp_path):
    params = {"dataflow": "weight_stationary", **params}
    design = run_configuration("systolic_array", config_id, params, simulator, tmp_path / "random",
                               backpressure_stimulus(ws_events, ws_stimulus, loads), cocotb=COCOTB)
    # Full rate: one vector per cycle within a burst, latency R + C - 1 on every output.
    seed = config_seed(config_id)
    events = ws_events(design.params, np.random.default_rng(seed + 1), 6, burst_max=30)
    stimulus = ws_stimulus(design.params, design.manifest, events, idle=0.0, stall=0.0, seed=seed, check_timing=True)
    run_stream_test(design, simulator, stimulus, tmp_path / "timing")


# -- manifest, parameters, lint --------------------------------------------------------------

def test_manifest_streams_and_timing():
    os_design = design_for("systolic_array", rows=3, cols=5)
    assert os_design.module == "systolic_os_3x5_int8xint8_acc32"
    streams = os_design.manifest["streams"]
    assert [f["name"] for f in streams["i"]["fields"]] == \
        [f"a[{r}]" for r in range(3)] + [f"b[{c}]" for c in range(5)] + ["last"]
    assert [f["name"] for f in streams["o"]["fields"]] == [f"c[{c}]" for c in range(5)] + ["last"]
    assert os_design.manifest["latency"] is None
    ws = design_for("systolic_array", rows=4, cols=3, dataflow="weight_stationary",
                    reduction="compressor_tree", accumulator="carry_save")
    assert ws.module == "systolic_ws_4x3_int8xint8_acc18_ct_cs"
    assert sorted(ws.manifest["streams"]) == ["w", "x", "y"]
    assert (ws.manifest["latency"], ws.manifest["initiation_interval"]) == (6, 1)
    # acc18 holds 4 products of (-128)(-128) = 2^16 exactly.
    assert parse_format(ws.manifest["streams"]["y"]["fields"][0]["format"]).max >= 4 * 2 ** 14
    # drain=shift: same streams and fields, its own module name, valid against the schema.
    shift = design_for("systolic_array", rows=3, cols=5, drain="shift",
                       reduction="compressor_tree")
    assert shift.module == "systolic_os_3x5_int8xint8_acc32_ct_shift"
    assert shift.manifest["streams"] == os_design.manifest["streams"]
    assert (shift.manifest["latency"], shift.manifest["initiation_interval"]) == (None, None)
    assert shift.manifest["params"]["drain"] == "shift"
    assert os_design.manifest["params"]["drain"] == "overlap"
    piped = design_for("systolic_array", rows=3, cols=5, pipeline_stages=1)
    assert piped.module == "systolic_os_3x5_int8xint8_acc32_p1"
    assert piped.manifest["streams"] == os_design.manifest["streams"]
    assert (piped.manifest["latency"], piped.manifest["initiation_interval"]) == (None, None)
    Draft202012Validator(load_schema()).validate(json.loads(shift.manifest_text()))


@pytest.mark.parametrize("values, message", [
    (dict(rows=0), "--rows: 0 is not allowed; allowed: integer 1 to 32"),
    (dict(cols=33), "--cols: 33 is not allowed; allowed: integer 1 to 32"),
    (dict(dataflow="row_stationary"), "--dataflow: 'row_stationary' is not allowed"),
    (dict(reduction="wallace"), "--reduction: 'wallace' is not allowed"),
    (dict(a_format="fp8_e4m3"), "--a-format: 'fp8_e4m3' is not allowed"),
    (dict(drain="sideways"), "--drain: 'sideways' is not allowed; allowed: one of overlap, shift"),
    (dict(dataflow="weight_stationary", drain="shift"),
     "--drain: 'shift' is only for --dataflow output_stationary; allowed: overlap"),
    (dict(pipeline_stages=4), "--pipeline-stages: 4 is not allowed; allowed: integer 0 to 3"),
    (dict(drain="shift", pipeline_stages=1),
     "--pipeline-stages: 1 is only for --dataflow output_stationary with --drain overlap; "
     "allowed: 0"),
    (dict(dataflow="weight_stationary", pipeline_stages=1),
     "--pipeline-stages: 1 is only for --dataflow output_stationary with --drain overlap; "
     "allowed: 0"),
])
def test_bad_parameters(values, message):
    assert_one_line_param_error("systolic_array", values, message)


def test_cli_documents_the_drain():
    text = check_cli_error_and_help("systolic_array", ["--drain", "sideways"], "--drain",
                                    status=2)
    assert "--drain CHOICE" in text and "overlap, shift" in text


LINT_CONFIGS = [
    dict(rows=3, cols=2, dataflow="output_stationary", reduction="compressor_tree",
         accumulator="carry_save"),
    dict(rows=2, cols=3, dataflow="weight_stationary", a_format="uint4", b_format="int3",
         reduction="compressor_tree"),
    dict(rows=1, cols=1, dataflow="weight_stationary", accumulator="carry_save"),
    dict(rows=1, cols=4, dataflow="output_stationary"),
    dict(rows=2, cols=1, pipeline_stages=3, accumulator="carry_save"),
    dict(rows=4, cols=2, dataflow="weight_stationary"),
    dict(rows=1, cols=1, drain="shift", accumulator="carry_save"),
    dict(rows=3, cols=2, drain="shift", reduction="compressor_tree"),
    dict(rows=2, cols=4, drain="shift", a_format="uint3", b_format="uint5"),
]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=[f"lint{n}" for n in range(len(LINT_CONFIGS))])
def test_lint(params, tmp_path):
    design = design_for("systolic_array", **params)
    check_lint(design, tmp_path)
