"""How a report runs: a report is a module of :mod:`sim.sweep.reports` that declares its sweep
and how its tables and plots are drawn from the results; this module does the rest for every
report (``peforge report NAME`` and the thin ``scripts/`` wrappers alike).

A report module defines:

* its docstring (the first paragraph is the ``--help`` description);
* ``NAME`` (``peforge report NAME``, the default ``--out build/reports/NAME`` and the database's
  ``sweep`` column);
* ``add_arguments(parser)``: its own options;
* ``plan(args) -> Sweep``: the designs and steps; every parameter is checked here (a mistake is a
  :class:`sim.sweep.command.UsageError`, before anything is written or run);
* ``render(args, results) -> Rendered``: the report's JSON, Markdown and plots, from
  :class:`sim.sweep.engine.Results` (read back from the database);
* optionally ``EPILOG`` (examples for ``--help``), ``FILES`` (destinations of extra output
  files such as ``json``, checked before anything runs) and ``produce(args)`` in place of
  plan, run and render (a report that runs its sweep its own way).

Every report takes the engine's options (:func:`add_engine_arguments`): ``--out DIR``,
``--db PATH`` (default ``DIR/results.sqlite``), ``--cache DIR`` (default ``build/cache``, shared by
all reports), ``--scheduler ADDRESS`` (an existing Dask cluster), ``--workers N`` (local worker
processes, default one per core), ``--keep DIR`` (keep work files) and ``--retry-failed``. It
writes ``report.json``, ``report.md`` and its PNG plots into ``--out`` and prints the Markdown.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from .command import (UsageError, check_output, flag_of, int_at_least, progress, script_main,
                      script_parser, write_text)

__all__ = ["Rendered", "add_engine_arguments", "report_main", "script_entry", "produce",
           "module_of", "DEFAULT_CACHE"]

#: Default cache directory of every report (relative to the working directory).
DEFAULT_CACHE = Path("build") / "cache"


@dataclass
class Rendered:
    """What a report's ``render`` returns: ``data`` (written as ``report.json``), ``markdown``
    (``report.md``, and printed) and ``plots`` (file name -> function drawing it into a path)."""

    data: dict
    markdown: str
    plots: dict[str, Callable[[Path], None]] = field(default_factory=dict)


def add_engine_arguments(parser, name: str, *, keep: bool = True) -> None:
    """The options every report takes (see the module docstring)."""
    group = parser.add_argument_group("sweep engine")
    group.add_argument("--out", type=Path, default=Path("build") / "reports" / name,
                       metavar="DIR",
                       help=f"output directory: report.json, report.md, plots and, unless --db "
                            f"says otherwise, results.sqlite [default: build/reports/{name}]")
    group.add_argument("--db", type=Path, metavar="PATH",
                       help="the SQLite results database [default: DIR/results.sqlite]")
    group.add_argument("--cache", type=Path, default=DEFAULT_CACHE, metavar="DIR",
                       help="step results by content hash, shared by every report "
                            f"[default: {DEFAULT_CACHE}]")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="run the steps on this Dask cluster, e.g. tcp://host:8786 "
                            "[default: a local cluster]")
    group.add_argument("--workers", type=int_at_least(1), metavar="N",
                       help=f"worker processes of the local cluster [default: one per core, "
                            f"{os.cpu_count()} here]")
    if keep:
        group.add_argument("--keep", type=Path, metavar="DIR",
                           help="keep every step's work files (Verilog, scripts, netlists, logs) "
                                "below DIR [default: removed]")
    group.add_argument("--retry-failed", action="store_true",
                       help="run steps again that failed in an earlier run (a tool error is "
                            "cached like a result)")


def check_engine_arguments(args) -> None:
    """Output locations of the engine options, before anything runs."""
    check_output(args.out, flag_of(args, "out"), directory=True)
    check_output(args.db, flag_of(args, "db"))
    check_output(args.cache, flag_of(args, "cache"), directory=True)
    if getattr(args, "keep", None) is not None:
        check_output(args.keep, flag_of(args, "keep"), directory=True)
    if args.scheduler is not None and args.workers is not None:
        raise UsageError(f"{flag_of(args, 'workers')} {args.workers}: only for the local "
                         f"cluster; allowed: {flag_of(args, 'workers')} or "
                         f"{flag_of(args, 'scheduler')}, not both")


def db_path(args) -> Path:
    return args.db or args.out / "results.sqlite"


def produce(report, args) -> str:
    """Plan, run and render ``report`` (a report module) for ``args``; write its files; return
    the Markdown to print."""
    from .engine import run_sweep

    check_engine_arguments(args)
    if hasattr(report, "produce"):      # a report that runs its sweep its own way (speedup)
        return report.produce(args)
    sweep = report.plan(args)
    results = run_sweep(sweep, db=db_path(args), cache=args.cache, scheduler=args.scheduler,
                        workers=args.workers, keep=getattr(args, "keep", None),
                        retry_failed=args.retry_failed)
    rendered = report.render(args, results)
    failures = results.errors()
    if failures:
        rendered.data = {**rendered.data, "failures": [
            {"design": d, "step": s, "error": e} for d, s, e in failures]}
        rendered.markdown += "\nFailed steps (recorded in the database):\n\n" + "\n".join(
            f"- {d}: {s}: {e}" for d, s, e in failures) + "\n"
    write(args.out, rendered)
    for dest, text in (("json", json.dumps(rendered.data, indent=1) + "\n"),
                       ("markdown", rendered.markdown)):
        if getattr(args, dest, None):
            write_text(getattr(args, dest), text, flag_of(args, dest))
    return rendered.markdown


def write(out: Path, rendered: Rendered) -> None:
    """``report.json``, ``report.md`` and the plots into ``out``."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(rendered.data, indent=1) + "\n")
    (out / "report.md").write_text(rendered.markdown)
    for name, draw in rendered.plots.items():
        draw(out / name)
    progress(f"wrote {out}/report.json, report.md"
             + "".join(f", {name}" for name in rendered.plots))


def report_main(report, argv=None, prog: str | None = None) -> int:
    """``main`` of ``report`` (a report module) as ``prog`` (default ``peforge report NAME``):
    parse, plan, run, render, write; a mistake is one line and exit status 2."""
    prog = prog or f"peforge report {report.NAME}"

    def parse_args(argv):
        parser = script_parser(prog, report.__doc__, epilog=getattr(report, "EPILOG", None))
        report.add_arguments(parser)
        add_engine_arguments(parser, report.NAME, keep=getattr(report, "KEEP", True))
        return parser.parse_args(argv)

    return script_main(prog, parse_args, lambda args: produce(report, args), argv,
                       files=getattr(report, "FILES", ()))


def script_entry(name: str, prog: str):
    """``main(argv=None)`` of the ``scripts/`` wrapper ``prog`` of report ``name``."""
    from .reports import report_module

    def main(argv: list[str] | None = None) -> int:
        return report_main(report_module(name), argv, prog)
    return main


def module_of(generator: str, values: dict) -> str:
    """The module name ``generator`` gives the design of ``values`` (resolved, not built)."""
    from generators import get_generator

    gen = get_generator(generator)
    return gen.module_name(gen.resolve(values))
