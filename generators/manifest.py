"""The manifest: the JSON contract that describes a generated module to testbenches and tools.

Schema (every generator follows it; ``generators/manifest.schema.json`` is the same as a JSON
Schema, draft 2020-12, see :func:`load_schema`)::

    {
      "generator": "int_mac",
      "params": {...all parameters, defaults resolved...},
      "module": "<Verilog module name>",
      "clock": "clk", "reset": "rst", "reset_kind": "synchronous, active high",
      "streams": {
        "<name>": {
          "direction": "in" | "out",
          "valid": "<port>", "ready": "<port>", "payload": "<port>", "payload_width": N,
          "fields": [
            {"name": "a[0]", "lsb": 0, "width": 8, "format": "int8",
             "description": "activation of lane 0: the beat adds a[0] * w[0] ..."},
            ...,
            {"name": "dtype", "lsb": 12, "width": 3, "format": "uint3",
             "description": "data type of this beat's weight codes",
             "values": {"0": "INT: two's complement, -8 to 7", "1": "FP: ...", ...}},
            ...
          ]
        }
      },
      "latency": cycles from acceptance of an input beat to its output beat with ready held high
                 (null when data-dependent),
      "initiation_interval": cycles per input beat at full rate (null when data-dependent)
    }

Stream port names follow Amaranth's flattening of interface members (``<stream>__valid`` etc.).
Payload fields are read from the payload's :class:`amaranth.lib.data.StructLayout`; array fields
are expanded element by element (``a[0]``, ``a[1]``, ...). Every field has a one-line
``description`` of what it means for this PE and these parameters; an enumerated field (a code
whose values name cases, or a flag) also has ``values``: code (the integer as a decimal string)
-> meaning, in ascending code order. A field record's keys come in the order ``name``, ``lsb``,
``width``, ``format``, ``description``, ``values``.

Each PE declares the meanings once per field base name, in its interface declaration
(:class:`hdl.ports.Field`: description and values; :meth:`hdl.ports.Ports.field_info`); a ``{k}``-style placeholder (one lower-case letter
in braces) in an array field's description becomes the element's index here (``operand a of lane
3``) and the letter itself in ``generate-verilog GEN --help`` (``operand a of lane k``), see
:func:`render_description`.
"""

from __future__ import annotations

import json
import re
from importlib import resources
from typing import Mapping, NamedTuple

from amaranth.hdl import Shape
from amaranth.lib import data, stream, wiring

__all__ = ["FieldInfo", "build_manifest", "payload_fields", "render_description", "index_letter",
           "load_schema", "SCHEMA_FILE"]

#: The manifest's JSON Schema, installed beside this module (package data).
SCHEMA_FILE = "manifest.schema.json"


class FieldInfo(NamedTuple):
    """What a payload field means, declared once per field base name by a generator.

    Attributes
    ----------
    description : str
        One line. In an array field, a placeholder ``{k}`` (any one lower-case letter) stands for
        the element index (see :func:`render_description`).
    values : mapping of int to str, optional
        For an enumerated field (a code naming cases, or a flag): code -> meaning.
    """

    description: str
    values: Mapping[int, str] | None = None


_PLACEHOLDER = re.compile(r"\{([a-z])\}")


def render_description(template: str, index: int | None = None) -> str:
    """A field description with its index placeholder filled in.

    ``index`` replaces every ``{k}``-style placeholder (the manifest's ``a[3]``: "lane 3"); with
    ``None`` each placeholder becomes its letter (``--help``'s ``a[k]``: "lane k").
    """
    return _PLACEHOLDER.sub(lambda m: m.group(1) if index is None else str(index), template)


def index_letter(template: str) -> str | None:
    """The letter of the first index placeholder in ``template`` (None if it has none)."""
    match = _PLACEHOLDER.search(template)
    return match.group(1) if match else None


def payload_fields(layout, formats: dict[str, str], info: Mapping[str, tuple],
                   prefix: str = "", offset: int = 0) -> list[dict]:
    """Flatten a payload layout into ``{name, lsb, width, format, description[, values]}``
    records, low bits first.

    ``formats`` maps a top-level field name to its format string (for arrays, the element
    format). One-bit fields without an entry default to ``uint1``. ``info`` maps a top-level
    field name to its :class:`FieldInfo` (or an equivalent ``(description, values)`` tuple);
    every field needs one.
    """
    fields = []
    if isinstance(layout, data.ArrayLayout):
        elem_width = Shape.cast(layout.elem_shape).width
        for i in range(layout.length):
            name = f"{prefix}[{i}]"
            fields.extend(_leaf_or_nested(layout.elem_shape, formats, info, name, prefix,
                                          offset + i * elem_width, i))
        return fields
    if isinstance(layout, data.StructLayout):
        for name, fld in sorted(layout, key=lambda item: item[1].offset):
            fields.extend(_leaf_or_nested(fld.shape, formats, info, name, name,
                                          offset + fld.offset, None))
        return fields
    raise TypeError(f"unsupported payload layout {layout!r}")


def _leaf_or_nested(shape, formats, info, name, key, lsb, index):
    if isinstance(shape, (data.StructLayout, data.ArrayLayout)):
        return payload_fields(shape, formats, info, prefix=name, offset=lsb)
    width = Shape.cast(shape).width
    fmt = formats.get(key)
    if fmt is None:
        if width != 1:
            raise KeyError(f"no format declared for payload field {key!r}")
        fmt = "uint1"
    if key not in info:
        raise KeyError(f"no description declared for payload field {key!r}")
    description, values = FieldInfo(*info[key])
    record = {"name": name, "lsb": lsb, "width": width, "format": fmt,
              "description": render_description(description, index)}
    if values is not None:
        # JSON object keys are strings; ascending codes keep the output deterministic.
        record["values"] = {str(code): meaning for code, meaning in sorted(values.items())}
    return [record]


def _streams(component: wiring.Component, formats: dict[str, dict[str, str]],
             info: dict[str, dict[str, tuple]]) -> dict:
    streams = {}
    for name, member in component.signature.members.items():
        if not member.is_signature or not isinstance(member.signature, stream.Signature):
            continue
        # The component's view: an ``In`` stream is consumed by it, an ``Out`` stream produced.
        direction = "in" if member.flow == wiring.In else "out"
        layout = member.signature.members["payload"].shape
        streams[name] = {
            "direction": direction,
            "valid": f"{name}__valid",
            "ready": f"{name}__ready",
            "payload": f"{name}__payload",
            "payload_width": Shape.cast(layout).width,
            "fields": payload_fields(layout, formats.get(name, {}), info.get(name, {})),
        }
    return streams


def build_manifest(*, generator, params, module, component, formats, field_info, latency,
                   initiation_interval) -> dict:
    """Assemble the manifest dict (key order is part of the deterministic output).

    ``formats`` and ``field_info`` are per stream, per payload field base name: the format
    string and the ``(description, values)`` pair (see :meth:`hdl.ports.Ports.formats` and
    :meth:`hdl.ports.Ports.field_info`).
    """
    return {
        "generator": generator,
        "params": params,
        "module": module,
        "clock": "clk",
        "reset": "rst",
        "reset_kind": "synchronous, active high",
        "streams": _streams(component, formats, field_info),
        "latency": latency,
        "initiation_interval": initiation_interval,
    }


def load_schema() -> dict:
    """The manifest's JSON Schema (``generators/manifest.schema.json``, draft 2020-12)."""
    return json.loads(resources.files(__package__).joinpath(SCHEMA_FILE).read_text())
