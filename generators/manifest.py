"""The manifest: the JSON contract that describes a generated module to testbenches and tools.

Schema (every generator follows it)::

    {
      "generator": "int_mac",
      "params": {...all parameters, defaults resolved...},
      "module": "<Verilog module name>",
      "clock": "clk", "reset": "rst", "reset_kind": "synchronous, active high",
      "streams": {
        "<name>": {
          "direction": "in" | "out",
          "valid": "<port>", "ready": "<port>", "payload": "<port>", "payload_width": N,
          "fields": [{"name": "a[0]", "lsb": 0, "width": 8, "format": "int8"}, ...]
        }
      },
      "latency": cycles from acceptance of an input beat to its output beat with ready held high
                 (null when data-dependent),
      "initiation_interval": cycles per input beat at full rate (null when data-dependent)
    }

Stream port names follow Amaranth's flattening of interface members (``<stream>__valid`` etc.).
Payload fields are read from the payload's :class:`amaranth.lib.data.StructLayout`; array fields
are expanded element by element (``a[0]``, ``a[1]``, ...).
"""

from __future__ import annotations

from amaranth.hdl import Shape
from amaranth.lib import data, stream, wiring

__all__ = ["build_manifest", "payload_fields"]


def payload_fields(layout, formats: dict[str, str], prefix: str = "", offset: int = 0) -> list[dict]:
    """Flatten a payload layout into ``{name, lsb, width, format}`` records, low bits first.

    ``formats`` maps a top-level field name to its format string (for arrays, the element
    format). One-bit fields without an entry default to ``uint1``.
    """
    fields = []
    if isinstance(layout, data.ArrayLayout):
        elem_width = Shape.cast(layout.elem_shape).width
        for i in range(layout.length):
            name = f"{prefix}[{i}]"
            fields.extend(_leaf_or_nested(layout.elem_shape, formats, name, prefix,
                                          offset + i * elem_width))
        return fields
    if isinstance(layout, data.StructLayout):
        for name, fld in sorted(layout, key=lambda item: item[1].offset):
            fields.extend(_leaf_or_nested(fld.shape, formats, name, name, offset + fld.offset))
        return fields
    raise TypeError(f"unsupported payload layout {layout!r}")


def _leaf_or_nested(shape, formats, name, format_key, lsb):
    if isinstance(shape, (data.StructLayout, data.ArrayLayout)):
        return payload_fields(shape, formats, prefix=name, offset=lsb)
    width = Shape.cast(shape).width
    fmt = formats.get(format_key)
    if fmt is None:
        if width != 1:
            raise KeyError(f"no format declared for payload field {format_key!r}")
        fmt = "uint1"
    return [{"name": name, "lsb": lsb, "width": width, "format": fmt}]


def _streams(component: wiring.Component, formats: dict[str, dict[str, str]]) -> dict:
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
            "fields": payload_fields(layout, formats.get(name, {})),
        }
    return streams


def build_manifest(*, generator, params, module, component, formats, latency,
                   initiation_interval) -> dict:
    """Assemble the manifest dict (key order is part of the deterministic output)."""
    return {
        "generator": generator,
        "params": params,
        "module": module,
        "clock": "clk",
        "reset": "rst",
        "reset_kind": "synchronous, active high",
        "streams": _streams(component, formats),
        "latency": latency,
        "initiation_interval": initiation_interval,
    }
