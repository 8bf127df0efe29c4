"""The ``generate-verilog`` command: listing, help, output files, determinism, bad input."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from generators import GENERATORS
from sim.lint import venv_tool

CLI = venv_tool("generate-verilog")
INT_MAC_ARGS = ["int_mac", "--a-format", "int8", "--b-format", "int4", "--lanes", "8"]


def run(*args, cwd=None):
    return subprocess.run([CLI, *args], capture_output=True, text=True, cwd=cwd)


def test_list_names_every_generator():
    proc = run("--list")
    assert proc.returncode == 0
    listed = [line.split("\t")[0] for line in proc.stdout.splitlines()]
    assert listed == sorted(GENERATORS)


def test_help_shows_every_parameter_with_type_default_and_range():
    proc = run("int_mac", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    for p in GENERATORS["int_mac"].params:
        assert p.flag in text
        assert " ".join(p.describe().split()) in text
    assert "default: int8" in text and "integer 1 to 64" in text


def test_writes_verilog_and_manifest(tmp_path):
    out = tmp_path / "out"
    proc = run(*INT_MAC_ARGS, "-o", str(out))
    assert proc.returncode == 0, proc.stderr
    # Largest |product| is (-128) * (-8) = 2^10; 8 lanes * 2^16 beats of it is 2^29: 31 bits signed.
    module = "int_mac_int8xint4_k8_acc31_p0"
    assert sorted(os.listdir(out)) == [f"{module}.json", f"{module}.v"]
    verilog = (out / f"{module}.v").read_text()
    assert f"module {module}(" in verilog
    manifest = json.loads((out / f"{module}.json").read_text())
    assert manifest["module"] == module
    assert manifest["params"] == {"a_format": "int8", "b_format": "int4", "lanes": 8,
                                  "acc_width": 31, "pipeline_stages": 0,
                                  "reduction": "adder_tree", "accumulator": "binary"}


def test_same_parameters_give_identical_bytes(tmp_path):
    """Also from another working directory and with YOSYS set (Amaranth must stay pinned)."""
    first, second = tmp_path / "a", tmp_path / "b"
    assert run(*INT_MAC_ARGS, "-o", str(first)).returncode == 0
    env = {**os.environ, "YOSYS": "/nonexistent/yosys"}
    proc = subprocess.run([CLI, *INT_MAC_ARGS, "-o", str(second)], capture_output=True,
                          text=True, cwd=tmp_path, env=env)
    assert proc.returncode == 0, proc.stderr
    for name in os.listdir(first):
        assert (first / name).read_bytes() == (second / name).read_bytes(), name
    text = "".join((first / n).read_text() for n in os.listdir(first))
    assert str(tmp_path) not in text and "/home" not in text and "/work" not in text


BAD_INPUTS = [
    (["no_such_gen"], "unknown generator 'no_such_gen'"),
    (["int_mac", "--frobnicate", "3"], "unrecognized arguments: --frobnicate"),
    (["int_mac", "--a-format", "int0"], "--a-format: 'int0' is not a valid format"),
    (["int_mac", "--b-format", "intx"], "--b-format: 'intx' is not a valid format"),
    (["int_mac", "--a-format", "int17"], "--a-format: 'int17' is not allowed"),
    (["int_mac", "--a-format", "fp8_e4m3"], "--a-format: 'fp8_e4m3' is not allowed"),
    (["int_mac", "--lanes", "0"], "--lanes: 0 is not allowed; allowed: integer 1 to 64"),
    (["int_mac", "--lanes", "65"], "--lanes: 65 is not allowed; allowed: integer 1 to 64"),
    (["int_mac", "--lanes", "four"], "--lanes: 'four' is not allowed; allowed: integer 1 to 64"),
    (["int_mac", "--pipeline-stages", "4"], "--pipeline-stages: 4 is not allowed"),
    (["int_mac", "--acc-width", "0"], "--acc-width: 0 is not allowed"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_one_line_nonzero_no_files(tmp_path, args, message):
    out = tmp_path / "out"
    proc = run(*args, "-o", str(out))
    assert proc.returncode != 0
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert message in lines[0], lines[0]
    assert "Traceback" not in proc.stderr
    assert not out.exists() or not os.listdir(out)


def test_unwritable_output_directory(tmp_path):
    """An output path that cannot be a directory (tests run as root too, so no chmod tricks)."""
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    for out in (blocker, blocker / "sub"):
        proc = run(*INT_MAC_ARGS, "-o", str(out))
        assert proc.returncode != 0
        lines = proc.stderr.strip().splitlines()
        assert len(lines) == 1 and "output directory" in lines[0], proc.stderr
    assert os.listdir(tmp_path) == ["file"] and blocker.read_text() == "not a directory"
