"""``fp_mac``: golden model checks, parameter rules, lint, and cocotb regressions on Verilator and
Icarus (exhaustive code-pair sweeps, random accumulations with back-pressure, full-rate timing).

Exhaustive sweeps (every code pair, exact and lmul) run on Verilator in the default suite: the
three fp8 pairs, the three fp6 pairs and fp4 x fp4. K = 1 builds take ~8 s and 65,536 beats ~15 s.
"""

from __future__ import annotations


import numpy as np
import pytest

from generators import get_generator
from hdl.formats import parse_format
from sim.golden.fp_mac import fp_mac as golden
from sim.runner import run_stream_test
from sim.stimuli.fp_mac import all_code_pairs, fp_mac_operands, fp_mac_stimulus

from .conftest import (SIMULATORS, assert_one_line_param_error, backpressure_stimulus,
                       check_cli_error_and_help, check_lint, design_for, full_rate_stimulus,
                       run_configuration, run_seeded, simulator_runs)

RANDOM_BEATS = 1500


# ------------------------------------------------------------------------------------------
# Golden model against hand-derived values and NumPy float32
# ------------------------------------------------------------------------------------------

def _f32(x: float) -> int:
    return int(np.array([x], dtype=np.float32).view(np.uint32)[0])


def _codes(fmt, values):
    return [int(c) for c in parse_format(fmt).encode(np.array(values, dtype=np.float64))]


def test_golden_hand_values():
    e4m3 = "fp8_e4m3"
    one, onehalf, neg_zero = _codes(e4m3, [1.0, 1.5, -0.0])
    nan = 0x7F
    run = lambda a, b, last, **kw: golden(np.array(a), np.array(b), np.array(last),  # noqa: E731
                                          a_format=e4m3, b_format=e4m3, **kw)
    assert run([[one]], [[onehalf]], [True]) == [_f32(1.5)]
    # L-Mul: (1 + .5 + .5 + 2**-3) * 2**0 = 2.125 (paper's formula, l(3) = 3).
    assert run([[onehalf]], [[onehalf]], [True], multiplier="lmul") == [_f32(2.125)]
    assert run([[onehalf]], [[onehalf]], [True]) == [_f32(2.25)]
    assert run([[nan]], [[one]], [True]) == [0x7FC00000]
    assert run([[neg_zero], [neg_zero]], [[one], [one]], [False, True]) == [0x80000000]
    assert run([[neg_zero], [0]], [[one], [one]], [False, True]) == [0]
    for acc in ("exact", "fp32"):
        assert run([[one], [one | 0x80]], [[one], [one]], [False, True], accumulator=acc) == [0]
    # e5m2: Inf * 0 is NaN, Inf + -Inf is NaN, Inf + finite is Inf.
    inf, ninf, one5, zero = 0x7C, 0xFC, 0x3C, 0x00
    run5 = lambda a, b, last: golden(np.array(a), np.array(b), np.array(last),  # noqa: E731
                                     a_format="fp8_e5m2", b_format="fp8_e5m2")
    assert run5([[inf]], [[zero]], [True]) == [0x7FC00000]
    assert run5([[inf], [ninf]], [[one5], [one5]], [False, True]) == [0x7FC00000]
    assert run5([[inf], [one5]], [[one5], [one5]], [False, True]) == [0x7F800000]


def test_golden_lmul_ftz_hand_values():
    """lmul_ftz: normal pairs as L-Mul; a subnormal operand is a zero of its sign."""
    fmt = "fp8_e4m3"
    one, onehalf, sub, big = _codes(fmt, [1.0, 1.5, 2.0 ** -9, 448.0])
    run = lambda a, b, last, f=fmt: golden(np.array(a), np.array(b), np.array(last),  # noqa: E731
                                           a_format=f, b_format=f, multiplier="lmul_ftz")
    assert run([[onehalf]], [[onehalf]], [True]) == [_f32(2.125)]
    assert run([[sub]], [[big]], [True]) == [0]                      # lmul: 2**-9 * 448 exact
    assert golden(np.array([[sub]]), np.array([[big]]), np.array([True]), a_format=fmt,
                  b_format=fmt, multiplier="lmul") == [_f32(448 * 2.0 ** -9)]
    assert run([[sub | 0x80]], [[one]], [True]) == [0x80000000]       # -sub * 1 = -0
    # -0 + L-Mul(1, 1) = (1 + 0 + 0 + 2**-3) * 2**0
    assert run([[sub | 0x80], [one]], [[one], [one]], [False, True]) == [_f32(1.125)]
    # e5m2: Inf x subnormal is Inf x 0 = NaN; subnormal x NaN is NaN.
    inf, sub5, nan5 = 0x7C, 0x01, 0x7E
    assert run([[inf]], [[sub5]], [True], "fp8_e5m2") == [0x7FC00000]
    assert run([[sub5]], [[nan5]], [True], "fp8_e5m2") == [0x7FC00000]


