"""``mixed_int_pe`` (MixPE): golden model, generator rules, product units, cocotb regression, lint.

Six configurations (weight_bits 2, 4, 8, each with both multipliers) run on Icarus, and three of
them on Verilator (one multiplier per width, alternating, so Verilator sees both multipliers and
all widths with three builds): >= 2,000 random beats plus extreme values and long groups with random
idle cycles and back-pressure. A full-rate run checks latency and initiation interval for the
Verilator configurations and for the weight_bits 4 pair on Icarus.

``pipeline_stages`` (timing closure): every stage count of both multipliers runs with random idle
cycles and back-pressure, the three-stage designs on both simulators, and at full rate, which
checks the latency of 1 + pipeline_stages; the pipelined product units alone are checked
exhaustively on the Amaranth simulator.
"""

from __future__ import annotations

import itertools
from fractions import Fraction

import numpy as np
import pytest
from amaranth.sim import Simulator

from generators import get_generator
from generators.mixed_int_pe import default_acc_width
from hdl.numbers import ACC_BEATS
from hdl.formats import parse_format
from hdl.mixed_int_pe import DequantFirstProducts, ShiftAddProducts
from sim.golden.mixed_int_pe import dequant_first_reference, mixed_int_pe
from sim.stimuli.mixed_int_pe import mixed_int_pe_operands, mixed_int_pe_stimulus

from .conftest import (SIMULATORS, assert_one_line_param_error, backpressure_stimulus,
                       check_cli_error_and_help, check_lint, design_for, full_rate_stimulus,
                       run_configuration, run_seeded, simulator_runs)

BASE_CONFIGS = [
    # Narrow accumulator: the long groups wrap it (and the group sum) in two's complement.
    ("w2_uint6_k3_acc20", dict(weight_bits=2, act_format="uint6", lanes=3, scale_format="uq4.4",
                               acc_width=20)),
    # The report's configuration (all defaults but the multiplier).
    ("w4_int8_k8", dict(weight_bits=4, act_format="int8", lanes=8)),
    ("w8_int16_k2", dict(weight_bits=8, act_format="int16", lanes=2, scale_format="uq2.10")),
]
CONFIGS = [(f"{name}_{mult}", {**params, "multiplier": mult})
           for name, params in BASE_CONFIGS for mult in ("shift_add", "dequant_first")]
#: pipeline_stages > 0: three stages (every cut) of both multipliers on the report's K = 8
#: configuration, whose timing the stages close; one and two stages on the narrow-accumulator
#: configuration (its 8-bit scale puts the shift_add cut after 2 of its 3 adder levels); and the
#: degenerate trees: one lane and a 1-bit scale (the scale product's cut before any adder).
PIPELINED = [
    *[(f"w4_int8_k8_{mult}_p3", {**BASE_CONFIGS[1][1], "multiplier": mult, "pipeline_stages": 3})
      for mult in ("shift_add", "dequant_first")],
    *[(f"w2_uint6_k3_acc20_{mult}_p{stages}",
       {**BASE_CONFIGS[0][1], "multiplier": mult, "pipeline_stages": stages})
      for mult in ("shift_add", "dequant_first") for stages in (1, 2)],
    ("w3_int5_k1_uq1p0_shift_add_p3", dict(weight_bits=3, act_format="int5", lanes=1,
                                           scale_format="uq1.0", multiplier="shift_add",
                                           pipeline_stages=3)),
]
RANDOM_BEATS = 2000


# ------------------------------------------------------------------------------------------------
# Golden model
# ------------------------------------------------------------------------------------------------

