"""``scalable_mac``: regression on Verilator and Icarus against the golden model (every weight code
of every mode built x extreme activations, long groups of the largest products, mode codes not
built, random beats whose mode changes from beat to beat, garbage in unused lanes and in the
ignored weight bits, random idle and back-pressure), the exhaustive activation x weight sweep of
every mode at K = 1, full-rate timing (one beat per cycle in every mode), lint, the golden model
by hand, ``sim.simulate``, the ``modes`` parameter and parameter errors."""

from __future__ import annotations

import re

import numpy as np
import pytest

from generators import get_generator
from hdl.scalable_mac import MODE_CODES, used_lanes
from sim.golden.scalable_mac import scalable_mac
from sim.runner import run_stream_test
from sim.stimuli.scalable_mac import (exhaustive_operands, scalable_operands, scalable_stimulus,
                                      unbuilt_codes)

from .conftest import (SIMULATORS, assert_one_line_param_error, backpressure_stimulus,
                       check_cli_error_and_help, check_lint, design_for, full_rate_stimulus,
                       run_configuration, run_seeded, simulator_runs)

#: The issue's configurations: defaults (int8, K = 4, all modes, signed weights); uint8, K = 1,
#: w8 and w2, unsigned weights; int16, K = 3, w4 only; int4, K = 8, all modes with a 16-bit
#: accumulator that wraps (one w8 beat needs 15 bits).
CONFIGS = [
    ("int8_k4_w8w4w2_s", dict()),
    ("uint8_k1_w8w2_u", dict(act_format="uint8", lanes=1, modes="w8,w2", weight_signed=False)),
    ("int16_k3_w4_s", dict(act_format="int16", lanes=3, modes="w4")),
    ("int4_k8_w8w4w2_s_acc16", dict(act_format="int4", lanes=8, acc_width=16)),
]
RANDOM_BEATS = 1000
#: The configuration that also runs on the cocotb bench, on both simulators.
COCOTB = {CONFIGS[1][0]}


def _concat(parts: list[dict]) -> dict:
    return {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}


def _group_sums(values, params, acc_width):
    """Golden outputs of ``values`` with another accumulator width."""
    return scalable_mac(values["a"], values["w"], values["mode"], values["last"],
                        lanes=params["lanes"], modes=params["modes"],
                        weight_signed=params["weight_signed"], acc_width=acc_width)


@pytest.mark.parametrize("config_id, params, simulator", simulator_runs(CONFIGS))
def test_regression_with_backpressure(config_id, params, simulator, tmp_path):
    def make_stimulus(design, rng, seed):
        p = design.params
        values = scalable_operands(p, rng, RANDOM_BEATS)
        modes = values["mode"].tolist()
        # Every mode built and every code not built occurs; in the random part the mode changes
        # from one beat to the next most of the time when several modes are built.
        assert set(modes) == {MODE_CODES[m] for m in p["modes"]} | set(unbuilt_codes(p))
        random_modes = values["mode"][-RANDOM_BEATS:]
        changes = np.mean(random_modes[1:] != random_modes[:-1])
        assert changes > (0.4 if len(p["modes"]) > 1 else 0.05), changes
        # Every weight code of every mode built is swept against the activation extremes.
        for mode in p["modes"]:
            bits, used = int(mode[1:]), used_lanes(p["lanes"], mode)
            rows = values["mode"] == MODE_CODES[mode]
            codes = set((values["w"][rows, :used] & ((1 << bits) - 1)).reshape(-1).tolist())
            assert codes == set(range(1 << bits)), mode
            assert {p["act_format"].min, p["act_format"].max} <= \
                set(values["a"][rows, :used].reshape(-1).tolist())
            # Garbage in the unused lanes and in the weight bits above the precision.
            if used < values["a"].shape[1]:
                assert values["a"][rows, used:].any() and values["w"][rows, used:].any()
            if bits < 8:
                assert (values["w"][rows, :used] >> bits).any()
        stimulus = scalable_stimulus(p, design.manifest, values, idle=0.3, stall=0.4, seed=seed)
        expected = np.array(stimulus["expected"]["o"], dtype=object)
        # Groups with an unbuilt mode code flag error = 1 and still sum their valid beats.
        assert any(e == 1 and acc != 0 for acc, e in expected)
        assert any(e == 0 for _, e in expected)
        if "acc_width" in params:      # the narrow accumulator really wraps
            acc, _ = _group_sums(values, p, 64)
            assert np.abs(acc.astype(np.int64)).max() >= 1 << (p["acc_width"] - 1)
        return stimulus

    run_configuration("scalable_mac", config_id, params, simulator, tmp_path, make_stimulus)


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_cocotb_engine(simulator, tmp_path):
    config_id, params = CONFIGS[1]
    run_configuration("scalable_mac", config_id, params, simulator, tmp_path,
                      backpressure_stimulus(scalable_operands, scalable_stimulus, 300,
                                            extremes=False, unbuilt_rate=0.1),
                      cocotb=COCOTB)