@pytest.mark.parametrize("accumulator", ["exact", "fp32"])
def test_golden_matches_float32_where_float64_is_exact(accumulator):
    """e4m3 products have 8 significant bits within 2**-18 .. 2**17, so a beat's sum of 8 of
    them is exact in float64; NumPy's float64 -> float32 cast is then the single rounding."""
    rng = np.random.default_rng(11)
    fmt = parse_format("fp8_e4m3")
    codes = fmt.all_codes()
    finite = codes[~fmt.is_nan(codes)]
    a = rng.choice(finite, size=(3000, 8))
    b = rng.choice(finite, size=(3000, 8))
    last = np.ones(3000, dtype=bool)
    got = golden(a, b, last, a_format=fmt, b_format=fmt, accumulator=accumulator)
    products = fmt.decode(a) * fmt.decode(b)
    sums = products.sum(axis=1)
    expected = [_f32(s) if s != 0 else (0x80000000 if np.all(np.signbit(p) & (p == 0)) else 0)
                for s, p in zip(sums, products)]
    assert got == expected


def test_golden_fp32_accumulator_rounds_every_beat():
    """fp32 accumulation: 2**24 + 1 + 1 rounds twice (to 2**24 each time), exact does not."""
    fmt = "fp16"
    big, one = _codes(fmt, [4096.0, 1.0])   # 4096 * 4096 = 2**24
    a = np.array([[big], [one], [one]])
    b = np.array([[big], [one], [one]])
    last = np.array([False, False, True])
    assert golden(a, b, last, a_format=fmt, b_format=fmt, accumulator="fp32") == [_f32(2.0**24)]
    assert golden(a, b, last, a_format=fmt, b_format=fmt, accumulator="exact") == \
        [_f32(2.0**24 + 2)]


def test_golden_lmul_relative_error_is_in_the_published_range():
    """On Gaussian operands, L-Mul (m = 3) is a few percent off the exact product."""
    fmt = parse_format("fp8_e4m3")
    rng = np.random.default_rng(2)
    a = fmt.encode(rng.standard_normal(4000)).reshape(-1, 1)
    b = fmt.encode(rng.standard_normal(4000)).reshape(-1, 1)
    last = np.ones(len(a), dtype=bool)
    ex = np.array(golden(a, b, last, a_format=fmt, b_format=fmt), dtype=np.uint32).view(np.float32)
    lm = np.array(golden(a, b, last, a_format=fmt, b_format=fmt, multiplier="lmul"),
                  dtype=np.uint32).view(np.float32)
    ok = (ex != 0) & (np.abs(fmt.decode(a[:, 0])) >= fmt.min_normal) & \
        (np.abs(fmt.decode(b[:, 0])) >= fmt.min_normal)
    err = np.mean(np.abs(lm[ok] - ex[ok]) / np.abs(ex[ok]))
    assert 0.01 < err < 0.10, err


# ------------------------------------------------------------------------------------------
# Parameters and lint
# ------------------------------------------------------------------------------------------

def test_unsupported_exact_combination_is_one_line():
    assert_one_line_param_error("fp_mac", {"a_format": "bf16", "b_format": "fp8_e4m3"},
                                "--accumulator", "allowed: fp32")


def test_sequential_rounder_needs_exact_accumulator():
    assert_one_line_param_error("fp_mac", {"accumulator": "fp32", "rounder": "sequential"},
                                "--rounder", "allowed: combinational")


