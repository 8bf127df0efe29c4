"""``scripts/run_digits.py``: the quantized digits MLP on the RTL, on a handful of test samples
(the full run is by hand; see the script's docstring)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import numpy as np
import pytest

from sim.runner import available_simulators

SCRIPT = Path(__file__).resolve().parent.parent / "scripts" / "run_digits.py"


@pytest.fixture(scope="module")
def run_digits():
    spec = importlib.util.spec_from_file_location("peforge_script_run_digits", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module         # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_few_samples_no_mismatch_rtl_accuracy_equals_reference(run_digits, tmp_path, capsys):
    """Weight-stationary tiling (phases, partial sums), BitMoD group scaling and the LUT
    mpGEMM tiles (2-bit symmetric weights; 6 samples: 3 tiles of 2 rows, layer 2's 10 outputs
    padded to 16 columns): every output value equals the integer reference, so the RTL's
    predictions are the reference's."""
    simulator = "icarus" if "icarus" in available_simulators() else "verilator"
    report_path = tmp_path / "digits.json"
    code = run_digits.main(["--engines", "fast", "--samples", "6", "--simulator", simulator,
                            "--pes", "systolic_ws,bitmod_mac,lut_mpgemm",
                            "--json", str(report_path), "--markdown", str(tmp_path / "digits.md")])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert [r["pe"] for r in report["rows"]] == ["systolic_ws", "bitmod_mac", "lut_mpgemm"]
    for row in report["rows"]:
        assert row["samples"] == 6 and row["values"] > 0 and row["engine"] == "fast"
        assert row["mismatches"] == 0, row
        assert row["accuracy_rtl"] == row["accuracy_int_reference"], row
        assert row["predictions_equal_reference"], row
        assert len(row["layers"]) == 2 and row["cycles"] > 0
    assert "| systolic_ws 8x8 |" in out and "| bitmod_mac K=8 |" in out
    assert "| lut_mpgemm M=2 N=16 K=4 D=1 | 2-bit symmetric (2q-3) per channel |" in out
    lut = report["rows"][2]
    assert lut["params"]["weight_encoding"] == "symmetric" and lut["params"]["weight_bits"] == 2
    # layer 1: 6 x 32 values in 3 x 2 tiles of 64 / 4 beats; layer 2: 6 x 10 in 3 x 1 of 8
    assert lut["values"] == 6 * 32 + 6 * 10 and lut["beats"] == 3 * 2 * 16 + 3 * 8
    assert err.count(" layer ") >= 6          # one progress line per PE and layer


def test_symmetric2_quantizer_hand_computed(run_digits):
    """w = s * (2q - 3): weights on the grid of step 0.5 come back exactly (q 3 2 1 0 is
    3 1 -1 -3); off-grid weights take the least-squares step of their nearest codes."""
    layer = run_digits.FloatLayer(np.array([[1.5, 0.5, -0.5, -1.5],
                                            [0.9, 0.2, -0.1, -0.2]]), np.zeros(2))
    q = run_digits.quantize_symmetric2(layer)
    assert q.lane_codes["w"].tolist() == [[3, 2, 1, 0], [3, 2, 1, 1]]
    assert q.values.tolist() == [[3, 1, -1, -3], [3, 1, -1, -1]]
    # row 2: s = <w, v> / <v, v> = (2.7 + 0.2 + 0.1 + 0.2) / (9 + 1 + 1 + 1) = 3.2 / 12
    np.testing.assert_allclose(q.lsb, [0.5, 3.2 / 12])
    np.testing.assert_allclose(q.dequantized()[0], layer.weight[0])
    assert q.reference(np.array([[1, 2, 3, 4]])).tolist() == [[3 + 2 - 3 - 12, 3 + 2 - 3 - 4]]


@pytest.mark.parametrize("args,expected", [
    (["--engines", "slow"], "--engines: 'slow' is not allowed"),
    (["--samples", "0"], "--samples: '0' is not allowed"),
    (["--samples", "100000"], "--samples 100000: more than the"),
    (["--pes", "tpu"], "--pes: 'tpu' is not allowed"),
    (["--simulator", "vcs"], "--simulator: invalid choice: 'vcs'"),
])
def test_bad_flag_one_line_exit_2(run_digits, tmp_path, capsys, args, expected):
    json_path = tmp_path / "r.json"
    try:
        code = run_digits.main(["--json", str(json_path), "--markdown", str(tmp_path / "r.md"),
                                *args])
    except SystemExit as exc:       # argparse
        code = exc.code
    out, err = capsys.readouterr()
    assert code == 2
    assert len(err.splitlines()) == 1 and err.startswith("run_digits.py: error: "), err
    assert expected in err, err
    assert "allowed" in err or "choose from" in err, err
    assert not json_path.exists() and out == ""
