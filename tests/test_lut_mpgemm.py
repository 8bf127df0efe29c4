"""``lut_mpgemm`` (integer, fp16 and bf16 activations): regression on Verilator and Icarus against
the golden model (every K-tuple of weight codes where cheap against extreme activations; fp16 /
bf16: also NaN, +-Inf, signed zeros, subnormals, binary32 overflow and rounding ties; random
beats with a random precision each, random idle and back-pressure), full-rate timing, lint, the
golden model itself, ``sim.simulate``, and parameter errors."""

from __future__ import annotations

import subprocess
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators import get_generator
from hdl.formats import parse_format
from hdl.fp_round import FixedToFloat32
from sim.golden.fp32_round import round_to_fp32
from sim.golden.lut_mpgemm import decode_weights, lut_mpgemm
from sim.runner import run_stream_test
from sim.stimuli.fp_mac import random_codes
from sim.stimuli.lut_mpgemm import lut_operands, lut_stimulus, weight_tuples
from sim.tools import venv_tool

from .conftest import (SIMULATORS, assert_one_line_param_error, check_lint, design_for,
                       full_rate_stimulus, run_configuration, run_seeded, simulator_runs)


def _config(b, encoding, k, d, n, m, table, act="int8", **extra):
    cid = f"{act}_{'i' if encoding == 'int' else 's'}{b}_k{k}_d{d}_n{n}_m{m}_{table[:4]}"
    return cid, dict(act_format=act, weight_bits=b, weight_encoding=encoding, lut_k=k,
                     depth=d, cols=n, rows=m, table=table, **extra)


#: The issue's matrix, covered pairwise: int8 x int1/int2/int4 and symmetric 1/2 bits; K = 2 and
#: 4; D = 1 and 2; N = 1 and 16; M = 1 and 2; both table kinds (one narrow accumulator).
CONFIGS = [
    _config(1, "int", 2, 1, 1, 1, "symmetric"),
    _config(2, "int", 4, 2, 16, 2, "full"),
    _config(4, "int", 4, 1, 16, 2, "symmetric"),
    _config(4, "int", 2, 2, 1, 1, "full", acc_width=14),
    _config(1, "symmetric", 4, 2, 1, 2, "symmetric"),
    _config(2, "symmetric", 2, 1, 16, 1, "full"),
    _config(2, "symmetric", 2, 2, 1, 2, "symmetric"),
]
RANDOM_BEATS = 300
#: The configuration that also runs on the cocotb bench, on both simulators.
COCOTB = {CONFIGS[0][0]}

#: Verilator builds are the slow ones: the native engine runs all configurations on Icarus and
#: four on Verilator (every encoding and table kind, K, D, N and M value among them); the first
#: one runs on Verilator on the cocotb bench.
VERILATOR = {cid for cid, _ in CONFIGS[2:6]}

#: fp16 / bf16 activations: both weight encodings and table kinds, 1 to 4 weight bits; all on
#: Icarus, the fp16 ones also on Verilator (the bf16 designs' ~280-bit accumulators build slowly).
FLOAT_CONFIGS = [
    _config(2, "int", 4, 1, 4, 2, "symmetric", act="fp16"),
    _config(4, "symmetric", 2, 2, 3, 1, "full", act="fp16"),
    _config(1, "int", 2, 1, 2, 2, "full", act="bf16"),
    _config(3, "symmetric", 2, 2, 2, 3, "symmetric", act="bf16"),
]
FLOAT_RANDOM_BEATS = 200

RUNS = simulator_runs(CONFIGS, verilator=VERILATOR) + simulator_runs(
    FLOAT_CONFIGS, verilator={cid for cid, _ in FLOAT_CONFIGS[:2]})


@pytest.mark.parametrize("config_id, params, simulator", RUNS)
def test_regression_with_backpressure(config_id, params, simulator, tmp_path):
    random_beats = RANDOM_BEATS if params["act_format"].startswith("int") else FLOAT_RANDOM_BEATS

    def make_stimulus(design, rng, seed):
        a, w, prec, last = lut_operands(design.params, rng, random_beats)
        assert set(prec.tolist()) == set(range(1, params["weight_bits"] + 1))
        assert len(set(prec[-random_beats:].tolist())) == params["weight_bits"]
        return lut_stimulus(design.params, design.manifest, a, w, prec, last, idle=0.3,
                            stall=0.4, seed=seed)

    run_configuration("lut_mpgemm", config_id, params, simulator, tmp_path, make_stimulus)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_cocotb_engine(simulator, tmp_path):
    config_id, params = CONFIGS[0]
    run_configuration("lut_mpgemm", config_id, params, simulator, tmp_path,
                      lambda design, rng, seed: lut_stimulus(
                          design.params, design.manifest, *lut_operands(design.params, rng, 60),
                          idle=0.3, stall=0.4, seed=seed),
                      cocotb=COCOTB)


