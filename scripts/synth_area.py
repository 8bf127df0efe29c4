#!/usr/bin/env python3
"""Synthesize generated peforge PEs and their hand-written baselines; compare area and Fmax.

For every configuration, the generated PE and the hand-written baseline with the same parameters
(``scripts/baselines/``) go through the same flow in the same run:

* ``generic``: Yosys gate count and CMOS transistor estimate (``synth -flatten -noabc``,
  ``dfflegalize``, ``techmap``, ``stat -tech cmos``);
* ``ice40``:   iCE40UP5K mapping with ``synth_ice40`` without and with ``-dsp``;
* ``ecp5``:    ECP5 mapping with ``synth_ecp5`` (DSP) and ``synth_ecp5 -nodsp``;
* ``fmax``:    ECP5 out-of-context place and route on an LFE5U-85F of the PE with every port
  registered (``flow.register_wrapper``: nextpnr does not time paths from unconstrained ports,
  so without the ring a multiplier fed straight from input ports would not count), with and
  without DSPs; and iCE40UP5K place and route of the PE inside the board harness
  (``scripts/harness.py``) on the iCEBreaker pinout. nextpnr runs with a fixed seed and a clock
  target above what the designs reach (``--ecp5-freq``, ``--ice40-freq``) so that placement and
  routing work for speed; the achieved Fmax is reported.

Examples::

    python scripts/synth_area.py                                   # int_mac int8 x int8, K=1
    python scripts/synth_area.py int_mac --param lanes=8 --targets ice40,fmax
    python scripts/synth_area.py int_mac --config lanes=1 --config lanes=8 --json build/area.json

Prints a Markdown table (one row per figure: generated, baseline, generated/baseline) on
stdout and progress lines on stderr.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import flow  # noqa: E402  (needs the path above)
from flow import progress  # noqa: E402

PROG = "synth_area.py"
TARGETS = ("generic", "ice40", "ecp5", "fmax")

#: Acceptance targets of the project, checked for every configuration (figure key, bound).
ACCEPTANCE = (
    (("ice40", "lut4"), "max", 1.10, "iCE40 LUT4 (no DSP)"),
    (("fmax-ecp5", "fmax_mhz"), "min", 0.95, "ECP5 Fmax (DSP)"),
    (("fmax-ecp5-nodsp", "fmax_mhz"), "min", 0.95, "ECP5 Fmax (no DSP)"),
)

#: Table rows: (label, record target, figure key). Order is the order printed.
ROWS = (
    ("Generic cells", "generic", "cells"),
    ("Generic flip-flops", "generic", "ff"),
    ("CMOS transistors (estimate)", "generic", "transistors"),
    *flow.ICE40_ROWS,
    ("iCE40 LUT4 (-dsp)", "ice40-dsp", "lut4"),
    ("iCE40 SB_CARRY (-dsp)", "ice40-dsp", "carry"),
    ("iCE40 FF (-dsp)", "ice40-dsp", "ff"),
    ("iCE40 SB_MAC16 (-dsp)", "ice40-dsp", "dsp"),
    ("ECP5 LUT4 (DSP)", "ecp5", "lut4"),
    ("ECP5 CCU2C (DSP)", "ecp5", "ccu2c"),
    ("ECP5 FF (DSP)", "ecp5", "ff"),
    ("ECP5 MULT18X18D (DSP)", "ecp5", "dsp"),
    ("ECP5 LUT4 (-nodsp)", "ecp5-nodsp", "lut4"),
    ("ECP5 CCU2C (-nodsp)", "ecp5-nodsp", "ccu2c"),
    ("ECP5 FF (-nodsp)", "ecp5-nodsp", "ff"),
    ("ECP5 PFUMX+L6MUX21 (-nodsp)", "ecp5-nodsp", "mux"),
    ("ECP5 Fmax MHz, OOC (DSP)", "fmax-ecp5", "fmax_mhz"),
    ("ECP5 Fmax MHz, OOC (-nodsp)", "fmax-ecp5-nodsp", "fmax_mhz"),
    ("iCE40UP5K Fmax MHz, harness (no DSP)", "fmax-ice40", "fmax_mhz"),
    ("iCE40UP5K Fmax MHz, harness (-dsp)", "fmax-ice40-dsp", "fmax_mhz"),
)


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = flow.script_parser(
        PROG, __doc__,
        epilog="Parameters are the generator's (see 'generate-verilog GENERATOR --help'); "
               "defaults are the generator's defaults (int_mac: int8 x int8, lanes 1).")
    parser.add_argument("generator", nargs="?", default="int_mac",
                        help="generator name [default: int_mac]")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="generator parameter for every configuration, e.g. lanes=4 "
                             "(repeatable)")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=VALUE[,...]",
                        help="one configuration to synthesize, on top of --param values, e.g. "
                             "'lanes=8,b_format=int4' (repeatable; default: one configuration)")
    parser.add_argument("--targets", type=flow.choice_list(TARGETS), default="all",
                        metavar="LIST",
                        help=f"comma-separated subset of {','.join(TARGETS)} or 'all' "
                             "[default: all]")
    parser.add_argument("--seed", type=flow.int_at_least(0), default=flow.DEFAULT_SEED,
                        help=f"first nextpnr seed [default: {flow.DEFAULT_SEED}]")
    # One seed's Fmax moves by +-7% between netlists that differ by a single cell, so the
    # default is the median of several placements.
    parser.add_argument("--seeds", type=flow.int_at_least(1), default=5, metavar="N",
                        help="place and route with N seeds and report the median Fmax "
                             "[default: 5]")
    flow.add_ecp5_freq_option(parser)
    parser.add_argument("--ice40-freq", type=flow.number_above(0), default=100.0,
                        metavar="MHZ",
                        help="iCE40 clock target for timing-driven place and route "
                             "[default: 100]")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="write one JSON record per design and target")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the Markdown table to PATH (it is always printed)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep the work files (Verilog, scripts, netlists, logs) in DIR "
                             "[default: a temporary directory, removed]")
    return parser.parse_args(argv)


def configurations(args) -> list[tuple[dict[str, str], dict[str, str]]]:
    """One (parameter values, origins) pair per configuration: command-line strings, and what
    the user typed for each (for error messages; see flow.parse_param_pairs)."""
    common, common_origins = flow.parse_param_pairs(args.param, flow.flag_of(args, "param"))
    extra = [flow.parse_param_pairs([c], flow.flag_of(args, "config")) for c in args.config] \
        or [({}, {})]
    return [({**common, **values}, {**common_origins, **origins}) for values, origins in extra]


# --------------------------------------------------------------------------------------------
# Running the flow
# --------------------------------------------------------------------------------------------

def _median_fmax(runs: list[dict]) -> dict:
    """Merge per-seed nextpnr summaries: median Fmax, all per-seed values, first run's details."""
    merged = dict(runs[0])
    merged["fmax_mhz"] = round(statistics.median(r["fmax_mhz"] for r in runs), 2)
    merged["fmax_per_seed"] = [r["fmax_mhz"] for r in runs]
    merged.pop("bitstream", None)
    return merged


