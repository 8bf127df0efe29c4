"""The standard steps of a sweep (each a factory returning a :class:`sim.sweep.engine.Step`) and
the custom sources they share.

==================  ==========================================================================
step name           what it measures (figures)
==================  ==========================================================================
``generic``         Yosys generic gates without ABC and the CMOS transistor estimate
                    (``cells``, ``ff``, ``transistors``, ``cells_by_type.*``)
``booth``           the same after ``synth -booth`` (Yosys's own Booth multipliers)
``ice40``           ``synth_ice40`` without DSP (``lut4``, ``carry``, ``ff``, ``dsp``, ...);
                    ``ice40-dsp`` with ``-dsp``
``ecp5``            ``synth_ecp5`` with DSP blocks (``lut4``, ``ccu2c``, ``ff``, ``dsp``,
                    ``mux``); ``ecp5-nodsp`` without
``fmax``            ECP5 out-of-context place and route on an LFE5U-85F of the design with
                    every port registered (``fmax_mhz``: median over the seeds,
                    ``fmax_per_seed``, ``critical_path.*``); ``fmax-nodsp`` without DSP blocks
``fmax-ice40``      iCE40UP5K place and route inside the board harness (iCEBreaker),
                    ``fmax-ice40-dsp`` with DSP blocks
``lint``            Verilator ``-Wall`` with the project's waivers and Yosys ``check -assert``
==================  ==========================================================================

Custom measurements (softmax accuracy, L-Mul error, cycles per beat) are made with
:func:`measure`: a module-level function ``fn(built, workdir, **options)``.
"""

from __future__ import annotations

from pathlib import Path

from .. import fpga
from ..fpga import DEFAULT_SEED, ECP5_FREQ_MHZ, FlowError
from .engine import Step, step

__all__ = ["generic", "booth", "ice40", "ecp5", "fmax", "fmax_ice40", "lint", "measure",
           "baseline_of", "standard"]

_YOSYS = ("yosys",)


def _without_netlist(figures: dict) -> dict:
    figures.pop("netlist", None)
    return figures


# --------------------------------------------------------------------------------------------
# Step functions (run on the workers)
# --------------------------------------------------------------------------------------------

def synth_generic_step(built, workdir: Path, booth: bool = False) -> dict:
    return fpga.synth_generic(built.source, workdir, booth=booth)


def synth_fpga_step(built, workdir: Path, family: str, dsp: bool) -> dict:
    return _without_netlist(fpga.synth_fpga(built.source, workdir, family, dsp))


def _lut_multiplier_prelude(top: str, inner: str, rows: int) -> str:
    """Yosys commands that turn the multipliers of the PEs in rows ``0 .. rows-1`` of the
    array ``inner`` (below ``top``) into radix-4 Booth logic (``booth``), so that DSP mapping
    leaves them to LUTs."""
    lines = [f"hierarchy -top {top}", "proc"]
    lines += [f"booth {inner}.pe_{r}_*/t:$mul" for r in range(rows)]
    return "\n".join(lines) + "\n"


def ecp5_fmax_step(built, workdir: Path, dsp: bool, seeds: list, freq_mhz: float,
                   lut_rows: int = 0) -> dict:
    """Synthesize the registered wrapper for ECP5 and place and route it once per seed.

    ``lut_rows``: the multipliers of the PEs in the first ``lut_rows`` rows of a systolic array
    become LUT logic (for arrays with more multipliers than the device has DSP blocks). Yosys
    0.70's default ``synth_ecp5`` flow stops on a few designs with an internal assertion in the
    ABC9 re-integration step; such a design is synthesized again with ``-dff`` (reported in
    ``ecp5_synth``).
    """
    ring = fpga.register_wrapper(built.source)
    prelude = _lut_multiplier_prelude(ring.module, built.source.module, lut_rows) \
        if lut_rows else ""
    synth = f"synth_ecp5{'' if dsp else ' -nodsp'}"
    try:
        mapped = fpga.synth_fpga(ring, workdir, "ecp5", dsp, prelude=prelude)
    except FlowError:
        workdir = workdir / "dff"
        mapped = fpga.synth_fpga(ring, workdir, "ecp5", dsp, prelude=prelude, options="-dff")
        synth += " -dff"
    runs = [fpga.nextpnr_ecp5_ooc(workdir, mapped["netlist"], seed=s, freq_mhz=freq_mhz,
                                  tag=f"ooc_s{s}") for s in seeds]
    return {**fpga.median_fmax(runs), "ecp5_synth": synth, "dsp_blocks": mapped["dsp"]}


def ice40_fmax_step(built, workdir: Path, dsp: bool, seeds: list, freq_mhz: float) -> dict:
    """Place and route the design inside the board harness on the iCEBreaker once per seed."""
    return fpga.median_fmax([
        fpga.board_build(built.source, "icebreaker", workdir / f"s{s}", dsp=dsp, seed=s,
                         clock_mhz=freq_mhz) for s in seeds])


