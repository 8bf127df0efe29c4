"""Smoke tests of the synthesis scripts: they run, compare against the baseline, and reject bad
input with one line. (Full area/Fmax reports are run by hand; see README.)"""

from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parent.parent / "scripts"


def script(name, *args, cwd=None):
    return subprocess.run([sys.executable, str(SCRIPTS / name), *args], capture_output=True,
                          text=True, cwd=cwd)


ALL_SCRIPTS = ["synth_area.py", "report_arrays.py", "report_bitserial.py",
               "report_float.py", "report_mixed.py", "report_softmax.py", "bench_engines.py",
               "run_digits.py", "report_lut.py", "report_sparse_scalable.py"]


@pytest.mark.parametrize("name", ALL_SCRIPTS)
def test_help(name):
    proc = script(name, "--help")
    assert proc.returncode == 0 and "usage:" in proc.stdout


def test_synth_area_small_int_mac_beside_baseline(tmp_path):
    out = tmp_path / "area.json"
    proc = script("synth_area.py", "int_mac", "--param", "a_format=uint3", "--param",
                  "b_format=int2", "--param", "lanes=2", "--targets", "generic,ice40",
                  "--json", str(out), "--out", str(tmp_path / "out"),
                  "--cache", str(tmp_path / "cache"))
    assert proc.returncode == 0, proc.stderr
    records = json.loads(out.read_text())["records"]
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
    assert proc.returncode == 2
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "Traceback" not in proc.stderr


# ------------------------------------------------------------------------------------------
# User mistakes: one line on stderr naming the flag as typed and what is allowed, exit status 2,
# no file written, no traceback -- for every script, before any synthesis starts.
# ------------------------------------------------------------------------------------------

#: Output locations of the report scripts, inside the test's directory (so that "no file
#: written" is checked there); a mistake case's own flags come later and win.
OUT_FLAGS = {
    "report_arrays.py": ["--out", "out"],
    "report_bitserial.py": ["--out", "out"],
    "report_float.py": ["--cache", "cache"],
    "report_softmax.py": ["--out", "out"],
}

