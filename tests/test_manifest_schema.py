"""The manifest against its published JSON Schema (``generators/manifest.schema.json``), for every
generator at its defaults and at non-default parameters; field descriptions and values."""

from __future__ import annotations

import copy
import json
import re

import pytest
from jsonschema import Draft202012Validator, ValidationError

from generators import GENERATORS
from generators.manifest import load_schema

from .conftest import design_for

#: Non-default parameters per generator; every generator is also checked at its defaults.
NON_DEFAULT = {
    "int_mac": [
        dict(a_format="uint4", b_format="int16", lanes=3, acc_width=22, pipeline_stages=2),
        dict(a_format="uint8", b_format="uint8", lanes=4, reduction="compressor_tree",
             accumulator="carry_save"),
    ],
    "systolic_array": [
        dict(rows=3, cols=5, a_format="int4", b_format="uint8"),
        dict(rows=4, cols=3, dataflow="weight_stationary", accumulator="carry_save"),
        dict(rows=2, cols=2, dataflow="weight_stationary", a_format="uint4", b_format="uint3",
             reduction="compressor_tree"),
    ],
    "cube_array": [
        dict(rows=3, cols=1, lanes=4, a_format="uint4", b_format="int8", acc_width=20,
             reduction="compressor_tree", accumulator="carry_save"),
    ],
    "mixed_int_pe": [
        dict(weight_bits=2, act_format="uint6", lanes=3, scale_format="uq4.4", acc_width=19),
        dict(weight_bits=8, act_format="int16", lanes=2, scale_format="uq2.10",
             multiplier="dequant_first"),
    ],
    "fp_mac": [
        dict(a_format="fp8_e5m2", b_format="fp8_e4m3", lanes=4, multiplier="lmul"),
        dict(a_format="fp16", b_format="bf16", accumulator="fp32"),
        dict(a_format="fp4_e2m1", b_format="fp6_e2m3", lanes=8),
        dict(a_format="fp6_e3m2", b_format="fp8_e4m3", lanes=2, multiplier="lmul_ftz",
             rounder="sequential"),
    ],
    "mx_dot": [
        dict(a_elem="mxint8", b_elem="mxfp4_e2m1", lanes=32),
        dict(a_elem="mxfp6_e3m2", b_elem="mxfp8_e5m2", lanes=1),
    ],
    "bitserial_mac": [
        dict(act_format="uint3", weight_bits=5, lanes=2, bits_per_cycle=2, weight_signed=False),
        dict(act_format="int8", weight_bits=8, lanes=4, serial_mode="terms", acc_width=20),
    ],
    "bitmod_mac": [
        dict(act_format="uint4", weight_bits=3, lanes=16, scale_format="uq0.8"),
        dict(act_format="int16", lanes=4, scale_format="uq8.16", acc_width=128),
    ],
    "lut_mpgemm": [
        dict(act_format="int4", weight_bits=3, weight_encoding="symmetric", lut_k=3, depth=2,
             cols=5, rows=3, table="full", acc_width=20),
        dict(act_format="int16", weight_bits=1, lut_k=6, cols=1, rows=1),
        dict(act_format="fp16", weight_bits=4, weight_encoding="symmetric", lut_k=2, cols=3),
        dict(act_format="bf16", weight_bits=1, lut_k=3, depth=2, cols=2, rows=1, table="full"),
    ],
    "sparse_mac": [
        dict(act_format="uint4", weight_format="int16", group_m=8, max_n=4, groups=2,
             acc_width=24, reduction="compressor_tree", accumulator="carry_save"),
    ],
    "scalable_mac": [
        dict(act_format="uint8", lanes=1, modes="w8,w2", weight_signed=False),
        dict(act_format="int16", lanes=3, modes="w4", acc_width=40),
    ],
    "softmax": [
        dict(algorithm="online", reciprocal="newton"),
        dict(algorithm="two_pass_extexp", interpolate=False, double_buffer=True,
             out_format="uq1.12", max_length=16),
        dict(algorithm="three_pass", in_format="q3.4", reciprocal="newton", newton_iters=1),
    ],
}
CONFIGS = [(name, {}) for name in sorted(GENERATORS)] + \
    [(name, values) for name, configs in NON_DEFAULT.items() for values in configs]
IDS = [f"{name}-{'-'.join(f'{k}={v}' for k, v in values.items()) or 'defaults'}"
       for name, values in CONFIGS]


@pytest.fixture(scope="module")
def validator():
    schema = load_schema()
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def _manifest(name, values) -> dict:
    """The manifest as written to <module>.json (so JSON types, not Python ones)."""
    return json.loads(design_for(name, **values).manifest_text())


def test_every_generator_has_non_default_configurations():
    assert sorted(NON_DEFAULT) == sorted(GENERATORS)


@pytest.mark.parametrize("name, values", CONFIGS, ids=IDS)
def test_manifest_matches_schema(validator, name, values):
    manifest = _manifest(name, values)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator.iter_errors(manifest)]
    assert not errors


