"""``sparse_mac`` (N:M structured sparsity): regression on Verilator and Icarus against the golden
model (extreme values, duplicate and out-of-order indexes, invalid patterns n, n changing from beat
to beat, random idle and back-pressure), full-rate timing, dense data through the sparse PE, lint,
the golden model itself, ``sim.simulate``, ``--help`` and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

import sim
from sim.golden.sparse_mac import sparse_mac
from sim.stimuli.sparse_mac import (dense_beats, invalid_patterns, sparse_operands,
                                    sparse_stimulus)

from .conftest import (SIMULATORS, assert_one_line_param_error, backpressure_stimulus,
                       check_cli_error_and_help, check_lint, design_for, full_rate_stimulus,
                       run_configuration, run_seeded, simulator_runs)

GEN = "sparse_mac"


def _config(fa, fw, m, n, g, **extra):
    tags = "".join(f"_{value}" for value in extra.values())
    return (f"{fa}x{fw}_m{m}n{n}_g{g}{tags}",
            dict(act_format=fa, weight_format=fw, group_m=m, max_n=n, groups=g, **extra))


#: The issue's four configurations first (the last with a narrow accumulator that wraps: one
#: beat is -896..1024, 12 bits), then unsigned x unsigned, N not dividing M, N = M = 8 and the
#: reduction / accumulator options.
CONFIGS = [
    _config("int8", "int8", 4, 2, 4),
    _config("uint4", "int16", 8, 4, 2),
    _config("int16", "uint2", 16, 16, 1),
    _config("int4", "int4", 2, 1, 16, acc_width=12),
    _config("uint8", "uint8", 4, 3, 3, reduction="compressor_tree"),
    _config("int5", "uint3", 8, 8, 2, accumulator="carry_save"),
    _config("uint2", "int6", 16, 5, 2, reduction="compressor_tree", accumulator="carry_save"),
]
RANDOM_BEATS = 600
#: Verilator builds are the slow ones (compressor trees most of all): the native engine runs
#: every configuration on Icarus and the issue's four on Verilator; the default one also runs on
#: the cocotb bench on both simulators.
VERILATOR = {cid for cid, _ in CONFIGS[:4]}
COCOTB = {CONFIGS[0][0]}
RUNS = simulator_runs(CONFIGS, verilator=VERILATOR)


@pytest.mark.parametrize("config_id, params, simulator", RUNS)
def test_regression_with_backpressure(config_id, params, simulator, tmp_path):
    def make_stimulus(design, rng, seed):
        a, wv, wi, n, last = sparse_operands(design.params, rng, RANDOM_BEATS)
        # Every pattern and every invalid n the field can carry, changing from beat to beat.
        N = params["max_n"]
        assert set(n.tolist()) == set(range(1, N + 1)) | set(invalid_patterns(N))
        assert (np.diff(n[-RANDOM_BEATS:]) != 0).mean() > 0.3 or N == 1
        stimulus = sparse_stimulus(design.params, design.manifest, a, wv, wi, n, last, idle=0.3,
                                   stall=0.4, seed=seed)
        errors = [row[-1] for row in stimulus["expected"]["o"]]
        assert 0 < sum(errors) < len(errors)      # groups with and without an invalid n
        return stimulus

    run_configuration(GEN, config_id, params, simulator, tmp_path, make_stimulus)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_cocotb_engine(simulator, tmp_path):
    config_id, params = CONFIGS[0]
    run_configuration(GEN, config_id, params, simulator, tmp_path,
                      backpressure_stimulus(sparse_operands, sparse_stimulus, 60), cocotb=COCOTB)


def test_full_rate_one_beat_per_cycle(tmp_path):
    """Latency 1 and one beat per cycle for every n (``check_timing`` checks every output)."""
    params = CONFIGS[0][1]
    design = design_for(GEN, **params)
    assert design.manifest["latency"] == 1 and design.manifest["initiation_interval"] == 1
    run_seeded(GEN, params, SIMULATORS[-1], tmp_path,
               full_rate_stimulus(sparse_operands, sparse_stimulus, 300, mean_group=2,
                                  extremes=False), seed=5)


def _dense_case(params, rng, steps):
    fa, fw = params["act_format"], params["weight_format"]
    width = params["groups"] * params["group_m"]
    a = rng.integers(fa.min, fa.max, size=(steps, width), endpoint=True)
    w = rng.integers(fw.min, fw.max, size=(steps, width), endpoint=True)
    last = rng.random(steps) < 0.4
    last[-1] = True
    return a, w, last


def _plain_dot_products(a, w, last):
    """The dense reference: plain dot products of each accumulation group's steps."""
    dots = (a.astype(object) * w.astype(object)).sum(axis=1)
    ends = np.flatnonzero(last)
    starts = np.concatenate(([0], ends[:-1] + 1))
    return [int(dots[s:e + 1].sum()) for s, e in zip(starts, ends)]


