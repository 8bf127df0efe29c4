"""The board link: the UART, the host protocol, and the whole board top (UART, bridge, PE) in
simulation, fed by the same host code that talks to a real board; ``peforge board run
--board-sim`` and ``peforge board build``'s failure lines."""

from __future__ import annotations

import numpy as np
import pytest
from amaranth.sim import Simulator

from hdl.bridge import (CMD_BARRIER, CMD_IDENTIFY, CMD_RESET, CREDIT_UNIT, IDENTITY_MAGIC,
                        PROTOCOL_VERSION, REPLY_CREDIT, REPLY_IDENTITY, design_hash)
from hdl.uart import UARTReceiver, UARTTransmitter, baud_divisor
from sim import simulate
from sim.board import BOARDS
from sim.board.protocol import HostSession, LinkError, conversation, frames
from sim.board.simulated import run_board_sim
from sim.cli import main as peforge
from sim.payload import payload_ints
from sim.runner import available_simulators
from sim.stimuli.fp_mac import fp_mac_operands
from sim.stimuli.int_mac import int_mac_operands
from sim.stimuli.systolic_array import ws_beats, ws_events

from .conftest import design_for
from .test_simulate import _user_values

SIMULATORS = available_simulators()
BOARD_SIMS = [pytest.param(board, sim, id=f"{board}-{sim}")
              for board, sim in (("icebreaker", "verilator"), ("ulx3s", SIMULATORS[-1]))]


# -- UART -------------------------------------------------------------------------------------

def test_uart_loopback_every_byte():
    """Every byte value through transmitter and receiver at 4 cycles per bit, back to back."""
    from amaranth.hdl import Module

    m = Module()
    m.submodules.tx = tx = UARTTransmitter(4)
    m.submodules.rx = rx = UARTReceiver(4)
    m.d.comb += rx.rx.eq(tx.tx)
    got = []

    async def bench(ctx):
        ctx.set(rx.bytes.ready, 1)
        for value in range(256):
            ctx.set(tx.bytes.payload, value)
            ctx.set(tx.bytes.valid, 1)
            await ctx.tick().until(tx.bytes.ready)
            await ctx.tick()
            ctx.set(tx.bytes.valid, 0)
        for _ in range(60):
            await ctx.tick()

    async def monitor(ctx):
        async for _, _, valid, payload in ctx.tick().sample(rx.bytes.valid, rx.bytes.payload):
            if valid:
                got.append(payload)

    sim = Simulator(m)
    sim.add_clock(1e-6)
    sim.add_testbench(bench)
    sim.add_process(monitor)
    sim.run()
    assert got == list(range(256))
    assert tx.divisor == 4


def test_baud_divisor():
    assert baud_divisor(12e6, 115200) == 104
    assert baud_divisor(12e6, 3_000_000) == 4
    with pytest.raises(ValueError, match=r"^3000000 baud is 4\.2% off at 25 MHz .*allowed"):
        baud_divisor(25e6, 3_000_000)
    with pytest.raises(ValueError, match=r"needs at least 4 clock cycles per bit"):
        baud_divisor(12e6, 6_000_000)


# -- host protocol ----------------------------------------------------------------------------

WS_STREAMS = {"w": {"direction": "in", "payload_width": 12},
              "x": {"direction": "in", "payload_width": 9},
              "y": {"direction": "out", "payload_width": 20}}


def test_frames_follow_phases_with_barriers():
    out = frames(WS_STREAMS, {"w": [1, 2], "x": [0x1FF, 3]}, {"w": [0, 2], "x": [1, 1]})
    assert out == [bytes([0, 1, 0]), bytes([CMD_BARRIER]), bytes([1, 0xFF, 1]),
                   bytes([1, 3, 0]), bytes([CMD_BARRIER]), bytes([0, 2, 0])]


def _identity(manifest_text: str, depth: int = 64, status: int = 0) -> bytes:
    return bytes([REPLY_IDENTITY]) + IDENTITY_MAGIC + bytes([PROTOCOL_VERSION]) + \
        design_hash(manifest_text) + depth.to_bytes(2, "little") + bytes([status])


def _session(**kwargs) -> HostSession:
    manifest = {"module": "m", "streams": WS_STREAMS}
    return HostSession("text", manifest, {"w": list(range(40)), "x": []}, **kwargs)


