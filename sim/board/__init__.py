"""Generated PEs on real boards (iCEBreaker, ULX3S) and in a simulation of the whole board top.

* :mod:`sim.board.boards` -- the boards, declared once;
* :mod:`sim.board.protocol` -- the host end of the UART bridge (:mod:`hdl.bridge`), no I/O;
* :mod:`sim.board.serial_link` / :mod:`sim.board.simulated` -- its two transports: a serial port,
  and cocotbext-uart at the pins of the simulated top;
* :mod:`sim.board.build` -- bitstreams (``peforge board build``).
"""

from __future__ import annotations

from pathlib import Path

from .boards import BOARDS, DEFAULT_BAUD, board_named
from .protocol import HostSession, LinkError

__all__ = ["run_on_board", "BOARDS", "DEFAULT_BAUD", "LinkError"]


def run_on_board(design, beats: dict, phases: dict | None, *, target: str = "board",
                 board: str = "icebreaker", port: str | None = None, baud: int | None = None,
                 clock_mhz: float | None = None, simulator: str = "verilator",
                 work_dir=None) -> dict:
    """Send ``beats`` (per input stream, payload integers; ``phases`` as in
    :func:`sim.simulate`) to ``design`` on ``board`` and return the output payload integers
    per output stream.

    ``target="board"``: over serial ``port`` at ``baud`` (default :data:`DEFAULT_BAUD`) to a
    board programmed with this design's bitstream. ``target="board-sim"``: the simulated board
    top on ``simulator``. Raises :class:`LinkError` when the board does not answer as expected,
    ``ValueError`` for a bad board name or baud rate."""
    spec = board_named(board)
    if target == "board-sim":
        import tempfile

        from .simulated import run_board_sim

        if work_dir is not None:
            return run_board_sim(design, spec, beats, phases, simulator, Path(work_dir),
                                 clock_mhz=clock_mhz)
        with tempfile.TemporaryDirectory(prefix="peforge-board-sim-") as tmp:
            return run_board_sim(design, spec, beats, phases, simulator, Path(tmp),
                                 clock_mhz=clock_mhz)
    from hdl.uart import baud_divisor

    from .serial_link import run_serial

    baud = baud or DEFAULT_BAUD
    baud_divisor((clock_mhz or spec.clock_mhz) * 1e6, baud)
    session = HostSession(design.manifest_text(), design.manifest, beats, phases)
    run_serial(session, port, baud)
    return session.outputs