@pytest.mark.parametrize("config_id, params", [CONFIGS[0], CONFIGS[1], CONFIGS[4]],
                         ids=[CONFIGS[0][0], CONFIGS[1][0], CONFIGS[4][0]])
def test_dense_data_through_sparse_mac(config_id, params, tmp_path):
    """Dense data sent as ceil(M/N) beats per group of positions (the module docstring's
    scheme; at N = 3, M = 4 the second beat has n = 1, its unused pairs random) accumulates to
    the plain dot product, on the RTL."""
    design = design_for(GEN, **params)
    rng = np.random.default_rng(11)
    a, w, last = _dense_case(design.params, rng, 40)
    beats = dense_beats(design.params, a, w, last, rng)
    M, N = params["group_m"], params["max_n"]
    assert len(beats[3]) == 40 * -(-M // N)
    outputs = sim.simulate(design, {"i": dict(zip(("a", "wv", "wi", "n", "last"), beats))},
                           simulator=SIMULATORS[-1], idle=0.2, stall=0.3, work_dir=tmp_path)
    expected = _plain_dot_products(a, w, last)
    assert [int(v) for v in outputs["o"]["acc"]] == expected   # no wrap at the default width
    assert not np.asarray(outputs["o"]["error"]).any()


def test_dense_scheme_by_hand():
    """N = 2, M = 4, G = 1: positions 0..3 as beats (w0, 0), (w1, 1) and (w2, 2), (w3, 3)."""
    params = design_for(GEN, groups=1).params
    a, wv, wi, n, last = dense_beats(params, [[1, 2, 3, 4]], [[5, 6, 7, 8]], [True])
    assert a.tolist() == [[1, 2, 3, 4]] * 2
    assert wv.tolist() == [[5, 6], [7, 8]] and wi.tolist() == [[0, 1], [2, 3]]
    assert n.tolist() == [2, 2] and last.tolist() == [False, True]
    acc, error = sparse_mac(a, wv, wi, n, last, group_m=4, max_n=2, acc_width=16)
    assert acc.tolist() == [5 + 12 + 21 + 32] and error.tolist() == [0]


def test_golden_model_by_hand():
    # M = 4, N = 2, G = 2: a = [10, 20, 30, 40 | 1, 2, 3, 4].
    a = [[10, 20, 30, 40, 1, 2, 3, 4]] * 6
    wv = [[2, 3, 5, 7]] * 6
    wi = [[3, 0, 2, 1],       # out of order: 40*2 + 10*3 + 3*5 + 2*7
          [1, 1, 0, 0],       # duplicates both add: 20*2 + 20*3 + 1*5 + 1*7
          [3, 0, 2, 1],       # n = 1: pair 0 of each group only: 40*2 + 3*5
          [3, 0, 2, 1],       # n = 0: nothing, error
          [3, 0, 2, 1],       # n = 3 > N: nothing, error
          [0, 0, 0, 0]]       # 10*5 + 1*12
    n = [2, 2, 1, 0, 3, 2]
    last = [True, True, False, True, True, True]
    acc, error = sparse_mac(a, wv, wi, n, last, group_m=4, max_n=2, acc_width=16)
    assert acc.tolist() == [80 + 30 + 15 + 14, 40 + 60 + 5 + 7, 80 + 15, 0, 10 * 5 + 1 * 12]
    assert error.tolist() == [0, 0, 1, 1, 0]
    # Wrapping at acc_width (two's complement, and modulo 2^W when unsigned).
    acc, _ = sparse_mac([[100, 0]], [[100]], [[0]], [1], [True], group_m=2, max_n=1,
                        acc_width=12)
    assert acc.tolist() == [10000 - 2 * 4096]      # 1808 < 2048: positive
    acc, _ = sparse_mac([[200, 0]], [[200]], [[0]], [1], [True], group_m=2, max_n=1,
                        acc_width=12, acc_signed=False)
    assert acc.tolist() == [40000 % 4096]


def test_invalid_patterns_are_what_the_field_can_carry():
    assert invalid_patterns(1) == [0]           # 1 bit
    assert invalid_patterns(2) == [0, 3]        # 2 bits
    assert invalid_patterns(3) == [0]           # 2 bits
    assert invalid_patterns(4) == [0, 5, 6, 7]  # 3 bits
    assert invalid_patterns(16) == [0] + list(range(17, 32))
    fields = {f["name"]: f for f in design_for(GEN, max_n=4, group_m=8)
              .manifest["streams"]["i"]["fields"]}
    assert fields["n"]["width"] == 3 and fields["wi[0]"]["width"] == 3


def test_simulate_with_check(tmp_path):
    design = design_for(GEN, **CONFIGS[3][1])
    rng = np.random.default_rng(3)
    a, wv, wi, n, last = sparse_operands(design.params, rng, 60, extremes=False)
    outputs = sim.simulate(design, {"i": {"a": a, "wv": wv, "wi": wi, "n": n, "last": last}},
                           simulator=SIMULATORS[-1], check=True, work_dir=tmp_path)
    acc, error = sparse_mac(a, wv, wi, n, last, group_m=2, max_n=1, acc_width=12)
    assert np.array_equal(np.asarray(outputs["o"]["acc"]).astype(object), acc)
    assert np.array_equal(np.asarray(outputs["o"]["error"]), error)


LINT_CONFIGS = [CONFIGS[0][1], CONFIGS[2][1], CONFIGS[3][1], CONFIGS[6][1],
                dict(act_format="uint3", weight_format="uint5", group_m=8, max_n=7, groups=3,
                     accumulator="carry_save")]
LINT_IDS = [CONFIGS[0][0], CONFIGS[2][0], CONFIGS[3][0], CONFIGS[6][0], "uint3xuint5_m8n7_g3_cs"]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=LINT_IDS)
def test_lint(params, tmp_path):
    check_lint(design_for(GEN, **params), tmp_path)


