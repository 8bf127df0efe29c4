#!/usr/bin/env python3
"""Put a generated peforge PE on a real board: iCEBreaker (iCE40UP5K) and/or ULX3S (ECP5-85F).

The PE's generated Verilog is instantiated inside the board harness (``scripts/harness.py``):
on-chip LFSRs drive its input stream and the output stream's ready (so stalls and back-pressure
happen), and every output bit is folded into a rotating XOR register shown on the LEDs, so
synthesis keeps all of the PE's logic. The build runs on the YoWASP tools with a fixed nextpnr
seed and the board oscillator as the clock (12 MHz iCEBreaker, 25 MHz ULX3S).

Examples::

    python scripts/build_bitstream.py --board all
    python scripts/build_bitstream.py int_mac --param lanes=4 --board icebreaker -o build/bs

Writes, per board, ``DIR/<board>/<module>/``: ``top.bin`` (iCE40) or ``top.bit`` (ECP5), the
nextpnr timing and utilization report ``top.report.json``, the PE's Verilog and manifest, and
the Amaranth build files and logs.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flow  # noqa: E402  (needs the path above)
from flow import progress  # noqa: E402

PROG = "build_bitstream.py"
BOARD_CHOICES = (*flow.BOARDS, "all")


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = flow.script_parser(PROG, __doc__, epilog="Boards: " + "; ".join(
        f"{k}: {v[2]}" for k, v in flow.BOARDS.items()))
    parser.add_argument("generator", nargs="?", default="int_mac",
                        help="generator name [default: int_mac]")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="generator parameter, e.g. lanes=4 (repeatable)")
    parser.add_argument("--board", choices=BOARD_CHOICES, default="all",
                        help="target board [default: all]")
    parser.add_argument("--no-dsp", dest="dsp", action="store_false",
                        help="map multipliers to LUTs instead of SB_MAC16 / MULT18X18D blocks")
    parser.add_argument("--seed", type=flow.int_at_least(0), default=flow.DEFAULT_SEED,
                        help=f"nextpnr seed [default: {flow.DEFAULT_SEED}]")
    parser.add_argument("-o", "--output", type=Path, default=Path("build/bitstream"),
                        metavar="DIR", help="output directory [default: build/bitstream]")
    return parser.parse_args(argv)


def build_board(design, source: flow.Source, board: str, out: Path, args) -> dict:
    """Build one board; write the manifest beside the build; return the summary."""
    build_dir = out / board / design.module
    progress(f"{board}: building {design.module} ({flow.BOARDS[board][2]}, "
             f"{'DSP' if args.dsp else 'no DSP'}, seed {args.seed}) in {build_dir}")
    summary = flow.board_build(source, board, build_dir, dsp=args.dsp, seed=args.seed)
    (build_dir / f"{design.module}.json").write_text(json.dumps(design.manifest, indent=2) + "\n")
    summary["board"] = board
    summary["report"] = str(build_dir / "top.report.json")
    return summary


def _shown(path) -> str:
    """A path relative to the working directory when it lies below it (shorter to read)."""
    try:
        return str(Path(path).resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)


def format_summary(module: str, s: dict) -> str:
    """A few lines per board: resources (harness included), Fmax vs board clock, outputs."""
    c = s["cells"]
    extra = f", CCU2C {c['ccu2c']}" if "ccu2c" in c else f", SB_CARRY {c['carry']}"
    margin = s["fmax_mhz"] / s["board_clock_mhz"]
    verdict = "meets" if margin >= 1 else "FAILS"
    return "\n".join([
        f"{s['board']}: {module} in the LFSR/XOR harness",
        f"  LUT4 {c['lut4']}, FF {c['ff']}{extra}, DSP {c['dsp']} (PE + harness)",
        f"  Fmax {s['fmax_mhz']:.2f} MHz vs board clock {s['board_clock_mhz']:g} MHz: "
        f"{verdict} timing ({margin:.2f}x)",
        f"  critical path {s['critical_path']['start_cell']} -> {s['critical_path']['end_cell']}"
        if s.get("critical_path") else "  critical path: n/a",
        f"  bitstream: {_shown(s['bitstream'])}",
        f"  report:    {_shown(s['report'])}",
    ])


def run(args) -> list[str]:
    values, origins = flow.parse_param_pairs(args.param, flow.flag_of(args, "param"))
    design = flow.elaborate(args.generator, values, origins)
    source = flow.generated_source(design)
    boards = list(flow.BOARDS) if args.board == "all" else [args.board]
    out = args.output.resolve()
    lines = []
    for board in boards:
        summary = build_board(design, source, board, out, args)
        lines.append(format_summary(design.module, summary))
    return lines


def main(argv: list[str] | None = None) -> int:
    return flow.script_main(PROG, parse_args, lambda args: "\n".join(run(args)) + "\n", argv,
                            dirs=("output",))


if __name__ == "__main__":
    sys.exit(main())