def test_cli_error_and_help():
    text = check_cli_error_and_help("fp_mac", ["--rounder", "fast"], "--rounder", status=2)
    assert "lmul_ftz" in text and "sequential" in text


def test_default_rounder_keeps_the_module_name():
    assert design_for("fp_mac").module == "fp_mac_fp8_e4m3xfp8_e4m3_k1_accexact_mulexact"
    seq = design_for("fp_mac", rounder="sequential")
    assert seq.module.endswith("_rseq")
    assert seq.manifest["latency"] is None and seq.manifest["initiation_interval"] is None


def test_bad_format_is_one_line():
    assert_one_line_param_error("fp_mac", {"a_format": "int8"}, "fp8_e4m3")


def test_exact_offered_for_fp16_and_every_small_pair():
    small = ["fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "fp16"]
    for fa in small:
        for fb in small:
            get_generator("fp_mac").resolve({"a_format": fa, "b_format": fb, "lanes": 32})


#: Small configurations; every Verilator regression build below also runs with -Wall and only
#: the waivers of sim/lint.py (sim/runner.py), which lint-checks the fp32-accumulator designs.
LINT_CONFIGS = [
    dict(a_format="fp8_e4m3", b_format="fp8_e4m3", lanes=1),
    dict(a_format="fp6_e2m3", b_format="fp4_e2m1", lanes=3, multiplier="lmul"),
    dict(a_format="fp4_e2m1", b_format="fp6_e3m2", lanes=2, accumulator="fp32"),
    dict(a_format="fp8_e4m3", b_format="fp8_e4m3", lanes=1, rounder="sequential"),
    dict(a_format="bf16", b_format="bf16", lanes=2, accumulator="fp32", multiplier="lmul_ftz"),
]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=lambda p: "-".join(map(str, p.values())))
def test_lint(params, tmp_path):
    design = design_for("fp_mac", **params)
    check_lint(design, tmp_path)


# ------------------------------------------------------------------------------------------
# Cocotb regressions
# ------------------------------------------------------------------------------------------

def _sweep(params, tmp_path):
    design = design_for("fp_mac", lanes=1, **params)
    a, b, last = all_code_pairs(design.params)
    assert len(a) == 2 ** (design.params["a_format"].width + design.params["b_format"].width)
    stimulus = fp_mac_stimulus(design.params, design.manifest, a, b, last, idle=0.05, stall=0.05, seed=3)
    return run_stream_test(design, "verilator", stimulus, tmp_path)


#: Every fp8, fp6 and fp4 code pair, for both multipliers, on Verilator (as the issue asks; the
#: random accumulations below cover Icarus).
CODE_PAIR_SWEEPS = [
    pytest.param(fa, fb, mul, id=f"{fa}x{fb}-{mul}-verilator")
    for fa, fb in (("fp8_e4m3", "fp8_e4m3"), ("fp8_e5m2", "fp8_e5m2"), ("fp8_e4m3", "fp8_e5m2"),
                   ("fp6_e3m2", "fp6_e3m2"), ("fp6_e2m3", "fp6_e2m3"), ("fp6_e3m2", "fp6_e2m3"),
                   ("fp4_e2m1", "fp4_e2m1"))
    for mul in ("exact", "lmul")] + [
    # The flush-to-zero L-Mul product unit on every fp8 code pair.
    pytest.param(fa, fb, "lmul_ftz", id=f"{fa}x{fb}-lmul_ftz-verilator")
    for fa, fb in (("fp8_e4m3", "fp8_e4m3"), ("fp8_e5m2", "fp8_e5m2"), ("fp8_e4m3", "fp8_e5m2"))]


@pytest.mark.parametrize("a_format, b_format, multiplier", CODE_PAIR_SWEEPS)
def test_every_code_pair(a_format, b_format, multiplier, tmp_path):
    """All code pairs, K = 1, ``last`` on every beat (65,536 beats for fp8)."""
    _sweep(dict(a_format=a_format, b_format=b_format, multiplier=multiplier), tmp_path)


