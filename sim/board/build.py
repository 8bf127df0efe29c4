"""Bitstreams for the boards (``peforge board build``): a PE behind the UART bridge
(:class:`hdl.bridge.UARTBridge`) or in the LFSR harness (:class:`hdl.harness.StreamHarness`), on
the board clock or on a PLL clock, built with the YoWASP tools through amaranth-boards.

A build that does not fit names the resource and how many the device has; a build that misses
its clock says by how much. Both are :class:`BoardBuildError` (one line).
"""

from __future__ import annotations

import copy
import re
import subprocess
from dataclasses import dataclass
from pathlib import Path

from amaranth.hdl import ClockDomain, ClockSignal, Elaboratable, Instance, Module, Signal
from amaranth.lib import io

from sim.fpga import FlowError, build_env, last_error, netlist_figures, parse_nextpnr_report

from .boards import DEFAULT_BAUD, Board

__all__ = ["BoardBuildError", "BoardTop", "board_build", "check_clock", "harness_build", "clock_platform",
           "ice40_pll", "ecp5_pll", "DEFAULT_SEED"]

#: The board constraint files (PCF / LPF), in the repository's ``constraints/``.
CONSTRAINTS_DIR = Path(__file__).resolve().parents[2] / "constraints"

#: nextpnr placement seed: fixed so that repeated builds give identical results.
DEFAULT_SEED = 1


class BoardBuildError(FlowError):
    """The design does not fit, misses timing, or a tool failed: one line for the user."""


# -- PLL settings ---------------------------------------------------------------------------

@dataclass(frozen=True)
class PLLSetting:
    params: dict
    mhz: float


def ice40_pll(fin_mhz: float, fout_mhz: float) -> PLLSetting:
    """SB_PLL40 (simple feedback) dividers closest to ``fout_mhz``: f_pfd = fin / (DIVR+1) in
    10..133 MHz, f_vco = f_pfd * (DIVF+1) in 533..1066 MHz, fout = f_vco / 2^DIVQ (DIVQ 1..6);
    the loop filter range follows f_pfd (iCE40 sysCLOCK PLL guide)."""
    best = None
    for divr in range(16):
        pfd = fin_mhz / (divr + 1)
        if not 10 <= pfd <= 133:
            continue
        for divf in range(128):
            vco = pfd * (divf + 1)
            if not 533 <= vco <= 1066:
                continue
            for divq in range(1, 7):
                out = vco / 2 ** divq
                if best is None or abs(out - fout_mhz) < abs(best.mhz - fout_mhz):
                    filt = next(i for i, top in enumerate((17, 26, 44, 66, 101, 1e9), 1)
                                if pfd < top)
                    best = PLLSetting({"DIVR": divr, "DIVF": divf, "DIVQ": divq,
                                       "FILTER_RANGE": filt}, out)
    if best is None:
        raise ValueError(f"no iCE40 PLL setting from {fin_mhz:g} MHz")
    return best


def ecp5_pll(fin_mhz: float, fout_mhz: float) -> PLLSetting:
    """EHXPLLL dividers closest to ``fout_mhz``: fout = fin * CLKFB_DIV / CLKI_DIV with
    f_pfd = fin / CLKI_DIV >= 3.125 MHz and f_vco = fout * CLKOP_DIV in 400..800 MHz."""
    best = None
    for clki in range(1, 129):
        if fin_mhz / clki < 3.125:
            break
        for clkfb in range(1, 129):
            out = fin_mhz * clkfb / clki
            for clkop in range(1, 129):
                if 400 <= out * clkop <= 800:
                    if best is None or abs(out - fout_mhz) < abs(best.mhz - fout_mhz):
                        best = PLLSetting({"CLKI_DIV": clki, "CLKFB_DIV": clkfb,
                                           "CLKOP_DIV": clkop}, out)
                    break
    if best is None:
        raise ValueError(f"no ECP5 PLL setting from {fin_mhz:g} MHz")
    return best


# -- the top ----------------------------------------------------------------------------------

