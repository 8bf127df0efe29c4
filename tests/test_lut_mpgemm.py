"""``lut_mpgemm`` (integer activations): regression on Verilator and Icarus against the golden
model (every K-tuple of weight codes where cheap against extreme activations, random beats with a
random precision each, random idle and back-pressure), full-rate timing, lint, the golden model
itself, ``sim.simulate``, and parameter errors."""

from __future__ import annotations

import subprocess

import numpy as np
import pytest

from generators import get_generator
from sim.golden.lut_mpgemm import decode_weights, lut_mpgemm
from sim.runner import run_stream_test
from sim.stimuli.lut_mpgemm import lut_operands, lut_stimulus, weight_tuples
from sim.tools import venv_tool

from .conftest import (SIMULATORS, assert_one_line_param_error, check_lint, design_for,
                       full_rate_stimulus, run_configuration, run_seeded, simulator_runs)


def _config(b, encoding, k, d, n, m, table, **extra):
    cid = f"int8_{'i' if encoding == 'int' else 's'}{b}_k{k}_d{d}_n{n}_m{m}_{table[:4]}"
    return cid, dict(act_format="int8", weight_bits=b, weight_encoding=encoding, lut_k=k,
                     depth=d, cols=n, rows=m, table=table, **extra)


#: The issue's matrix, covered pairwise: int8 x int1/int2/int4 and symmetric 1/2 bits; K = 2 and
#: 4; D = 1 and 2; N = 1 and 16; M = 1 and 2; both table kinds (one narrow accumulator).
CONFIGS = [
    _config(1, "int", 2, 1, 1, 1, "symmetric"),
    _config(2, "int", 4, 2, 16, 2, "full"),
    _config(4, "int", 4, 1, 16, 2, "symmetric"),
    _config(4, "int", 2, 2, 1, 1, "full", acc_width=14),
    _config(1, "symmetric", 4, 2, 1, 2, "symmetric"),
    _config(2, "symmetric", 2, 1, 16, 1, "full"),
    _config(2, "symmetric", 2, 2, 1, 2, "symmetric"),
]
RANDOM_BEATS = 300
#: The configuration that also runs on the cocotb bench, on both simulators.
COCOTB = {CONFIGS[0][0]}

#: Verilator builds are the slow ones: the native engine runs all configurations on Icarus and
#: four on Verilator (every encoding and table kind, K, D, N and M value among them); the first
#: one runs on Verilator on the cocotb bench.
VERILATOR = {cid for cid, _ in CONFIGS[2:6]}

RUNS = simulator_runs(CONFIGS, verilator=VERILATOR)


@pytest.mark.parametrize("config_id, params, simulator", RUNS)
def test_regression_with_backpressure(config_id, params, simulator, tmp_path):
    def make_stimulus(design, rng, seed):
        a, w, prec, last = lut_operands(design.params, rng, RANDOM_BEATS)
        assert set(prec.tolist()) == set(range(1, params["weight_bits"] + 1))
        assert len(set(prec[-RANDOM_BEATS:].tolist())) == params["weight_bits"]
        return lut_stimulus(design.params, design.manifest, a, w, prec, last, idle=0.3,
                            stall=0.4, seed=seed)

    run_configuration("lut_mpgemm", config_id, params, simulator, tmp_path, make_stimulus)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_cocotb_engine(simulator, tmp_path):
    config_id, params = CONFIGS[0]
    run_configuration("lut_mpgemm", config_id, params, simulator, tmp_path,
                      lambda design, rng, seed: lut_stimulus(
                          design.params, design.manifest, *lut_operands(design.params, rng, 60),
                          idle=0.3, stall=0.4, seed=seed),
                      cocotb=COCOTB)


def test_full_rate_latency_one_row(tmp_path):
    """M = 1: the manifest's latency (1) holds for every output beat (``check_timing``)."""
    params = CONFIGS[3][1]
    design = design_for("lut_mpgemm", **params)
    assert design.manifest["latency"] == 1 and design.manifest["initiation_interval"] is None
    run_seeded("lut_mpgemm", params, SIMULATORS[-1], tmp_path,
               full_rate_stimulus(lut_operands, lut_stimulus, 200, mean_group=2, extremes=False),
               seed=5)


def test_full_rate_rows_and_beats(tmp_path):
    """M = 2 at full rate: row m leaves 1 + m cycles after its last beat; a beat is accepted
    prec cycles after the previous one, prec + M - 1 after a last beat (documented timing)."""
    config_id, params = CONFIGS[2]
    design = design_for("lut_mpgemm", **params)
    assert design.manifest["latency"] is None
    rng = np.random.default_rng(7)
    a, w, prec, last = lut_operands(design.params, rng, 200, mean_group=2, extremes=False)
    stimulus = lut_stimulus(design.params, design.manifest, a, w, prec, last, seed=7)
    record = run_stream_test(design, SIMULATORS[-1], stimulus, tmp_path)
    rows = params["rows"]
    accepted = record.accepted["i"]
    for index, (first, (_, _, end)) in enumerate(zip(record.first_valid["o"].tolist(),
                                                     stimulus["sources"]["o"])):
        assert first - int(accepted[end]) == 1 + index % rows, index
    gaps = np.diff(accepted)
    expected = prec[1:] + np.where(last[:-1], rows - 1, 0)
    assert (gaps == expected).all()