#: K = 1 sweeps: signed int8 activations and weights in all three modes; unsigned uint8 x
#: unsigned weights in w8 and w2.
SWEEPS = [dict(lanes=1), CONFIGS[1][1]]


def _sweep(params, *, beats=None):
    design = design_for("scalable_mac", **params)
    rng = np.random.default_rng(11)
    values = _concat([exhaustive_operands(design.params, mode, beats=beats, rng=rng)
                      for mode in design.params["modes"]])
    return design, values


@pytest.mark.parametrize("params", SWEEPS, ids=["int8_s", "uint8_u"])
def test_every_activation_and_weight_verilator(params, tmp_path):
    """Every activation x every weight value of every mode, in every lane, at K = 1: 65,536
    w8 pairs (+ 4,096 w4 and 1,024 w2 for int8), one output beat each."""
    design, values = _sweep(params)
    p = design.params
    pairs = {"w8": 256 * 256, "w4": 256 * 16, "w2": 256 * 4}
    assert len(values["last"]) == sum(pairs[m] for m in p["modes"])
    for mode in p["modes"]:
        rows = values["mode"] == MODE_CODES[mode]
        bits, used = int(mode[1:]), used_lanes(1, mode)
        for lane in range(used):     # each lane sees every pair exactly once
            seen = values["a"][rows, lane] * 256 + (values["w"][rows, lane] & ((1 << bits) - 1))
            assert len(set(seen.tolist())) == pairs[mode]
    stimulus = scalable_stimulus(p, design.manifest, values, idle=0.05, stall=0.05, seed=3)
    run_stream_test(design, "verilator", stimulus, tmp_path)


@pytest.mark.parametrize("simulator", [s for s in SIMULATORS if s != "verilator"])
@pytest.mark.parametrize("params", SWEEPS, ids=["int8_s", "uint8_u"])
def test_activation_weight_subset_slow_simulator(params, simulator, tmp_path):
    """A random subset of the sweep (every w2 pair is in it) on the slower simulator."""
    design = design_for("scalable_mac", **params)
    rng = np.random.default_rng(12)
    values = _concat([exhaustive_operands(design.params, mode, rng=rng,
                                          beats=None if mode == "w2" else 1000)
                      for mode in design.params["modes"]])
    stimulus = scalable_stimulus(design.params, design.manifest, values, idle=0.2, stall=0.2,
                                 seed=4)
    run_stream_test(design, simulator, stimulus, tmp_path)


@pytest.mark.parametrize("config_id, params", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_full_rate_latency(config_id, params, tmp_path):
    """No idles or stalls: one beat per cycle and each output the manifest's latency (1) after
    its last beat (``check_timing``), with unbuilt codes and mode changes among the beats."""
    design = design_for("scalable_mac", **params)
    assert design.manifest["latency"] == 1 and design.manifest["initiation_interval"] == 1
    run_seeded("scalable_mac", params, SIMULATORS[-1], tmp_path,
               full_rate_stimulus(scalable_operands, scalable_stimulus, 300, extremes=False),
               seed=7)


def test_macs_per_cycle_double_at_w4_and_quadruple_at_w2(tmp_path):
    """At full rate, runs of w8, w4 and w2 beats each take one cycle per beat: K, 2K and 4K
    MACs per cycle."""
    design = design_for("scalable_mac")
    p = design.params
    rng = np.random.default_rng(8)
    runs = [scalable_operands(p, rng, 200, extremes=False, unbuilt_rate=0.0,
                              random_modes=(mode,)) for mode in p["modes"]]
    values = _concat(runs)
    stimulus = scalable_stimulus(p, design.manifest, values, seed=8, check_timing=True)
    record = run_stream_test(design, SIMULATORS[-1], stimulus, tmp_path)
    accepted = np.asarray(record.accepted["i"])
    macs_per_cycle = []
    for n, mode in enumerate(p["modes"]):
        cycles = accepted[n * 200:(n + 1) * 200]
        assert (np.diff(cycles) == 1).all(), mode
        macs = used_lanes(p["lanes"], mode) * len(cycles)
        macs_per_cycle.append(macs / (int(cycles[-1] - cycles[0]) + 1))
    assert macs_per_cycle == [4.0, 8.0, 16.0]


LINT_CONFIGS = [params for _, params in CONFIGS] + [
    dict(act_format="uint16", lanes=2, modes="w8,w4", weight_signed=True),
    dict(act_format="uint4", lanes=3, modes="w2"),
    dict(act_format="int5", lanes=1, modes="w8", weight_signed=False, acc_width=13),
]
LINT_IDS = [cid for cid, _ in CONFIGS] + ["uint16_k2_w8w4_s", "uint4_k3_w2_s", "int5_k1_w8_u"]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=LINT_IDS)
def test_lint(params, tmp_path):
    check_lint(design_for("scalable_mac", **params), tmp_path)