class BoardTop(Elaboratable):
    """What goes on the board: ``core`` (an Elaboratable in the ``sync`` domain with ``rx`` /
    ``tx`` members for the UART pins, or none for the LFSR harness, which drives LEDs itself)
    clocked by the board oscillator or a PLL, reset for the first 16 cycles (and while the PLL
    is not locked).

    Parameters
    ----------
    board : Board
    core : Elaboratable
    pe_clock_mhz : float, optional
        Run the core on a PLL clock of this frequency (the achieved one is ``clock_mhz``).
    """

    def __init__(self, board: Board, core, *, pe_clock_mhz: float | None = None):
        self.board, self.core = board, core
        self.pll = None
        if pe_clock_mhz is not None:
            make = ice40_pll if board.family == "ice40" else ecp5_pll
            self.pll = make(board.clock_mhz, pe_clock_mhz)
        self.clock_mhz = self.pll.mhz if self.pll else board.clock_mhz

    def elaborate(self, platform):
        m = Module()
        m.domains.sync = sync = ClockDomain("sync")
        m.domains.por = ClockDomain("por", reset_less=True)
        locked = Signal(init=1)
        if self.pll is None:
            m.submodules.clk_buffer = clk = io.Buffer("i", platform.request(platform.default_clk,
                                                                           dir="-"))
            m.d.comb += sync.clk.eq(clk.i)
        elif self.board.family == "ice40":
            pad = platform.request(platform.default_clk, dir="-")
            locked = Signal()
            p = self.pll.params
            m.submodules.pll = Instance(
                "SB_PLL40_PAD", p_FEEDBACK_PATH="SIMPLE", p_DIVR=p["DIVR"], p_DIVF=p["DIVF"],
                p_DIVQ=p["DIVQ"], p_FILTER_RANGE=p["FILTER_RANGE"], i_PACKAGEPIN=pad.io,
                i_RESETB=1, i_BYPASS=0, o_PLLOUTGLOBAL=sync.clk, o_LOCK=locked)
            platform.add_clock_constraint(sync.clk, self.clock_mhz * 1e6)
        else:
            m.submodules.clk_buffer = clk = io.Buffer("i", platform.request(platform.default_clk,
                                                                           dir="-"))
            locked = Signal()
            p = self.pll.params
            m.submodules.pll = Instance(
                "EHXPLLL", p_PLLRST_ENA="DISABLED", p_INTFB_WAKE="DISABLED",
                p_STDBY_ENABLE="DISABLED", p_DPHASE_SOURCE="DISABLED", p_OUTDIVIDER_MUXA="DIVA",
                p_CLKOP_ENABLE="ENABLED", p_CLKI_DIV=p["CLKI_DIV"], p_CLKOP_DIV=p["CLKOP_DIV"],
                p_CLKOP_CPHASE=p["CLKOP_DIV"] - 1, p_CLKOP_FPHASE=0, p_FEEDBK_PATH="CLKOP",
                p_CLKFB_DIV=p["CLKFB_DIV"], i_RST=0, i_STDBY=0, i_CLKI=clk.i,
                o_CLKOP=sync.clk, i_CLKFB=sync.clk, i_PHASESEL0=0, i_PHASESEL1=0,
                i_PHASEDIR=1, i_PHASESTEP=1, i_PHASELOADREG=1, i_PLLWAKESYNC=0, i_ENCLKOP=0,
                o_LOCK=locked)
            platform.add_clock_constraint(sync.clk, self.clock_mhz * 1e6)
        # Power-on reset: the boards have no reset button in common, and the PLL needs time.
        m.d.comb += ClockSignal("por").eq(sync.clk)
        count = Signal(4)
        with m.If(~locked):
            m.d.por += count.eq(0)
        with m.Elif(~count.all()):
            m.d.por += count.eq(count + 1)
        m.d.comb += sync.rst.eq(~count.all())
        m.submodules.core = self.core
        if hasattr(self.core, "rx"):
            uart = platform.request("uart", 0, dir="-")
            m.submodules.rx_buffer = rx = io.Buffer("i", uart.rx)
            m.submodules.tx_buffer = tx = io.Buffer("o", uart.tx)
            m.d.comb += [self.core.rx.eq(rx.i), tx.o.eq(self.core.tx)]
        return m


