"""The ``generate-verilog`` command: listing, help, output files, determinism, bad input."""

from __future__ import annotations

import json
import os
import stat
import subprocess

import pytest

from generators import GENERATORS, ParamError, get_generator
from generators.cli import main
from generators.manifest import render_description
from generators.params import BoolParam, ChoiceParam, FormatParam, IntParam, parse_int
from sim.tools import venv_tool

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
    # uint4 x int16, 3 lanes: one beat spans 3 * 15 * -32768 .. 3 * 15 * 32767, 22 bits signed.
    (["int_mac", "--a-format", "uint4", "--b-format", "int16", "--lanes", "3", "--acc-width", "12"],
     "--acc-width: 12 cannot hold one beat's products (-1474560 to 1474515); allowed: 22 to 128"),
    (["int_mac", "--lanes", "0x41"], "--lanes: 65 is not allowed; allowed: integer 1 to 64"),
    (["int_mac", "--lanes", "1_0"], "--lanes: '1_0' is not allowed; allowed: integer 1 to 64"),
    (["int_mac", "--lanes"], "argument --lanes: expected one argument"),
    (["int_mac", "stray"], "unrecognized arguments: stray"),
    (["--lanes", "65"], "generate-verilog: error: missing generator name before --lanes; run "
                        "'generate-verilog --list'"),
    (["-o", "somewhere", "int_mac"], "missing generator name before -o;"),
    (["--lanes=65", "int_mac"], "missing generator name before --lanes;"),
]


@pytest.mark.parametrize("args, message", BAD_INPUTS, ids=[" ".join(a) for a, _ in BAD_INPUTS])
def test_bad_input_one_line_nonzero_no_files(tmp_path, args, message):
    out = tmp_path / "out"
    proc = run(*args, "-o", str(out))
    assert proc.returncode == 2
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


def test_no_arguments_prints_usage_and_exits_2():
    proc = run()
    assert proc.returncode == 2
    assert proc.stdout.startswith("usage: generate-verilog") and "generators:" in proc.stdout


# -- help: the payload fields of each stream ---------------------------------------------------

def _help(capsys, *args) -> str:
    with pytest.raises(SystemExit) as exit_info:
        main([*args, "--help"])
    assert exit_info.value.code == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("name", sorted(GENERATORS))
def test_help_shows_stream_fields_with_format_description_and_values(capsys, name):
    """For the default design: every stream with its direction, every field base name with its
    format and meaning (index placeholders as letters), and every enumerated value."""
    text = " ".join(_help(capsys, name).split())
    gen = GENERATORS[name]
    design = gen.elaborate({})
    info = design.field_info
    for stream, spec in design.manifest["streams"].items():
        assert f"{stream} ({spec['direction']}):" in text
        for field in spec["fields"]:
            base = field["name"].split("[")[0]
            description = render_description(info[stream][base][0])
            shown = base if "[" not in field["name"] else f"{base}["
            assert f" {shown}" in text, (stream, base)
            assert f"{field['format']} {description}" in text, (stream, base)
            for code, meaning in field.get("values", {}).items():
                assert f"{code} = {meaning}" in text, (stream, base, code)
    assert text.endswith("Writes <module>.v and <module>.json (the manifest) into the output "
                         "directory.")


def test_help_names_vector_elements_by_their_index():
    proc = run("systolic_array", "--help")
    assert proc.returncode == 0
    text = " ".join(proc.stdout.split())
    # 4 x 4 default: rows r and columns c, each description with its letter.
    assert "a[r], r = 0..3 int8 A[r][k]: row r of column k" in text
    assert "c[c], c = 0..3 int32 C[r][c] of the tile's result" in text
    assert "dtype uint3 data type of this beat's weight codes 0 = INT: two's complement, -8 to 7" \
        in " ".join(run("bitmod_mac", "--help").stdout.split())


# -- integers: one parser ----------------------------------------------------------------------

@pytest.mark.parametrize("text, value", [
    ("8", 8), ("08", 8), ("0008", 8), ("0", 0), ("00", 0), (" 12 ", 12), ("+5", 5), ("-3", -3),
    ("-03", -3), ("0x10", 16), ("0X1f", 31), ("-0x10", -16), ("0b101", 5), ("0B11", 3),
    ("0o17", 15), ("0O7", 7), ("+0x1", 1), (str(2 ** 70), 2 ** 70),
])
def test_parse_int_accepts(text, value):
    assert parse_int(text) == value


@pytest.mark.parametrize("text", [
    "", " ", "-", "+", "x", "0x", "0b", "0o", "0b2", "0o8", "0xg", "1_000", "1.0", "1e3", "--1",
    "0 1", "0x 1", "eight", "08x", "١٢",
])
def test_parse_int_rejects(text):
    with pytest.raises(ValueError):
        parse_int(text)


def test_every_integer_parameter_parses_alike():
    """IntParam and integer choices read decimal with leading zeros and prefixed forms."""
    lanes = next(p for p in GENERATORS["int_mac"].params if p.name == "lanes")
    assert isinstance(lanes, IntParam)
    assert [lanes.parse(t) for t in ("08", "0x8", "0b1000", "0o10")] == [8, 8, 8, 8]
    weight_bits = next(p for p in GENERATORS["bitmod_mac"].params if p.name == "weight_bits")
    assert isinstance(weight_bits, ChoiceParam)
    assert [weight_bits.parse(t) for t in ("3", "03", "0x4", "0b11")] == [3, 3, 4, 3]
    with pytest.raises(ParamError, match="--weight-bits: 5 is not allowed; allowed: one of 3, 4"):
        weight_bits.parse("0x5")
    assert get_generator("mx_dot").resolve({"lanes": "016"})["lanes"] == 16


