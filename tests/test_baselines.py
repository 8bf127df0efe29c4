"""The hand-written array baselines (``scripts/baselines/``) compute what they claim: each is
simulated at its default size with the schedule a controller would drive and compared with
NumPy GEMM (``tests/baseline_bench.py``), so area ratios against them compare equal function."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import pytest

from sim.runner import available_simulators, run_test

BASELINES = Path(__file__).resolve().parent.parent / "scripts" / "baselines"
SIMULATOR = "icarus" if "icarus" in available_simulators() else "verilator"


@dataclass
class Baseline:
    """What :func:`sim.runner.build` needs of a design: the module and its Verilog."""

    module: str

    def verilog(self) -> str:
        return (BASELINES / f"{self.module}.v").read_text()

    def manifest_text(self) -> str:
        return json.dumps({"module": self.module}) + "\n"


@pytest.mark.parametrize("module, config", [
    ("os_array_baseline", dict(kind="os", rows=4, cols=4, k=6, acc=32)),
    ("ws_array_baseline", dict(kind="ws", rows=4, cols=4, k=7, acc=32)),
    ("cube_array_baseline", dict(kind="cube", rows=2, cols=2, lanes=2, k=9, acc=17)),
])
def test_baseline_computes_the_gemm(module, config, tmp_path):
    run_test(Baseline(module), SIMULATOR, test_module="tests.baseline_bench", test_dir=tmp_path,
             env={"PEFORGE_BASELINE": json.dumps({**config, "seed": 5})})
