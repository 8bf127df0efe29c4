"""``bitmod_mac``: cocotb regression on Verilator and Icarus against the golden model (every
code x every dtype x extreme activations, plus random groups), a full-rate latency check, lint,
and parameter errors."""

from __future__ import annotations

import pytest

from sim.golden.bitmod_mac import decode_table
from sim.stimuli.bitmod_mac import bitmod_operands, bitmod_stimulus

from .conftest import (SIMULATORS, assert_one_line_param_error, check_lint, design_for,
                       full_rate_stimulus, run_configuration, run_seeded)

CONFIGS = [
    ("int8_w4_k4", dict(act_format="int8", weight_bits=4, lanes=4)),
    ("uint6_w3_k3_uq2_6", dict(act_format="uint6", weight_bits=3, lanes=3, scale_format="uq2.6")),
]
RANDOM_BEATS = 800
#: The configuration that also runs on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {'uint6_w3_k3_uq2_6'}


@pytest.mark.parametrize("simulator", SIMULATORS)
@pytest.mark.parametrize("config_id, params", CONFIGS, ids=[c[0] for c in CONFIGS])
def test_codes_dtypes_groups_with_backpressure(config_id, params, simulator, tmp_path):
    def make_stimulus(design, rng, seed):
        values = bitmod_operands(design.params, rng, RANDOM_BEATS)
        stimulus = bitmod_stimulus(design.params, design.manifest, values, idle=0.3, stall=0.4,
                                   seed=seed)
        # The sweep really holds every (dtype, code) pair and some invalid-dtype outputs.
        pairs = {(int(d), int(c)) for d, row in zip(values["dtype"], values["w"]) for c in row}
        assert len(pairs) == 8 << params["weight_bits"]
        assert any(beat[-1] for beat in stimulus["expected"]["o"])
        return stimulus

    run_configuration("bitmod_mac", config_id, params, simulator, tmp_path, make_stimulus,
                      cocotb=COCOTB)


def test_full_rate_latency(tmp_path):
    """No idles or stalls: each output comes the manifest's latency (1) after its last beat."""
    design = design_for("bitmod_mac", **CONFIGS[0][1])
    assert design.manifest["latency"] == 1 and design.manifest["initiation_interval"] is None
    run_seeded("bitmod_mac", CONFIGS[0][1], SIMULATORS[-1], tmp_path,
               full_rate_stimulus(bitmod_operands, bitmod_stimulus, 300), seed=9)


LINT_CONFIGS = [
    dict(act_format="int8", weight_bits=4, lanes=2),
    dict(act_format="uint2", weight_bits=3, lanes=1, scale_format="uq0.8"),
]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=["int8-w4-k2", "uint2-w3-k1"])
def test_lint(params, tmp_path):
    design = design_for("bitmod_mac", **params)
    check_lint(design, tmp_path)


def test_output_format_and_widths():
    design = design_for("bitmod_mac", act_format="int8", weight_bits=4, lanes=16)
    fields = {f["name"]: f for f in design.manifest["streams"]["o"]["fields"]}
    # Largest |a * w| is 128 * 16 = 2^11; 16 lanes * 2^16 beats * (2^16 - 1) scale < 2^47.
    assert fields["acc"]["format"] == "q36.12" and fields["acc"]["width"] == 48
    assert fields["error"]["width"] == 1


def test_golden_table_spot_values():
    """Values quoted by the issue, independent of how the table is built."""
    t3, t4 = decode_table(3), decode_table(4)
    assert [t3[1, c] for c in range(4)] == [0, 1, 2, 4]
    assert [t4[1, c] for c in range(8)] == [0, 1, 2, 3, 4, 6, 8, 12]
    assert [t3[d, 0b100] for d in range(1, 6)] == [0, 3, -3, 6, -6]
    assert [t4[d, 0b1000] for d in range(1, 6)] == [0, 10, -10, 16, -16]
    assert t4[0, 0b1000] == -8 and t4[1, 0b1111] == -12 and t3[5, 0b111] == -4


@pytest.mark.parametrize("values, message", [
    (dict(lanes=16, acc_width=20),
     "--acc-width: 20 cannot hold one beat's products (-524280 to 524280); allowed: 32 to 128"),
    (dict(weight_bits=5), "--weight-bits: 5 is not allowed; allowed: one of 3, 4"),
    (dict(scale_format="q4.12"), "--scale-format: 'q4.12' is not allowed"),
])
def test_bad_parameters_one_line(values, message):
    assert_one_line_param_error("bitmod_mac", values, message)
