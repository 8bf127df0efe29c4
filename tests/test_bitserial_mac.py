"""``bitserial_mac``: cocotb regression on Verilator and Icarus against the golden model (every
precision, random idle and back-pressure), a full-rate latency check, the terms mode's cycles per
beat against the golden model (1 and 2 terms per cycle), lint, and parameter errors."""

from __future__ import annotations

import numpy as np
import pytest

from sim.golden.bitserial_mac import cycles_per_beat, decode_weights
from sim.stimuli import accepted_cycles
from sim.stimuli.bitserial_mac import bitserial_operands, bitserial_stimulus

from .conftest import (SIMULATORS, assert_one_line_param_error, check_cli_error_and_help,
                       check_lint, design_for, full_rate_stimulus, run_configuration, run_seeded,
                       simulator_runs)

INT8_K16 = dict(act_format="int8", weight_bits=8, lanes=16)
#: The issue's configurations: int8 x Wmax 8, K=16 in both modes, 1 and 2 bits per cycle (bits
#: mode), signed and unsigned weights; and uint4 x Wmax 4, K=1, 4 bits per cycle.
CONFIGS = [
    (f"int8_w8{'s' if signed else 'u'}_k16_{mode}{bpc}",
     {**INT8_K16, "serial_mode": mode, "bits_per_cycle": bpc, "weight_signed": signed})
    for mode, bpc in (("bits", 1), ("bits", 2), ("terms", 1)) for signed in (True, False)
]
CONFIGS.append(("uint4_w4s_k1_bits4", dict(act_format="uint4", weight_bits=4, lanes=1,
                                           bits_per_cycle=4, weight_signed=True)))
#: Issue 15: terms mode at two non-zero terms per lane per cycle.
CONFIGS += [
    ("int8_w8s_k16_terms2", {**INT8_K16, "serial_mode": "terms", "bits_per_cycle": 2,
                             "weight_signed": True}),
    ("uint5_w6u_k3_terms2", dict(act_format="uint5", weight_bits=6, lanes=3, serial_mode="terms",
                                 bits_per_cycle=2, weight_signed=False)),
]
RANDOM_BEATS = 600
#: The configuration that also runs on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {'uint4_w4s_k1_bits4'}


RUNS = simulator_runs(CONFIGS)


@pytest.mark.parametrize("config_id, params, simulator", RUNS)
def test_every_precision_with_backpressure(config_id, params, simulator, tmp_path):
    def make_stimulus(design, rng, seed):
        a, w, prec, last = bitserial_operands(design.params, rng, RANDOM_BEATS)
        assert set(prec.tolist()) == set(range(2 if params["weight_signed"] else 1,
                                               params["weight_bits"] + 1))
        return bitserial_stimulus(design.params, design.manifest, a, w, prec, last, idle=0.3,
                                  stall=0.4, seed=seed)

    run_configuration("bitserial_mac", config_id, params, simulator, tmp_path, make_stimulus,
                      cocotb=COCOTB)


@pytest.mark.parametrize("config_id, params", [CONFIGS[2], CONFIGS[4]],
                         ids=[CONFIGS[2][0], CONFIGS[4][0]])
def test_full_rate_latency(config_id, params, tmp_path):
    """No idles or stalls: each output comes the manifest's latency (1) after its last beat."""
    design = design_for("bitserial_mac", **params)
    assert design.manifest["latency"] == 1 and design.manifest["initiation_interval"] is None
    run_seeded("bitserial_mac", params, SIMULATORS[-1], tmp_path,
               full_rate_stimulus(bitserial_operands, bitserial_stimulus, 200, mean_group=2),
               seed=5)


@pytest.mark.parametrize("bits_per_cycle", [1, 2])
def test_terms_cycles_per_beat_on_gaussian_weights(bits_per_cycle):
    """Every beat takes exactly the golden model's cycles (ceil(max lane terms / terms per
    cycle), at least 1) on Gaussian int8 weights (sigma 20) plus zero and digit-heavy beats."""
    params = dict(act_format="int8", weight_bits=8, lanes=4, serial_mode="terms",
                  bits_per_cycle=bits_per_cycle)
    design = design_for("bitserial_mac", **params)
    rng = np.random.default_rng(15)
    beats = 96
    weights = np.clip(np.rint(rng.normal(0.0, 20.0, size=(beats, 4))), -128, 127).astype(np.int64)
    weights[0] = 0                                   # no terms: still one cycle
    weights[1] = [0b01010101, -0b01010101, 85, 1]    # 4 terms in a lane
    weights[2] = [-128, 127, 1, -1]
    prec = np.full(beats, 8)
    prec[3:9] = [2, 3, 4, 5, 6, 7]
    values = decode_weights(weights & 0xFF, prec, signed=True)
    a = rng.integers(-128, 128, size=(beats, 4))
    last = rng.random(beats) < 0.25
    accepted = accepted_cycles(design.generator.build(design.params),
                               {"a": a, "w": weights & 0xFF, "prec": prec, "last": last})
    measured = np.diff([0] + accepted)
    expected = cycles_per_beat(values, prec, serial_mode="terms", bits_per_cycle=bits_per_cycle)
    assert measured.tolist() == expected.tolist()
    if bits_per_cycle == 2:
        assert expected.max() > 1 and expected[0] == 1


LINT_CONFIGS = [
    dict(act_format="int5", weight_bits=7, lanes=3, bits_per_cycle=4),
    dict(act_format="uint3", weight_bits=5, lanes=2, bits_per_cycle=2, weight_signed=False),
    dict(act_format="int8", weight_bits=8, lanes=4, serial_mode="terms"),
    dict(act_format="int6", weight_bits=7, lanes=3, serial_mode="terms", bits_per_cycle=2),
    dict(act_format="uint16", weight_bits=16, lanes=2, serial_mode="terms", weight_signed=False,
         acc_width=40),
]
LINT_IDS = ["-".join(str(v) for v in c.values()) for c in LINT_CONFIGS]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=LINT_IDS)
def test_lint(params, tmp_path):
    design = design_for("bitserial_mac", **params)
    check_lint(design, tmp_path)


@pytest.mark.parametrize("values, message", [
    (dict(weight_bits=2, bits_per_cycle=4),
     "--bits-per-cycle: 4 is larger than --weight-bits 2; allowed: at most weight_bits"),
    (dict(serial_mode="terms", bits_per_cycle=4),
     "--bits-per-cycle: 4 is not allowed with --serial-mode terms; allowed: 1 or 2"),
    # int8 x int8, 16 lanes: one beat spans -2^18 + 2^11 .. 2^18, 20 bits signed.
    (dict(lanes=16, acc_width=19),
     "--acc-width: 19 cannot hold one beat's products (-260096 to 262144); allowed: 20 to 128"),
    (dict(serial_mode="digits"),
     "--serial-mode: 'digits' is not allowed; allowed: one of bits, terms"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error("bitserial_mac", values, message)


def test_cli_error_and_help():
    check_cli_error_and_help("bitserial_mac", ["--weight-bits", "2", "--bits-per-cycle", "4"],
                             "--bits-per-cycle")


def test_default_accumulator_holds_2_16_beats():
    # |(-128) * (-128)| = 2^14; 16 lanes * 2^16 beats * 2^14 = 2^34 needs 36 bits signed.
    assert design_for("bitserial_mac", **INT8_K16).params["acc_width"] == 36