def test_full_rate_latency_one_row(tmp_path):
    """M = 1: the manifest's latency (1) holds for every output beat (``check_timing``)."""
    params = CONFIGS[3][1]
    design = design_for("lut_mpgemm", **params)
    assert design.manifest["latency"] == 1 and design.manifest["initiation_interval"] is None
    run_seeded("lut_mpgemm", params, SIMULATORS[-1], tmp_path,
               full_rate_stimulus(lut_operands, lut_stimulus, 200, mean_group=2, extremes=False),
               seed=5)


def test_full_rate_rows_and_beats(tmp_path):
    """M = 2 at full rate: row m leaves 1 + m cycles after its last beat; a beat is accepted
    prec cycles after the previous one, prec + M - 1 after a last beat (documented timing)."""
    config_id, params = CONFIGS[2]
    design = design_for("lut_mpgemm", **params)
    assert design.manifest["latency"] is None
    rng = np.random.default_rng(7)
    a, w, prec, last = lut_operands(design.params, rng, 200, mean_group=2, extremes=False)
    stimulus = lut_stimulus(design.params, design.manifest, a, w, prec, last, seed=7)
    record = run_stream_test(design, SIMULATORS[-1], stimulus, tmp_path)
    rows = params["rows"]
    accepted = record.accepted["i"]
    for index, (first, (_, _, end)) in enumerate(zip(record.first_valid["o"].tolist(),
                                                     stimulus["sources"]["o"])):
        assert first - int(accepted[end]) == 1 + index % rows, index
    gaps = np.diff(accepted)
    expected = prec[1:] + np.where(last[:-1], rows - 1, 0)
    assert (gaps == expected).all()


LINT_CONFIGS = [
    CONFIGS[0][1],
    dict(act_format="int5", weight_bits=3, weight_encoding="int", lut_k=3, depth=2, cols=3,
         rows=3),
    dict(act_format="int16", weight_bits=4, weight_encoding="symmetric", lut_k=6, cols=2,
         table="full", acc_width=40),
    dict(),
    dict(act_format="fp16", weight_bits=1, lut_k=3, cols=2, rows=2),
    dict(act_format="bf16", weight_bits=2, weight_encoding="symmetric", lut_k=2, cols=1,
         rows=1, table="full"),
]
LINT_IDS = ["int8-i1-k2", "int5-i3-k3-d2-m3", "int16-s4-k6-full", "default", "fp16-i1-k3-m2",
            "bf16-s2-k2-full"]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=LINT_IDS)
def test_lint(params, tmp_path):
    check_lint(design_for("lut_mpgemm", **params), tmp_path)


def test_no_multiplier_in_the_design():
    assert " * " not in design_for("lut_mpgemm", weight_bits=4, depth=2).verilog()


def test_golden_model_by_hand():
    # int at 2 bits: codes 3, 1 -> -1, 1; symmetric at 2 bits: 3, 1 -> 3, -1; higher bits ignored.
    assert decode_weights([[7, 5]], [2], encoding="int").tolist() == [[-1, 1]]
    assert decode_weights([[7, 5]], [2], encoding="symmetric").tolist() == [[3, -1]]
    assert decode_weights([[1, 0]], [1], encoding="int").tolist() == [[-1, 0]]
    assert decode_weights([[1, 0]], [1], encoding="symmetric").tolist() == [[1, -1]]
    # M = 2, D*K = 2, N = 1, two beats in one group: y = A0 @ W0 + A1 @ W1.
    a = [[1, 2, 3, 4], [5, 6, 7, 8]]
    w = [[1, 2], [3, 0]]              # int, prec 2: [1, -2], then [-1, 0]
    y, out_last = lut_mpgemm(a, w, [2, 2], [False, True], rows=2, cols=1,
                             weight_encoding="int", acc_width=8)
    assert y.tolist() == [[1 * 1 + 2 * -2 + 5 * -1], [3 - 8 - 7]]
    assert out_last.tolist() == [False, True]
    # Wrapping at acc_width.
    y, _ = lut_mpgemm([[127, 127]], [[1, 1]], [2], [True], rows=1, cols=1,
                      weight_encoding="int", acc_width=8)
    assert y.tolist() == [[254 - 256]]