def test_golden_hand_example():
    """K = 2, worked by hand from the issue text.

    Beat 0: (3-1)*5 + (0-1)*(-2) = 12; beat 1 (group_last, scale 1/2): (2-2)*7 + (4-2)*1 = 2,
    P = 14, acc = 7. Beat 2 (last without group_last, scale 3/4): (1-0)*(-4) + (1-0)*4 = 0, so
    acc stays 7 -> output 7. Beat 3 (last, scale 1/4): (15-0)*(-8) + 0 = -120 -> -30.
    """
    a = [[5, -2], [7, 1], [-4, 4], [-8, 3]]
    q = [[3, 0], [2, 4], [1, 1], [15, 0]]
    zero = [1, 2, 0, 0]
    scale = [Fraction(9), Fraction(1, 2), Fraction(3, 4), Fraction(1, 4)]
    group_last = [0, 1, 0, 1]
    last = [0, 0, 1, 1]
    raw = mixed_int_pe(a, q, zero, scale, group_last, last, frac_bits=2, acc_width=16)
    assert list(raw) == [7 * 4, -30 * 4]


def test_golden_last_without_group_last_scales_tail():
    raw = mixed_int_pe([[1, 1]], [[3, 3]], [1], [Fraction(3, 4)], [0], [1], frac_bits=2,
                       acc_width=8)
    assert list(raw) == [12]  # P = (3-1)*1 * 2 = 4; 4 * 3/4 = 3; raw = 3 * 2**2


def test_golden_wraps_in_twos_complement():
    # P = 15 * 7 = 105, scale 1 -> raw 105 * 4 = 420 = 0b1_1010_0100, wraps in 8 bits to -92.
    raw = mixed_int_pe([[7]], [[15]], [0], [Fraction(1)], [1], [1], frac_bits=2, acc_width=8)
    assert list(raw) == [420 - 512]


@pytest.mark.parametrize("weight_bits", [2, 4, 8])
def test_golden_multipliers_agree_with_per_group_scale(weight_bits):
    """The MixPE order (dequantize after the group sum) equals dequantize-first per weight."""
    params = dict(weight_bits=weight_bits, act_format=parse_format("int8"), lanes=4,
                  scale_format=parse_format("uq8.8"))
    beats = mixed_int_pe_operands(params, np.random.default_rng(weight_bits), 400)
    scale = [Fraction(int(s), 256) for s in beats["scale"]]
    args = (beats["a"], beats["q"], beats["zero"], scale)
    mix = mixed_int_pe(*args, beats["group_last"], beats["last"], frac_bits=8, acc_width=40)
    deq = dequant_first_reference(*args, beats["last"], frac_bits=8, acc_width=40)
    assert len(mix) == int(beats["last"].sum()) > 50
    assert list(mix) == list(deq)
    assert any(v != 0 for v in mix)


# ------------------------------------------------------------------------------------------------
# Generator
# ------------------------------------------------------------------------------------------------

def test_default_acc_width_never_overflows_in_2_16_beats():
    gen = get_generator("mixed_int_pe")
    params = gen.resolve({})
    width = params["acc_width"]
    # int8 activations, 4-bit codes, uq8.8: worst term |(q - zero) * a| * scale = 15 * 128 * 65535.
    worst = 8 * ACC_BEATS * 15 * 128 * 65535
    assert -(1 << (width - 1)) <= -worst and worst < (1 << (width - 1))
    assert not (-(1 << (width - 2)) <= -worst)
    assert width == default_acc_width(4, parse_format("int8"), 8, parse_format("uq8.8"))
    design = design_for("mixed_int_pe")
    assert design.manifest["streams"]["o"]["fields"][0]["format"] == f"q{width - 8}.8"


@pytest.mark.parametrize("values, flag", [
    *[(dict(weight_bits=v), "--weight-bits") for v in (1, 9)],
    *[(dict(act_format=v), "--act-format") for v in ("fp8_e4m3", "int3", "int17")],
    *[(dict(scale_format=v), "--scale-format") for v in ("q8.8", "uint8")],
    (dict(multiplier="booth"), "--multiplier"),
    (dict(scale_format="uq4.12", acc_width=12), "--acc-width"),
])
def test_bad_parameters_one_line(values, flag):
    message = assert_one_line_param_error("mixed_int_pe", values, "allowed", resolve_only=True)
    assert message.startswith(flag), message