def test_only_the_modes_built_have_selects():
    """A w8-only build is a plain K-lane MAC: no activation selects; w8 + w4 selects only the
    w4 lanes; all modes: the w2 lanes too."""
    def selects(values):
        design = design_for("scalable_mac", **values)
        return set(re.findall(r"\bact_s\d+_j\d+_c\d+\b", design.verilog()))

    assert not selects(dict(modes="w8"))
    w8w4, every = selects(dict(modes="w8,w4")), selects(dict())
    assert w8w4 and w8w4 < every


def test_golden_model_by_hand():
    lanes, modes = 1, ("w8", "w4", "w2")
    a = [[3, 9, 9, 9], [3, -5, 9, 9], [1, 2, 3, 4], [7, 7, 7, 7], [127, 0, 0, 0]]
    # w8: 0xFE is -2 (lanes 1-3 unused). w4: low nibbles 0xF = -1 and 0x7 = 7. w2: low bits
    # 11 = -1, 10 = -2, 01 = 1, 00 = 0 (upper bits ignored). Code 3: nothing, error.
    w = [[0xFE, 1, 1, 1], [0x1F, 0x27, 1, 1], [0x0F, 0x02, 0xF1, 0x04], [1, 1, 1, 1],
         [0x7F, 0, 0, 0]]
    mode = [0, 1, 2, 3, 0]
    last = [False, True, False, True, True]
    acc, error = scalable_mac(a, w, mode, last, lanes=lanes, modes=modes, weight_signed=True,
                              acc_width=32)
    assert acc.tolist() == [3 * -2 + 3 * -1 + -5 * 7, -1 * 1 + 2 * -2 + 3 * 1, 127 * 127]
    assert error.tolist() == [0, 1, 0]
    # Unsigned weights: 0xFE = 254, 0xF = 15, 0x7 = 7, 3, 2, 1, 0.
    acc, _ = scalable_mac(a, w, mode, last, lanes=lanes, modes=modes, weight_signed=False,
                          acc_width=32)
    assert acc.tolist() == [3 * 254 + 3 * 15 - 5 * 7, 3 + 4 + 3, 127 * 127]
    # w4 not built: its beat adds nothing and flags the group.
    acc, error = scalable_mac(a, w, mode, last, lanes=lanes, modes=("w8", "w2"),
                              weight_signed=True, acc_width=32)
    assert acc.tolist() == [-6, -2, 16129] and error.tolist() == [1, 1, 0]
    # K = 2 in w2 uses lanes 0..7 (lane 7: 11 = -1).
    acc, _ = scalable_mac([[1] * 8], [[1] * 7 + [3]], [2], [True], lanes=2, modes=modes,
                          weight_signed=True, acc_width=32)
    assert acc.tolist() == [7 - 1]
    # Wrapping at 8 bits: 127 * 127 = 16129 = 63 * 256 + 1.
    acc, _ = scalable_mac([[127, 0, 0, 0]], [[127, 0, 0, 0]], [0], [True], lanes=1, modes=modes,
                          weight_signed=True, acc_width=8)
    assert acc.tolist() == [1]