def _seeds(args) -> list[int]:
    return list(range(args.seed, args.seed + args.seeds))


def _ecp5_fmax(source: flow.Source, workdir: Path, dsp: bool, args) -> dict:
    """ECP5 Fmax of ``source`` with all its ports registered (see flow.register_wrapper)."""
    wrapped = flow.register_wrapper(source)
    netlist = flow.synth_fpga(wrapped, workdir, "ecp5", dsp=dsp)["netlist"]
    return _median_fmax([
        flow.nextpnr_ecp5_ooc(workdir, netlist, seed=s, freq_mhz=args.ecp5_freq,
                              tag=f"ooc_{'dsp' if dsp else 'nodsp'}_s{s}")
        for s in _seeds(args)])


def synthesize(source: flow.Source, workdir: Path, args) -> list[tuple[str, dict, float]]:
    """All selected targets for one source: a list of (target name, figures, seconds)."""
    results = []

    def step(target, what, fn):
        progress(f"{source.label} {source.module}: {what}")
        start = time.monotonic()
        figures = fn()
        results.append((target, figures, round(time.monotonic() - start, 2)))
        return figures

    want = set(args.targets)
    if "generic" in want:
        step("generic", "yosys generic synth + CMOS estimate",
             lambda: flow.synth_generic(source, workdir / "generic"))
    if want & {"ice40"}:
        step("ice40", "yosys synth_ice40",
             lambda: flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=False))
        step("ice40-dsp", "yosys synth_ice40 -dsp",
             lambda: flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=True))
    if "ecp5" in want:
        step("ecp5", "yosys synth_ecp5",
             lambda: flow.synth_fpga(source, workdir / "ecp5", "ecp5", dsp=True))
        step("ecp5-nodsp", "yosys synth_ecp5 -nodsp",
             lambda: flow.synth_fpga(source, workdir / "ecp5", "ecp5", dsp=False))
    if "fmax" in want:
        for dsp, target in ((True, "fmax-ecp5"), (False, "fmax-ecp5-nodsp")):
            step(target, f"synth_ecp5{'' if dsp else ' -nodsp'} of the registered wrapper + "
                         f"nextpnr-ecp5 out-of-context (seeds {_seeds(args)})",
                 lambda dsp=dsp: _ecp5_fmax(source, workdir / "ecp5_fmax", dsp, args))
        for dsp, target in ((False, "fmax-ice40"), (True, "fmax-ice40-dsp")):
            step(target, f"iCE40UP5K harness build ({'-dsp' if dsp else 'no DSP'}, "
                         f"seeds {_seeds(args)})",
                 lambda dsp=dsp: _median_fmax([
                     flow.board_build(source, "icebreaker",
                                      workdir / f"ice40_harness_{'dsp' if dsp else 'nodsp'}_s{s}",
                                      dsp=dsp, seed=s, clock_mhz=args.ice40_freq)
                     for s in _seeds(args)]))
    return results