def test_every_code_pair_sequential_rounder(tmp_path):
    """Every e4m3 code pair, ``last`` on every beat, through the sequential rounder: the golden
    results (those of the combinational rounder), one group per rounder pass."""
    record = _sweep(dict(a_format="fp8_e4m3", b_format="fp8_e4m3", rounder="sequential"),
                    tmp_path)
    assert len(record.cycles["o"]) == 65536


RANDOM_CONFIGS = [
    ("e4m3xe4m3_k1_exact_exact", dict(a_format="fp8_e4m3", b_format="fp8_e4m3", lanes=1)),
    ("e4m3xe4m3_k1_exact_lmul", dict(a_format="fp8_e4m3", b_format="fp8_e4m3", lanes=1,
                                     multiplier="lmul")),
    ("e5m2xfp16_k8_exact_exact", dict(a_format="fp8_e5m2", b_format="fp16", lanes=8)),
    ("fp16xe2m3_k8_exact_lmul", dict(a_format="fp16", b_format="fp6_e2m3", lanes=8,
                                     multiplier="lmul")),
    ("e5m2xe4m3_k8_fp32_lmul", dict(a_format="fp8_e5m2", b_format="fp8_e4m3", lanes=8,
                                    accumulator="fp32", multiplier="lmul")),
    ("e3m2xe2m1_k1_fp32_exact", dict(a_format="fp6_e3m2", b_format="fp4_e2m1", lanes=1,
                                     accumulator="fp32")),
    ("bf16xbf16_k1_fp32_lmul", dict(a_format="bf16", b_format="bf16", lanes=1,
                                    accumulator="fp32", multiplier="lmul")),
    ("e4m3xe4m3_k1_exact_exact_seq", dict(a_format="fp8_e4m3", b_format="fp8_e4m3", lanes=1,
                                          rounder="sequential")),
    ("fp16xe5m2_k8_exact_lmulftz_seq", dict(a_format="fp16", b_format="fp8_e5m2", lanes=8,
                                            multiplier="lmul_ftz", rounder="sequential")),
    ("bf16xbf16_k2_fp32_lmulftz", dict(a_format="bf16", b_format="bf16", lanes=2,
                                       accumulator="fp32", multiplier="lmul_ftz")),
]


#: Every configuration runs on Icarus (cheap builds); Verilator builds of the wide exact frames
#: cost 30-120 s each, so it runs the K = 1 designs the code-pair sweeps build anyway plus the
#: fp32-accumulator ones.
ON_VERILATOR = {"e4m3xe4m3_k1_exact_exact", "e4m3xe4m3_k1_exact_lmul", "e5m2xe4m3_k8_fp32_lmul",
                "bf16xbf16_k1_fp32_lmul", "e4m3xe4m3_k1_exact_exact_seq",
                "bf16xbf16_k2_fp32_lmulftz"}
#: The configuration that also runs on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {'bf16xbf16_k1_fp32_lmul', 'e4m3xe4m3_k1_exact_exact_seq'}
RANDOM_RUNS = simulator_runs(RANDOM_CONFIGS, verilator=ON_VERILATOR)


@pytest.mark.parametrize("config_id, params, simulator", RANDOM_RUNS)
def test_random_with_backpressure(config_id, params, simulator, tmp_path):
    run_configuration("fp_mac", config_id, params, simulator, tmp_path,
                      backpressure_stimulus(fp_mac_operands, fp_mac_stimulus, RANDOM_BEATS),
                      cocotb=COCOTB)


@pytest.mark.parametrize("config_id, params, simulator", [
    pytest.param(*RANDOM_CONFIGS[2], SIMULATORS[-1], id=f"{RANDOM_CONFIGS[2][0]}-{SIMULATORS[-1]}"),
    pytest.param(*RANDOM_CONFIGS[4], "verilator", id=f"{RANDOM_CONFIGS[4][0]}-verilator")])
def test_full_rate_timing(config_id, params, simulator, tmp_path):
    """No idles, no stalls: one beat per cycle and the manifest's latency on every output."""
    run_seeded("fp_mac", params, simulator, tmp_path,
               full_rate_stimulus(fp_mac_operands, fp_mac_stimulus, 200, mean_group=3), seed=7)