def test_every_k2_combination_is_exercised():
    params = design_for("lut_mpgemm", **CONFIGS[3][1]).params
    rng = np.random.default_rng(1)
    assert len(weight_tuples(4, 2, rng)) == 256
    a, w, prec, _ = lut_operands(params, rng, 0)
    at4 = w[prec == 4] & 15
    # w index (d*K + j)*N + n with N = 1: group 0 holds positions 0, 1 and group 1 positions 2, 3.
    pairs = {tuple(x) for x in np.concatenate([at4[:, 0:2], at4[:, 2:4]]).tolist()}
    assert len(pairs) == 256


def test_simulate_with_check(tmp_path):
    import sim

    design = design_for("lut_mpgemm", **CONFIGS[0][1])
    rng = np.random.default_rng(3)
    a, w, prec, last = lut_operands(design.params, rng, 40, extremes=False)
    outputs = sim.simulate(design, {"i": {"a": a, "w": w, "prec": prec, "last": last}},
                           simulator=SIMULATORS[-1], check=True, work_dir=tmp_path)
    expected, _ = lut_mpgemm(a, w, prec, last, rows=1, cols=1, weight_encoding="int",
                             acc_width=design.params["acc_width"])
    assert np.array_equal(np.asarray(outputs["o"]["y"]).astype(object), expected)


