"""The boards peforge builds for, declared once: clock, FPGA, resources, how to program them.

The Amaranth platform classes come from amaranth-boards; only what they do not say is here.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Board", "BOARDS", "board_named", "DEFAULT_BAUD", "SIM_BAUD_DIVISOR"]

#: Default UART rate of the board link; FTDI chips on both boards reach 3 Mbaud.
DEFAULT_BAUD = 115200
#: Clock cycles per bit when the board top runs in simulation (fast, and exact).
SIM_BAUD_DIVISOR = 4


@dataclass(frozen=True)
class Board:
    """One supported board.

    Attributes
    ----------
    name, description : str
    clock_mhz : float
        The board oscillator, the default clock of its platform.
    family : str
        ``"ice40"`` or ``"ecp5"`` (Yosys / nextpnr flavour).
    device : str
        The FPGA, as users know it.
    bitstream : str
        Bitstream file suffix.
    dsp_cell : str
        The DSP multiplier primitive (what ``--no-dsp`` avoids).
    resources : dict
        nextpnr BEL type -> (what users call it, how many the device has), for "does not fit".
    loader_board : str
        openFPGALoader's ``-b`` name.
    pll_range_mhz : tuple
        PE clock frequencies the PLL can make.
    constraints : str
        Its file in ``constraints/`` (what amaranth-boards does not set).
    """

    name: str
    description: str
    clock_mhz: float
    family: str
    device: str
    bitstream: str
    dsp_cell: str
    resources: dict
    loader_board: str
    pll_range_mhz: tuple
    constraints: str

    def platform_class(self):
        if self.name == "icebreaker":
            from amaranth_boards.icebreaker import ICEBreakerPlatform
            return ICEBreakerPlatform
        from amaranth_boards.ulx3s import ULX3S_85F_Platform
        return ULX3S_85F_Platform


BOARDS = {
    "icebreaker": Board(
        "icebreaker", "iCEBreaker, iCE40UP5K-SG48, 12 MHz", 12.0, "ice40", "iCE40UP5K", "bin",
        "SB_MAC16",
        {"ICESTORM_LC": ("logic cells (LUT4 + FF)", 5280), "ICESTORM_DSP": ("SB_MAC16", 8),
         "ICESTORM_RAM": ("SB_RAM40_4K", 30), "ICESTORM_SPRAM": ("SB_SPRAM256KA", 4)},
        "icebreaker", (16.0, 100.0), "icebreaker.pcf"),
    "ulx3s": Board(
        "ulx3s", "ULX3S, LFE5U-85F-CABGA381, 25 MHz", 25.0, "ecp5", "LFE5U-85F", "bit",
        "MULT18X18D",
        {"TRELLIS_COMB": ("LUT4", 83640), "TRELLIS_FF": ("flip-flops", 83640),
         "MULT18X18D": ("MULT18X18D", 156), "DP16KD": ("DP16KD", 208)},
        "ulx3s", (10.0, 200.0), "ulx3s.lpf"),
}


def board_named(name: str) -> Board:
    try:
        return BOARDS[name]
    except KeyError:
        raise ValueError(f"board {name!r}; allowed: {', '.join(BOARDS)}") from None
