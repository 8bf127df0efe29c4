"""``cube_array`` (3D-Cube): golden GEMM model, regression on Verilator and Icarus with random
idle and back-pressure (one-beat and long tiles, extreme operands, narrow wrapping
accumulators), the cocotb bench, full-rate timing, ``sim.simulate``, lint and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.golden.cube_array import cube_array
from sim.runner import run_stream_test
from sim.stimuli.cube_array import cube_operands, cube_stimulus

from .conftest import (SIMULATORS, assert_one_line_param_error, backpressure_stimulus,
                       check_cli_error_and_help, check_lint, design_for, full_rate_stimulus,
                       run_configuration, run_seeded, simulator_runs)

_CT_CS = dict(reduction="compressor_tree", accumulator="carry_save")
#: The issue's configurations: the area target 2x2x2 int8 acc17 (default options, the
#: compressor tree with either accumulator), a tall single column with mixed signedness, a single
#: row (unsigned operands, narrow wrapping accumulator) and a 4x4 grid.
CONFIGS = [
    ("2x2x2_acc17", dict(acc_width=17)),
    ("2x2x2_acc17_ct_cs", dict(acc_width=17, **_CT_CS)),
    ("2x2x2_acc17_ct", dict(acc_width=17, reduction="compressor_tree")),
    ("3x1x4_uint4xint8", dict(rows=3, cols=1, lanes=4, a_format="uint4", b_format="int8")),
    ("1x3x1_uint3xuint5_acc9", dict(rows=1, cols=3, lanes=1, a_format="uint3",
                                    b_format="uint5", acc_width=9)),
    ("4x4x2_ct_cs", dict(rows=4, cols=4, lanes=2, **_CT_CS)),
]
#: Random tiles (1 to 40 k-blocks each) after the extreme ones; fewer for the 4x4 grid, whose
#: netlist Icarus simulates slowly.
TILES = {cid: 40 for cid, _ in CONFIGS} | {"4x4x2_ct_cs": 8}
#: Verilator builds are the slow ones (minutes for the 4x4 grid's carry-save compressor trees):
#: every configuration runs on Icarus, all but the 4x4 grid also on Verilator.
VERILATOR = {cid for cid, _ in CONFIGS[:5]}
#: The configuration that also runs on the cocotb bench, on both simulators.
COCOTB = {CONFIGS[0][0]}


# -- golden model ----------------------------------------------------------------------------

def test_golden_model_by_hand():
    # R = 2, C = 1, K = 2; two k-blocks: A = [[1, 2, 5, 6], [3, 4, 7, 8]], B = [1, 0, -1, 2]^T.
    a = [[1, 2, 3, 4], [5, 6, 7, 8]]            # r*K + j
    b = [[1, 0], [-1, 2]]                       # j*C + c
    c, row_last = cube_array(a, b, [False, True], rows=2, cols=1, lanes=2, acc_width=8)
    assert c.tolist() == [[1 - 5 + 12], [3 - 7 + 16]]
    assert row_last.tolist() == [False, True]
    # R = 1, C = 2, K = 2: lane j, column c at j*C + c; two one-beat tiles.
    c, row_last = cube_array([[1, 2], [3, 4]], [[1, 2, 3, 4], [0, 1, 1, 0]], [True, True],
                             rows=1, cols=2, lanes=2, acc_width=8)
    assert c.tolist() == [[1 * 1 + 2 * 3, 1 * 2 + 2 * 4], [4, 3]]
    assert row_last.tolist() == [True, True]
    # Wrapping: 2 * 127 * 127 = 32258 modulo 2^8 as int8 is 2; unsigned 255 * 255 mod 2^9.
    c, _ = cube_array([[127, 127]], [[127, 127]], [True], rows=1, cols=1, lanes=2, acc_width=8)
    assert c.tolist() == [[2]]
    c, _ = cube_array([[255]], [[255]], [True], rows=1, cols=1, lanes=1, acc_width=9,
                      acc_signed=False)
    assert c.tolist() == [[65025 % 512]]
    # Beats after the final last give nothing.
    c, row_last = cube_array([[1]], [[1]], [False], rows=1, cols=1, lanes=1, acc_width=4)
    assert c.shape == (0, 1) and row_last.shape == (0,)


def test_stimulus_covers_extremes_and_tile_lengths():
    params = design_for("cube_array", **CONFIGS[3][1]).params
    a, b, last = cube_operands(params, np.random.default_rng(1), 40)
    assert a.shape[1] == 3 * 4 and b.shape[1] == 4 * 1
    assert {a.min(), a.max(), b.min(), b.max()} == {0, 15, -128, 127}
    lengths = np.diff(np.concatenate(([-1], np.flatnonzero(last))))
    assert lengths.min() == 1 and lengths.max() == 40


# -- regressions -----------------------------------------------------------------------------

@pytest.mark.parametrize("config_id, params, simulator",
                         simulator_runs(CONFIGS, verilator=VERILATOR))
def test_regression_with_backpressure(config_id, params, simulator, tmp_path):
    run_configuration("cube_array", config_id, params, simulator, tmp_path,
                      backpressure_stimulus(cube_operands, cube_stimulus, TILES[config_id]))


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_cocotb_engine(simulator, tmp_path):
    config_id, params = CONFIGS[0]
    run_configuration("cube_array", config_id, params, simulator, tmp_path,
                      backpressure_stimulus(cube_operands, cube_stimulus, 8, k_max=6),
                      cocotb=COCOTB)


def test_full_rate_one_row(tmp_path):
    """R = 1: one beat per cycle, every result 1 cycle after its last beat (``check_timing``
    against the manifest)."""
    params = CONFIGS[4][1]
    design = design_for("cube_array", **params)
    assert (design.manifest["latency"], design.manifest["initiation_interval"]) == (1, 1)
    run_seeded("cube_array", params, SIMULATORS[-1], tmp_path,
               full_rate_stimulus(cube_operands, cube_stimulus, 30, k_max=4), seed=5)


def test_full_rate_rows_and_tiles(tmp_path):
    """R = 3 at full rate: row r leaves 1 + r cycles after the tile's last beat; beats come one
    per cycle, the beat after a last beat R cycles after it (the rows drain first)."""
    params = CONFIGS[3][1]
    design = design_for("cube_array", **params)
    assert design.manifest["latency"] is None and design.manifest["initiation_interval"] is None
    a, b, last = cube_operands(design.params, np.random.default_rng(7), 30, k_max=6)
    stimulus = cube_stimulus(design.params, design.manifest, a, b, last, seed=7)
    record = run_stream_test(design, SIMULATORS[-1], stimulus, tmp_path)
    rows = params["rows"]
    accepted = np.asarray(record.accepted["i"])
    for index, (first, (_, _, end)) in enumerate(zip(record.first_valid["o"].tolist(),
                                                     stimulus["sources"]["o"])):
        assert first - int(accepted[end]) == 1 + index % rows, index
    assert (np.diff(accepted) == np.where(last[:-1], rows, 1)).all()


def test_simulate_with_check(tmp_path):
    import sim

    design = design_for("cube_array", **CONFIGS[1][1])
    a, b, last = cube_operands(design.params, np.random.default_rng(3), 10, k_max=5)
    outputs = sim.simulate(design, {"i": {"a": a, "b": b, "last": last}},
                           simulator=SIMULATORS[-1], idle=0.3, stall=0.4, seed=3, check=True,
                           work_dir=tmp_path)
    expected, row_last = cube_array(a, b, last, rows=2, cols=2, lanes=2, acc_width=17)
    assert np.array_equal(np.asarray(outputs["o"]["c"]).astype(object), expected)
    assert np.array_equal(np.asarray(outputs["o"]["last"]).astype(bool), row_last)


# -- manifest, parameters, lint --------------------------------------------------------------

def test_manifest_and_default_accumulator():
    design = design_for("cube_array")
    # int8 x int8, K = 2: a beat adds -32512 .. 32768 (17 bits); 2^16 beats: 33 bits.
    assert design.params["acc_width"] == 33
    assert design.module == "cube_2x2x2_int8xint8_acc33"
    streams = design.manifest["streams"]
    assert [f["name"] for f in streams["i"]["fields"]] == \
        [f"a[{k}]" for k in range(4)] + [f"b[{k}]" for k in range(4)] + ["last"]
    assert [f["name"] for f in streams["o"]["fields"]] == ["c[0]", "c[1]", "last"]
    assert streams["o"]["fields"][0]["format"] == "int33"
    fields = {f["name"]: f["description"] for f in streams["i"]["fields"]}
    assert fields["a[3]"].startswith("A[r][j] for 3 = r*2 + j")
    assert fields["b[1]"].startswith("B[j][c] for 1 = j*2 + c")
    design = design_for("cube_array", rows=3, cols=1, lanes=4, a_format="uint4",
                        b_format="uint8", **_CT_CS)
    assert design.module == "cube_3x1x4_uint4xuint8_acc30_ct_cs"
    assert design.manifest["streams"]["o"]["fields"][0]["format"] == "uint30"


@pytest.mark.parametrize("values, message", [
    (dict(rows=0), "--rows: 0 is not allowed; allowed: integer 1 to 16"),
    (dict(cols=17), "--cols: 17 is not allowed; allowed: integer 1 to 16"),
    (dict(lanes=17), "--lanes: 17 is not allowed; allowed: integer 1 to 16"),
    (dict(a_format="fp8_e4m3"), "--a-format: 'fp8_e4m3' is not allowed"),
    (dict(b_format="int17"), "--b-format"),
    (dict(reduction="wallace"), "--reduction: 'wallace' is not allowed"),
    (dict(accumulator="redundant"), "--accumulator: 'redundant' is not allowed"),
    (dict(acc_width=16),
     "--acc-width: 16 cannot hold one beat's products (-32512 to 32768); allowed: 17 to 128"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error("cube_array", values, message)


def test_cli_error_and_help():
    text = check_cli_error_and_help("cube_array", ["--lanes", "0"], "--lanes", status=2)
    for field in ("a[i], i = 0..3", "b[i], i = 0..3", "c[c], c = 0..1", "last"):
        assert field in text


LINT_CONFIGS = [
    dict(acc_width=17, reduction="compressor_tree"),
    dict(rows=1, cols=1, lanes=1, **_CT_CS),
    dict(rows=3, cols=2, lanes=3, a_format="uint4", b_format="int3", accumulator="carry_save"),
    dict(rows=2, cols=3, lanes=1, a_format="uint2", b_format="uint2"),
]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=["2x2x2-ct", "1x1x1-ct-cs", "3x2x3-cs",
                                                      "2x3x1-uint"])
def test_lint(params, tmp_path):
    check_lint(design_for("cube_array", **params), tmp_path)
