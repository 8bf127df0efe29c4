"""``scripts/run_digits.py``: the quantized digits MLP on the RTL, on a handful of test samples
(the full run is by hand; see the script's docstring)."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

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
    """Weight-stationary tiling (phases, partial sums) and BitMoD group scaling: every output
    value equals the integer reference, so the RTL's predictions are the reference's."""
    simulator = "icarus" if "icarus" in available_simulators() else "verilator"
    report_path = tmp_path / "digits.json"
    code = run_digits.main(["--engines", "fast", "--samples", "6", "--simulator", simulator,
                            "--pes", "systolic_ws,bitmod_mac", "--json", str(report_path),
                            "--markdown", str(tmp_path / "digits.md")])
    out, err = capsys.readouterr()
    assert code == 0, err
    report = json.loads(report_path.read_text())
    assert [r["pe"] for r in report["rows"]] == ["systolic_ws", "bitmod_mac"]
    for row in report["rows"]:
        assert row["samples"] == 6 and row["values"] > 0 and row["engine"] == "fast"
        assert row["mismatches"] == 0, row
        assert row["accuracy_rtl"] == row["accuracy_int_reference"], row
        assert row["predictions_equal_reference"], row
        assert len(row["layers"]) == 2 and row["cycles"] > 0
    assert "| systolic_ws 8x8 |" in out and "| bitmod_mac K=8 |" in out
    assert err.count(" layer ") >= 4          # one progress line per PE and layer


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
