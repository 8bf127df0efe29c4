"""One declaration of a PE's interface: its streams and their payload fields.

A PE states each stream field once — name, number format, lanes, role, meaning — as a
:class:`Field` in a :class:`Stream`; a :class:`Ports` collects the streams. From that one
declaration come

- the stream wrapper's signature (:meth:`Ports.signature`: ``lib.stream`` interfaces whose
  payloads are ``data.StructLayout`` s, the first field in the low bits);
- a clock-enabled core's signature (:meth:`Ports.core_members`: one port per field, named like
  it, plus ``en``/``valid``/``result``/``result_valid``);
- the manifest's field formats, descriptions and enumerated values (:meth:`Ports.formats`,
  :meth:`Ports.field_info`), so a generator never restates them.

Descriptions are one line; in a vector's description a one-letter placeholder such as ``{k}``
stands for the lane index (the manifest writes ``a[3]: ... lane 3``, ``--help`` writes ``lane k``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

from amaranth.hdl import Shape, signed, unsigned
from amaranth.lib import data, stream
from amaranth.lib.wiring import In, Out

from .formats import FixedFormat, Format, IntFormat, parse_format

__all__ = ["Field", "Stream", "Ports", "flag", "shape_of", "ROLES", "LAST", "LAST_ENDS_GROUP",
           "group_sum"]

#: What a field is for. ``operand``: data the PE computes on; ``control``: per-beat controls
#: (``last``, a precision, a data type code); ``result``: the output value the core computes
#: (its core port is called ``result``); ``status``: further output fields (error flags).
ROLES = ("operand", "control", "result", "status")


def shape_of(fmt: Format) -> Shape:
    """The Amaranth shape of one value of ``fmt``: signed for two's complement integers and
    fixed point, otherwise the raw code bits."""
    if isinstance(fmt, (IntFormat, FixedFormat)) and fmt.signed:
        return signed(fmt.width)
    return unsigned(fmt.width)


@dataclass(frozen=True)
class Field:
    """One payload field.

    Parameters
    ----------
    name : str
    format : Format or str
        Number format of the field (of each lane's value for a vector).
    description : str
        What the field means, one line (``{k}``-style lane placeholder for vectors).
    lanes : int, optional
        A vector of this many values (``name[0]``, ``name[1]``, ...); None for a scalar.
    role : str
        One of :data:`ROLES`.
    values : mapping of int to str, optional
        For enumerated codes: code -> meaning.
    """

    name: str
    format: Format | str
    description: str
    lanes: int | None = None
    role: str = "operand"
    values: Mapping[int, str] | None = None

    def __post_init__(self):
        if isinstance(self.format, str):
            object.__setattr__(self, "format", parse_format(self.format))
        if self.role not in ROLES:
            raise ValueError(f"role must be one of {', '.join(ROLES)}, not {self.role!r}")
        if "\n" in self.description or not self.description.strip():
            raise ValueError(f"field {self.name}: the description must be one non-empty line")

    @property
    def shape(self):
        """Shape of the whole field (an ``ArrayLayout`` for a vector)."""
        element = shape_of(self.format)
        return element if self.lanes is None else data.ArrayLayout(element, self.lanes)


def flag(name: str, description: str, *, role: str = "control",
         values: Mapping[int, str] | None = None) -> Field:
    """A one-bit field (``uint1``)."""
    return Field(name, "uint1", description, role=role, values=values)


@dataclass(frozen=True)
class Stream:
    """A valid/ready stream: ``direction`` ``"in"`` (consumed by the PE) or ``"out"``."""

    name: str
    direction: str
    fields: tuple[Field, ...]

    def __post_init__(self):
        object.__setattr__(self, "fields", tuple(self.fields))
        if self.direction not in ("in", "out"):
            raise ValueError(f"direction must be 'in' or 'out', not {self.direction!r}")

    @property
    def layout(self) -> data.StructLayout:
        return data.StructLayout({f.name: f.shape for f in self.fields})

    @property
    def signature(self):
        sig = stream.Signature(self.layout)
        return In(sig) if self.direction == "in" else Out(sig)


@dataclass(frozen=True)
class Ports:
    """All streams of a PE, in the order of its signature."""

    streams: tuple[Stream, ...]

    def __post_init__(self):
        object.__setattr__(self, "streams", tuple(self.streams))

    def __getitem__(self, name: str) -> Stream:
        for s in self.streams:
            if s.name == name:
                return s
        raise KeyError(name)

    def signature(self) -> dict:
        """Members of the stream wrapper's signature."""
        return {s.name: s.signature for s in self.streams}

    def core_members(self) -> dict:
        """Members of a clock-enabled core between one input and one output stream (see
        :mod:`hdl.streaming`): ``en``, ``valid``, one input port per input field; ``result``
        (the output field of role ``result``), ``result_valid`` and one output port per other
        output field."""
        (inp,) = [s for s in self.streams if s.direction == "in"]
        (out,) = [s for s in self.streams if s.direction == "out"]
        members = {"en": In(1), "valid": In(1)}
        members.update({f.name: In(f.shape) for f in inp.fields})
        for f in out.fields:
            members["result" if f.role == "result" else f.name] = Out(f.shape)
        members["result_valid"] = Out(1)
        return members

    @property
    def result_field(self) -> str:
        """Name of the output field the core's ``result`` drives."""
        (name,) = [f.name for s in self.streams if s.direction == "out" for f in s.fields
                   if f.role == "result"]
        return name

    def formats(self) -> dict[str, dict[str, str]]:
        """Per stream, per field, the format name (for the manifest)."""
        return {s.name: {f.name: f.format.name for f in s.fields} for s in self.streams}

    def field_info(self) -> dict[str, dict[str, tuple]]:
        """Per stream, per field, ``(description, values)`` (for the manifest and ``--help``)."""
        return {s.name: {f.name: (f.description, f.values) for f in s.fields}
                for s in self.streams}


# Wording several PEs share, so the same field reads the same in every manifest.

#: ``last`` of a PE that accumulates beats into one output beat.
LAST = flag("last", "ends the accumulation group: the output beat follows this beat")
#: ``last`` of a PE with scale groups inside accumulation groups (``last`` implies group_last).
LAST_ENDS_GROUP = flag("last", "ends the accumulation group and the scale group: the output beat "
                               "follows this beat")


def group_sum(terms: str, acc_width: int, note: str = "") -> str:
    """Description of an accumulating PE's output: the sum of ``terms`` (per lane k) over one
    accumulation group, wrapping at ``acc_width`` bits; ``note`` adds exactness or units."""
    return (f"the accumulation group's sum of {terms} over all lanes k and all its beats "
            f"('last' beat included){note}, modulo 2^{acc_width}")