def clock_platform(board: Board, clock_mhz: float | None = None):
    """A fresh platform of ``board``; with ``clock_mhz`` its oscillator is constrained to that
    (tighter than the real clock: nextpnr then places for speed, for Fmax measurements)."""
    cls = board.platform_class()
    if clock_mhz is None:
        return cls()
    from amaranth.build import Clock
    resources = []
    for res in cls.resources:
        if res.name == cls.default_clk and res.clock is not None:
            res = copy.copy(res)
            res.clock = Clock(clock_mhz * 1e6)
        resources.append(res)
    return type(cls.__name__, (cls,), {"resources": resources})()


# -- building ---------------------------------------------------------------------------------

_UTILISATION = re.compile(r"^\s*Info:\s+(\w+):\s+(\d+)/\s*(\d+)\s+\d+%", re.M)


def _does_not_fit(board: Board, log: str, dsp: bool) -> str | None:
    """The one line for a placement that ran out of a resource, from nextpnr's utilisation."""
    for bel, used, have in _UTILISATION.findall(log):
        used, have = int(used), int(have)
        if used > have:
            what = board.resources.get(bel, (bel, have))[0]
            hint = "; try --no-dsp" if dsp and bel in ("ICESTORM_DSP", "MULT18X18D") else \
                "; try a smaller configuration"
            return f"the design needs {used} {what}, the {board.device} has {have}{hint}"
    return None


def apply_constraints(board: Board, generated: Path) -> None:
    """Append the board's file from ``constraints/`` to the constraint file Amaranth generated.
    A pin that file places again (``set_io`` in a PCF, e.g. to add a pull-up) replaces
    Amaranth's line for it: nextpnr-ice40 refuses a pin constrained twice."""
    path = CONSTRAINTS_DIR / board.constraints
    if not path.is_file():      # an installed wheel has no repository around it
        return
    extra = path.read_text()
    placed = set(re.findall(r"^set_io\s+(?:-\S+\s+(?:yes|no)\s+)*(\S+)", extra, re.M))
    lines = [ln for ln in generated.read_text().splitlines()
             if not (ln.split()[:1] == ["set_io"] and ln.split()[-2] in placed)]
    generated.write_text("\n".join(lines) + f"\n# --- constraints/{board.constraints} ---\n"
                         + extra)