def run_config(index: int, design, workroot: Path, args) -> tuple[dict, list]:
    """Synthesize one elaborated configuration and its baseline; return (info, records)."""
    progress(f"config {index}: {design.module}")
    sources = [flow.generated_source(design)]
    baseline = flow.baseline_source(design)
    if baseline is None:
        progress(f"no hand-written baseline for {args.generator} (add one to "
                 f"flow.BASELINES); reporting the generated design only")
    else:
        sources.append(baseline)
    info = {"config": index, "generator": args.generator, "module": design.module,
            "params": design.manifest["params"]}
    records = []
    for source in sources:
        workdir = workroot / f"{index}_{design.module}" / source.label
        for target, figures, seconds in synthesize(source, workdir, args):
            records.append({**info, "design": source.label, "top": source.module,
                            "verilog_params": source.params, "target": target,
                            "figures": figures, "seconds": seconds})
    return info, records


# --------------------------------------------------------------------------------------------
# Reporting
# --------------------------------------------------------------------------------------------

def _figure(records, config, design, target, key):
    for r in records:
        if (r["config"], r["design"], r["target"]) == (config, design, target):
            return r["figures"].get(key)
    return None


def _ratio(gen, base) -> float | None:
    if gen is None or base is None or base == 0:
        return None
    return gen / base


def _fmt(value) -> str:
    if value is None:
        return "-"
    return f"{value:.2f}" if isinstance(value, float) else str(value)


def markdown(infos: list[dict], records: list[dict]) -> str:
    """One table per configuration plus the acceptance checks."""
    out = []
    for info in infos:
        params = ", ".join(f"{k}={v}" for k, v in info["params"].items())
        out += [f"### {info['generator']}: {params}", "",
                f"generated `{info['module']}` vs hand-written baseline", "",
                "| Figure | generated | baseline | generated/baseline |",
                "|---|---:|---:|---:|"]
        for label, target, key in ROWS:
            gen = _figure(records, info["config"], "generated", target, key)
            base = _figure(records, info["config"], "baseline", target, key)
            if gen is None and base is None:
                continue
            ratio = _ratio(gen, base)
            out.append(f"| {label} | {_fmt(gen)} | {_fmt(base)} | "
                       f"{'-' if ratio is None else f'{ratio:.3f}'} |")
        out += [""] + _acceptance_lines(info, records) + [""]
    return "\n".join(out).rstrip() + "\n"


def _acceptance_lines(info, records) -> list[str]:
    lines = []
    for (target, key), kind, bound, label in ACCEPTANCE:
        ratio = _ratio(_figure(records, info["config"], "generated", target, key),
                       _figure(records, info["config"], "baseline", target, key))
        if ratio is None:
            continue
        ok = ratio <= bound if kind == "max" else ratio >= bound
        sign = "<=" if kind == "max" else ">="
        lines.append(f"- {label}: generated/baseline = {ratio:.3f} (target {sign} {bound:.2f}): "
                     f"{'PASS' if ok else 'FAIL'}")
    return lines


def run(args) -> str:
    """Run every configuration; return the Markdown report."""
    infos, records = [], []
    # Elaborate everything first: a bad parameter fails before any long synthesis starts.
    designs = [flow.elaborate(args.generator, values, origins)
               for values, origins in configurations(args)]
    with tempfile.TemporaryDirectory(prefix="peforge-synth-") as tmp:
        workroot = args.keep.resolve() if args.keep else Path(tmp)
        for index, design in enumerate(designs):
            info, recs = run_config(index, design, workroot, args)
            infos.append(info)
            records += recs
    report = markdown(infos, records)
    if args.json:
        flow.write_text(args.json, json.dumps(records, indent=2) + "\n", flow.flag_of(args, "json"))
    if args.markdown:
        flow.write_text(args.markdown, report, flow.flag_of(args, "markdown"))
    return report


def main(argv: list[str] | None = None) -> int:
    return flow.script_main(PROG, parse_args, run, argv, files=("json", "markdown"),
                            dirs=("keep",))


if __name__ == "__main__":
    sys.exit(main())