def test_one_multiplier_per_pair_and_module_name():
    design = design_for(GEN)
    assert design.module == f"sparse_mac_int8xint8_m4n2_g4_acc{design.params['acc_width']}"
    assert design.verilog().count(" * ") == 4 * 2      # G*N multipliers, not G*M
    assert design_for(GEN, reduction="compressor_tree", accumulator="carry_save").module \
        .endswith("_ct_cs")


def test_default_accumulator_holds_2_16_beats():
    # int8 x int8, G*N = 8 products: a beat is at most 8 * 2^14 = 2^17; 2^16 beats: 2^33, 35 bits.
    assert design_for(GEN).params["acc_width"] == 35
    # uint8 x uint8, G*N = 9: 9 * 255^2 * 2^16 < 2^36: 36 bits unsigned.
    params = design_for(GEN, **CONFIGS[4][1]).params
    assert params["acc_width"] == 36
    assert design_for(GEN, **CONFIGS[4][1]).manifest["streams"]["o"]["fields"][0]["format"] \
        == "uint36"


@pytest.mark.parametrize("values, message", [
    (dict(group_m=6), "--group-m: 6: must be a power of two; allowed: 2, 4, 8, 16"),
    (dict(group_m=12, max_n=1), "--group-m: 12: must be a power of two; allowed: 2, 4, 8, 16"),
    (dict(group_m=32), "--group-m: 32"),
    (dict(group_m=1), "--group-m: 1"),
    (dict(max_n=5), "--max-n: 5: must be at most --group-m (4); allowed: 1 to 4"),
    (dict(group_m=2, max_n=3), "--max-n: 3: must be at most --group-m (2); allowed: 1 to 2"),
    (dict(max_n=0), "--max-n: 0"),
    (dict(groups=0), "--groups: 0"),
    (dict(groups=17), "--groups: 17"),
    (dict(act_format="int1"), "--act-format"),
    (dict(weight_format="int17"), "--weight-format"),
    (dict(weight_format="fp8_e4m3"), "--weight-format"),
    (dict(reduction="wallace"), "--reduction"),
    # int4 x int4, G*N = 16: one beat is 16 * -56 .. 16 * 64 = -896 .. 1024, 12 bits.
    (dict(act_format="int4", weight_format="int4", group_m=2, max_n=1, groups=16, acc_width=11),
     "--acc-width: 11 cannot hold one beat's products (-896 to 1024); allowed: 12 to 128"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error(GEN, values, message)


@pytest.mark.parametrize("bad_args, flag", [
    (["--group-m", "6"], "--group-m: 6: must be a power of two; allowed: 2, 4, 8, 16"),
    (["--max-n", "8"], "--max-n: 8: must be at most --group-m (4)"),
    (["--groups", "0"], "--groups"),
])
def test_cli_error_and_help(bad_args, flag):
    text = check_cli_error_and_help(GEN, bad_args, flag, status=2)
    for field in ("a[k]", "wv[k]", "wi[k]", "n", "last", "acc", "error"):
        assert f" {field} " in text or f" {field}, k = " in text, field
    assert "0 = every beat's n was 1 to 2" in text
