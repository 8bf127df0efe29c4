#!/usr/bin/env python3
"""Simulation speed of the two engines, measured in one run on this machine.

    python scripts/bench_engines.py                      # int_mac int8 x int8 K=1, all 65,536 pairs
    python scripts/bench_engines.py --simulators verilator --json speed.json

Each engine (the native bench, :mod:`sim.native`; the cocotb bench, :mod:`sim.cocotb`) first runs
a few beats so that its simulator build exists (that first run is reported apart), then runs every
int8 x int8 product (``last`` on every beat, light idle/back-pressure) through ``sim.simulate``:
once without and once with the golden-model check (which runs in Python after the simulation and
must agree). The table gives the wall time of the ``simulate`` call (encoding, simulation,
decoding; the fastest of ``--repeat`` runs) and beats per second, and each engine's speed relative to the cocotb engine on the same
simulator.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flow  # noqa: E402

from generators import elaborate  # noqa: E402
from sim import simulate  # noqa: E402
from sim.runner import available_simulators  # noqa: E402

PROG = "bench_engines.py"
ENGINES = ("fast", "cocotb")


def measure(simulators, engines, repeat: int = 3, log=print) -> list[dict]:
    design = elaborate("int_mac", a_format="int8", b_format="int8", lanes=1)
    a, b = np.meshgrid(np.arange(-128, 128), np.arange(-128, 128), indexing="ij")
    sweep = {"i": {"a": a.reshape(-1, 1), "b": b.reshape(-1, 1), "last": np.ones(a.size, bool)}}
    warm = {"i": {"a": [[1]], "b": [[2]], "last": [True]}}
    rows = []
    for simulator in simulators:
        for engine in engines:
            start = time.perf_counter()
            simulate(design, warm, simulator=simulator, engine=engine)
            build = time.perf_counter() - start
            wall = float("inf")
            for _ in range(repeat):     # best of: other processes only ever add time
                start = time.perf_counter()
                result = simulate(design, sweep, simulator=simulator, engine=engine, idle=0.05,
                                  stall=0.05, seed=3)
                wall = min(wall, time.perf_counter() - start)
            start = time.perf_counter()
            checked = simulate(design, sweep, simulator=simulator, engine=engine, idle=0.05,
                               stall=0.05, seed=3, check=True)
            with_check = time.perf_counter() - start
            assert np.array_equal(checked.codes["o"]["acc"], result.codes["o"]["acc"])
            rows.append({"simulator": simulator, "engine": engine, "beats": int(a.size),
                         "cycles": result.cycles, "first_run_s": round(build, 2),
                         "wall_s": round(wall, 3), "beats_per_s": round(a.size / wall),
                         "with_check_s": round(with_check, 3)})
            log(f"{simulator} {engine}: {wall:.2f} s ({a.size / wall:,.0f} beats/s), "
                f"{with_check:.2f} s with the golden check")
    for row in rows:
        base = next(r for r in rows if r["simulator"] == row["simulator"]
                    and r["engine"] == "cocotb") if "cocotb" in engines else None
        row["speedup_vs_cocotb"] = round(base["wall_s"] / row["wall_s"], 1) if base else None
    return rows


def markdown(rows) -> str:
    lines = ["| simulator | engine | beats | cycles | simulate s | beats/s | vs cocotb | "
             "with golden check s | first run s (build) |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        ratio = f"{r['speedup_vs_cocotb']}x" if r["speedup_vs_cocotb"] else "-"
        lines.append(f"| {r['simulator']} | {r['engine']} | {r['beats']:,} | {r['cycles']:,} | "
                     f"{r['wall_s']} | {r['beats_per_s']:,} | {ratio} | {r['with_check_s']} | "
                     f"{r['first_run_s']} |")
    return "\n".join(lines)


def main(argv=None) -> int:
    parser = flow.script_parser(PROG, __doc__)
    parser.add_argument("--simulators", type=flow.choice_list(("verilator", "icarus")),
                        default=None, metavar="LIST",
                        help="comma-separated simulators [default: every available one]")
    parser.add_argument("--engines", type=flow.choice_list(ENGINES), default=list(ENGINES),
                        metavar="LIST", help="comma-separated engines [default: fast,cocotb]")
    parser.add_argument("--repeat", type=flow.int_at_least(1), default=3, metavar="N",
                        help="time each engine N times and keep the fastest [default: 3]")
    parser.add_argument("--json", metavar="PATH", help="write the rows as JSON")
    parser.add_argument("--markdown", metavar="PATH", help="write the table as Markdown")
    args = parser.parse_args(argv)

    def produce() -> str:
        sims = args.simulators or available_simulators()
        missing = [s for s in sims if s not in available_simulators()]
        if missing:
            raise flow.UsageError(f"--simulators {missing[0]}: not installed here; "
                                  f"allowed: {', '.join(available_simulators())}")
        rows = measure(sims, args.engines, args.repeat, log=flow.progress)
        table = markdown(rows) + "\n"
        if args.json:
            flow.write_text(Path(args.json), json.dumps(rows, indent=2) + "\n", "--json")
        if args.markdown:
            flow.write_text(Path(args.markdown), table, "--markdown")
        return table

    return flow.run_command(PROG, produce, args=args, files=("json", "markdown"))


if __name__ == "__main__":
    sys.exit(main())