def test_host_never_exceeds_its_credit():
    session = _session()
    assert session.hello()[-2:] == bytes([CMD_RESET, CMD_IDENTIFY])
    assert session.to_send() == b""                     # nothing before the identity
    session.receive(b"\x00garbage" + _identity("text"), 0.0)   # stale bytes are dropped
    first = session.to_send()
    assert len(first) == 63 and first[:3] == bytes([0, 0, 0])  # 21 frames of 3 bytes fit in 64
    assert session.to_send() == b""
    session.receive(bytes([REPLY_CREDIT]), 0.1)
    assert len(session.to_send()) == 15                 # 1 left over + 16: five frames
    assert CREDIT_UNIT == 16


def test_host_refuses_another_design_and_reported_errors():
    session = _session()
    with pytest.raises(LinkError, match=r"^the board carries another design \(hash "):
        session.receive(_identity("other"), 0.0)
    with pytest.raises(LinkError, match=r"reports UART framing error"):
        _session().receive(_identity("text", status=1), 0.0)


def test_silent_board_is_named_after_three_hellos():
    steps = conversation(_session(), answer_timeout=2.0, where="the board on /dev/null")
    reply, hellos, now = None, 0, 0.0
    with pytest.raises(LinkError, match=r"^no answer from the board on /dev/null after 3 "
                                        r"identify requests of 2 s each: wrong port"):
        while True:
            kind, data = steps.send(reply)
            hellos += kind == "send"
            now += 0.5
            reply = (b"", now)
    assert hellos == 3


# -- the simulated board top ------------------------------------------------------------------

def _int_mac():
    d = design_for("int_mac", a_format="int8", b_format="int8", lanes=4)
    a, b, last = int_mac_operands(d.params, np.random.default_rng(11), 80)
    return d, {"i": {"a": a, "b": b, "last": last}}


def _fp_mac():
    d = design_for("fp_mac", a_format="fp8_e4m3", b_format="fp8_e5m2", lanes=2)
    a, b, last = fp_mac_operands(d.params, np.random.default_rng(12), 60)
    return d, _user_values(d, {"i": {"a": a, "b": b, "last": last}})


def _ws():
    d = design_for("systolic_array", dataflow="weight_stationary", rows=4, cols=3)
    return d, ws_beats(d.params, ws_events(d.params, np.random.default_rng(13), 4))


CASES = {"int_mac": _int_mac, "fp_mac_fp8": _fp_mac, "systolic_ws": _ws}


@pytest.mark.parametrize("board, simulator", BOARD_SIMS)
@pytest.mark.parametrize("case", sorted(CASES))
def test_board_sim_matches_golden_model(case, board, simulator, tmp_path):
    """The whole board top with the host's protocol at the pins: bit-exact against the golden
    model, and equal to the PE simulated alone."""
    design, inputs = CASES[case]()
    result = simulate(design, inputs, target="board-sim", board=board, simulator=simulator,
                      check=True, work_dir=tmp_path)
    alone = simulate(design, inputs, simulator=simulator)
    for stream, fields in alone.codes.items():
        for name, codes in fields.items():
            assert len(codes) > 0
            assert np.array_equal(result.codes[stream][name], codes), (stream, name)


def test_long_output_stalls_lose_nothing(tmp_path):
    """lut_mpgemm answers every beat with two 57-byte rows: the UART back to the host is 4.5x
    slower than the beats coming in, so the PE stalls its output for thousands of cycles at a
    time while the host keeps sending 432 bytes into a 64-byte FIFO; every beat arrives, in order."""
    from sim.stimuli.lut_mpgemm import lut_operands
    from sim.stimuli import golden_outputs, field_code_matrix
    from sim.payload import code_matrix, pack_words

    design = design_for("lut_mpgemm", weight_bits=2, lut_k=4, cols=16, rows=2)
    streams = design.manifest["streams"]
    a, w, prec, last = lut_operands(design.params, np.random.default_rng(14), 16, mean_group=1.0,
                                    extremes=False)
    last[:] = True
    values = {"i": {"a": a, "w": w, "prec": prec, "last": last}}
    beats = {"i": payload_ints(pack_words(streams["i"], field_code_matrix(streams["i"],
                                                                         values["i"])))}
    got = run_board_sim(design, BOARDS["icebreaker"], beats, None, SIMULATORS[-1], tmp_path,
                        fifo_depth=64)
    want = golden_outputs("lut_mpgemm", design.params, streams, values)["o"]
    want_ints = payload_ints(pack_words(streams["o"], code_matrix(
        streams["o"]["fields"], field_code_matrix(streams["o"], want))))
    assert len(got["o"]) == 32
    assert got["o"] == want_ints


