"""``peforge report``, ``peforge results`` and ``peforge synth``: the sweep engine's commands.

    peforge report softmax --quick --out build/reports/softmax
    peforge report pareto
    peforge synth int_mac --lanes 8 --targets generic,ice40
    peforge results --generator int_mac --param lanes=8 --step ice40 --figure lut4
    peforge results --sweep softmax --figure 'max_err*' --csv softmax.csv

A user mistake is one line on stderr and exit status 2, a tool that fails one line and status 1.
"""

from __future__ import annotations

import json
import sys
import types
from pathlib import Path

from .command import (UsageError, flag_of, parse_param_pairs, run_command, script_parser,
                      write_text)

__all__ = ["report_command", "results_command", "synth_command"]

#: Where ``peforge results`` looks for databases when no ``--db`` is given.
DEFAULT_DBS = "build/reports/*/results.sqlite"


# --------------------------------------------------------------------------------------------
# peforge report NAME
# --------------------------------------------------------------------------------------------

def report_command(argv: list[str]) -> int:
    from .report import report_main
    from .reports import REPORTS, report_module

    prog = "peforge report"
    if not argv or argv[0] in ("-h", "--help"):
        listing = "\n".join(f"  {name:10s} {text}" for name, (_, text) in REPORTS.items())
        print(f"usage: {prog} NAME [options]\n\nRun a report on the sweep engine: its designs "
              f"and steps as Dask tasks, every result cached by content and recorded in an "
              f"SQLite database; JSON, Markdown and PNG plots in --out "
              f"(default build/reports/NAME).\n\nreports:\n{listing}\n\n"
              f"Run '{prog} NAME --help' for its options.")
        return 0 if argv else 2
    name = argv[0]
    if name not in REPORTS:
        print(f"{prog}: error: unknown report {name!r}; allowed: {', '.join(REPORTS)}",
              file=sys.stderr)
        return 2
    return report_main(report_module(name), argv[1:])


# --------------------------------------------------------------------------------------------
# peforge synth GENERATOR [flags]
# --------------------------------------------------------------------------------------------

def synth_command(gen, parser, argv: list[str]) -> int:
    """``peforge synth``: one design of ``gen`` (its flags parsed by ``parser``, a
    :class:`generators.cli.GeneratorParser`) through the ``synth`` report's steps, beside its
    hand-written baseline where one exists."""
    from .report import add_engine_arguments, produce
    from .reports import synth

    synth.add_options(parser)
    add_engine_arguments(parser, "synth")
    args = parser.parse_args(argv)
    values = {p.name: getattr(args, p.name) for p in gen.params
              if getattr(args, p.name) is not None}

    def plan(args):
        from generators.params import ParamError

        try:
            gen.resolve(values)
        except ParamError as exc:
            raise UsageError(str(exc)) from None
        return synth.plan_configs(gen.name, [values], args)

    report = types.SimpleNamespace(NAME=synth.NAME, plan=plan, render=synth.render)
    return run_command(parser.prog, lambda: produce(report, args), args=args,
                       files=synth.FILES)


# --------------------------------------------------------------------------------------------
# peforge results
# --------------------------------------------------------------------------------------------

def _results_parser():
    parser = script_parser(
        "peforge results", "Query the results databases of 'peforge report' and 'peforge "
        "synth': one row per design x step x figure, filtered; print a table, or export CSV / "
        "JSON.",
        epilog=f"Filters take shell patterns (* and ?); a repeated filter allows any of its "
               f"values. Without --db, every {DEFAULT_DBS} below the working directory is read.")
    parser.add_argument("--db", type=Path, action="append", default=[], metavar="PATH",
                        help=f"a results database (repeatable) [default: {DEFAULT_DBS}]")
    for flag, what in (("--sweep", "report name (float, softmax, synth, ...)"),
                       ("--design", "design label in its report"),
                       ("--generator", "generator (or custom design kind)"),
                       ("--step", "step (generate, generic, ice40, fmax, accuracy, ...)"),
                       ("--figure", "figure (lut4, transistors, fmax_mhz, max_err_lsb, ...)")):
        parser.add_argument(flag, action="append", default=[], metavar="PATTERN", help=what)
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="a design parameter's value, e.g. lanes=8 (repeatable: all must "
                             "hold)")
    parser.add_argument("--errors", action="store_true", help="only failed steps")
    parser.add_argument("--params", action="store_true",
                        help="show each row's parameters in the table")
    parser.add_argument("--csv", metavar="PATH", help="write the rows as CSV ('-': stdout)")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON ('-': stdout)")
    return parser


def _databases(args) -> list[Path]:
    if args.db:
        for path in args.db:
            if not path.is_file():
                raise UsageError(f"{flag_of(args, 'db')} {path}: no such file; allowed: a "
                                 f"results.sqlite written by 'peforge report' or 'peforge synth'")
        return list(args.db)
    found = sorted(Path().glob(DEFAULT_DBS))
    if not found:
        raise UsageError(f"no results database: nothing matches {DEFAULT_DBS} here; allowed: "
                         f"--db PATH of a results.sqlite written by 'peforge report' or "
                         f"'peforge synth'")
    return found


def _cell(row: dict) -> str:
    value = row["value"]
    if value is None:
        return row["text"] or ""
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _params_text(text: str | None) -> str:
    return ",".join(f"{k}={v}" for k, v in json.loads(text or "{}").items())


def table(rows: list[dict], *, params: bool = False) -> str:
    """``rows`` as aligned text columns."""
    columns = ["sweep", "design", "generator", "step", "figure", "value"] + \
        (["params"] if params else [])
    cells = [[r["sweep"], r["design"], r["generator"] or "", r["step"], r["figure"], _cell(r)]
             + ([_params_text(r["params"])] if params else []) for r in rows]
    widths = [max([len(c)] + [len(row[i]) for row in cells]) for i, c in enumerate(columns)]
    lines = ["  ".join(c.ljust(w) for c, w in zip(columns, widths)).rstrip()]
    lines += ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in cells]
    return "\n".join(lines) + "\n"


def results_command(argv: list[str]) -> int:
    from .db import ResultsDB, rows_csv, rows_json

    parser = _results_parser()
    args = parser.parse_args(argv)

    def produce() -> str:
        params, _ = parse_param_pairs(args.param, flag_of(args, "param"))
        rows = []
        databases = _databases(args)
        for path in databases:
            with ResultsDB(path) as db:
                rows += db.query(sweeps=args.sweep, designs=args.design,
                                 generators=args.generator, steps=args.step,
                                 figures=["error"] if args.errors else args.figure,
                                 params=params)
        text = ""
        for dest, render in (("csv", rows_csv), ("json", rows_json)):
            target = getattr(args, dest)
            if target == "-":
                text += render(rows)
            elif target:
                write_text(Path(target), render(rows), flag_of(args, dest))
        if not (args.csv == "-" or args.json == "-"):
            text += table(rows, params=args.params) if rows else ""
            text += (f"{len(rows)} rows from {len(databases)} "
                     f"database{'s' if len(databases) != 1 else ''}\n")
        return text

    return run_command("peforge results", produce, args=args, elapsed=False)