@pytest.mark.parametrize("name, values", CONFIGS, ids=IDS)
def test_fields_are_described_and_tile_the_payload(name, values):
    """What the schema cannot say: fields cover the payload exactly, low bits first; every
    description is filled in (no index placeholder left); values are codes the field can hold."""
    for stream, spec in _manifest(name, values)["streams"].items():
        lsb = 0
        for field in spec["fields"]:
            keys = ["name", "lsb", "width", "format", "description"]
            assert list(field) in (keys, keys + ["values"]), (stream, field["name"])
            assert field["lsb"] == lsb, (stream, field["name"])
            lsb += field["width"]
            description = field["description"]
            assert description.strip() and description == description.strip()
            assert not re.search(r"\{[a-z]\}", description), (stream, field["name"])
            codes = [int(code) for code in field.get("values", {})]
            assert codes == sorted(codes)
            assert all(0 <= code < 2 ** field["width"] for code in codes), (stream, field["name"])
        assert lsb == spec["payload_width"], stream


def test_vector_elements_name_their_index():
    fields = {f["name"]: f["description"]
              for f in _manifest("int_mac", dict(lanes=4))["streams"]["i"]["fields"]}
    assert fields["a[2]"].startswith("operand a of lane 2: the beat adds a[2] * b[2]")
    assert fields["b[3]"] == "operand b of lane 3, multiplied by a[3]"
    assert fields["last"] == "ends the accumulation group: the output beat follows this beat"


def test_enumerated_fields_have_values():
    bitmod = {f["name"]: f for s in _manifest("bitmod_mac", {})["streams"].values()
              for f in s["fields"]}
    dtype = bitmod["dtype"]["values"]
    assert list(dtype) == [str(code) for code in range(8)]
    assert dtype["0"].startswith("INT") and dtype["1"].startswith("FP")
    assert dtype["2"] == "ER_POS: FP, but the negative-zero code is +10"
    assert dtype["5"] == "EA_NEG: FP, but the negative-zero code is -16"
    assert dtype["6"].startswith("invalid") and dtype["7"] == dtype["6"]
    # 3-bit codes: the variants' special values are +-3 and +-6 (sim/golden/bitmod_mac.py).
    dtype3 = next(f for f in _manifest("bitmod_mac", dict(weight_bits=3))["streams"]["i"]["fields"]
                  if f["name"] == "dtype")["values"]
    assert dtype3["4"].endswith("+6") and dtype3["0"].endswith("-4 to 3")
    assert list(bitmod["error"]["values"]) == ["0", "1"]
    softmax_error = next(f for f in _manifest("softmax", {})["streams"]["o"]["fields"]
                         if f["name"] == "error")
    assert list(softmax_error["values"]) == ["0", "1"]
    # Plain numbers have no values.
    assert "values" not in bitmod["a[0]"] and "values" not in bitmod["acc"]


def test_descriptions_follow_the_parameters():
    def field(name, values, stream, field_name):
        return next(f["description"] for f in _manifest(name, values)["streams"][stream]["fields"]
                    if f["name"] == field_name)

    assert field("int_mac", dict(acc_width=20), "o", "acc").endswith("modulo 2^20")
    assert "read on the group's final beat" in field("mixed_int_pe", {}, "i", "scale")
    assert "applied on every beat" in field("mixed_int_pe", dict(multiplier="dequant_first"),
                                            "i", "scale")
    assert "rounded once" in field("fp_mac", {}, "o", "y")
    assert "binary32 accumulator" in field("fp_mac", dict(accumulator="fp32"), "o", "y")
    assert "unsigned" in field("bitserial_mac", dict(weight_signed=False), "i", "w[0]")
    assert "max_length = 16 " in field("softmax", dict(max_length=16), "o", "error")


# -- the schema catches mistakes ----------------------------------------------------------------

def _broken(mutate) -> dict:
    manifest = copy.deepcopy(_manifest("bitmod_mac", {}))
    mutate(manifest)
    return manifest


def _set(path, value):
    def mutate(manifest):
        target = manifest
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value
    return mutate


def _delete(path):
    def mutate(manifest):
        target = manifest
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]
    return mutate


BROKEN = {
    "field without description": _delete(["streams", "i", "fields", 0, "description"]),
    "empty description": _set(["streams", "i", "fields", 1, "description"], ""),
    "two-line description": _set(["streams", "i", "fields", 1, "description"], "one\ntwo"),
    "field without format": _delete(["streams", "o", "fields", 0, "format"]),
    "unknown field key": _set(["streams", "i", "fields", 0, "meaning"], "x"),
    "values not codes": _set(["streams", "i", "fields", 2, "values", "INT"], "x"),
    "empty values": _set(["streams", "o", "fields", 1, "values"], {}),
    "values meaning not text": _set(["streams", "o", "fields", 1, "values", "0"], 0),
    "negative lsb": _set(["streams", "i", "fields", 0, "lsb"], -1),
    "width as text": _set(["streams", "i", "fields", 0, "width"], "8"),
    "bad direction": _set(["streams", "i", "direction"], "inout"),
    "stream without fields": _set(["streams", "i", "fields"], []),
    "unknown stream key": _set(["streams", "o", "last"], "o__last"),
    "latency as text": _set(["latency"], "1"),
    "initiation interval zero": _set(["initiation_interval"], 0),
    "unknown top-level key": _set(["note"], "x"),
    "missing module": _delete(["module"]),
    "parameter as list": _set(["params", "lanes"], [1]),
    "bad module name": _set(["module"], "bitmod mac"),
}


def test_schema_accepts_the_unbroken_manifest(validator):
    validator.validate(_broken(lambda manifest: None))


@pytest.mark.parametrize("mutate", BROKEN.values(), ids=BROKEN.keys())
def test_schema_rejects_broken_manifests(validator, mutate):
    with pytest.raises(ValidationError):
        validator.validate(_broken(mutate))
