"""``generate-verilog``: command-line front end of every generator.

    generate-verilog --list
    generate-verilog int_mac --help
    generate-verilog int_mac --a-format int8 --b-format int4 --lanes 8 -o out/

Flags are the generator's declared parameter names with ``-`` for ``_``. A user mistake gives one
line on stderr, exit status 2 and no files.
"""

from __future__ import annotations

import argparse
import sys

from . import GENERATORS, get_generator
from .emit import OutputError, write_design
from .params import ParamError

__all__ = ["main"]

PROG = "generate-verilog"


class _OneLineParser(argparse.ArgumentParser):
    """argparse prints usage plus the error; users want just the error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message}\n")


def _generator_parser(gen) -> argparse.ArgumentParser:
    parser = _OneLineParser(
        prog=f"{PROG} {gen.name}", description=gen.summary,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Writes <module>.v and <module>.json (the manifest) into the output directory.")
    group = parser.add_argument_group("parameters")
    for p in gen.params:
        group.add_argument(p.flag, dest=p.name, metavar=p.type_name.split()[-1].upper(),
                           default=None, help=p.describe())
    parser.add_argument("-o", "--output", default=".", metavar="DIR",
                        help="output directory, created if missing [default: .]")
    return parser


def _top_parser() -> argparse.ArgumentParser:
    listing = "\n".join(f"  {name:12s} {gen.summary}" for name, gen in sorted(GENERATORS.items()))
    parser = _OneLineParser(
        prog=PROG, formatter_class=argparse.RawDescriptionHelpFormatter,
        description="Generate deterministic Verilog and a JSON manifest for a peforge processing "
                    "element.",
        epilog=f"generators:\n{listing}\n\nRun '{PROG} GENERATOR --help' for its parameters.")
    parser.add_argument("--list", action="store_true", help="list the generators and exit")
    parser.add_argument("generator", nargs="?", help="generator name")
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    top = _top_parser()
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
    values = {p.name: getattr(args, p.name) for p in gen.params
              if getattr(args, p.name) is not None}
    try:
        design = gen.elaborate(values)
        paths = write_design(design, args.output)
    except (ParamError, OutputError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    for path in paths:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