#: (script, arguments, text the one error line must contain). "blocker" is a plain file in the
#: working directory, so a path through it can never be created.
MISTAKES = [
    # synth_area.py: generator, --param / --config, its own flags, output paths
    ("synth_area.py", ["bogus"], "unknown generator 'bogus'"),
    ("synth_area.py", ["int_mac", "--param", "foo=1"], "--param foo=1: unknown parameter 'foo'"),
    ("synth_area.py", ["int_mac", "--param", "lanes"], "--param lanes: not NAME=VALUE"),
    ("synth_area.py", ["int_mac", "--param", "lanes=4,b"], "--param lanes=4,b: '4,b' is not allowed"),
    ("synth_area.py", ["int_mac", "--param", "lanes=65"], "--param lanes=65: 65 is not allowed"),
    ("synth_area.py", ["int_mac", "--param", "a-format=int0"], "--param a-format=int0: 'int0'"),
    ("synth_area.py", ["int_mac", "--config", "lanes=99"], "--config lanes=99: 99 is not allowed"),
    ("synth_area.py", ["int_mac", "--param", "acc_width=4"], "--param acc_width=4: 4 "),
    ("synth_area.py", ["bitserial_mac", "--param", "weight_bits=2", "--param", "bits_per_cycle=4"],
     "--param bits_per_cycle=4: 4 is larger than --param weight_bits=2"),
    ("synth_area.py", ["softmax", "--param", "reciprocal=divider", "--param", "newton_iters=2"],
     "--param newton_iters=2: only allowed with --param reciprocal=newton"),
    ("synth_area.py", ["fp_mac", "--param", "a_format=bf16", "--param", "b_format=bf16"],
     "(given: --param a_format=bf16 --param b_format=bf16)"),
    ("synth_area.py", ["int_mac", "--targets", "bogus"], "--targets: 'bogus' is not allowed"),
    ("synth_area.py", ["int_mac", "--seeds", "0"], "--seeds: '0' is not allowed"),
    ("synth_area.py", ["int_mac", "--ecp5-freq", "-1"], "--ecp5-freq: '-1' is not allowed"),
    ("synth_area.py", ["int_mac", "--bogus"], "unrecognized arguments: --bogus; allowed options"),
    ("synth_area.py", ["int_mac", "--json", "blocker/area.json"], "--json blocker/area.json: "),
    ("synth_area.py", ["int_mac", "--markdown", "."], "--markdown .: is a directory"),
    ("synth_area.py", ["int_mac", "--keep", "blocker"], "--keep blocker: is a file"),
    # report_mixed.py: generator parameters through flags of its own
    ("report_mixed.py", ["--lanes", "65"], "--lanes: 65 is not allowed"),
    ("report_mixed.py", ["--weight-bits", "9"], "--weight-bits: 9 is not allowed"),
    ("report_mixed.py", ["--act-format", "q8.8"], "--act-format: 'q8.8' is not allowed"),
    ("report_mixed.py", ["--json", "blocker/m.json"], "--json blocker/m.json: "),
    ("report_mixed.py", ["--keep", "blocker"], "--keep blocker: is a file"),
    ("report_mixed.py", ["--param", "lanes=4"], "unrecognized arguments: --param lanes=4"),
    # report_arrays.py
    ("report_arrays.py", ["--lanes", "1,65"], "--lanes: 65 is not allowed"),
    ("report_arrays.py", ["--lanes", "1,x"], "--lanes: '1,x' is not allowed"),
    ("report_arrays.py", ["--sizes", "2x2,40x2"], "--sizes 40x2: 40 is not allowed"),
    ("report_arrays.py", ["--sizes", "2x"], "--sizes: '2x' is not allowed"),
    ("report_arrays.py", ["--section", "bogus"], "--section: 'bogus' is not allowed"),
    ("report_arrays.py", ["--dataflows", "os"], "--dataflows: 'os' is not allowed"),
    ("report_arrays.py", ["--out", "blocker"], "--out blocker: is a file"),
    # report_bitserial.py
    ("report_bitserial.py", ["--lanes", "65"], "--lanes: 65 is not allowed"),
    ("report_bitserial.py", ["--act-format", "fp8"], "--act-format: 'fp8'"),
    ("report_bitserial.py", ["--beats", "0"], "--beats: '0' is not allowed"),
    ("report_bitserial.py", ["--out", "blocker/r"], "--out blocker/r: "),
    ("report_bitserial.py", ["--keep", "blocker"], "--keep blocker: is a file"),
    # report_float.py
    ("report_float.py", ["--fp-lanes", "33"], "--fp-lanes: 33 is not allowed"),
    ("report_float.py", ["--mx-lanes", "3"], "--mx-lanes: 3 is not allowed"),
    ("report_float.py", ["--targets", "ice40,foo"], "--targets: 'ice40,foo' is not allowed"),
    ("report_float.py", ["--set", "x"], "--set"),
    ("report_float.py", ["--json", "blocker/f.json"], "--json blocker/f.json: "),
    ("report_float.py", ["--cache", "blocker"], "--cache blocker: is a file"),
    # report_softmax.py: no generator parameters on its command line
    ("report_softmax.py", ["--param", "algorithm=bogus"],
     "unrecognized arguments: --param algorithm=bogus; allowed options: "),
    ("report_softmax.py", ["--only", "bogus"], "--only bogus: no such configuration"),
    ("report_softmax.py", ["--quick", "--only", "online k8 nr3"],
     "--only 'online k8 nr3': no such configuration with --quick"),
    ("report_softmax.py", ["--workers", "0"], "--workers: '0' is not allowed"),
    ("report_softmax.py", ["--vectors", "x"], "--vectors: 'x' is not allowed"),
    ("report_softmax.py", ["--out", "blocker"], "--out blocker: is a file"),
    ("report_lut.py", ["--weights", "3"], "--weights: '3' is not allowed"),
    ("report_lut.py", ["--jobs", "0"], "--jobs: '0' is not allowed"),
    ("report_lut.py", ["--out", "blocker"], "--out blocker: is a file"),
    ("report_sparse_scalable.py", ["--max-n", "8"], "--max-n: 8: must be at most --group-m (4)"),
    ("report_sparse_scalable.py", ["--lanes", "17"], "--lanes 17: the int8 x int2 int_mac"),
    ("report_sparse_scalable.py", ["--part", "dense"], "--part: 'dense' is not allowed"),
]