# ------------------------------------------------------------------------------------------
# Sequential rounder: cycle schedule
# ------------------------------------------------------------------------------------------

def _group_sums(params, a, b, last) -> list[int]:
    """Exact sum of each group in units of the product frame's LSB (finite operands)."""
    from hdl.fp_mac import operand_spec, product_frame
    from sim.golden.fp_mac import SCALE, combine, product_term

    fa, fb = params["a_format"], params["b_format"]
    lsb_exp, _ = product_frame(operand_spec(fa), operand_spec(fb))
    sums, terms = [], []
    for x, y, end in zip(fa.decode(a), fb.decode(b), last):
        terms += [product_term(float(p), float(q), fa, fb, params["multiplier"])
                  for p, q in zip(x, y)]
        if end:
            kind, total, _ = combine(terms)
            assert kind == "finite" and total % (1 << (SCALE + lsb_exp)) == 0
            sums.append(total >> (SCALE + lsb_exp))
            terms = []
    return sums


def _expected_schedule(params, a, b, last):
    """Acceptance cycle of every input beat and first-valid cycle of every output beat at full
    rate, from the documented timing (:class:`hdl.fp_mac.FpMacCore`): a ``last`` beat waits
    until ``c`` cycles after the previous ``last`` beat, its output comes ``1 + c`` cycles after
    it, ``c`` from :func:`hdl.fp_round.sequential_rounder_cycles` of the group's exact sum."""
    from hdl.fp_mac import exact_acc_width, operand_spec, product_frame
    from hdl.fp_round import sequential_rounder_cycles

    fa, fb = params["a_format"], params["b_format"]
    lsb_exp, _ = product_frame(operand_spec(fa), operand_spec(fb))
    width = exact_acc_width(fa, fb, params["lanes"])
    sums = iter(_group_sums(params, a, b, last))
    accepted, outputs, t, ready = [], [], -1, 0
    for end in last:
        t = max(t + 1, ready) if end else t + 1
        accepted.append(t)
        if end:
            c = sequential_rounder_cycles(next(sums), width=width, lsb_exp=lsb_exp, step=4)
            ready = t + c
            outputs.append(t + c + 1)
    return np.array(accepted), np.array(outputs)


@pytest.mark.parametrize("group", [1, 3, 20], ids=lambda g: f"group{g}")
def test_sequential_rounder_schedule(group, tmp_path):
    """At full rate, every beat is accepted and every result presented in exactly the cycle the
    documented timing gives; with ``last`` on every beat the PE takes one group per rounder
    pass, with groups of 20 beats one beat per cycle (no wait); the outputs equal the
    combinational rounder's on the same stimulus."""
    from hdl.formats import parse_format as fmt_of
    from sim.stimuli.fp_mac import random_codes

    simulator = SIMULATORS[-1]
    results = {}
    for rounder in ("combinational", "sequential"):
        design = design_for("fp_mac", a_format="fp8_e4m3", b_format="fp8_e4m3", lanes=1,
                            rounder=rounder)
        rng = np.random.default_rng(group)
        fmt = fmt_of("fp8_e4m3")
        a = random_codes(fmt, rng, (300, 1), special_rate=0)
        b = random_codes(fmt, rng, (300, 1), special_rate=0)
        last = np.arange(300) % group == group - 1
        stimulus = fp_mac_stimulus(design.params, design.manifest, a, b, last, idle=0.0,
                                   stall=0.0, seed=1, check_timing=True)
        record = run_stream_test(design, simulator, stimulus, tmp_path / rounder)
        results[rounder] = record.words["o"]
    accepted, outputs = _expected_schedule(design.params, a, b, last)
    got_accepted = record.accepted["i"] - record.accepted["i"][0]
    got_outputs = record.first_valid["o"] - record.accepted["i"][0]
    assert got_accepted.tolist() == accepted.tolist()
    assert got_outputs.tolist() == outputs.tolist()
    if group == 20:
        assert accepted[-1] == 299                       # no input beat ever waited
    if group == 1:
        gaps = np.diff(accepted)
        assert gaps.min() >= 1 and gaps.max() <= 16 and gaps.mean() > 4
    assert np.array_equal(results["combinational"], results["sequential"])