def run_board_build(platform, top, board: Board, build_dir: Path, *, dsp: bool, seed: int,
                    files: dict, name: str = "top", constraints: bool = False) -> dict:
    """Build ``top`` with ``files`` (name -> Verilog) added, and with the board's file from
    ``constraints/`` appended to the pin constraints when ``constraints`` (tops with the UART);
    return the nextpnr summary with the netlist figures and the bitstream path. Raises
    :class:`BoardBuildError`."""
    build_dir = Path(build_dir)
    for filename, text in files.items():
        platform.add_file(filename, text)
    synth = {"ice40": "-dsp" if dsp else "", "ecp5": "" if dsp else "-nodsp"}[board.family]
    # Amaranth renders the build files itself (RTLIL, with its builtin Yosys); only the build
    # script below sees the YoWASP tool variables.
    plan = platform.build(top, name=name, do_build=False, synth_opts=synth,
                          nextpnr_opts=f"--seed {seed} --timing-allow-fail "
                                       f"--report {name}.report.json")
    plan.extract(str(build_dir))
    if constraints:
        apply_constraints(board, build_dir / f"{name}.{board.constraints.rsplit('.', 1)[1]}")
    log_path = build_dir / "build.log"
    with open(log_path, "w") as log:
        result = subprocess.run(["sh", f"{plan.script}.sh"], cwd=build_dir, env=build_env(),
                                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    if result.returncode != 0:
        # nextpnr's own log (utilisation) is <name>.tim in Amaranth's build scripts.
        text = "".join(p.read_text(errors="replace") for p in (log_path, build_dir / f"{name}.tim")
                       if p.is_file())
        reason = _does_not_fit(board, text, dsp) or \
            f"build failed: {last_error(log_path)} [log: {log_path}]"
        raise BoardBuildError(f"{board.name}: {reason}")
    summary = parse_nextpnr_report(build_dir / f"{name}.report.json")
    summary["cells"] = netlist_figures(build_dir / f"{name}.json", name, board.family)
    summary["bitstream"] = str(build_dir / f"{name}.{board.bitstream}")
    return summary


def harness_build(files: dict, module: str, streams: dict, board: Board, build_dir: Path, *,
                  params: dict | None = None, dsp: bool = False, seed: int = DEFAULT_SEED,
                  clock_mhz: float | None = None, name: str = "top") -> dict:
    """The PE (Verilog ``files``, top ``module``) in the LFSR harness on the board oscillator,
    constrained to ``clock_mhz`` if given (an Fmax build): the area/Fmax-only build."""
    from hdl.harness import StreamHarness

    top = StreamHarness(module, streams, params=params)
    summary = run_board_build(clock_platform(board, clock_mhz), top, board, build_dir, dsp=dsp,
                              seed=seed, files=files, name=name)
    summary["board_clock_mhz"] = board.clock_mhz
    return summary


def check_clock(board: Board, pe_clock_mhz: float | None, baud: int | None):
    """The clock the design will run on (the board's, or the PLL's nearest to
    ``pe_clock_mhz``) and the UART divisor for ``baud`` (None without a bridge); ``ValueError``
    (one line) for a frequency the PLL cannot make or a rate the clock cannot divide to."""
    from hdl.uart import baud_divisor

    clock_mhz = board.clock_mhz
    if pe_clock_mhz is not None:
        lo, hi = board.pll_range_mhz
        if not lo <= pe_clock_mhz <= hi:
            raise ValueError(f"--pe-clock-mhz: {pe_clock_mhz:g}: the {board.device} PLL makes "
                             f"{lo:g} to {hi:g} MHz; allowed: {lo:g} to {hi:g}")
        clock_mhz = (ice40_pll if board.family == "ice40" else ecp5_pll)(
            board.clock_mhz, pe_clock_mhz).mhz
    try:
        divisor = None if baud is None else baud_divisor(clock_mhz * 1e6, baud)
    except ValueError as exc:
        raise ValueError(f"--baud: {exc}") from None
    return clock_mhz, divisor


def board_build(design, board: Board, build_dir: Path, *, harness: str = "bridge",
                dsp: bool = True, pe_clock_mhz: float | None = None, baud: int = DEFAULT_BAUD,
                seed: int = DEFAULT_SEED) -> dict:
    """Build ``design`` for ``board`` behind the UART bridge (``harness="bridge"``) or in the
    LFSR harness (``"lfsr"``), on the board clock or a PLL clock of ``pe_clock_mhz``.

    Returns the nextpnr summary plus ``clock_mhz`` (the clock the design must meet) and
    ``baud``. Raises ``ValueError`` for an impossible baud rate or PLL frequency (before
    building) and :class:`BoardBuildError` when the build fails or does not fit."""
    from hdl.bridge import UARTBridge, design_hash
    from hdl.harness import StreamHarness

    clock_mhz, divisor = check_clock(board, pe_clock_mhz, baud if harness == "bridge" else None)
    top = BoardTop(board, None, pe_clock_mhz=pe_clock_mhz)
    if harness == "bridge":
        top.core = UARTBridge(design.module, design.manifest,
                              ident=design_hash(design.manifest_text()), divisor=divisor)
    else:
        streams = design.manifest["streams"]
        top.core = StreamHarness(design.module, streams)
    files = {f"{design.module}.v": design.verilog()}
    summary = run_board_build(board.platform_class()(), top, board, Path(build_dir), dsp=dsp,
                              seed=seed, files=files, constraints=harness == "bridge")
    summary.update(clock_mhz=top.clock_mhz, board_clock_mhz=board.clock_mhz,
                   baud=baud if harness == "bridge" else None, harness=harness)
    return summary