#: Flags of generate-verilog that a script's message must not name (the user did not type them).
GENERATOR_FLAGS = re.compile(r"--(?:lanes|acc-width|a-format|bits-per-cycle|weight-bits|"
                             r"reciprocal|newton-iters|accumulator)\b")


@pytest.fixture(scope="module")
def scripts():
    """Every script imported once as a module (their main() runs in-process: fast)."""
    modules = {}
    for name in ALL_SCRIPTS:
        spec = importlib.util.spec_from_file_location(f"peforge_script_{name[:-3]}",
                                                      SCRIPTS / name)
        module = importlib.util.module_from_spec(spec)
        sys.modules[spec.name] = module     # dataclasses look their module up there
        spec.loader.exec_module(module)
        modules[name] = module
    return modules


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


def _run_main(module, args) -> int:
    try:
        return module.main(list(args))
    except SystemExit as exc:   # argparse errors
        return exc.code


@pytest.mark.parametrize("name,args,expected", MISTAKES,
                         ids=[f"{m[0][:-3]}:{' '.join(m[1])}" for m in MISTAKES])
def test_mistake_one_line_exit_2_no_files(scripts, tmp_path, monkeypatch, capsys, name, args,
                                          expected):
    (tmp_path / "blocker").write_text("a file where a directory would have to be\n")
    monkeypatch.chdir(tmp_path)
    before = _files(tmp_path)
    code = _run_main(scripts[name], OUT_FLAGS.get(name, []) + args)
    out, err = capsys.readouterr()
    assert code == 2, err
    lines = err.splitlines()
    assert len(lines) == 1 and err.endswith("\n"), err
    assert lines[0].startswith(f"{name}: error: "), lines[0]
    assert expected in lines[0], lines[0]
    assert "allowed" in lines[0] or "available" in lines[0] or "choose from" in lines[0], lines[0]
    assert "Traceback" not in err and out == ""
    if name == "synth_area.py":   # the script that takes --param
        assert not GENERATOR_FLAGS.search(lines[0]), lines[0]
    assert _files(tmp_path) == before


@pytest.mark.parametrize("name,args,line", [
    ("synth_area.py", ["int_mac", "--param", "lanes=65"],
     "synth_area.py: error: --param lanes=65: 65 is not allowed; allowed: integer 1 to 64"),
    ("report_softmax.py", ["--param", "algorithm=bogus"],
     "report_softmax.py: error: unrecognized arguments: --param algorithm=bogus; allowed options: "
     "--help, --quick, --vectors, --only, --no-synth, --no-fmax, --out, --db, --cache, "
     "--scheduler, --workers, --keep, --retry-failed"),
])
def test_mistake_as_a_command(tmp_path, name, args, line):
    """The real command line (subprocess): exactly this line, status 2, nothing written."""
    proc = script(name, *args, cwd=tmp_path)
    assert proc.returncode == 2
    assert proc.stderr == line + "\n" and proc.stdout == ""
    assert not any(tmp_path.iterdir())


def test_flag_as_typed(scripts):
    """flow.OneLineParser records which spelling of a flag the user typed."""
    flow = sys.modules["flow"]
    parser = flow.script_parser("x.py", "A script.")
    parser.add_argument("-o", "--output")
    parse = parser.parse_args
    assert flow.flag_of(parse(["-o", "x"]), "output") == "-o"
    assert flow.flag_of(parse(["-ox"]), "output") == "-o"
    assert flow.flag_of(parse(["--output=x"]), "output") == "--output"
    assert flow.flag_of(parse(["--out", "x"]), "output") == "--out"
    assert flow.flag_of(parse([]), "output") == "--output"


def test_param_pairs_and_origins(scripts):
    flow = sys.modules["flow"]
    values, origins = flow.parse_param_pairs(["a-format=int8, lanes=4", "lanes=8,"], "--config")
    assert values == {"a_format": "int8", "lanes": "8"}
    assert origins == {"a_format": "--config a-format=int8", "lanes": "--config lanes=8"}
