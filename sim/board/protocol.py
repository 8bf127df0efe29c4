"""The host end of the board link (:mod:`hdl.bridge` is the board end), without any I/O.

:class:`HostSession` turns a run's input beats into bytes to send and the bytes received into
output beats; a transport (:mod:`sim.board.link`: a serial port, or the simulated UART pins of
the board top in cocotb) only moves bytes and tells the time. So the bytes that reach a real board
and the simulated one are made by the same code.

A session:

1. *hello*: :data:`~hdl.bridge.CMD_BARRIER` bytes to complete any frame a previous,
   interrupted host left half-sent, then reset and identify; everything received before the
   identity frame is dropped;
2. checks the identity (protocol version, design hash) and takes the FIFO depth as its credit;
3. sends the beats in phase order (a barrier where the phase changes), never more bytes than
   its credit, then a sync; collects output frames;
4. is complete when the sync reply arrived and nothing more came for the quiet time.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hdl.bridge import (BEAT_IN, BEAT_OUT, CMD_BARRIER, CMD_IDENTIFY, CMD_RESET, CMD_SYNC,
                        CREDIT_UNIT, IDENTITY_BYTES, IDENTITY_MAGIC, PROTOCOL_VERSION,
                        REPLY_CREDIT, REPLY_IDENTITY, REPLY_SYNC, design_hash, payload_bytes)

__all__ = ["HostSession", "LinkError", "Identity", "frames", "conversation", "next_request"]


class LinkError(RuntimeError):
    """The board does not answer as the design should: one line saying what went wrong."""


@dataclass(frozen=True)
class Identity:
    """What a board's identity frame says."""

    version: int
    design: bytes
    fifo_depth: int
    status: int

    def problems(self) -> list[str]:
        names = ("UART framing error", "receive overrun", "unknown command")
        return [n for bit, n in enumerate(names) if self.status >> bit & 1]


def parse_identity(frame: bytes) -> Identity:
    body = frame[1 + len(IDENTITY_MAGIC):]
    return Identity(body[0], bytes(body[1:9]), int.from_bytes(body[9:11], "little"), body[11])


def frames(streams: dict, beats: dict, phases: dict | None = None) -> list[bytes]:
    """The frames (header byte and payload) that carry ``beats`` (per input stream, payload
    integers in order), in phase order, with a barrier wherever the phase grows. Within a phase
    the streams' beats are interleaved: beat 0 of every stream, then beat 1, ..."""
    inputs = [n for n, s in streams.items() if s["direction"] == "in"]
    order = []
    for k, name in enumerate(inputs):
        ph = (phases or {}).get(name)
        for index, word in enumerate(beats.get(name, [])):
            order.append((0 if ph is None else int(ph[index]), index, k, word))
    order.sort(key=lambda item: item[:3])
    out, phase = [], None
    for ph, _, k, word in order:
        if phase is not None and ph != phase:
            out.append(bytes([CMD_BARRIER]))
        phase = ph
        width = streams[inputs[k]]["payload_width"]
        out.append(bytes([BEAT_IN + k]) + int(word).to_bytes(payload_bytes(width), "little"))
    return out