def test_simulate_with_check(tmp_path):
    import sim

    design = design_for("scalable_mac", **CONFIGS[0][1])
    p = design.params
    values = scalable_operands(p, np.random.default_rng(3), 60, extremes=False, unbuilt_rate=0.2)
    outputs = sim.simulate(design, {"i": values}, simulator=SIMULATORS[-1], check=True,
                           work_dir=tmp_path)
    acc, error = _group_sums(values, p, p["acc_width"])
    assert np.array_equal(np.asarray(outputs["o"]["acc"]).astype(object), acc)
    assert np.array_equal(np.asarray(outputs["o"]["error"]), error)
    assert error.any()


def test_modes_parameter():
    """A comma-separated subset in any order, canonical in the module name and the manifest;
    the manifest's value reads back to the same design; a and w hold the lanes of the widest
    mode built."""
    design = design_for("scalable_mac", modes="w2,w8")
    assert design.params["modes"] == ("w8", "w2")
    assert design.module == "scalable_mac_int8_k4_w8w2_s_acc34"
    assert design.manifest["params"]["modes"] == "w8,w2"
    again = get_generator("scalable_mac").elaborate(design.manifest["params"])
    assert again.module == design.module
    assert design_for("scalable_mac", modes=("w2", "w8")).module == design.module
    for modes, entries in (("w8", 4), ("w8,w4", 8), ("w4", 8), ("w2", 16), ("w8,w4,w2", 16)):
        fields = design_for("scalable_mac", modes=modes).manifest["streams"]["i"]["fields"]
        assert [f["name"] for f in fields if f["name"].startswith("w[")][-1] == \
            f"w[{entries - 1}]"
    values = {f["name"]: f for f in design.manifest["streams"]["i"]["fields"]}["mode"]["values"]
    assert list(values) == ["0", "1", "2", "3"] and values["1"].startswith("w4: not built")
    assert values["2"].startswith("w2: lanes 0..15, weight w[i] = its low 2 bits as int2")


def test_default_accumulator_holds_2_16_beats():
    # w8 is the widest range: 4 lanes * 2^14 * 2^16 beats = 2^32, 34 bits signed; w2 alone:
    # 16 lanes * 256 * 2^16 = 2^28, 30 bits; uint8 x unsigned w8: 65025 * 2^16 < 2^32, uint32.
    assert design_for("scalable_mac").params["acc_width"] == 34
    assert design_for("scalable_mac", modes="w2").params["acc_width"] == 30
    unsigned = design_for("scalable_mac", **CONFIGS[1][1])
    assert {f["name"]: f["format"] for f in unsigned.manifest["streams"]["o"]["fields"]} == \
        {"acc": "uint32", "error": "uint1"}


@pytest.mark.parametrize("values, message", [
    (dict(modes=""), "--modes: '' is not allowed; allowed: one or more of w8, w4, w2, "
                     "comma-separated, each at most once"),
    (dict(modes="w3"), "--modes: 'w3' is not allowed"),
    (dict(modes="w8,w16"), "--modes: 'w16' is not allowed"),
    (dict(modes="w8,w8"), "--modes: 'w8,w8' is not allowed"),
    (dict(modes="w8,"), "--modes: "),
    (dict(modes=()), "--modes: '' is not allowed"),
    (dict(act_format="int3"), "--act-format: 'int3' is not allowed"),
    (dict(act_format="int17"), "--act-format"),
    (dict(act_format="fp8_e4m3"), "--act-format"),
    (dict(lanes=0), "--lanes: 0 is not allowed"),
    (dict(lanes=65), "--lanes: 65 is not allowed"),
    (dict(weight_signed="maybe"), "--weight-signed"),
    # int8 x int8, 4 lanes: -65024 to 65536, 18 bits; w2 alone: 16 * (-128 * -2) = 4096 and
    # 16 * (127 * -2) = -4064, 14 bits.
    (dict(acc_width=17),
     "--acc-width: 17 cannot hold one beat's products (-65024 to 65536); allowed: 18 to 128"),
    (dict(modes="w2", acc_width=13),
     "--acc-width: 13 cannot hold one beat's products (-4064 to 4096); allowed: 14 to 128"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error("scalable_mac", values, message)


def test_cli_error_and_help():
    text = check_cli_error_and_help("scalable_mac", ["--modes", ""], "--modes", status=2)
    check_cli_error_and_help("scalable_mac", ["--modes", "w8,w5"], "--modes", status=2)
    for field in ("a[k], k = 0..15", "w[k], k = 0..15", "mode uint2", "last", "acc int34",
                  "error uint1", "0 = w8: lanes 0..3", "3 = invalid: the beat adds nothing"):
        assert field in text, field
