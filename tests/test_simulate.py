"""The user-facing simulation API (:func:`sim.simulate`) and ``peforge simulate`` / ``peforge lint``:
user values in, the hardware's values out, on both engines and both simulators, checked against
the golden model; bad inputs give one line and no output file."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pytest

from generators import elaborate
from hdl.formats import MiniFloatFormat
from sim import simulate
from sim.api import CheckError, InputError, stream_fields
from sim.cli import main as peforge
from sim.runner import available_simulators
from sim.stimuli.bitmod_mac import bitmod_operands
from sim.stimuli.fp_mac import fp_mac_operands
from sim.stimuli.int_mac import int_mac_operands
from sim.stimuli.mx_dot import mx_dot_operands
from sim.stimuli.softmax import flatten, softmax_vectors
from sim.stimuli.systolic_array import os_operands, ws_beats, ws_events

from .conftest import design_for

SIMULATORS = available_simulators()


def _user_values(design, stimulus_values: dict) -> dict:
    """Stimulus-convention values (minifloat fields as codes) as a user gives them (floats)."""
    streams = design.manifest["streams"]
    out = {}
    for name, fields in stimulus_values.items():
        groups = stream_fields(streams[name])
        out[name] = {}
        for key, value in fields.items():
            fmt = groups[key].fmt if key in groups else None
            out[name][key] = fmt.decode(value) if isinstance(fmt, MiniFloatFormat) else value
    return out


# Each case: (generator, parameters, user inputs). The parameters are configurations the
# regressions build anyway (shared simulator builds).
def _int_mac():
    d = design_for("int_mac", a_format="int8", b_format="int8", lanes=1)
    a, b, last = int_mac_operands(d.params, np.random.default_rng(1), 300)
    return d, {"i": {"a": a, "b": b, "last": last}}


def _fp_mac():
    d = design_for("fp_mac", a_format="bf16", b_format="bf16", lanes=1, accumulator="fp32",
                   multiplier="lmul")
    a, b, last = fp_mac_operands(d.params, np.random.default_rng(2), 200)
    return d, _user_values(d, {"i": {"a": a, "b": b, "last": last}})


def _mx_dot():
    d = design_for("mx_dot", a_elem="mxfp8_e4m3", b_elem="mxfp8_e5m2", lanes=8)
    a, b, xa, xb, last = mx_dot_operands(d.params, np.random.default_rng(3), 8)
    return d, _user_values(d, {"i": {"a": a, "b": b, "xa": xa, "xb": xb, "last": last}})


def _ws():
    d = design_for("systolic_array", dataflow="weight_stationary", rows=4, cols=3)
    return d, ws_beats(d.params, ws_events(d.params, np.random.default_rng(4), 6))


def _os():
    d = design_for("systolic_array", dataflow="output_stationary", rows=3, cols=5)
    a, b, last = os_operands(d.params, np.random.default_rng(5), 6)
    return d, {"i": {"a": a, "b": b, "last": last}}


def _softmax():
    d = design_for("softmax", algorithm="online", in_format="q4.4", out_format="uq1.15",
                   max_length=16, reciprocal="newton", newton_iters=1, double_buffer=True)
    vectors = softmax_vectors(d.params["in_format"], 16, np.random.default_rng(6), 20)
    x, last = flatten(vectors)
    return d, {"i": {"x": x, "last": last}}


def _bitmod():
    d = design_for("bitmod_mac", act_format="uint6", weight_bits=3, lanes=3, scale_format="uq2.6")
    values = bitmod_operands(d.params, np.random.default_rng(7), 100)
    return d, {"i": dict(values)}


CASES = {"int_mac": _int_mac, "fp_mac": _fp_mac, "mx_dot": _mx_dot, "systolic_ws": _ws,
         "systolic_os": _os, "softmax": _softmax, "bitmod_mac": _bitmod}


@pytest.mark.parametrize("case", sorted(CASES))
def test_engines_agree_and_match_the_golden_model(case, tmp_path):
    """The same inputs give the same outputs on the native and the cocotb engine, each under
    back-pressure and checked beat by beat against the golden model."""
    design, inputs = CASES[case]()
    results = {}
    for simulator in SIMULATORS:
        for engine in ("fast", "cocotb"):
            if engine == "cocotb" and simulator == "verilator" and case in ("mx_dot", "systolic_os"):
                continue    # their cocotb Verilator builds are not made by the regression
            results[engine, simulator] = simulate(design, inputs, simulator=simulator,
                                                  engine=engine, idle=0.2, stall=0.3, seed=5,
                                                  check=True)
    (_, first), *others = results.items()
    assert first.checked and first.cycles > 0
    for key, other in others:
        for stream, fields in first.codes.items():
            for name, codes in fields.items():
                assert np.array_equal(codes, other.codes[stream][name]), (key, stream, name)


def test_readme_snippet_returns_the_hardwares_values():
    design = elaborate("int_mac", a_format="int8", b_format="int8", lanes=4)
    a = np.array([[1, 2, 3, 4], [-128, 127, 0, 5]])
    b = np.array([[5, 6, 7, 8], [-128, -128, 9, 1]])
    result = simulate(design, {"i": {"a": a, "b": b, "last": [False, True]}}, check=True)
    assert result["o"]["acc"].tolist() == [1 * 5 + 2 * 6 + 3 * 7 + 4 * 8
                                           + 128 * 128 - 127 * 128 + 5]
    assert result.codes["o"]["acc"].dtype == np.uint64
    assert result.beat_cycles["o"].shape == (1,)


def test_float_outputs_are_decoded():
    design = design_for("fp_mac", a_format="bf16", b_format="bf16", lanes=1, accumulator="fp32",
                        multiplier="lmul")
    a = np.array([[1.5], [np.inf], [2.0], [np.nan]])
    b = np.array([[2.0], [1.0], [-0.0], [1.0]])
    result = simulate(design, {"i": {"a": a, "b": b, "last": [True] * 4}}, simulator=SIMULATORS[-1],
                      check=True)
    y = result["o"]["y"]
    # L-Mul approximates the product (within about 12 %; check=True compared it exactly).
    assert abs(y[0] - 3.0) < 0.4 and y[0] != 3.0
    assert y[1] == np.inf and y[2] == 0.0 and np.signbit(y[2]) and np.isnan(y[3])
    assert result.codes["o"]["y"][3] == 0x7FC00000


def test_check_names_the_first_differing_beat(monkeypatch):
    """check=True fails when the hardware and the golden model disagree (here: the golden model
    is made wrong on purpose from beat 2 on)."""
    import sim.api as api

    real = api.golden_outputs

    def off_by_one(*args):
        out = real(*args)
        out["o"]["acc"] = np.asarray(out["o"]["acc"]).copy()
        out["o"]["acc"][2:] += 1
        return out

    monkeypatch.setattr(api, "golden_outputs", off_by_one)
    design = design_for("int_mac", a_format="int8", b_format="int8", lanes=1)
    a = np.arange(5).reshape(5, 1)
    with pytest.raises(CheckError, match=r"MISMATCH on stream o beat 2: expected acc=5, got acc=4"):
        simulate(design, {"i": {"a": a, "b": a, "last": [True] * 5}}, simulator=SIMULATORS[-1],
                 check=True)


def test_ws_phases_order_reloads():
    """Load W1, two vectors, reload W2, one vector: the third vector uses W2."""
    design = design_for("systolic_array", dataflow="weight_stationary", rows=4, cols=3)
    w1 = np.arange(12).reshape(4, 3)
    w2 = -np.ones((4, 3), dtype=int)
    x = np.array([[1, 0, 0, 0], [0, 0, 0, 1], [1, 1, 1, 1]])
    inputs = {"w": {"w": np.concatenate([w1, w2]), "last": [0, 0, 0, 1] * 2,
                    "@phase": [0] * 4 + [2] * 4},
              "x": {"x": x, "@phase": [1, 1, 3]}}
    result = simulate(design, inputs, simulator=SIMULATORS[-1], check=True, idle=0.3, stall=0.3)
    assert result["y"]["y"].tolist() == [[0, 1, 2], [9, 10, 11], [-4, -4, -4]]
    inputs["x"]["@phase"] = [1, 1, 2]
    with pytest.raises(InputError, match="phase 2 holds both a weight load's final row and "
                                         "vectors"):
        simulate(design, inputs, simulator=SIMULATORS[-1], check=True)


WAVES = [(sim, suffix) for sim in SIMULATORS for suffix in (".vcd", ".fst")
         if not (sim == "verilator" and suffix == ".fst")]


@pytest.mark.parametrize("simulator, suffix", WAVES, ids=[f"{s}{x}" for s, x in WAVES])
def test_waveform(simulator, suffix, tmp_path):
    design = design_for("int_mac", a_format="int8", b_format="int8", lanes=1)
    path = tmp_path / f"run{suffix}"
    result = simulate(design, {"i": {"a": [[3]], "b": [[4]], "last": [True]}},
                      simulator=simulator, wave=path)
    assert result.wave == path and path.stat().st_size > 0
    head = path.read_bytes()[:200]
    if suffix == ".vcd":
        assert b"$timescale" in head or b"$date" in head or b"$version" in head
    else:
        assert b"$" not in head[:1]      # FST is binary


def test_verilator_fst_needs_lz4_or_says_so(tmp_path):
    from sim.native import verilator_fst_available

    design = design_for("int_mac", a_format="int8", b_format="int8", lanes=1)
    inputs = {"i": {"a": [[3]], "b": [[4]], "last": [True]}}
    if verilator_fst_available():
        assert simulate(design, inputs, wave=tmp_path / "w.fst").wave.stat().st_size > 0
    else:
        with pytest.raises(InputError, match="lz4 headers"):
            simulate(design, inputs, wave=tmp_path / "w.fst")


# -- bad inputs: the API raises InputError, the command prints one line and writes nothing -------

I8 = {"a": [[1]], "b": [[2]], "last": [True]}
BAD_INPUTS = [
    ("missing field", {"i.a": [[1]], "i.last": [True]}, "i.b: field missing"),
    ("unknown field", {**{f"i.{k}": v for k, v in I8.items()}, "i.c": [1]}, "i.c: unknown field"),
    ("unknown stream", {**{f"i.{k}": v for k, v in I8.items()}, "q.a": [1]},
     "q: unknown input stream; allowed: i"),
    ("wrong shape", {"i.a": [[1, 2]], "i.b": [[2]], "i.last": [True]},
     "i.a: shape (1, 2); allowed: 2-D (beats, 1)"),
    ("beats differ", {"i.a": [[1], [2]], "i.b": [[2]], "i.last": [True]}, "i.b: 1 beats"),
    ("out of range", {"i.a": [[128]], "i.b": [[2]], "i.last": [True]},
     "i.a: 128 does not fit; allowed: int8 integers -128 to 127"),
    ("NaN into integer", {"i.a": [[np.nan]], "i.b": [[2]], "i.last": [True]},
     "i.a: NaN in an integer field"),
    ("fraction into integer", {"i.a": [[1.5]], "i.b": [[2]], "i.last": [True]},
     "i.a: 1.5 is not an integer"),
    ("bad key", {"a": [[1]]}, "key 'a'; allowed: '<stream>.<field>'"),
    ("phase goes down", {**{f"i.{k}": v * 2 for k, v in I8.items()}, "i.@phase": [1, 0]},
     "i.@phase: phases go down"),
]


def _run_cli(argv, capsys):
    with pytest.raises(SystemExit) as exc:
        peforge(argv)
    return exc.value.code, capsys.readouterr()


@pytest.mark.parametrize("case, arrays, message", BAD_INPUTS, ids=[c[0] for c in BAD_INPUTS])
def test_bad_input_file_one_line_exit_2_no_output(case, arrays, message, tmp_path, capsys):
    np.savez(tmp_path / "in.npz", **{k: np.asarray(v) for k, v in arrays.items()})
    code, out = _run_cli(["simulate", "int_mac", "--inputs", str(tmp_path / "in.npz"),
                          "--outputs", str(tmp_path / "out.npz")], capsys)
    assert code == 2
    lines = out.err.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], out.err
    assert "Traceback" not in out.err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.npz"]


def test_minifloat_value_the_format_cannot_hold(tmp_path, capsys):
    np.savez(tmp_path / "in.npz", **{"i.a": [[1.1]], "i.b": [[1.0]], "i.last": [True]})
    code, out = _run_cli(["simulate", "fp_mac", "--inputs", str(tmp_path / "in.npz"),
                          "--outputs", str(tmp_path / "out.npz")], capsys)
    assert code == 2 and "i.a: 1.1 is not a fp8_e4m3 value" in out.err
    assert not (tmp_path / "out.npz").exists()


@pytest.mark.parametrize("argv, message", [
    (["simulate", "int_mac", "--inputs", "nowhere.npz"], "--inputs: nowhere.npz: no such file"),
    (["simulate", "int_mac", "--lanes", "65", "--inputs", "x.npz"],
     "--lanes: 65 is not allowed; allowed: integer 1 to 64"),
    (["simulate", "--lanes", "4"], "missing generator name before --lanes"),
    (["simulate", "no_such"], "unknown generator 'no_such'"),
    (["frobnicate"], "unknown command 'frobnicate'"),
])
def test_command_mistakes(argv, message, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    code, out = _run_cli(argv, capsys)
    assert code == 2 and len(out.err.strip().splitlines()) == 1 and message in out.err, out.err


def _save(path, inputs):
    np.savez(path, **{f"{s}.{k}": np.asarray(v) for s, f in inputs.items() for k, v in f.items()})


@pytest.mark.parametrize("case", ["int_mac", "fp_mac", "mx_dot", "systolic_ws", "systolic_os",
                                  "softmax", "bitmod_mac"])
def test_peforge_simulate_check(case, tmp_path, capsys):
    """NPZ in, NPZ out, checked against the golden model, for each kind of design."""
    design, inputs = CASES[case]()
    _save(tmp_path / "in.npz", inputs)
    argv = ["simulate", design.manifest["generator"],
            *[f"--{k.replace('_', '-')}={v}" for k, v in design.manifest["params"].items()],
            "--inputs", str(tmp_path / "in.npz"), "--outputs", str(tmp_path / "out.npz"),
            "--simulator", SIMULATORS[-1], "--check", "--idle", "0.2", "--stall", "0.2"]
    assert peforge(argv) == 0
    out = capsys.readouterr().out
    assert "check: every output beat equals the golden model's" in out
    api = simulate(design, inputs, simulator=SIMULATORS[-1])
    with np.load(tmp_path / "out.npz") as saved:
        assert int(saved["cycles"]) > 0
        for stream, fields in api.codes.items():
            for name, codes in fields.items():
                assert np.array_equal(saved[f"{stream}.{name}.code"], codes)
                assert np.array_equal(saved[f"{stream}.{name}"], api.outputs[stream][name],
                                      equal_nan=api.outputs[stream][name].dtype.kind == "f")


def test_peforge_is_installed_and_lint_lists_waivers():
    proc = subprocess.run([sys.executable, "-m", "sim.cli", "lint", "int_mac", "--lanes", "2"],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert "-Wno-WIDTHEXPAND: " in proc.stdout
    assert "verilator: clean" in proc.stdout and "yosys check -assert: clean" in proc.stdout