@dataclass
class HostSession:
    """One run over the link (see the module docstring).

    Parameters
    ----------
    manifest_text : str
        The design's manifest as written (its hash identifies the design).
    manifest : dict
        The same, parsed.
    beats, phases : dict
        Per input stream the payload integers and (optional) phases.
    quiet : float
        Seconds (of the transport's clock) without a byte after the sync reply that end the run.
    """

    manifest_text: str
    manifest: dict
    beats: dict
    phases: dict | None = None
    quiet: float = 0.2
    identity: Identity | None = None
    outputs: dict = field(default_factory=dict)
    _rx: bytearray = field(default_factory=bytearray)
    _todo: list = field(default_factory=list)
    _credit: int = 0
    _synced: bool = False
    _last_byte: float = 0.0

    def __post_init__(self):
        streams = self.manifest["streams"]
        self._out_names = [n for n, s in streams.items() if s["direction"] == "out"]
        self._out_bytes = [payload_bytes(streams[n]["payload_width"]) for n in self._out_names]
        self.outputs = {n: [] for n in self._out_names}
        self._todo = frames(streams, self.beats, self.phases) + [bytes([CMD_SYNC])]
        self._todo.reverse()
        self.expected_design = design_hash(self.manifest_text)

    def hello(self) -> bytes:
        """The first bytes to send (also to send again when no identity came back)."""
        longest = max(self._out_bytes + [payload_bytes(s["payload_width"])
                                         for s in self.manifest["streams"].values()])
        return bytes([CMD_BARRIER] * (longest + 1) + [CMD_RESET, CMD_IDENTIFY])

    def to_send(self) -> bytes:
        """Bytes that may go out now: whole frames, within the credit."""
        if self.identity is None:
            return b""
        out = bytearray()
        while self._todo and len(self._todo[-1]) <= self._credit:
            frame = self._todo.pop()
            self._credit -= len(frame)
            out += frame
        return bytes(out)

    @property
    def sent_everything(self) -> bool:
        return self.identity is not None and not self._todo

    def receive(self, data: bytes, now: float) -> None:
        """Take bytes that arrived by time ``now`` (seconds on the transport's clock)."""
        if data:
            self._last_byte = now
            self._rx += data
        if self.identity is None:
            self._find_identity()
        while self.identity is not None and self._rx:
            head = self._rx[0]
            if head == REPLY_CREDIT:
                self._credit += CREDIT_UNIT
                del self._rx[:1]
            elif head == REPLY_SYNC:
                self._synced = True
                del self._rx[:1]
            elif BEAT_OUT <= head < BEAT_OUT + len(self._out_names):
                k = head - BEAT_OUT
                size = 1 + self._out_bytes[k]
                if len(self._rx) < size:
                    return
                self.outputs[self._out_names[k]].append(
                    int.from_bytes(self._rx[1:size], "little"))
                del self._rx[:size]
            else:
                raise LinkError(f"unexpected byte 0x{head:02x} from the board (not a frame "
                                f"header of this design's protocol)")

    def _find_identity(self) -> None:
        start = self._rx.find(bytes([REPLY_IDENTITY]) + IDENTITY_MAGIC)
        if start < 0 or len(self._rx) < start + IDENTITY_BYTES:
            return
        identity = parse_identity(bytes(self._rx[start:start + IDENTITY_BYTES]))
        if identity.version != PROTOCOL_VERSION:
            raise LinkError(f"the board speaks bridge protocol version {identity.version}, "
                            f"this host {PROTOCOL_VERSION}; rebuild the bitstream")
        if identity.design != self.expected_design:
            raise LinkError(f"the board carries another design (hash {identity.design.hex()}, "
                            f"expected {self.expected_design.hex()} for "
                            f"{self.manifest['module']}); build and program this one "
                            f"(peforge board build / --program)")
        if identity.problems():
            raise LinkError(f"the board reports {', '.join(identity.problems())} from earlier "
                            f"traffic; reset or reprogram it")
        self.identity = identity
        self._credit = identity.fifo_depth
        del self._rx[:start + IDENTITY_BYTES]

    def complete(self, now: float) -> bool:
        """Everything sent, the sync reply received and the line quiet since ``quiet``."""
        return self._synced and now - self._last_byte >= self.quiet


def next_request(steps, reply):
    """The :func:`conversation`'s next request after ``reply`` (None to start), or None once it
    is over."""
    try:
        return steps.send(reply)
    except StopIteration:
        return None


def conversation(session: HostSession, *, answer_timeout: float, attempts: int = 3,
                 where: str = "the board"):
    """The whole exchange as a generator of requests to a transport, so that every transport
    runs the same steps: it yields ``("send", data)`` and ``("receive", None)`` (wait up to the
    transport's poll interval) and is sent back ``(received bytes, now)`` after each.

    Raises :class:`LinkError` when no identity comes back within ``answer_timeout`` after
    ``attempts`` hellos, or when the board then goes silent that long before the run is
    complete."""
    data, now = yield ("send", session.hello())
    started, tries = now, 1
    while session.identity is None:
        data, now = yield ("receive", None)
        session.receive(data, now)
        if session.identity is None and now - started > answer_timeout:
            if tries == attempts:
                raise LinkError(f"no answer from {where} after {attempts} identify requests "
                                f"of {answer_timeout:g} s each: wrong port, board not "
                                f"programmed with this design's bitstream, or wrong baud rate")
            tries += 1
            data, now = yield ("send", session.hello())
            started = now
    heard = now
    while not session.complete(now):
        out = session.to_send()
        if out:
            data, now = yield ("send", out)
            session.receive(data, now)
        data, now = yield ("receive", None)
        session.receive(data, now)
        if data:
            heard = now
        elif now - heard > answer_timeout + session.quiet:
            got = sum(map(len, session.outputs.values()))
            raise LinkError(f"{where} went silent for {answer_timeout:g} s "
                            f"({'all beats sent' if session.sent_everything else 'beats left to send'}"
                            f", {got} output beats received, no sync reply)")
