"""The whole board top in simulation: UART, receive FIFO, bridge and PE, in cocotb on Verilator
or Icarus, with cocotbext-uart driving and reading the UART pins and the host's own
:class:`~sim.board.protocol.HostSession` making and reading the bytes
(:mod:`sim.cocotb.board_test`)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from hdl.bridge import UARTBridge, design_hash
from sim.lint import BOARD_TOP_WAIVERS

from .boards import SIM_BAUD_DIVISOR, Board

__all__ = ["BoardSimTop", "run_board_sim"]

BOARD_TEST_MODULE = "sim.cocotb.board_test"


@dataclass
class BoardSimTop:
    """The simulated board top of ``design``: what :func:`sim.runner.build` needs (module name,
    Verilog, manifest) plus the clock and UART settings the bench uses.

    Its Verilog is the :class:`hdl.bridge.UARTBridge` top followed by the PE's own Verilog,
    unchanged. Ports: ``clk``, ``rst``, ``rx`` (host to board), ``tx``."""

    design: object
    clock_hz: float
    divisor: int = SIM_BAUD_DIVISOR
    fifo_depth: int | None = None

    #: The board top's own lint waivers (:data:`sim.lint.BOARD_TOP_WAIVERS`).
    lint_waivers = tuple(BOARD_TOP_WAIVERS)

    @property
    def module(self) -> str:
        depth = f"_f{self.fifo_depth}" if self.fifo_depth else ""
        return f"uart_d{self.divisor}{depth}_{self.design.module}"

    def component(self) -> UARTBridge:
        return UARTBridge(self.design.module, self.design.manifest,
                          ident=design_hash(self.design.manifest_text()), divisor=self.divisor,
                          fifo_depth=self.fifo_depth)

    def verilog(self) -> str:
        from generators.emit import component_verilog

        return component_verilog(self.component(), self.module) + "\n" + self.design.verilog()

    @property
    def manifest(self) -> dict:
        return {"module": self.module, "clock": "clk", "reset": "rst", "streams": {},
                "clock_hz": self.clock_hz, "divisor": self.divisor,
                "pe_manifest": self.design.manifest_text()}

    def manifest_text(self) -> str:
        return json.dumps(self.manifest, indent=2, sort_keys=True) + "\n"


def run_board_sim(design, board: Board, beats: dict, phases: dict | None, simulator: str,
                  work_dir: Path, *, clock_mhz: float | None = None,
                  fifo_depth: int | None = None) -> dict:
    """Run ``beats`` (per input stream, payload integers) through ``design`` inside the
    simulated board top of ``board`` (its clock, or ``clock_mhz`` as with the PLL); return the
    output payload integers per output stream."""
    from sim.runner import run_test

    top = BoardSimTop(design, (clock_mhz or board.clock_mhz) * 1e6, fifo_depth=fifo_depth)
    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    run_file, result_file = work_dir / "board_run.json", work_dir / "board_outputs.json"
    run_file.write_text(json.dumps({
        "beats": {k: [int(w) for w in v] for k, v in beats.items()},
        "phases": {k: [int(p) for p in v] for k, v in (phases or {}).items()},
        "quiet_cycles": _quiet_cycles(design)}))
    result_file.unlink(missing_ok=True)
    run_test(top, simulator, test_module=BOARD_TEST_MODULE, test_dir=work_dir,
             env={"PEFORGE_BOARD_RUN": str(run_file), "PEFORGE_BOARD_OUTPUTS": str(result_file)})
    return json.loads(result_file.read_text())


def _quiet_cycles(design) -> int:
    from sim.api import quiet_cycles

    return quiet_cycles(design)
