"""``generate-verilog``: command-line front end of every generator.

    generate-verilog --list
    generate-verilog int_mac --help
    generate-verilog int_mac --a-format int8 --b-format int4 --lanes 8 -o out/

Flags are the generator's declared parameter names with ``-`` for ``_``. A user mistake gives one
line on stderr, exit status 2 and no files. ``GENERATOR --help`` also lists the streams and payload
fields of the default design, with their formats, meanings and enumerated values.
"""

from __future__ import annotations

import argparse
import sys
import textwrap

from . import GENERATORS, get_generator
from .emit import OutputError, write_design
from .manifest import index_letter, render_description
from .params import ParamError

__all__ = ["main", "OneLineParser", "add_parameter_arguments", "design_from_args"]

PROG = "generate-verilog"
#: Options of the command itself (before a generator name); anything else starting with '-' there
#: is a generator's flag given without the generator. (-h and --help are argparse's own.)
_LIST = "--list"
_TOP_OPTIONS = ("-h", "--help", _LIST)
#: Right margin of the field descriptions in --help.
_HELP_WIDTH = 100


class OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; users want just the error. Descriptions and epilogs
    keep their line breaks."""

    def __init__(self, **kwargs):
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(**kwargs)

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def add_parameter_arguments(parser: argparse.ArgumentParser, gen) -> None:
    """A ``parameters`` group with one flag per declared parameter of ``gen`` (help: type,
    default and range), for every command that takes a generator's parameters."""
    group = parser.add_argument_group("parameters")
    for p in gen.params:
        group.add_argument(p.flag, dest=p.name, metavar=p.type_name.split()[-1].upper(),
                           default=None, help=p.describe())


def design_from_args(gen, args: argparse.Namespace):
    """The design for the parameter flags in ``args`` (see :func:`add_parameter_arguments`);
    raises :class:`generators.params.ParamError` for a value that is not allowed."""
    return gen.elaborate({p.name: getattr(args, p.name) for p in gen.params
                          if getattr(args, p.name) is not None})


def _field_rows(manifest_stream: dict, info: dict) -> list[tuple[str, str, str, dict | None]]:
    """(name, format, description, values) per field base name, in payload order; a vector's
    elements ``a[0]``, ``a[1]``, ... become one row ``a[k], k = 0..N-1`` (``k`` as its
    description's index placeholder names it)."""
    groups: dict[str, list[dict]] = {}
    for field in manifest_stream["fields"]:
        groups.setdefault(field["name"].split("[")[0], []).append(field)
    rows = []
    for base, fields in groups.items():
        template = info[base][0]
        name = base
        if "[" in fields[0]["name"]:
            letter = index_letter(template) or "i"
            span = "0" if len(fields) == 1 else f"0..{len(fields) - 1}"
            name = f"{base}[{letter}], {letter} = {span}"
        rows.append((name, fields[0]["format"], render_description(template),
                     fields[0].get("values")))
    return rows


def _fields_help(gen) -> str:
    """The --help section on streams and payload fields, for the default parameters."""
    design = gen.elaborate({})
    info = design.field_info
    streams = {name: _field_rows(spec, info[name])
               for name, spec in design.manifest["streams"].items()}
    rows = [row for stream_rows in streams.values() for row in stream_rows]
    name_w = max(len(name) for name, *_ in rows)
    format_w = max(len(fmt) for _, fmt, *_ in rows)
    indent = " " * (4 + name_w + 2 + format_w + 2)
    lines = ["payload fields of the default design, by stream (<module>.json also gives their "
             "lsb and width):"]
    for stream_name, stream_rows in streams.items():
        lines.append(f"  {stream_name} ({design.manifest['streams'][stream_name]['direction']}):")
        for name, fmt, description, values in stream_rows:
            lines.append(textwrap.fill(description, _HELP_WIDTH, subsequent_indent=indent,
                                       initial_indent=f"    {name:{name_w}s}  {fmt:{format_w}s}  ",
                                       break_on_hyphens=False))
            code_w = max((len(code) for code in values or {}), default=0)
            for code, meaning in (values or {}).items():
                lines.append(textwrap.fill(meaning, _HELP_WIDTH,
                                           initial_indent=f"{indent}{code:>{code_w}s} = ",
                                           subsequent_indent=indent + " " * (code_w + 3),
                                           break_on_hyphens=False))
    return "\n".join(lines)


class GeneratorParser(OneLineParser):
    """A parser of a command on one generator: its parameter flags (see
    :func:`add_parameter_arguments`) and, in ``--help``, the streams and payload fields of the
    default design followed by ``trailer``. The field list elaborates the default design, so it
    is made only when help is printed."""

    def __init__(self, gen, *, trailer: str = "", **kwargs):
        super().__init__(**kwargs)
        self._gen = gen
        self._trailer = trailer
        add_parameter_arguments(self, gen)

    def format_help(self):
        if self.epilog is None:
            self.epilog = _fields_help(self._gen) + (f"\n\n{self._trailer}" if self._trailer
                                                     else "")
        return super().format_help()


def _generator_parser(gen) -> argparse.ArgumentParser:
    parser = GeneratorParser(gen, prog=f"{PROG} {gen.name}", description=gen.summary,
                             trailer="Writes <module>.v and <module>.json (the manifest) into "
                                     "the output directory.")
    parser.add_argument("-o", "--output", default=".", metavar="DIR",
                        help="output directory, created if missing [default: .]")
    return parser


def _top_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:12s} {gen.summary}" for name, gen in sorted(GENERATORS.items()))
    # No abbreviations: a prefix of --list would otherwise pass the missing-name check in main.
    parser = OneLineParser(
        prog=PROG, allow_abbrev=False,
        description="Generate deterministic Verilog and a JSON manifest for a peforge processing "
                    "element.",
        epilog=f"generators:\n{listing}\n\nRun '{PROG} GENERATOR --help' for its parameters.")
    parser.add_argument(_LIST, action="store_true", help="list the generators and exit")
    parser.add_argument("generator", nargs="?", help="generator name")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    top = _top_parser()
    if argv and argv[0].startswith("-") and argv[0] not in _TOP_OPTIONS:
        flag = argv[0].split("=", 1)[0]
        top.exit(2, f"{PROG}: error: missing generator name before {flag}; run '{PROG} --list'\n")
    if not argv or argv[0].startswith("-"):
        args = top.parse_args(argv)
        if args.list:
            for name, gen in sorted(GENERATORS.items()):
                print(f"{name}\t{gen.summary}")
            return 0
        top.print_help()
        return 0 if argv else 2
    try:
        gen = get_generator(argv[0])
    except ParamError as exc:
        top.exit(2, f"{PROG}: error: {exc}\n")
    parser = _generator_parser(gen)
    args = parser.parse_args(argv[1:])
    try:
        design = design_from_args(gen, args)
        paths = write_design(design, args.output)
    except (ParamError, OutputError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