def test_manifest_fields():
    design = design_for("mixed_int_pe", weight_bits=2, act_format="uint6", lanes=3,
                        scale_format="uq4.4", acc_width=20, multiplier="shift_add")
    fields = {f["name"]: f["format"] for f in design.manifest["streams"]["i"]["fields"]}
    assert fields == {"a[0]": "uint6", "a[1]": "uint6", "a[2]": "uint6", "q[0]": "uint2",
                      "q[1]": "uint2", "q[2]": "uint2", "zero": "uint2", "scale": "uq4.4",
                      "group_last": "uint1", "last": "uint1"}
    assert design.manifest["latency"] == 1 and design.manifest["initiation_interval"] == 1


@pytest.mark.parametrize("multiplier", ["shift_add", "dequant_first"])
def test_pipeline_stages_latency_and_name(multiplier):
    for stages in range(4):
        design = design_for("mixed_int_pe", multiplier=multiplier, pipeline_stages=stages)
        assert design.manifest["latency"] == 1 + stages
        assert design.manifest["initiation_interval"] == 1
        assert design.manifest["params"]["pipeline_stages"] == stages
        # Without registers the module keeps its old name (stored manifests, reports).
        assert design.module.endswith(f"_{multiplier}_acc47" + (f"_p{stages}" if stages else ""))


def test_pipeline_stages_bad_value_and_help():
    text = check_cli_error_and_help("mixed_int_pe", ["--pipeline-stages", "4"],
                                    "--pipeline-stages", status=2)
    assert "--pipeline-stages INT" in text


# ------------------------------------------------------------------------------------------------
# Product units alone (Amaranth simulator, exhaustive on a small configuration)
# ------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("unit, stages", [("shift_add", 0), ("shift_add", 1),
                                          ("dequant_first", 0), ("dequant_first", 1),
                                          ("dequant_first", 2)])
def test_product_unit_exhaustive_small(unit, stages):
    """Every (q, zero, a) of 3-bit codes x int4 activations, K = 1, scale 0b101 / 4 for dequant;
    with pipeline registers inside the unit, one case per cycle and each result ``stages`` cycles
    later, while a cycle with ``en`` low every seventh cycle holds the pipeline."""
    act = parse_format("int4")
    scale_format = parse_format("uq1.2")
    if unit == "shift_add":
        dut = ShiftAddProducts(weight_bits=3, act_format=act, lanes=1, stages=stages)
        factor = 1
    else:
        dut = DequantFirstProducts(weight_bits=3, act_format=act, lanes=1,
                                   scale_format=scale_format, stages=stages)
        factor = 5  # raw scale code, i.e. 5 / 4 with the 2 fraction bits kept in the result
    assert dut.latency == stages
    cases = list(itertools.product(range(8), range(8), range(act.min, act.max + 1)))
    seen = []

    async def bench(ctx):
        if unit == "dequant_first":
            ctx.set(dut.scale, factor)
        if not stages:
            for q, z, x in cases:
                ctx.set(dut.q[0], q)
                ctx.set(dut.zero, z)
                ctx.set(dut.a[0], x)
                seen.append(ctx.get(dut.dot))
            return
        # Cases enter on enabled cycles; the one that entered ``stages`` enabled cycles ago is
        # on ``dot`` (the case list is padded with copies of its last case to drain the pipe).
        entered = 0
        for cycle in itertools.count():
            if entered == len(cases) + stages:
                break
            en = cycle % 7 != 6
            q, z, x = cases[min(entered, len(cases) - 1)]
            ctx.set(dut.q[0], q)
            ctx.set(dut.zero, z)
            ctx.set(dut.a[0], x)
            ctx.set(dut.en, en)
            if en:
                if entered >= stages:
                    seen.append(ctx.get(dut.dot))
                entered += 1
            await ctx.tick()

    sim = Simulator(dut)
    if stages:
        sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.run()
    assert seen == [factor * (q - z) * x for q, z, x in cases]


