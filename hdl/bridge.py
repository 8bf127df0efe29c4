"""The board link: any generated PE's streams carried over a UART (:class:`UARTBridge`).

Protocol (bytes; a host in any language can speak it, see README "Board link")
--------------------------------------------------------------------------------
Host to board:

========================  ============================================================
``0x00 + s``, payload     one beat for input stream ``s`` (manifest order, ``s < 64``):
                          ``ceil(width / 8)`` payload bytes, least significant first
``0xF0`` barrier          later beats wait until every earlier beat was accepted by the
                          PE (a phase boundary)
``0xF1`` identify         the board answers with the identity frame
``0xF2`` reset            resets the PE and drops beats held in the bridge
``0xF3`` sync             like barrier, then the board answers ``0xFC``
========================  ============================================================

Board to host:

========================  ============================================================
``0x80 + s``, payload     one beat of output stream ``s``, as above
``0xFC``                  sync reached: every beat sent before it was accepted
``0xFD`` identity         ``"PEFG"``, protocol version, 8-byte design hash (SHA-256 of the
                          manifest, first 8 bytes), receive FIFO depth (2 bytes, LE),
                          status (bit 0 framing error, 1 receive overrun, 2 unknown
                          command; each since the last reset command): 17 bytes in all
``0xFE`` credit           the host may send :data:`CREDIT_UNIT` more bytes
========================  ============================================================

Flow control is by credits: received bytes wait in a FIFO of ``fifo_depth`` bytes, and the host
never has more than ``fifo_depth`` bytes unaccounted for: it starts with that many after the
identity frame (which resets the count) and gets :data:`CREDIT_UNIT` more for every ``0xFE``.
The bridge returns credits as it takes bytes out of the FIFO, which it does only as fast as the
PE accepts beats, so a PE that stalls for any time loses nothing however fast the host sends.
Output beats wait in one register per stream until the UART has sent them; the PE sees
back-pressure meanwhile.
"""

from __future__ import annotations

import hashlib

from amaranth.hdl import Cat, ClockSignal, Const, Instance, Module, ResetSignal, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.fifo import SyncFIFOBuffered
from amaranth.lib.wiring import In, Out

from .uart import UARTReceiver, UARTTransmitter

__all__ = [
    "StreamBridge", "UARTBridge", "design_hash", "payload_bytes", "default_fifo_depth",
    "BEAT_IN", "BEAT_OUT", "CMD_BARRIER", "CMD_IDENTIFY", "CMD_RESET", "CMD_SYNC",
    "REPLY_SYNC", "REPLY_IDENTITY", "REPLY_CREDIT", "IDENTITY_MAGIC", "PROTOCOL_VERSION",
    "IDENTITY_BYTES", "CREDIT_UNIT", "MAX_STREAMS",
]

BEAT_IN = 0x00
BEAT_OUT = 0x80
MAX_STREAMS = 64
CMD_BARRIER = 0xF0
CMD_IDENTIFY = 0xF1
CMD_RESET = 0xF2
CMD_SYNC = 0xF3
REPLY_SYNC = 0xFC
REPLY_IDENTITY = 0xFD
REPLY_CREDIT = 0xFE
IDENTITY_MAGIC = b"PEFG"
PROTOCOL_VERSION = 1
#: Length of the identity frame, its first byte included.
IDENTITY_BYTES = 1 + len(IDENTITY_MAGIC) + 1 + 8 + 2 + 1
CREDIT_UNIT = 16


def design_hash(manifest_text: str) -> bytes:
    """The 8 bytes that identify a design: the start of the SHA-256 of its manifest text."""
    return hashlib.sha256(manifest_text.encode()).digest()[:8]


