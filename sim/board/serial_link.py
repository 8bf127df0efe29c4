"""A real board over a serial port (pyserial): the transport of
:func:`sim.board.protocol.conversation`."""

from __future__ import annotations

import os
import time

from .protocol import HostSession, LinkError, conversation, next_request

__all__ = ["run_serial", "ANSWER_TIMEOUT_S"]

#: Seconds without an answer after which the host resends its hello (three times), and without
#: any byte after which a running board counts as stopped. USB serial adapters buffer for up to
#: 16 ms, so this is far above the line's own delays.
ANSWER_TIMEOUT_S = 2.0
#: Seconds of silence after the sync reply that end a run (output beats still on their way).
QUIET_S = 0.25
POLL_S = 0.005


def run_serial(session: HostSession, port: str, baud: int) -> None:
    """Run ``session`` against the board on serial ``port`` at ``baud``."""
    try:
        import serial
    except ImportError:
        raise LinkError("pyserial is not installed; pip install pyserial") from None
    session.quiet = max(session.quiet, QUIET_S)
    try:
        link = serial.Serial(port, baud, timeout=POLL_S, write_timeout=ANSWER_TIMEOUT_S)
    except (serial.SerialException, OSError) as exc:
        reason = os.strerror(exc.errno).lower() if getattr(exc, "errno", None) else str(exc)
        raise LinkError(f"--port {port}: cannot open it ({reason}); allowed: the board's "
                        f"serial port, e.g. /dev/ttyUSB1 (iCEBreaker: its second FTDI "
                        f"channel)") from None
    with link:
        link.reset_input_buffer()
        steps = conversation(session, answer_timeout=ANSWER_TIMEOUT_S, where=f"the board on {port}")
        reply = None
        while (request := next_request(steps, reply)) is not None:
            kind, data = request
            try:
                if kind == "send":
                    link.write(data)
                    received = link.read(link.in_waiting)
                else:
                    received = link.read(max(1, link.in_waiting))
            except serial.SerialException as exc:
                raise LinkError(f"serial port {port}: {exc}") from None
            reply = (received, time.monotonic())
