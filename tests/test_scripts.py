"""Smoke tests of the synthesis scripts: they run, compare against the baseline, and reject bad
input with one line. (Full area/Fmax reports are run by hand; see README.)"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def script(name, *args, cwd=None):
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                          text=True, cwd=cwd)


@pytest.mark.parametrize("name", ["synth_area.py", "build_bitstream.py"])
def test_help(name):
    proc = script(name, "--help")
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_synth_area_small_int_mac_beside_baseline(tmp_path):
    out = tmp_path / "area.json"
    proc = script("synth_area.py", "int_mac", "--param", "a_format=uint3", "--param",
                  "b_format=int2", "--param", "lanes=2", "--targets", "generic,ice40",
                  "--json", str(out))
    assert proc.returncode == 0, proc.stderr
    records = json.loads(out.read_text())
    seen = {(r["design"], r["target"]) for r in records}
    assert {("generated", "generic"), ("baseline", "generic"),
            ("generated", "ice40"), ("baseline", "ice40")} <= seen
    for r in records:
        if r["target"] == "generic":
            assert r["figures"]["transistors"] > 0 and r["figures"]["ff"] > 0
        if r["target"] == "ice40":
            assert r["figures"]["lut4"] > 0
    assert "generated/baseline" in proc.stdout and "iCE40 LUT4 (no DSP)" in proc.stdout


@pytest.mark.parametrize("args", [["int_mac", "--param", "lanes=0"], ["no_such_generator"],
                                  ["int_mac", "--targets", "bogus"]])
def test_synth_area_bad_input_one_line(args):
    proc = script("synth_area.py", *args)
    assert proc.returncode != 0
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr
