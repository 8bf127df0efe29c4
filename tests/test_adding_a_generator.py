"""DEVELOPERS.md's recipe "Adding a generator", followed literally for a small PE defined here:
``clamp_pe``, an elementwise ReLU with a ceiling, ``y[k] = min(max(x[k], 0), ceiling)``.

The four pieces the recipe names (hardware, generator, golden model, stimulus) live in this file
and nothing else is edited: the generator registers itself, ``generate-verilog`` and
``sim.simulate`` find it, its manifest validates against the published schema, and both engines
run it against the golden model under back-pressure.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
from amaranth.hdl import Module
from amaranth.lib import wiring

from generators import GENERATORS, Generator, elaborate
from generators.cli import main as generate_verilog
from generators.manifest import load_schema
from generators.params import FormatParam, IntParam, ParamError
from hdl.ports import Field, Ports, Stream
from hdl.streaming import StreamPE
from sim import simulate
from sim.runner import available_simulators, run_stream_test
from sim.stimuli import golden_model, stream_stimulus

SIMULATORS = available_simulators()


# 1. Hardware: a clock-enabled core that declares its interface once, and the stream wrapper.

def clamp_ports(fmt, lanes: int) -> Ports:
    return Ports([
        Stream("i", "in", [Field("x", fmt, "value of lane {k}", lanes=lanes)]),
        Stream("o", "out", [Field("y", fmt, "min(max(x[{k}], 0), ceiling) of the input beat",
                                  lanes=lanes, role="result")]),
    ])


class ClampCore(wiring.Component):
    """``y[k] = min(max(x[k], 0), ceiling)``, registered. Latency 1, initiation interval 1."""

    def __init__(self, *, fmt, lanes: int, ceiling: int):
        self.ports = clamp_ports(fmt, lanes)
        self.latency, self.initiation_interval = 1, 1
        self.lanes, self.ceiling = lanes, ceiling
        super().__init__(self.ports.core_members())

    def elaborate(self, platform):
        m = Module()
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid)
            for k in range(self.lanes):
                x = self.x[k]
                with m.If(x < 0):
                    m.d.sync += self.result[k].eq(0)
                with m.Elif(x > self.ceiling):
                    m.d.sync += self.result[k].eq(self.ceiling)
                with m.Else():
                    m.d.sync += self.result[k].eq(x)
        return m


class ClampPE(StreamPE):
    def __init__(self, **params):
        super().__init__(ClampCore(**params))


# 2. Generator: parameters declared once; the manifest comes from the component.

class ClampGenerator(Generator):
    name = "clamp_pe"
    summary = "elementwise ReLU with a ceiling (the recipe's demonstration PE)"
    params = (
        FormatParam("format", default="int8", kinds=("int",), min_width=2, max_width=16,
                    help="format of x and y"),
        IntParam("lanes", default=4, min=1, max=16, help="values per beat"),
        IntParam("ceiling", default=100, min=0, max=32767, help="largest output value"),
    )

    def derive(self, params):
        if params["ceiling"] > params["format"].max:
            raise ParamError(f"--ceiling: {params['ceiling']} does not fit "
                             f"{params['format'].name}; allowed: 0 to {params['format'].max}")
        return {}

    def build(self, params):
        return ClampPE(fmt=params["format"], lanes=params["lanes"], ceiling=params["ceiling"])

    def module_name(self, params):
        return f"clamp_pe_{params['format'].name}_k{params['lanes']}_c{params['ceiling']}"


# Defining the class registered it. Other test modules check every generator of the package, so
# this one stays registered only while the tests below run.
REGISTERED = GENERATORS.pop(ClampGenerator.name)


@pytest.fixture(autouse=True)
def clamp_registered():
    GENERATORS[ClampGenerator.name] = REGISTERED
    yield
    GENERATORS.pop(ClampGenerator.name)


# 3. Golden model, from the specification above.

def clamp(x, ceiling):
    return np.minimum(np.maximum(np.asarray(x, dtype=np.int64), 0), ceiling)


# 4. Stimulus: the golden model over the streams, and operands with the extremes.

@golden_model("clamp_pe")
def clamp_streams(params, streams, inputs):
    return {"o": {"y": clamp(inputs["i"]["x"], params["ceiling"])}}


def clamp_operands(params, rng, beats):
    fmt, lanes = params["format"], params["lanes"]
    extremes = np.array([fmt.min, -1, 0, 1, params["ceiling"], fmt.max])
    x = rng.integers(fmt.min, fmt.max, size=(beats, lanes), endpoint=True)
    x[:len(extremes)] = extremes[:, None]
    return x


# 5. Tests.

def test_registered_without_editing_a_list():
    assert isinstance(REGISTERED, ClampGenerator)
    assert GENERATORS["clamp_pe"] is REGISTERED


def test_generate_verilog_and_manifest(tmp_path, capsys):
    assert generate_verilog(["clamp_pe", "--lanes", "3", "--ceiling", "0x40",
                             "-o", str(tmp_path)]) == 0
    manifest = json.loads((tmp_path / "clamp_pe_int8_k3_c64.json").read_text())
    from jsonschema import Draft202012Validator
    Draft202012Validator(load_schema()).validate(manifest)
    assert [f["name"] for f in manifest["streams"]["i"]["fields"]] == ["x[0]", "x[1]", "x[2]"]
    assert manifest["streams"]["o"]["fields"][2]["description"] == \
        "min(max(x[2], 0), ceiling) of the input beat"
    assert (manifest["latency"], manifest["initiation_interval"]) == (1, 1)
    assert (tmp_path / "clamp_pe_int8_k3_c64.v").read_text().startswith("/*")
    with pytest.raises(SystemExit) as exc:
        generate_verilog(["clamp_pe", "--format", "int4", "--ceiling", "9"])
    assert exc.value.code == 2 and "--ceiling: 9 does not fit int4" in capsys.readouterr().err


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_simulate_checks_against_the_golden_model(simulator):
    design = elaborate("clamp_pe", lanes=4, ceiling=90)
    x = clamp_operands(design.params, np.random.default_rng(1), 300)
    result = simulate(design, {"i": {"x": x}}, simulator=simulator, idle=0.3, stall=0.4,
                      check=True)
    assert result["o"]["y"].tolist() == clamp(x, 90).tolist()


@pytest.mark.parametrize("simulator", SIMULATORS)
def test_regression_on_both_engines_with_timing(simulator, tmp_path):
    design = elaborate("clamp_pe", lanes=2, ceiling=7, format="int4")
    x = clamp_operands(design.params, np.random.default_rng(2), 200)
    sources = {"o": [["i", n, n] for n in range(len(x))]}
    for engine in ("fast", "cocotb"):
        stimulus = stream_stimulus(design.params, design.manifest, {"i": {"x": x}},
                                   sources=sources, idle=0.3, stall=0.4, seed=3)
        run_stream_test(design, simulator, stimulus, tmp_path / engine, engine=engine)
    stimulus = stream_stimulus(design.params, design.manifest, {"i": {"x": x}}, sources=sources,
                               check_timing=True)
    run_stream_test(design, simulator, stimulus, tmp_path / "timing")
