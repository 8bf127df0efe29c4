"""cocotb bench of the simulated board top (:class:`sim.board.simulated.BoardSimTop`): the
host's :func:`sim.board.protocol.conversation` talks to the ``rx`` / ``tx`` pins through
cocotbext-uart, exactly as it talks to a serial port on a real board.

Files named in the environment: ``PEFORGE_MANIFEST`` (the top's manifest: clock, divisor, the
PE's manifest text), ``PEFORGE_BOARD_RUN`` (beats, phases, quiet cycles),
``PEFORGE_BOARD_OUTPUTS`` (where the output beats go, as JSON).
"""

from __future__ import annotations

import json
import logging
import os

import cocotb
from cocotb.clock import Clock
from cocotb.triggers import ClockCycles
from cocotb.utils import get_sim_time
from cocotbext.uart import UartSink, UartSource

from sim.board.protocol import HostSession, conversation, next_request

#: Bytes of line silence that make the host resend its hello, and (with the PE's quiet time)
#: that mean the board stopped answering.
ANSWER_BYTES = 4000


@cocotb.test()
async def board_link(dut):
    with open(os.environ["PEFORGE_MANIFEST"]) as f:
        top = json.load(f)
    with open(os.environ["PEFORGE_BOARD_RUN"]) as f:
        run = json.load(f)
    pe_manifest_text = top["pe_manifest"]
    period_ps = 2 * round(0.5e12 / top["clock_hz"])  # cocotb wants an even period
    bit_s = top["divisor"] * period_ps * 1e-12
    byte_s = 10 * bit_s
    # cocotbext-uart logs every byte at INFO: far too much for a run of thousands of bytes.
    for name in ("cocotb.board_top.rx", "cocotb.board_top.tx"):
        logging.getLogger(name).setLevel(logging.WARNING)
    dut.rx.value = 1
    Clock(dut.clk, period_ps, unit="ps").start()
    source = UartSource(dut.rx, baud=1 / bit_s)
    sink = UartSink(dut.tx, baud=1 / bit_s)
    for log in (source.log, sink.log):
        log.setLevel(logging.WARNING)
    dut.rst.value = 1
    await ClockCycles(dut.clk, 4)
    dut.rst.value = 0
    await ClockCycles(dut.clk, 4)

    session = HostSession(pe_manifest_text, json.loads(pe_manifest_text), run["beats"],
                          run["phases"] or None,
                          quiet=run["quiet_cycles"] * period_ps * 1e-12 + 8 * byte_s)
    steps = conversation(session, answer_timeout=ANSWER_BYTES * byte_s,
                         where="the simulated board")
    reply = None
    while (request := next_request(steps, reply)) is not None:
        kind, data = request
        if kind == "send":
            await source.write(data)
        else:
            await sink.wait(timeout=round(byte_s * 1e9), timeout_unit="ns")
        reply = (bytes(sink.read_nowait()), get_sim_time(unit="ns") * 1e-9)
    with open(os.environ["PEFORGE_BOARD_OUTPUTS"], "w") as f:
        json.dump(session.outputs, f)
    dut._log.info(f"{sum(map(len, session.outputs.values()))} output beats in "
                  f"{get_sim_time(unit='ns') / 1e3:.1f} us")