LINT_CONFIGS = [
    CONFIGS[0][1],
    dict(act_format="int5", weight_bits=3, weight_encoding="int", lut_k=3, depth=2, cols=3,
         rows=3),
    dict(act_format="int16", weight_bits=4, weight_encoding="symmetric", lut_k=6, cols=2,
         table="full", acc_width=40),
    dict(),
]
LINT_IDS = ["int8-i1-k2", "int5-i3-k3-d2-m3", "int16-s4-k6-full", "default"]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=LINT_IDS)
def test_lint(params, tmp_path):
    check_lint(design_for("lut_mpgemm", **params), tmp_path)


def test_no_multiplier_in_the_design():
    assert " * " not in design_for("lut_mpgemm", weight_bits=4, depth=2).verilog()


def test_golden_model_by_hand():
    # int at 2 bits: codes 3, 1 -> -1, 1; symmetric at 2 bits: 3, 1 -> 3, -1; higher bits ignored.
    assert decode_weights([[7, 5]], [2], encoding="int").tolist() == [[-1, 1]]
    assert decode_weights([[7, 5]], [2], encoding="symmetric").tolist() == [[3, -1]]
    assert decode_weights([[1, 0]], [1], encoding="int").tolist() == [[-1, 0]]
    assert decode_weights([[1, 0]], [1], encoding="symmetric").tolist() == [[1, -1]]
    # M = 2, D*K = 2, N = 1, two beats in one group: y = A0 @ W0 + A1 @ W1.
    a = [[1, 2, 3, 4], [5, 6, 7, 8]]
    w = [[1, 2], [3, 0]]              # int, prec 2: [1, -2], then [-1, 0]
    y, out_last = lut_mpgemm(a, w, [2, 2], [False, True], rows=2, cols=1,
                             weight_encoding="int", acc_width=8)
    assert y.tolist() == [[1 * 1 + 2 * -2 + 5 * -1], [3 - 8 - 7]]
    assert out_last.tolist() == [False, True]
    # Wrapping at acc_width.
    y, _ = lut_mpgemm([[127, 127]], [[1, 1]], [2], [True], rows=1, cols=1,
                      weight_encoding="int", acc_width=8)
    assert y.tolist() == [[254 - 256]]


def test_every_k2_combination_is_exercised():
    params = design_for("lut_mpgemm", **CONFIGS[3][1]).params
    rng = np.random.default_rng(1)
    assert len(weight_tuples(4, 2, rng)) == 256
    a, w, prec, _ = lut_operands(params, rng, 0)
    at4 = w[prec == 4] & 15
    # w index (d*K + j)*N + n with N = 1: group 0 holds positions 0, 1 and group 1 positions 2, 3.
    pairs = {tuple(x) for x in np.concatenate([at4[:, 0:2], at4[:, 2:4]]).tolist()}
    assert len(pairs) == 256


def test_simulate_with_check(tmp_path):
    import sim

    design = design_for("lut_mpgemm", **CONFIGS[0][1])
    rng = np.random.default_rng(3)
    a, w, prec, last = lut_operands(design.params, rng, 40, extremes=False)
    outputs = sim.simulate(design, {"i": {"a": a, "w": w, "prec": prec, "last": last}},
                           simulator=SIMULATORS[-1], check=True, work_dir=tmp_path)
    expected, _ = lut_mpgemm(a, w, prec, last, rows=1, cols=1, weight_encoding="int",
                             acc_width=design.params["acc_width"])
    assert np.array_equal(np.asarray(outputs["o"]["y"]).astype(object), expected)


@pytest.mark.parametrize("values, message", [
    (dict(act_format="fp16"),
     "--act-format: fp16: fp16/bf16 activations are not implemented yet; allowed: int4 to int16"),
    (dict(act_format="bf16"), "fp16/bf16 activations are not implemented yet"),
    (dict(act_format="uint8"), "--act-format"),
    (dict(act_format="int3"), "--act-format"),
    (dict(weight_bits=5), "--weight-bits: 5"),
    (dict(weight_bits=0), "--weight-bits: 0"),
    (dict(lut_k=1), "--lut-k: 1"),
    (dict(weight_encoding="ternary"), "--weight-encoding"),
    # int8 x int2, D*K = 4: one beat spans 4 * (127 * -2) .. 4 * (-128 * -2) = -1016 .. 1024,
    # 12 bits.
    (dict(weight_bits=2, lut_k=4, depth=1, acc_width=11),
     "--acc-width: 11 cannot hold one beat's products (-1016 to 1024); allowed: 12 to 128"),
    # symmetric 2 bits: weights -3..3, int4 activations: 2 * (-8 * 3) = -48 .. 48, 7 bits.
    (dict(act_format="int4", weight_bits=2, weight_encoding="symmetric", lut_k=2, acc_width=6),
     "--acc-width: 6 cannot hold one beat's products (-48 to 48); allowed: 7 to 128"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error("lut_mpgemm", values, message)


def test_cli_error_and_help():
    cli = venv_tool("generate-verilog")
    proc = subprocess.run([cli, "lut_mpgemm", "--act-format", "fp16"], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--act-format" in proc.stderr
    assert "Traceback" not in proc.stderr
    text = " ".join(subprocess.run([cli, "lut_mpgemm", "--help"], capture_output=True,
                                   text=True).stdout.split())
    for p in get_generator("lut_mpgemm").params:
        assert " ".join(p.describe().split()) in text
    for field in ("a[k]", "w[k]", "prec", "last", "y[k]"):
        assert field in text


def test_default_accumulator_holds_2_16_beats():
    # int8 x int2, D*K = 4: a beat is at most 4 * 256 = 2^10; 2^16 beats: 2^26, 28 bits signed.
    assert design_for("lut_mpgemm").params["acc_width"] == 28