def payload_bytes(width: int) -> int:
    """Bytes that carry a ``width``-bit payload."""
    return max(1, -(-width // 8))


def default_fifo_depth(streams: dict) -> int:
    """Receive FIFO depth: room for several of the largest input frames, at least 512 bytes
    (one iCE40 block RAM), a power of two."""
    largest = max(1 + payload_bytes(s["payload_width"]) for s in streams.values()
                  if s["direction"] == "in")
    need = max(512, 4 * largest + CREDIT_UNIT)
    return 1 << (need - 1).bit_length()


def _split(streams: dict) -> tuple[list, list]:
    ins = [(n, s) for n, s in streams.items() if s["direction"] == "in"]
    outs = [(n, s) for n, s in streams.items() if s["direction"] == "out"]
    if not ins or not outs or len(ins) > MAX_STREAMS or len(outs) > MAX_STREAMS:
        raise ValueError(f"the bridge carries 1 to {MAX_STREAMS} input and output streams; "
                         f"this design has {len(ins)} and {len(outs)}")
    return ins, outs


class StreamBridge(wiring.Component):
    """Bytes in, PE beats out and back (the protocol in this module's docstring).

    Members: ``rx`` (bytes from the receive FIFO), ``tx`` (bytes to the transmitter),
    ``in_<s>`` / ``out_<s>`` (one stream per PE stream, payload as wide as the PE's),
    ``pe_reset`` (high in the cycle the reset command is read), ``status`` (the receiver's
    framing error and overrun flags).

    A beat needs its header and payload bytes to arrive; it is then offered to the PE while the
    next frames are read, one held beat per input stream. Latency from the last payload byte to
    ``valid``: 1 cycle; from an output beat to its header byte on ``tx``: 1 cycle when idle.

    Parameters
    ----------
    streams : dict
        The manifest's ``streams`` section.
    ident : bytes
        The 8-byte design hash (:func:`design_hash`).
    fifo_depth : int
        Depth of the receive FIFO, announced in the identity frame.
    """

    def __init__(self, streams: dict, *, ident: bytes, fifo_depth: int):
        self.inputs, self.outputs = _split(streams)
        if len(ident) != 8:
            raise ValueError("ident: 8 bytes")
        self.ident, self.fifo_depth = ident, fifo_depth
        members = {
            "rx": In(stream.Signature(8)),
            "tx": Out(stream.Signature(8)),
            "pe_reset": Out(1),
            "status": In(2),
        }
        for name, spec in self.inputs:
            members[f"in_{name}"] = Out(stream.Signature(spec["payload_width"]))
        for name, spec in self.outputs:
            members[f"out_{name}"] = In(stream.Signature(spec["payload_width"]))
        super().__init__(members)

    def _identity_bytes(self) -> list:
        fixed = bytes([REPLY_IDENTITY]) + IDENTITY_MAGIC + bytes([PROTOCOL_VERSION]) + \
            self.ident + self.fifo_depth.to_bytes(2, "little")
        return [Const(b, 8) for b in fixed] + [Cat(self.status, self._unknown)]

    def elaborate(self, platform):
        m = Module()
        rx, tx = self.rx, self.tx
        n_in, n_out = len(self.inputs), len(self.outputs)
        # One register per stream, a whole number of bytes wide, shifted a byte at a time.
        held = [Signal(8 * payload_bytes(s["payload_width"]), name=f"held_{n}")
                for n, s in self.inputs]
        held_valid = [getattr(self, f"in_{n}").valid for n, _ in self.inputs]
        caught = [Signal(8 * payload_bytes(s["payload_width"]), name=f"caught_{n}")
                  for n, s in self.outputs]
        caught_valid = [Signal(name=f"caught_{n}_valid") for n, _ in self.outputs]
        max_bytes = max(payload_bytes(s["payload_width"]) for _, s in self.inputs + self.outputs)
        consumed = Signal(range(2 * self.fifo_depth + 1))
        ident_pending, sync_pending = Signal(), Signal()
        unknown = self._unknown = Signal()
        credit_sent, reset_cmd, identify = Signal(), Signal(), Signal()
        m.d.comb += self.pe_reset.eq(reset_cmd)

        for k, (name, spec) in enumerate(self.inputs):
            port = getattr(self, f"in_{name}")
            m.d.comb += port.payload.eq(held[k][:spec["payload_width"]])
            with m.If(port.valid & port.ready):
                m.d.sync += port.valid.eq(0)

        # -- transmit side: identity, sync, credits, then output beats (lowest stream first) --
        sending_out = Signal(range(max(n_out, 2)))
        in_beat = Signal()
        tx_left = Signal(range(max_bytes + 1))
        ident_index = Signal(range(IDENTITY_BYTES))
        identity = self._identity_bytes()
        for k, (name, spec) in enumerate(self.outputs):
            port = getattr(self, f"out_{name}")
            busy = in_beat & (sending_out == k)
            m.d.comb += port.ready.eq(~caught_valid[k] & ~busy)
            with m.If(port.valid & port.ready):
                m.d.sync += [caught[k].eq(port.payload), caught_valid[k].eq(1)]
        with m.FSM(name="transmit"):
            with m.State("Idle"):
                with m.If(ident_pending):
                    m.d.sync += [ident_pending.eq(0), ident_index.eq(0)]
                    m.next = "Identity"
                with m.Elif(sync_pending):
                    m.d.comb += [tx.payload.eq(REPLY_SYNC), tx.valid.eq(1)]
                    with m.If(tx.ready):
                        m.d.sync += sync_pending.eq(0)
                with m.Elif(consumed >= CREDIT_UNIT):
                    m.d.comb += [tx.payload.eq(REPLY_CREDIT), tx.valid.eq(1),
                                 credit_sent.eq(tx.ready)]
                for k, (name, spec) in enumerate(self.outputs):
                    with m.Elif(caught_valid[k]):
                        m.d.comb += [tx.payload.eq(BEAT_OUT + k), tx.valid.eq(1)]
                        with m.If(tx.ready):
                            m.d.sync += [sending_out.eq(k), in_beat.eq(1),
                                         tx_left.eq(payload_bytes(spec["payload_width"]))]
                            m.next = "Beat"
            with m.State("Identity"):
                with m.Switch(ident_index):
                    for index, byte in enumerate(identity):
                        with m.Case(index):
                            m.d.comb += tx.payload.eq(byte)
                m.d.comb += tx.valid.eq(1)
                with m.If(tx.ready):
                    m.d.sync += ident_index.eq(ident_index + 1)
                    with m.If(ident_index == IDENTITY_BYTES - 1):
                        m.next = "Idle"
            with m.State("Beat"):
                m.d.comb += tx.valid.eq(1)
                with m.Switch(sending_out):
                    for k in range(n_out):
                        with m.Case(k):
                            m.d.comb += tx.payload.eq(caught[k][:8])
                            with m.If(tx.ready):
                                m.d.sync += caught[k].eq(caught[k] >> 8)
                                with m.If(tx_left == 1):
                                    m.d.sync += caught_valid[k].eq(0)
                with m.If(tx.ready):
                    m.d.sync += tx_left.eq(tx_left - 1)
                    with m.If(tx_left == 1):
                        m.d.sync += in_beat.eq(0)
                        m.next = "Idle"

        # -- receive side: parse frames; a command set here wins over the transmit side's clear --
        stream_sel = Signal(range(max(n_in, 2)))
        rx_left = Signal(range(max_bytes + 1))
        any_held = Cat(*held_valid).any()
        popped = rx.valid & rx.ready
        with m.FSM(name="receive"):
            with m.State("Header"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    with m.If(rx.payload < n_in):
                        m.d.sync += stream_sel.eq(rx.payload)
                        m.next = "Wait"
                    with m.Elif(rx.payload == CMD_BARRIER):
                        m.next = "Barrier"
                    with m.Elif(rx.payload == CMD_IDENTIFY):
                        m.d.sync += ident_pending.eq(1)
                        m.d.comb += identify.eq(1)
                    with m.Elif(rx.payload == CMD_RESET):
                        m.d.comb += reset_cmd.eq(1)
                    with m.Elif(rx.payload == CMD_SYNC):
                        m.next = "Sync"
                    with m.Else():
                        m.d.sync += unknown.eq(1)
            with m.State("Wait"):
                with m.Switch(stream_sel):
                    for k, (name, spec) in enumerate(self.inputs):
                        with m.Case(k):
                            with m.If(~held_valid[k]):
                                m.d.sync += rx_left.eq(payload_bytes(spec["payload_width"]))
                                m.next = "Payload"
            with m.State("Payload"):
                m.d.comb += rx.ready.eq(1)
                with m.If(rx.valid):
                    m.d.sync += rx_left.eq(rx_left - 1)
                    with m.Switch(stream_sel):
                        for k in range(n_in):
                            with m.Case(k):
                                m.d.sync += held[k].eq(Cat(held[k][8:], rx.payload))
                                with m.If(rx_left == 1):
                                    m.d.sync += held_valid[k].eq(1)
                    with m.If(rx_left == 1):
                        m.next = "Header"
            with m.State("Barrier"):
                with m.If(~any_held):
                    m.next = "Header"
            with m.State("Sync"):
                with m.If(~any_held):
                    m.d.sync += sync_pending.eq(1)
                    m.next = "Header"

        with m.If(identify):
            m.d.sync += consumed.eq(0)
        with m.Else():
            m.d.sync += consumed.eq(consumed + popped - Cat(Const(0, 4), credit_sent))
        with m.If(reset_cmd):
            m.d.sync += unknown.eq(0)
            m.d.sync += [v.eq(0) for v in held_valid]
            m.d.sync += [v.eq(0) for k, v in enumerate(caught_valid)]
        return m


class UARTBridge(wiring.Component):
    """A PE (by its Verilog module name) behind a UART: receiver, receive FIFO,
    :class:`StreamBridge`, transmitter. The PE runs in the same clock domain as the UART and is
    reset by the domain's reset or the reset command.

    Parameters
    ----------
    module : str
        The PE's Verilog module name (its Verilog must be added beside this one).
    manifest : dict
        The PE's manifest (streams, clock and reset port names).
    ident : bytes
        :func:`design_hash` of the manifest text.
    divisor : int
        Clock cycles per UART bit (:func:`hdl.uart.baud_divisor`).
    fifo_depth : int, optional
        Receive FIFO bytes (default :func:`default_fifo_depth`).
    """

    def __init__(self, module: str, manifest: dict, *, ident: bytes, divisor: int,
                 fifo_depth: int | None = None):
        self.module, self.manifest = module, manifest
        self.ident, self.divisor = ident, divisor
        self.fifo_depth = fifo_depth or default_fifo_depth(manifest["streams"])
        super().__init__({"rx": In(1, init=1), "tx": Out(1, init=1)})

    def elaborate(self, platform):
        m = Module()
        streams = self.manifest["streams"]
        m.submodules.receiver = receiver = UARTReceiver(self.divisor)
        m.submodules.fifo = fifo = SyncFIFOBuffered(width=8, depth=self.fifo_depth)
        m.submodules.bridge = bridge = StreamBridge(streams, ident=self.ident,
                                                    fifo_depth=self.fifo_depth)
        m.submodules.transmitter = transmitter = UARTTransmitter(self.divisor)
        m.d.comb += [receiver.rx.eq(self.rx), self.tx.eq(transmitter.tx)]
        wiring.connect(m, receiver.bytes, fifo.w_stream)
        wiring.connect(m, fifo.r_stream, bridge.rx)
        wiring.connect(m, bridge.tx, transmitter.bytes)
        m.d.comb += [bridge.status.eq(Cat(receiver.framing_error, receiver.overrun)),
                     receiver.clear.eq(bridge.pe_reset)]
        # The reset command resets the PE in the same cycle as it drops the bridge's held
        # beats, so no beat of the old run can be caught after it.
        ports = {f"i_{self.manifest['clock']}": ClockSignal(),
                 f"i_{self.manifest['reset']}": ResetSignal() | bridge.pe_reset}
        for name, spec in streams.items():
            port = getattr(bridge, f"{'in' if spec['direction'] == 'in' else 'out'}_{name}")
            inward = spec["direction"] == "in"
            ports[f"{'i' if inward else 'o'}_{spec['valid']}"] = port.valid
            ports[f"{'o' if inward else 'i'}_{spec['ready']}"] = port.ready
            ports[f"{'i' if inward else 'o'}_{spec['payload']}"] = port.payload
        m.submodules.pe = Instance(self.module, **ports)
        return m