def test_leading_zeros_and_prefixes_on_the_command_line(tmp_path):
    proc = run("int_mac", "--lanes", "08", "--pipeline-stages", "0x1", "-o", str(tmp_path))
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.split()[0].endswith("int_mac_int8xint8_k8_acc35_p1.v")


# -- accumulator width: one rule ---------------------------------------------------------------

#: (generator, parameters, narrowest acc_width): the width of one beat's sum of products with
#: the operands at their extremes, computed by hand here.
ACC_MINIMUMS = [
    ("int_mac", dict(a_format="uint4", b_format="int16", lanes=3), 22),    # 3*15*-2^15: 22 bits
    ("int_mac", dict(a_format="uint8", b_format="uint8", lanes=2), 17),    # 2*255^2 < 2^17
    ("int_mac", dict(a_format="int8", b_format="int8", lanes=1), 16),      # (-128)^2 = 2^14
    ("systolic_array", dict(), 16),                                        # one product per PE
    ("systolic_array", dict(dataflow="weight_stationary", rows=4), 18),    # 4 * 2^14 = 2^16
    ("bitserial_mac", dict(lanes=16), 20),                                 # 16 * 2^14 = 2^18
    ("bitserial_mac", dict(act_format="uint8", weight_bits=4, weight_signed=False), 12),
    # 16 lanes * 128 * 16 (EA code) * (2^16 - 1) scale code: just below 2^31.
    ("bitmod_mac", dict(lanes=16), 32),
    # 3 lanes * 3 (q - zero) * 63 * 255 scale code = 144585: 19 bits signed.
    ("mixed_int_pe", dict(weight_bits=2, act_format="uint6", lanes=3, scale_format="uq4.4"), 19),
]


@pytest.mark.parametrize("name, values, minimum", ACC_MINIMUMS,
                         ids=[f"{n}-{m}" for n, _, m in ACC_MINIMUMS])
def test_acc_width_minimum_is_one_beat(name, values, minimum):
    gen = get_generator(name)
    assert gen.resolve({**values, "acc_width": minimum})["acc_width"] == minimum
    assert gen.resolve({**values, "acc_width": 128})["acc_width"] == 128
    assert gen.resolve(values)["acc_width"] >= minimum
    with pytest.raises(ParamError) as info:
        gen.resolve({**values, "acc_width": minimum - 1})
    message = str(info.value)
    assert message.startswith(f"--acc-width: {minimum - 1} cannot hold one beat's products (")
    assert message.endswith(f"); allowed: {minimum} to 128") and "\n" not in message


def test_every_acc_width_generator_follows_the_rule():
    """Every generator with acc_width rejects 1 bit with the same message shape."""
    names = [n for n, g in GENERATORS.items() if any(p.name == "acc_width" for p in g.params)]
    assert sorted(names) == ["bitmod_mac", "bitserial_mac", "cube_array", "int_mac", "lut_mpgemm",
                             "mixed_int_pe", "scalable_mac", "sparse_mac", "systolic_array"]
    for name in names:
        with pytest.raises(ParamError, match=r"^--acc-width: 1 cannot hold one beat's products "
                                             r"\(-?[0-9.]+ to [0-9.]+\); allowed: [0-9]+ to 128$"):
            get_generator(name).resolve({"acc_width": 1})


def test_fixed_point_acc_width_message_gives_real_values():
    """mixed_int_pe uq4.4: raw +-144585 in units of 2^-4 is +-9036.5625."""
    with pytest.raises(ParamError, match=r"\(-9036\.5625 to 9036\.5625\); allowed: 19 to 128"):
        get_generator("mixed_int_pe").resolve(dict(weight_bits=2, act_format="uint6", lanes=3,
                                                   scale_format="uq4.4", acc_width=18))


# -- every bad value of every parameter: one line, exit 2, no files ----------------------------

def _bad_value(p) -> str:
    if isinstance(p, IntParam):
        return str(p.max + 1)
    if isinstance(p, BoolParam):
        return "maybe"
    if isinstance(p, ChoiceParam):
        return "nonesuch"
    assert isinstance(p, FormatParam)
    return "int0"


BAD_VALUES = [(name, p.flag, _bad_value(p)) for name, gen in sorted(GENERATORS.items())
              for p in gen.params]


@pytest.mark.parametrize("name, flag, value", BAD_VALUES,
                         ids=[f"{n}{f}={v}" for n, f, v in BAD_VALUES])
def test_every_parameter_rejects_bad_values_in_one_line(capsys, tmp_path, name, flag, value):
    out = tmp_path / "out"
    with pytest.raises(SystemExit) as exit_info:
        main([name, flag, value, "-o", str(out)])
    assert exit_info.value.code == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"generate-verilog {name}: error: {flag}: ")
    assert captured.err.count("\n") == 1 and "allowed" in captured.err
    assert not out.exists()


# -- file modes --------------------------------------------------------------------------------

@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o002, 0o664)])
def test_files_get_the_process_umask(tmp_path, umask, mode):
    """Not the 0600 of the temporary files they are renamed from."""
    proc = subprocess.run([CLI, *INT_MAC_ARGS, "-o", str(tmp_path)], capture_output=True,
                          text=True, umask=umask)
    assert proc.returncode == 0, proc.stderr
    written = [tmp_path / line for line in os.listdir(tmp_path)]
    assert len(written) == 2
    for path in written:
        assert stat.S_IMODE(path.stat().st_mode) == mode, path
