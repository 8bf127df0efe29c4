"""Board harness that keeps every bit of a stream PE alive on a real FPGA.

A PE has far more ports than a small package has pins (the int_mac K=8 input payload alone is
129 bits), and synthesis removes any logic whose result is not observable. The harness therefore
drives all PE inputs from on-chip LFSRs and folds all PE outputs into a rotating XOR register
(a MISR) whose bits reach a few LEDs:

* every input stream: ``payload`` from LFSR bits, ``valid`` from an LFSR bit (so the PE sees idle
  cycles); its ``ready`` goes into the fold;
* every output stream: ``ready`` from an LFSR bit (so back-pressure happens); its ``valid`` and
  ``payload`` go into the fold.

Because the fold register rotates, every bit of it eventually influences every LED, so no PE
output is constant or unused as far as synthesis can tell. All harness logic is registered, so
the reported Fmax is that of register-to-register paths through the PE (inputs come straight
from flops, outputs go straight into flops).

The PE is instantiated as a Verilog module (``Instance``) rather than as an Amaranth component:
the same harness then serves both the generated PE and the hand-written baseline, and the
bitstream contains exactly the Verilog text that ``generate-verilog`` ships.
"""

from __future__ import annotations

from amaranth.build import ResourceError
from amaranth.hdl import Cat, ClockSignal, Elaboratable, Instance, Module, Signal

__all__ = ["StreamHarness", "LFSR_TAPS"]

#: Taps of a maximal-length 32-bit Fibonacci LFSR (x^32 + x^22 + x^2 + x + 1), 0-based.
LFSR_TAPS = (31, 21, 1, 0)
LFSR_WIDTH = 32
#: Most boards have at least this many user LEDs; the harness uses as many as exist, up to it.
MAX_LEDS = 8


def _lfsr_seed(index: int) -> int:
    """A distinct non-zero start value for LFSR ``index`` (golden-ratio spacing)."""
    return ((index + 1) * 0x9E3779B9) & 0xFFFF_FFFF or 1


class StreamHarness(Elaboratable):
    """Top-level wrapper of a stream PE given by its Verilog module name and manifest streams.

    Parameters
    ----------
    module : str
        Verilog module name of the PE (its file must be added to the platform).
    streams : dict
        The manifest's ``streams`` section: per stream ``direction`` (``"in"``/``"out"``),
        ``valid``, ``ready``, ``payload`` port names and ``payload_width``.
    params : dict, optional
        Verilog parameters of the module (for parameterized baselines).
    clock, reset : str
        Names of the PE's clock and (synchronous, active-high) reset ports.
    """

    def __init__(self, module: str, streams: dict, *, params: dict | None = None,
                 clock: str = "clk", reset: str = "rst"):
        self.module = module
        self.streams = streams
        self.params = dict(params or {})
        self.clock = clock
        self.reset = reset

    def _random_bits(self, m: Module, count: int) -> list:
        """``count`` pseudo-random bits: the states of enough 32-bit LFSRs, each seeded apart."""
        bits = []
        for index in range(-(-count // LFSR_WIDTH)):
            lfsr = Signal(LFSR_WIDTH, name=f"lfsr{index}", init=_lfsr_seed(index))
            feedback = 0
            for tap in LFSR_TAPS:
                feedback = feedback ^ lfsr[tap]
            m.d.sync += lfsr.eq(Cat(feedback, lfsr[:-1]))
            bits.extend(lfsr[i] for i in range(LFSR_WIDTH))
        return bits[:count]

    def _power_on_reset(self, m: Module) -> Signal:
        """A registered reset, high for the first cycles after configuration.

        Not every board has a reset button (the ULX3S platform's ``sync`` domain is reset-less),
        so the PE's synchronous reset comes from this counter on every board.
        """
        count = Signal(4, name="por_count", reset_less=True)
        rst = Signal(name="pe_rst", init=1, reset_less=True)
        with m.If(~count.all()):
            m.d.sync += count.eq(count + 1)
        m.d.sync += rst.eq(~count.all())
        return rst

    def _connect(self, m: Module):
        """Create the PE instance; return the instance and the list of its output signals."""
        need = sum(1 + (s["payload_width"] if s["direction"] == "in" else 0)
                   for s in self.streams.values())
        bits = iter(self._random_bits(m, need))
        ports = {f"p_{k}": v for k, v in self.params.items()}
        ports[f"i_{self.clock}"] = ClockSignal("sync")
        ports[f"i_{self.reset}"] = self._power_on_reset(m)
        outputs = []
        for name, s in sorted(self.streams.items()):
            valid, ready = Signal(name=f"{name}_valid"), Signal(name=f"{name}_ready")
            payload = Signal(s["payload_width"], name=f"{name}_payload")
            if s["direction"] == "in":
                m.d.comb += [valid.eq(next(bits)),
                             payload.eq(Cat(next(bits) for _ in range(s["payload_width"])))]
                ports.update({f"i_{s['valid']}": valid, f"o_{s['ready']}": ready,
                              f"i_{s['payload']}": payload})
                outputs.append(ready)
            else:
                m.d.comb += ready.eq(next(bits))
                ports.update({f"o_{s['valid']}": valid, f"i_{s['ready']}": ready,
                              f"o_{s['payload']}": payload})
                outputs.extend([valid, payload])
        return Instance(self.module, **ports), outputs

    def _leds(self, platform) -> list:
        leds = []
        for index in range(MAX_LEDS):
            try:
                leds.append(platform.request("led", index))
            except ResourceError:
                break
        return leds

    def elaborate(self, platform):
        m = Module()
        m.submodules.pe, outputs = self._connect(m)
        observed = Cat(*outputs)
        # Rotate-and-XOR: every observed bit reaches every position of the fold over time.
        fold = Signal(len(observed), name="fold")
        m.d.sync += fold.eq(Cat(fold[-1], fold[:-1]) ^ observed)
        leds = self._leds(platform) if platform is not None else []
        for index, led in enumerate(leds):
            m.d.comb += led.o.eq(fold[index % len(fold)])
        if not leds:
            # No LEDs (e.g. converted without a platform): expose the fold as a port instead.
            self.fold = fold
        return m