@pytest.mark.parametrize("values, message", [
    (dict(act_format="fp8_e4m3"),
     "--act-format: fp8_e4m3: not an activation format here; allowed: int4 to int16, fp16, bf16"),
    (dict(act_format="fp16", acc_width=40),
     "--acc-width: 40: only for integer activations (fp16 sums are held exactly and rounded "
     "once to fp32); allowed: auto"),
    (dict(act_format="bf16", acc_width=128), "--acc-width: 128: only for integer activations"),
    (dict(act_format="uint8"), "--act-format"),
    (dict(act_format="int3"), "--act-format"),
    (dict(weight_bits=5), "--weight-bits: 5"),
    (dict(weight_bits=0), "--weight-bits: 0"),
    (dict(lut_k=1), "--lut-k: 1"),
    (dict(weight_encoding="ternary"), "--weight-encoding"),
    # int8 x int2, D*K = 4: one beat spans 4 * (127 * -2) .. 4 * (-128 * -2) = -1016 .. 1024,
    # 12 bits.
    (dict(weight_bits=2, lut_k=4, depth=1, acc_width=11),
     "--acc-width: 11 cannot hold one beat's products (-1016 to 1024); allowed: 12 to 128"),
    # symmetric 2 bits: weights -3..3, int4 activations: 2 * (-8 * 3) = -48 .. 48, 7 bits.
    (dict(act_format="int4", weight_bits=2, weight_encoding="symmetric", lut_k=2, acc_width=6),
     "--acc-width: 6 cannot hold one beat's products (-48 to 48); allowed: 7 to 128"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error("lut_mpgemm", values, message)


def test_cli_error_and_help():
    cli = venv_tool("generate-verilog")
    proc = subprocess.run([cli, "lut_mpgemm", "--act-format", "fp8_e4m3"], capture_output=True,
                          text=True)
    assert proc.returncode == 2
    assert proc.stderr.strip().count("\n") == 0 and "--act-format" in proc.stderr
    assert "Traceback" not in proc.stderr
    text = " ".join(subprocess.run([cli, "lut_mpgemm", "--help"], capture_output=True,
                                   text=True).stdout.split())
    for p in get_generator("lut_mpgemm").params:
        assert " ".join(p.describe().split()) in text
    for field in ("a[k]", "w[k]", "prec", "last", "y[k]"):
        assert field in text


def test_default_accumulator_holds_2_16_beats():
    # int8 x int2, D*K = 4: a beat is at most 4 * 256 = 2^10; 2^16 beats: 2^26, 28 bits signed.
    assert design_for("lut_mpgemm").params["acc_width"] == 28


# -- fp16 / bf16 activations -----------------------------------------------------------------

def _codes(fmt, values):
    return [int(c) for c in parse_format(fmt).encode(np.array(values, dtype=np.float64))]


def _f32(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def _float_golden(fmt, a_values, w_codes, prec, encoding="int", last=None):
    """One output per beat (M = 1, N = 1) unless ``last`` says otherwise."""
    a = np.array([_codes(fmt, row) for row in a_values])
    last = [True] * len(a) if last is None else last
    y, _ = lut_mpgemm(a, w_codes, prec, last, rows=1, cols=1, weight_encoding=encoding,
                      acc_width=0, act_format=fmt)
    return [int(v) for v in y[:, 0]]


def test_float_golden_model_by_hand():
    nan, inf = float("nan"), float("inf")
    # int weights at prec 2: code 1 = 1, 3 = -1, 0 = 0; N = 1, so w holds one code per position.
    run = lambda a, w, **kw: _float_golden("fp16", a, w, [2] * len(a), **kw)  # noqa: E731
    assert run([[1.5, -2.0]], [[1, 3]]) == [_f32(3.5)]
    assert run([[1.5, -2.0], [0.25, 0.0]], [[1, 3], [3, 0]], last=[False, True]) == [_f32(3.25)]
    assert run([[nan, 1.0]], [[0, 1]]) == [0x7FC00000]             # NaN activation
    assert run([[inf, 1.0]], [[0, 1]]) == [0x7FC00000]             # Inf x 0 (zero weight)
    assert run([[inf, 1.0]], [[1, 1]]) == [0x7F800000]
    assert run([[inf, 1.0]], [[3, 1]]) == [0xFF800000]             # Inf x -1
    assert run([[inf, -inf]], [[1, 1]]) == [0x7FC00000]            # +Inf and -Inf
    assert run([[inf, -inf]], [[1, 3]]) == [0x7F800000]            # -Inf x -1 = +Inf
    assert run([[inf], [-inf]], [[1], [1]], last=[False, True]) == [0x7FC00000]
    # Signed zeros: +0 unless every product is -0; an integer weight 0 is +0.
    assert run([[-0.0, -0.0]], [[1, 1]]) == [0x80000000]
    assert run([[-0.0, 0.0]], [[1, 1]]) == [0]
    assert run([[0.0, 0.0]], [[3, 3]]) == [0x80000000]             # +0 x -1
    assert run([[-1.0, -2.0]], [[0, 0]]) == [0x80000000]           # -1 x +0
    assert run([[-1.0, 2.0]], [[0, 0]]) == [0]
    assert run([[1.0, -1.0]], [[1, 1]]) == [0]                     # exact cancellation
    # Ties to even at binary32's precision: 2^15 + 2^-9 is half an ulp above 2^15.
    assert run([[2.0 ** 15, 2.0 ** -9]], [[1, 1]]) == [_f32(2.0 ** 15)]
    assert run([[2.0 ** 15, 2.0 ** -8, 2.0 ** -9]], [[1, 1, 1]]) == [_f32(2.0 ** 15 + 2.0 ** -7)]
    # Symmetric weights at prec 1: code 0 = -1, 1 = +1.
    assert _float_golden("fp16", [[3.0, 5.0]], [[0, 1]], [1], "symmetric") == [_f32(2.0)]
    # bf16: two largest finite values overflow binary32; 2^-133 is a binary32 subnormal.
    big = float(parse_format("bf16").max_normal)
    assert _float_golden("bf16", [[big, big]], [[1, 1]], [2]) == [0x7F800000]
    assert _float_golden("bf16", [[-big, big]], [[1, 3]], [2]) == [0xFF800000]
    assert _float_golden("bf16", [[2.0 ** -133, 0.0]], [[1, 1]], [2]) == [1 << 16]


def test_float_golden_matches_float64_sums():
    """fp16 products with weights up to 15 and their sums are exact in float64 (values within
    2^-24 .. 2^20), so NumPy's float64 arithmetic (IEEE signed zeros, Inf x 0 = NaN) cast to
    float32 is the single rounding; NaN compared as the canonical code."""
    rng = np.random.default_rng(4)
    fmt = parse_format("fp16")
    beats, rows, dk, cols = 400, 2, 4, 3
    a = random_codes(fmt, rng, (beats, rows * dk)).astype(np.int64)
    w = rng.integers(0, 16, size=(beats, dk * cols))
    prec = rng.integers(1, 5, size=beats)
    last = rng.random(beats) < 0.4
    last[-1] = True
    for encoding in ("int", "symmetric"):
        y, _ = lut_mpgemm(a, w, prec, last, rows=rows, cols=cols, weight_encoding=encoding,
                          acc_width=0, act_format=fmt)
        values = fmt.decode(a).reshape(beats, rows, dk)
        weights = decode_weights(w.reshape(beats, dk, cols), prec, encoding=encoding)
        with np.errstate(invalid="ignore"):                                # Inf x 0
            products = values[:, :, :, None] * weights[:, None, :, :]      # beat, m, j, n
        ends = np.flatnonzero(last)
        expected = []
        for start, end in zip(np.concatenate(([0], ends[:-1] + 1)), ends):
            with np.errstate(invalid="ignore"):                            # +Inf + -Inf
                group = products[start:end + 1].transpose(1, 3, 0, 2).reshape(rows, cols, -1)
                sums = np.array([[np.sum(t) if not np.all(t == 0) else
                                  (-0.0 if np.all(np.signbit(t)) else 0.0) for t in r]
                                 for r in group])
            expected += [[0x7FC00000 if np.isnan(s) else _f32(s) for s in r] for r in sums]
        assert y.tolist() == expected, encoding
        assert sum(v == 0x7FC00000 for r in expected for v in r) > 10


def test_float_parameters_and_manifest():
    design = design_for("lut_mpgemm", act_format="fp16")
    # |a| <= 2047 * 2^29 units of 2^-24; int2 weights: |w| <= 2; a beat: 4 * 2 * 2047 * 2^29
    # = 2047 * 2^32; 2^16 beats: 2047 * 2^48 < 2^59: 60 bits signed.
    assert design.params["acc_width"] == 60
    assert design.module == "lut_mpgemm_fp16_w2i_k4_d1_n16_m2_sym"
    fields = {f["name"]: f for f in design.manifest["streams"]["o"]["fields"]}
    assert fields["y[0]"]["format"] == "fp32" and "0x7FC00000" in fields["y[0]"]["description"]
    inputs = {f["name"]: f for f in design.manifest["streams"]["i"]["fields"]}
    assert inputs["a[0]"]["format"] == "fp16"
    assert design_for("lut_mpgemm", act_format="bf16", weight_bits=4,
                      weight_encoding="symmetric").params["acc_width"] == 284
    assert " * " not in design_for("lut_mpgemm", **FLOAT_CONFIGS[0][1]).verilog()


def test_full_rate_float_one_row(tmp_path):
    """fp16, M = 1: the rounders are combinational, latency 1 as for integer activations."""
    params = FLOAT_CONFIGS[1][1]
    assert design_for("lut_mpgemm", **params).manifest["latency"] == 1
    run_seeded("lut_mpgemm", params, SIMULATORS[-1], tmp_path,
               full_rate_stimulus(lut_operands, lut_stimulus, 100, mean_group=2, extremes=False),
               seed=6)


@pytest.mark.parametrize("width, lsb_exp, step, lows", [(12, -158, 1, 12), (60, -24, 1, 8),
                                                        (283, -133, 5, 2)])
def test_tree_rounder(width, lsb_exp, step, lows):
    """The fp16 / bf16 outputs' rounder (``FixedToFloat32(tree=True)``: tree leading / lowest
    one search) against the golden rounding: leading ones at every ``step``-th position, each
    with up to ``lows`` lowest-one positions and random bits between, both signs (12 bits:
    subnormal results, ties, rounding to +-0; 283 bits: bf16's frame, up to overflow)."""
    rng = np.random.default_rng(width)
    values = {0, (1 << (width - 1)) - 1, -(1 << (width - 1))}
    for lead in range(0, width - 1, step):
        for low in sorted(set(rng.integers(0, lead + 1, size=min(lead + 1, lows)).tolist())):
            between = int.from_bytes(rng.bytes(width // 8 + 1), "little") % (1 << lead)
            v = (1 << lead) | (1 << low) | (between >> low << low)
            values.update((v, -v))
    values = sorted(values)
    dut = FixedToFloat32(width=width, lsb_exp=lsb_exp, tree=True)
    got = []

    async def bench(ctx):
        for v in values:
            ctx.set(dut.value, v)
            got.append(ctx.get(dut.code))

    sim = Simulator(dut)
    sim.add_testbench(bench)
    sim.run()
    expected = [round_to_fp32(Fraction(v) * Fraction(2) ** lsb_exp) for v in values]
    bad = [(v, hex(g), hex(e)) for v, g, e in zip(values, got, expected) if g != e]
    assert not bad, f"MISMATCH (value, rtl, golden): {bad[:5]} of {len(bad)}"
