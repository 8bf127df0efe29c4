"""Generator parameter declarations.

Each generator declares its parameters once, as a tuple of :class:`Param` objects. That one
declaration drives the command line (flags, ``--help`` text), validation of user input, the
resolved ``params`` section of the manifest, the tests and the reports.

A parameter knows how to parse a command-line string, how to check a Python value, and how to
describe its type, default and allowed range in one line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Callable

from hdl.formats import FixedFormat, Format, FormatError, IntFormat, MiniFloatFormat, parse_format

__all__ = [
    "ParamError", "Param", "IntParam", "BoolParam", "ChoiceParam", "ChoiceSetParam",
    "FormatParam", "AUTO", "resolve_params", "parse_int",
]


class ParamError(ValueError):
    """A user-supplied parameter value is not allowed. The message is one line that names the
    parameter and says what is allowed."""


class _Auto:
    """Marker for a default that the generator derives from the other parameters."""

    def __repr__(self):
        return "auto"


AUTO = _Auto()

# An optional sign, then a 0x/0b/0o prefixed number or plain decimal digits (leading zeros allowed).
_INT_RE = re.compile(r"([+-]?)(?:0x([0-9a-f]+)|0b([01]+)|0o([0-7]+)|([0-9]+))", re.IGNORECASE)


def parse_int(text: str) -> int:
    """The one way integers are read from user text.

    Decimal with optional leading zeros (``08`` is 8), or ``0x`` / ``0b`` / ``0o`` prefixed
    hexadecimal, binary or octal (``0x10`` is 16), with an optional sign; surrounding whitespace
    is ignored. Python's ``int(text, 0)`` rejects ``08`` and ``int(text)`` rejects ``0x10``; this
    accepts both, and nothing else (no underscores, no floats).

    Raises
    ------
    ValueError
        ``text`` is not such an integer. Whether a sign or the value is allowed is the caller's
        range check.
    """
    match = _INT_RE.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"not an integer: {text!r}")
    sign, *numbers = match.groups()
    # Exactly one alternative matched; its group number gives the base.
    base, digits = next((base, digits) for base, digits in zip((16, 2, 8, 10), numbers)
                        if digits is not None)
    value = int(digits, base)
    return -value if sign == "-" else value


@dataclass(frozen=True)
class Param:
    """One generator parameter.

    Parameters
    ----------
    name : str
        Python name; the command-line flag is ``--`` + name with ``_`` replaced by ``-``.
    default :
        Default value, or :data:`AUTO` when the generator derives it (then ``auto_help`` says how).
    help : str
        One sentence describing what the parameter controls.
    auto_help : str
        For ``AUTO`` defaults: how the default is derived.
    """

    name: str
    default: Any
    help: str
    auto_help: str = ""

    @property
    def flag(self) -> str:
        return "--" + self.name.replace("_", "-")

    # Subclasses implement these three.
    type_name = "value"

    def parse(self, text: str) -> Any:
        raise NotImplementedError

    def check(self, value: Any) -> Any:
        """Validate (and normalize) a Python value; raise :class:`ParamError` if not allowed."""
        raise NotImplementedError

    def allowed(self) -> str:
        """Human-readable description of the allowed values."""
        raise NotImplementedError

    def to_json(self, value: Any) -> Any:
        return value

    def default_text(self) -> str:
        if self.default is AUTO:
            return f"auto ({self.auto_help})" if self.auto_help else "auto"
        return str(self.to_json(self.default)).lower() if isinstance(self.default, bool) \
            else str(self.to_json(self.default))

    def describe(self) -> str:
        """One line for ``--help``: what it is, type, default and allowed range."""
        return f"{self.help} [{self.type_name}; default: {self.default_text()}; allowed: {self.allowed()}]"

    def error(self, got: Any) -> ParamError:
        return ParamError(f"{self.flag}: {got!r} is not allowed; allowed: {self.allowed()}")

    def declaration(self) -> dict:
        """The declaration as JSON (for reports and tooling)."""
        return {
            "name": self.name,
            "type": self.type_name,
            "default": "auto" if self.default is AUTO else self.to_json(self.default),
            "allowed": self.allowed(),
            "help": self.help,
        }


@dataclass(frozen=True)
class IntParam(Param):
    """An integer in ``[min, max]``."""

    min: int = 0
    max: int = 2 ** 31
    type_name = "int"

    def parse(self, text):
        try:
            value = parse_int(text)
        except ValueError:
            raise self.error(text) from None
        return self.check(value)

    def check(self, value):
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(value)
        if not self.min <= value <= self.max:
            raise self.error(value)
        return value

    def allowed(self):
        return f"integer {self.min} to {self.max}"


@dataclass(frozen=True)
class BoolParam(Param):
    """A flag: ``true``/``false`` (also ``1``/``0``, ``yes``/``no``)."""

    type_name = "bool"
    _TRUE = ("true", "1", "yes", "on")
    _FALSE = ("false", "0", "no", "off")

    def parse(self, text):
        t = text.strip().lower()
        if t in self._TRUE:
            return True
        if t in self._FALSE:
            return False
        raise self.error(text)

    def check(self, value):
        if not isinstance(value, bool):
            raise self.error(value)
        return value

    def allowed(self):
        return "true or false"


@dataclass(frozen=True)
class ChoiceParam(Param):
    """One of a fixed set of strings (or integers)."""

    choices: tuple = ()

    @property
    def _integers(self) -> bool:
        return all(isinstance(c, int) for c in self.choices)

    @property
    def type_name(self):
        return "int choice" if self._integers else "choice"

    def parse(self, text):
        if self._integers:
            # Integer choices read like every other integer (``0x4``, ``04``).
            try:
                value = parse_int(text)
            except ValueError:
                raise self.error(text) from None
            return self.check(value)
        t = text.strip()
        for c in self.choices:
            if str(c).lower() == t.lower():
                return c
        raise self.error(text)

    def check(self, value):
        if value not in self.choices or isinstance(value, bool):
            raise self.error(value)
        return value

    def allowed(self):
        return "one of " + ", ".join(str(c) for c in self.choices)


@dataclass(frozen=True)
class ChoiceSetParam(ChoiceParam):
    """A non-empty subset of a fixed set of choices, written comma-separated (``w8,w2``; each
    element read as :class:`ChoiceParam` reads one). The value is a tuple in the order of
    ``choices`` (canonical, whatever order it was given in); the manifest and ``--help`` show it
    comma-separated in that order."""

    @property
    def type_name(self):
        return "choice set"

    @property
    def _element(self) -> ChoiceParam:
        return ChoiceParam(self.name, self.choices[0], self.help, choices=self.choices)

    def parse(self, text):
        values = []
        for item in text.split(","):
            try:
                values.append(self._element.parse(item))
            except ParamError:
                raise self.error(item.strip() if item.strip() else text) from None
        return self.check(tuple(values))

    def check(self, value):
        if isinstance(value, str):
            return self.parse(value)
        if not isinstance(value, (tuple, list, set, frozenset)):
            raise self.error(value)
        values = tuple(value)
        for v in values:
            if isinstance(v, bool) or v not in self.choices:
                raise self.error(v)
        if not values or len(set(values)) != len(values):
            raise self.error(self.to_json(values))
        return tuple(c for c in self.choices if c in values)

    def allowed(self):
        return ("one or more of " + ", ".join(str(c) for c in self.choices)
                + ", comma-separated, each at most once")

    def to_json(self, value):
        return ",".join(str(c) for c in value) if isinstance(value, (tuple, list)) else value


_KIND_TEXT = {
    "int": "signed integer int<N>",
    "uint": "unsigned integer uint<N>",
    "fixed": "signed fixed point q<I>.<F>",
    "ufixed": "unsigned fixed point uq<I>.<F>",
    "float": "minifloat",
}


def _format_kind(fmt: Format) -> str:
    if isinstance(fmt, IntFormat):
        return "int" if fmt.signed else "uint"
    if isinstance(fmt, FixedFormat):
        return "fixed" if fmt.signed else "ufixed"
    if isinstance(fmt, MiniFloatFormat):
        return "float"
    return "other"


@dataclass(frozen=True)
class FormatParam(Param):
    """A number format (see :mod:`hdl.formats`), restricted by kind, width or an explicit list.

    Parameters
    ----------
    kinds : tuple of str
        Allowed kinds among ``int``, ``uint``, ``fixed``, ``ufixed``, ``float``.
    min_width, max_width : int
        Allowed total code width in bits.
    names : tuple of str
        If given, only these formats (by canonical name) are allowed.
    """

    kinds: tuple = ("int", "uint")
    min_width: int = 1
    max_width: int = 64
    names: tuple = ()
    type_name = "format"

    def parse(self, text):
        try:
            fmt = parse_format(text)
        except FormatError:
            raise ParamError(
                f"{self.flag}: {text.strip()!r} is not a valid format; allowed: {self.allowed()}"
            ) from None
        return self.check(fmt)

    def check(self, value):
        if isinstance(value, str):
            return self.parse(value)
        if not isinstance(value, Format):
            raise self.error(value)
        if self.names:
            if value.name not in self.names:
                raise self.error(value.name)
            return value
        if _format_kind(value) not in self.kinds or \
                not self.min_width <= value.width <= self.max_width:
            raise self.error(value.name)
        return value

    def allowed(self):
        if self.names:
            return "one of " + ", ".join(self.names)
        kinds = " or ".join(_KIND_TEXT[k] for k in self.kinds)
        return f"{kinds}, {self.min_width} to {self.max_width} bits"

    def to_json(self, value):
        return value.name if isinstance(value, Format) else value

    def default_text(self):
        return self.to_json(self.default) if self.default is not AUTO else super().default_text()


def resolve_params(declaration: tuple[Param, ...], values: dict[str, Any],
                   derive: Callable[[dict], dict] | None = None) -> dict:
    """Validate ``values`` against ``declaration`` and fill in defaults.

    Strings are parsed as on the command line; other values are checked. ``derive`` receives the
    dict with every non-AUTO parameter resolved and returns values for the AUTO ones (it may also
    raise :class:`ParamError` for combinations that are not allowed). Returns a new dict in
    declaration order.
    """
    by_name = {p.name: p for p in declaration}
    for name in values:
        if name not in by_name:
            known = ", ".join(p.name for p in declaration)
            raise ParamError(f"unknown parameter {name!r}; allowed: {known}")
    resolved = {}
    for p in declaration:
        if p.name in values and values[p.name] is not None and values[p.name] is not AUTO:
            v = values[p.name]
            resolved[p.name] = p.parse(v) if isinstance(v, str) else p.check(v)
        elif isinstance(p.default, str):
            # Defaults may be written as on the command line (e.g. a format name).
            resolved[p.name] = p.parse(p.default)
        else:
            resolved[p.name] = p.default
    if derive is not None:
        derived = derive(dict(resolved))
        for name, v in derived.items():
            resolved[name] = v
    missing = [n for n, v in resolved.items() if v is AUTO]
    assert not missing, f"generator did not derive {missing}"
    return {p.name: resolved[p.name] for p in declaration}