def lint_step(built, workdir: Path) -> dict:
    """Verilator ``-Wall`` (with the waivers of :mod:`sim.lint`) and Yosys ``check -assert``."""
    from ..lint import LintError, verilator_lint, yosys_check

    src = built.source
    paths = [workdir / name for name in src.write(workdir)]
    try:
        verilator_lint(paths[0], src.module)
        yosys_check("".join(src.files.values()), src.module)
    except LintError as exc:
        raise FlowError(" ".join(str(exc).split())) from None
    return {"verilator_clean": 1, "yosys_check_clean": 1}


# --------------------------------------------------------------------------------------------
# Factories
# --------------------------------------------------------------------------------------------

def generic() -> Step:
    return step("generic", synth_generic_step, tools=_YOSYS)


def booth() -> Step:
    return step("booth", synth_generic_step, tools=_YOSYS, booth=True)


def ice40(dsp: bool = False) -> Step:
    return step("ice40-dsp" if dsp else "ice40", synth_fpga_step, tools=_YOSYS, family="ice40",
                dsp=dsp)


def ecp5(dsp: bool = True) -> Step:
    return step("ecp5" if dsp else "ecp5-nodsp", synth_fpga_step, tools=_YOSYS, family="ecp5",
                dsp=dsp)


def fmax(dsp: bool = True, *, seeds=(DEFAULT_SEED,), freq_mhz: float = ECP5_FREQ_MHZ,
         lut_rows: int = 0, name: str | None = None) -> Step:
    """ECP5 out-of-context Fmax (median over ``seeds``)."""
    name = name or ("fmax-mixed" if lut_rows else "fmax" if dsp else "fmax-nodsp")
    return step(name, ecp5_fmax_step, tools=("yosys", "nextpnr-ecp5"), dsp=dsp,
                seeds=list(seeds), freq_mhz=float(freq_mhz), lut_rows=lut_rows)


def fmax_ice40(dsp: bool = False, *, seeds=(DEFAULT_SEED,), freq_mhz: float = 100.0) -> Step:
    """iCE40UP5K Fmax of the design in the board harness (median over ``seeds``)."""
    return step("fmax-ice40-dsp" if dsp else "fmax-ice40", ice40_fmax_step,
                tools=("yosys", "nextpnr-ice40"), code=("hdl.harness", "sim.board"),
                dsp=dsp, seeds=list(seeds), freq_mhz=float(freq_mhz))


def lint() -> Step:
    return step("lint", lint_step, tools=_YOSYS, code=("sim.lint",))


def measure(name: str, fn, *, code=(), version: int = 1, **options) -> Step:
    """A custom measurement: ``fn(built, workdir, **options)`` (module-level) returning
    figures. ``code``: modules (a golden model, ...) whose source is part of its key; the
    module of ``fn`` always is."""
    return step(name, fn, code=(fn.__module__, *code), version=version, **options)


#: ``--targets`` names of :func:`standard` and the steps each selects.
TARGETS = ("generic", "ice40", "ecp5", "fmax")


def standard(targets, *, seeds=(DEFAULT_SEED,), ecp5_freq: float = ECP5_FREQ_MHZ,
             ice40_freq: float = 100.0) -> list[Step]:
    """The steps of ``peforge synth --targets``: generic; iCE40 without and with DSP; ECP5 with
    and without DSP; Fmax: ECP5 out of context with and without DSP and iCE40 in the harness
    without and with DSP."""
    out = []
    if "generic" in targets:
        out.append(generic())
    if "ice40" in targets:
        out += [ice40(False), ice40(True)]
    if "ecp5" in targets:
        out += [ecp5(True), ecp5(False)]
    if "fmax" in targets:
        out += [fmax(True, seeds=seeds, freq_mhz=ecp5_freq),
                fmax(False, seeds=seeds, freq_mhz=ecp5_freq),
                fmax_ice40(False, seeds=seeds, freq_mhz=ice40_freq),
                fmax_ice40(True, seeds=seeds, freq_mhz=ice40_freq)]
    return out


# --------------------------------------------------------------------------------------------
# Custom sources
# --------------------------------------------------------------------------------------------

def baseline_of(generator: str, values: dict):
    """The hand-written baseline of ``generator`` with ``values`` (:func:`sim.fpga.baseline_source`)
    and its parameters; raises :class:`FlowError` if there is none."""
    from generators import get_generator

    des = get_generator(generator).elaborate(values)
    source = fpga.baseline_source(des)
    if source is None:
        raise FlowError(f"no hand-written baseline for {generator}")
    return source, des.manifest["params"]


def has_baseline(generator: str) -> bool:
    """Whether :func:`baseline_of` has a baseline for ``generator``."""
    entry = fpga.BASELINES.get(generator)
    return entry is not None and (fpga.BASELINE_DIR / entry[0]).is_file()