# ------------------------------------------------------------------------------------------------
# Cocotb regression
# ------------------------------------------------------------------------------------------------

#: Every configuration on Icarus; on Verilator one multiplier per weight width (alternating), so
#: each simulator sees both multipliers and all three widths without six slow builds.
ON_VERILATOR = {"w2_uint6_k3_acc20_shift_add", "w4_int8_k8_dequant_first", "w8_int16_k2_shift_add"}
#: The configuration that also runs on the cocotb bench (the per-beat scoreboard of the
#: regression, on both simulators); every other run uses the native engine (sim/native.py).
COCOTB = {"w2_uint6_k3_acc20_shift_add"}
RANDOM_RUNS = simulator_runs(CONFIGS, verilator=ON_VERILATOR)
#: The three-stage designs (every cut) also on Verilator.
ON_VERILATOR_PIPELINED = {config_id for config_id, _ in PIPELINED[:2]}
RANDOM_RUNS += simulator_runs(PIPELINED, verilator=ON_VERILATOR_PIPELINED)


@pytest.mark.parametrize("config_id, params, simulator", RANDOM_RUNS)
def test_random_with_backpressure(config_id, params, simulator, tmp_path):
    # shift_add reads the scale on the group's final beat only: give it a new scale on every beat
    # to check exactly that; dequant_first gets per-group scales (its contract).
    make_stimulus = backpressure_stimulus(
        mixed_int_pe_operands, mixed_int_pe_stimulus, RANDOM_BEATS,
        per_group_scale=params["multiplier"] == "dequant_first")
    run_configuration("mixed_int_pe", config_id, params, simulator, tmp_path, make_stimulus,
                      cocotb=COCOTB)


#: Full rate on Verilator for its configurations; on Icarus for the report's configuration with
#: both multipliers.
TIMING_RUNS = [(config_id, params, "verilator") for config_id, params in CONFIGS
               if config_id in ON_VERILATOR]
TIMING_RUNS += [(config_id, params, sim) for config_id, params in CONFIGS
                for sim in SIMULATORS[1:] if config_id.startswith("w4_")]
#: Every pipelined design at full rate: latency 1 + pipeline_stages, one beat per cycle (the
#: three-stage ones on Verilator, the others on Icarus).
TIMING_RUNS += [(config_id, params, SIMULATORS[0] if config_id in ON_VERILATOR_PIPELINED
                 else SIMULATORS[-1]) for config_id, params in PIPELINED]


@pytest.mark.parametrize("config_id, params, simulator", TIMING_RUNS,
                         ids=[f"{c}-{s}" for c, _, s in TIMING_RUNS])
def test_full_rate_timing(config_id, params, simulator, tmp_path):
    """No idles, no stalls: one beat per cycle and latency 1 + pipeline_stages on every
    output."""
    make_stimulus = full_rate_stimulus(mixed_int_pe_operands, mixed_int_pe_stimulus, 300,
                                       mean_group=2, groups_per_output=1.5, extremes=False)
    run_seeded("mixed_int_pe", params, simulator, tmp_path, make_stimulus, seed=7)


# ------------------------------------------------------------------------------------------------
# Lint
# ------------------------------------------------------------------------------------------------

LINT_CONFIGS = [params for _, params in CONFIGS[:4] + PIPELINED[:2]]
LINT_IDS = [config_id for config_id, _ in CONFIGS[:4] + PIPELINED[:2]]


@pytest.mark.parametrize("params", LINT_CONFIGS, ids=LINT_IDS)
def test_lint(params, tmp_path):
    check_lint(design_for("mixed_int_pe", **params), tmp_path)