def test_peforge_board_run_board_sim(tmp_path, capsys):
    design, inputs = _int_mac()
    np.savez(tmp_path / "in.npz", **{f"i.{k}": np.asarray(v) for k, v in inputs["i"].items()})
    argv = ["board", "run", "int_mac", "--lanes", "4", "--board", "icebreaker", "--board-sim",
            "--inputs", str(tmp_path / "in.npz"), "--outputs", str(tmp_path / "out.npz"),
            "--check"]
    assert peforge(argv) == 0
    out = capsys.readouterr().out
    assert "check: every output beat equals the golden model's" in out
    alone = simulate(design, inputs)
    with np.load(tmp_path / "out.npz") as saved:
        assert np.array_equal(saved["o.acc"], alone.outputs["o"]["acc"])


@pytest.mark.parametrize("argv, line", [
    (["board", "run", "int_mac", "--board", "icebreaker", "--inputs", "x.npz"],
     "--port is required with a board (or use --board-sim)"),
    (["board", "run", "int_mac", "--board", "icebreaker", "--board-sim", "--inputs", "none.npz"],
     "--inputs: none.npz: no such file"),
    (["board", "build", "int_mac", "--board", "icebreaker", "--baud", "6000000"],
     "--baud: 6000000 baud needs at least 4 clock cycles per bit"),
    (["board", "build", "int_mac", "--board", "icebreaker", "--pe-clock-mhz", "500"],
     "--pe-clock-mhz: 500: the iCE40UP5K PLL makes 16 to 100 MHz"),
    (["board", "flash"], "unknown subcommand 'flash'; allowed: build, run"),
])
def test_board_command_mistakes(argv, line, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SystemExit) as info:
        code = peforge(argv)
        raise SystemExit(code)
    assert info.value.code == 2
    err = capsys.readouterr().err
    assert line in err and err.count("\n") == 1
    assert not (tmp_path / "build").exists() or not any((tmp_path / "build").rglob("*.bin"))


# -- board builds: the two failures users meet first ------------------------------------------

def test_build_that_does_not_fit_names_the_resource(tmp_path, capsys):
    """int_mac with 16 lanes wants 16 SB_MAC16; the iCE40UP5K has 8."""
    with pytest.raises(SystemExit) as info:
        peforge(["board", "build", "int_mac", "--lanes", "16", "--board", "icebreaker",
                 "-o", str(tmp_path)])
    assert info.value.code == 1
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2     # the progress line, then the one error line
    assert "icebreaker: the design needs 16 SB_MAC16, the iCE40UP5K has 8; try --no-dsp" in err[1]


def test_build_that_misses_its_clock_exits_1(tmp_path, capsys):
    """int_mac behind the bridge on a 90 MHz PLL clock: the iCE40 does not get there."""
    code = peforge(["board", "build", "int_mac", "--board", "icebreaker", "--pe-clock-mhz", "90",
                    "-o", str(tmp_path)])
    assert code == 1
    captured = capsys.readouterr()
    assert "FAILS timing" in captured.out
    assert "timing fails: Fmax " in captured.err and "lower --pe-clock-mhz" in captured.err
    assert list(tmp_path.rglob("top.bin")), "the bitstream is kept for --allow-timing-fail users"


# -- the serial transport, against a pseudo-terminal --------------------------------------------

@pytest.fixture
def pty_port():
    import os
    import pty

    master, slave = pty.openpty()
    yield master, os.ttyname(slave)
    os.close(master)
    os.close(slave)


def test_serial_no_answer_names_the_port(pty_port, monkeypatch):
    from sim.board import serial_link

    monkeypatch.setattr(serial_link, "ANSWER_TIMEOUT_S", 0.2)
    _, name = pty_port
    with pytest.raises(LinkError, match=rf"^no answer from the board on {name} after 3 identify "
                                        rf"requests of 0\.2 s each"):
        serial_link.run_serial(_session(), name, 115200)
