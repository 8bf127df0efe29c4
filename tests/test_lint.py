"""Generated Verilog is lint-clean: Verilator -Wall (with the waivers of sim/lint.py) and Yosys
``check -assert``."""

from __future__ import annotations

import pytest

from generators.emit import write_design
from sim.lint import VERILATOR_WAIVERS, LintError, verilator_lint

from .conftest import check_lint, design_for

CONFIGS = [
    dict(a_format="int8", b_format="int4", lanes=8),
    dict(a_format="int8", b_format="int8", lanes=1, pipeline_stages=3),
    dict(a_format="uint4", b_format="int16", lanes=3, acc_width=22, pipeline_stages=2),
    dict(a_format="int1", b_format="int1", lanes=64, pipeline_stages=1),
    dict(a_format="uint16", b_format="uint16", lanes=2),
]
IDS = ["-".join(str(v) for v in c.values()) for c in CONFIGS]


@pytest.mark.parametrize("params", CONFIGS, ids=IDS)
def test_verilator_wall_and_yosys_check(params, tmp_path):
    check_lint(design_for("int_mac", **params), tmp_path)


@pytest.mark.parametrize("waiver", sorted(VERILATOR_WAIVERS))
def test_every_waiver_is_needed(waiver, tmp_path):
    """The waiver list stays minimal: dropping any one waiver makes some configuration fail."""
    others = [w for w in VERILATOR_WAIVERS if w != waiver]
    failures = []
    for params in CONFIGS:
        design = design_for("int_mac", **params)
        verilog_path, _ = write_design(design, tmp_path)
        try:
            verilator_lint(verilog_path, design.module, waivers=others)
        except LintError as exc:
            failures.append(str(exc))
    assert any(f"%Warning-{waiver}" in f for f in failures)
