"""A small 8N1 UART: :class:`UARTReceiver` and :class:`UARTTransmitter`, bytes as ``lib.stream``.

Both run ``divisor`` clock cycles per bit (the clock frequency over the baud rate, rounded:
:func:`baud_divisor` checks that the rounding error stays within what a UART tolerates).
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Signal
from amaranth.lib import stream, wiring
from amaranth.lib.cdc import FFSynchronizer
from amaranth.lib.wiring import In, Out

__all__ = ["UARTReceiver", "UARTTransmitter", "baud_divisor", "MIN_DIVISOR", "MAX_BAUD_ERROR"]

#: Fewest clock cycles per bit: the receiver samples at mid-bit, which needs a few cycles.
MIN_DIVISOR = 4
#: Largest relative baud-rate error accepted. A receiver samples the stop bit 9.5 bit times after
#: the start edge, so two ends off by 5 % in total lose the byte; half of that is left for the
#: other end (FTDI chips are within 3 %).
MAX_BAUD_ERROR = 0.025


def baud_divisor(clock_hz: float, baud: int) -> int:
    """Clock cycles per bit for ``baud`` at ``clock_hz``; raises ``ValueError`` (one line naming
    what is allowed) when the rounded divisor is below :data:`MIN_DIVISOR` or the rate it gives
    is more than :data:`MAX_BAUD_ERROR` off."""
    divisor = round(clock_hz / baud)
    if divisor < MIN_DIVISOR:
        raise ValueError(f"{baud} baud needs at least {MIN_DIVISOR} clock cycles per bit, "
                         f"{clock_hz / 1e6:g} MHz gives {clock_hz / baud:.2f}; allowed: up to "
                         f"{int(clock_hz // MIN_DIVISOR)} baud at this clock")
    error = abs(clock_hz / divisor - baud) / baud
    if error > MAX_BAUD_ERROR:
        near = sorted({int(clock_hz / d) for d in (divisor - 1, divisor, divisor + 1)
                       if d >= MIN_DIVISOR}, reverse=True)
        raise ValueError(f"{baud} baud is {error:.1%} off at {clock_hz / 1e6:g} MHz "
                         f"({clock_hz / baud:.2f} cycles per bit); allowed: rates within "
                         f"{MAX_BAUD_ERROR:.1%} of {clock_hz / 1e6:g} MHz / n, e.g. "
                         f"{', '.join(map(str, near))}")
    return divisor


def _checked(divisor: int) -> int:
    if divisor < MIN_DIVISOR:
        raise ValueError(f"divisor {divisor}; allowed: at least {MIN_DIVISOR}")
    return divisor


class UARTReceiver(wiring.Component):
    """8N1 receiver: each byte on ``rx`` (LSB first) comes out on ``bytes``.

    ``rx`` passes a two-flop synchronizer; a low level starts a byte, which is confirmed at the
    middle of the start bit; data bits and the stop bit are sampled ``divisor`` cycles apart from
    there. A byte whose stop bit is low is dropped and sets ``framing_error``; a byte that finds
    ``bytes`` still full (its consumer too slow) is dropped and sets ``overrun``. Both flags are
    sticky until reset or ``clear``. Latency: a byte is offered half a bit after its stop bit began.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (at least :data:`MIN_DIVISOR`).
    """

    def __init__(self, divisor: int):
        self.divisor = _checked(divisor)
        super().__init__({
            "rx": In(1, init=1),
            "bytes": Out(stream.Signature(8)),
            "framing_error": Out(1),
            "overrun": Out(1),
            "clear": In(1),
        })

    def elaborate(self, platform):
        m = Module()
        rx = Signal(init=1)
        m.submodules.rx_sync = FFSynchronizer(self.rx, rx, init=1)
        timer = Signal(range(self.divisor))
        bits = Signal(8)
        count = Signal(range(9))
        with m.If(timer != 0):
            m.d.sync += timer.eq(timer - 1)
        with m.If(self.bytes.ready):
            m.d.sync += self.bytes.valid.eq(0)
        with m.FSM():
            with m.State("Idle"):
                with m.If(~rx):
                    m.d.sync += timer.eq(self.divisor // 2 - 1)
                    m.next = "Start"
            with m.State("Start"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), count.eq(0)]
                    # A high level at mid-bit was a glitch, not a start bit.
                    with m.If(rx):
                        m.next = "Idle"
                    with m.Else():
                        m.next = "Data"
            with m.State("Data"):
                with m.If(timer == 0):
                    m.d.sync += [timer.eq(self.divisor - 1), bits.eq(Cat(bits[1:], rx)),
                                 count.eq(count + 1)]
                    with m.If(count == 7):
                        m.next = "Stop"
            with m.State("Stop"):
                with m.If(timer == 0):
                    with m.If(~rx):
                        m.d.sync += self.framing_error.eq(1)
                    with m.Elif(self.bytes.valid & ~self.bytes.ready):
                        m.d.sync += self.overrun.eq(1)
                    with m.Else():
                        m.d.sync += [self.bytes.payload.eq(bits), self.bytes.valid.eq(1)]
                    m.next = "Idle"
        with m.If(self.clear):
            m.d.sync += [self.framing_error.eq(0), self.overrun.eq(0)]
        return m


class UARTTransmitter(wiring.Component):
    """8N1 transmitter: each byte accepted on ``bytes`` goes out on ``tx``, LSB first.

    ``tx`` is a register (no glitches on the pin) and idles high. A byte is accepted when the
    previous one's stop bit is over, so back-to-back bytes leave with no gap: 10 bits per byte.

    Parameters
    ----------
    divisor : int
        Clock cycles per bit (at least :data:`MIN_DIVISOR`).
    """

    def __init__(self, divisor: int):
        self.divisor = _checked(divisor)
        super().__init__({
            "bytes": In(stream.Signature(8)),
            "tx": Out(1, init=1),
        })

    def elaborate(self, platform):
        m = Module()
        timer = Signal(range(self.divisor))
        # Start bit, 8 data bits, stop bit; shifted out LSB first.
        frame = Signal(10, init=0x3FF)
        left = Signal(range(11))
        m.d.comb += self.bytes.ready.eq(left == 0)
        with m.If(self.bytes.valid & self.bytes.ready):
            m.d.sync += [frame.eq(Cat(Const(0, 1), self.bytes.payload, Const(1, 1))),
                         left.eq(10), timer.eq(self.divisor - 1)]
        with m.Elif(left != 0):
            with m.If(timer == 0):
                m.d.sync += [frame.eq(Cat(frame[1:], Const(1, 1))), left.eq(left - 1),
                             timer.eq(self.divisor - 1)]
            with m.Else():
                m.d.sync += timer.eq(timer - 1)
        m.d.comb += self.tx.eq(frame[0])
        return m
