"""What the Dask workers buy: the same 12-design iCE40 sweep on a ``LocalCluster`` of 1 and of 2
worker processes, one after the other in one run, each from an empty cache (so both do all
the work: 12 generate and 12 ``synth_ice40`` steps), wall time including the cluster's start.

The designs are ``int_mac`` K = 4 with int8 weights and four activation formats x three
bit-weight options, similar in size so that the last step does not run alone for long. The load
average before and after is part of the report: the figure means something only on an otherwise
quiet machine. The timings also go into the database (step ``wall-time``).
"""

from __future__ import annotations

import os
import tempfile
import time

from .. import steps
from ..command import UsageError, flag_of, int_at_least
from ..engine import Sweep, design
from ..render import markdown_table
from ..report import Rendered, db_path, write

NAME = "speedup"
TARGET = 1.7
FORMATS = ("int8", "uint8", "int6", "uint6")
OPTIONS = (("adder_tree", "binary"), ("compressor_tree", "binary"),
           ("compressor_tree", "carry_save"))


def add_arguments(parser) -> None:
    parser.add_argument("--max-workers", type=int_at_least(2), default=2, metavar="N",
                        help="measure 1 and N workers [default: 2]")
    parser.add_argument("--designs", type=int_at_least(1), default=12, metavar="N",
                        help="the first N of the 12 designs (fewer: a quick check of the "
                             "command, not a measurement) [default: 12]")


def plan(args) -> Sweep:
    if args.designs > len(FORMATS) * len(OPTIONS):
        raise UsageError(f"{flag_of(args, 'designs')}: {args.designs} is not allowed; "
                         f"allowed: integer 1 to {len(FORMATS) * len(OPTIONS)}")
    designs = [design(f"int_mac {fmt} x int8 K=4 {red}+{acc}", "int_mac",
                      {"a_format": fmt, "b_format": "int8", "lanes": 4, "reduction": red,
                       "accumulator": acc}, [steps.ice40()])
               for fmt in FORMATS for red, acc in OPTIONS]
    return Sweep(NAME, designs[:args.designs])


def produce(args) -> str:
    """Run the sweep once per worker count with a fresh cache; record and report wall times."""
    from ..db import ResultsDB
    from ..engine import run_sweep

    if args.scheduler is not None:
        raise UsageError(f"{flag_of(args, 'scheduler')} {args.scheduler}: the speedup report "
                         f"measures local clusters; allowed: no {flag_of(args, 'scheduler')}")
    sweep = plan(args)
    load_before = os.getloadavg()
    seconds = {}
    for workers in (1, args.max_workers):
        run = Sweep(f"{NAME}-{workers}w", sweep.designs)
        with tempfile.TemporaryDirectory(prefix="peforge-speedup-cache-") as cache:
            start = time.monotonic()
            results = run_sweep(run, db=db_path(args), cache=cache, workers=workers)
            seconds[workers] = round(time.monotonic() - start, 1)
        failed = results.errors()
        if failed:
            raise UsageError(f"speedup sweep: {failed[0][0]}: {failed[0][1]}: {failed[0][2]}")
    load_after = os.getloadavg()
    speedup = round(seconds[1] / seconds[args.max_workers], 2)
    figures = {"designs": len(sweep.designs), "cores": os.cpu_count(),
               "seconds_1_worker": seconds[1],
               f"seconds_{args.max_workers}_workers": seconds[args.max_workers],
               "speedup": speedup, "load_before": round(load_before[0], 2),
               "load_after": round(load_after[0], 2)}
    with ResultsDB(db_path(args)) as db:
        db.record(sweep=NAME, design=f"{len(sweep.designs)}-design iCE40 sweep", generator=None,
                  module=None, params={"max_workers": args.max_workers}, step="wall-time",
                  key="-", tools={}, figures=figures)
    rows = [[f"{w} worker{'s' if w > 1 else ''}", f"{s:.1f}"] for w, s in seconds.items()]
    text = "\n".join([
        f"### The same {len(sweep.designs)}-design iCE40 sweep (int_mac K=4, synth_ice40), "
        f"empty cache, LocalCluster", "",
        markdown_table(["workers", "wall time (s)"], rows), "",
        f"Speedup {args.max_workers} workers vs 1: {speedup:.2f}x (target >= {TARGET}: "
        f"{'met' if speedup >= TARGET else 'MISSED'}); {os.cpu_count()} cores, load average "
        f"{load_before[0]:.2f} before, {load_after[0]:.2f} after."]) + "\n"
    write(args.out, Rendered(figures, text))
    return text
