"""Synthesize generated peforge PEs and, where one exists, their hand-written baselines; compare
area and Fmax.

For every configuration, the generated PE and the hand-written baseline with the same parameters
(``scripts/baselines/``; today ``int_mac``) go through the same steps in the same run
(:mod:`sim.sweep.steps`):

* ``generic``: Yosys gate count and CMOS transistor estimate (``synth -flatten -noabc``,
  ``dfflegalize``, ``techmap``, ``stat -tech cmos``);
* ``ice40``:   iCE40UP5K mapping with ``synth_ice40`` without and with ``-dsp``;
* ``ecp5``:    ECP5 mapping with ``synth_ecp5`` (DSP) and ``synth_ecp5 -nodsp``;
* ``fmax``:    ECP5 out-of-context place and route on an LFE5U-85F of the PE with every port
  registered (nextpnr does not time paths from unconstrained ports), with and without DSPs; and
  iCE40UP5K place and route of the PE inside the board harness on the iCEBreaker pinout.
  nextpnr runs with fixed seeds (median over ``--seeds``) and a clock target above what the
  designs reach (``--ecp5-freq``, ``--ice40-freq``).

Prints a Markdown table per configuration (one row per figure: generated, and where a baseline
exists baseline and generated/baseline) on stdout, progress on stderr.
"""

from __future__ import annotations

from pathlib import Path

from .. import steps
from ..command import choice_list, flag_of, int_at_least, number_above, parse_param_pairs
from ..command import add_ecp5_freq_option, check_params
from ..engine import Sweep, custom, design
from ..render import markdown_table, number_text, ratio
from ..report import Rendered, module_of
from ...fpga import DEFAULT_SEED

NAME = "synth"
FILES = ("json", "markdown")

#: Acceptance targets of the project, checked for every configuration with a baseline:
#: (step, figure), "max"/"min", bound on generated/baseline, label.
ACCEPTANCE = (
    (("ice40", "lut4"), "max", 1.10, "iCE40 LUT4 (no DSP)"),
    (("fmax", "fmax_mhz"), "min", 0.95, "ECP5 Fmax (DSP)"),
    (("fmax-nodsp", "fmax_mhz"), "min", 0.95, "ECP5 Fmax (no DSP)"),
)

#: Table rows: (label, step, figure). Order is the order printed.
ROWS = (
    ("Generic cells", "generic", "cells"),
    ("Generic flip-flops", "generic", "ff"),
    ("CMOS transistors (estimate)", "generic", "transistors"),
    ("iCE40 LUT4 (no DSP)", "ice40", "lut4"),
    ("iCE40 SB_CARRY (no DSP)", "ice40", "carry"),
    ("iCE40 FF (no DSP)", "ice40", "ff"),
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
    ("ECP5 Fmax MHz, OOC (DSP)", "fmax", "fmax_mhz"),
    ("ECP5 Fmax MHz, OOC (-nodsp)", "fmax-nodsp", "fmax_mhz"),
    ("iCE40UP5K Fmax MHz, harness (no DSP)", "fmax-ice40", "fmax_mhz"),
    ("iCE40UP5K Fmax MHz, harness (-dsp)", "fmax-ice40-dsp", "fmax_mhz"),
)


def add_options(parser) -> None:
    """The options of ``peforge synth`` and ``synth_area.py`` beside the design's parameters."""
    parser.add_argument("--targets", type=choice_list(steps.TARGETS), default="all",
                        metavar="LIST",
                        help=f"comma-separated subset of {','.join(steps.TARGETS)} or 'all' "
                             "[default: all]")
    parser.add_argument("--seed", type=int_at_least(0), default=DEFAULT_SEED,
                        help=f"first nextpnr seed [default: {DEFAULT_SEED}]")
    # One seed's Fmax moves by +-7% between netlists that differ by a single cell, so the
    # default is the median of several placements.
    parser.add_argument("--seeds", type=int_at_least(1), default=5, metavar="N",
                        help="place and route with N seeds and report the median Fmax "
                             "[default: 5]")
    add_ecp5_freq_option(parser)
    parser.add_argument("--ice40-freq", type=number_above(0), default=100.0, metavar="MHZ",
                        help="iCE40 clock target for timing-driven place and route "
                             "[default: 100]")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write one JSON record per design and step to PATH")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the Markdown table to PATH (it is always printed)")


def add_arguments(parser) -> None:
    """``synth_area.py``: a generator name, ``--param`` / ``--config`` pairs."""
    parser.add_argument("generator", nargs="?", default="int_mac",
                        help="generator name [default: int_mac]")
    parser.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                        help="generator parameter for every configuration, e.g. lanes=4 "
                             "(repeatable)")
    parser.add_argument("--config", action="append", default=[], metavar="NAME=VALUE[,...]",
                        help="one configuration to synthesize, on top of --param values, e.g. "
                             "'lanes=8,b_format=int4' (repeatable; default: one configuration)")
    add_options(parser)


def configurations(args) -> list[dict]:
    """Every configuration's parameter values (checked: a mistake names what the user typed)."""
    common, common_origins = parse_param_pairs(args.param, flag_of(args, "param"))
    extra = [parse_param_pairs([c], flag_of(args, "config")) for c in args.config] or [({}, {})]
    configs = []
    for values, origins in extra:
        values, origins = {**common, **values}, {**common_origins, **origins}
        check_params(args.generator, values, origins)
        configs.append(values)
    return configs


def plan(args) -> Sweep:
    return plan_configs(args.generator, configurations(args), args)


def plan_configs(generator: str, configs: list[dict], args) -> Sweep:
    """The generated design of every configuration of ``generator`` and its baseline."""
    chosen = steps.standard(args.targets, seeds=range(args.seed, args.seed + args.seeds),
                            ecp5_freq=args.ecp5_freq, ice40_freq=args.ice40_freq)
    designs = []
    for index, values in enumerate(configs):
        module = module_of(generator, values)
        designs.append(design(module, generator, values, chosen, config=index, role="generated"))
        if steps.has_baseline(generator):
            designs.append(custom(f"{module} baseline", steps.baseline_of, (generator, values),
                                  chosen, kind=f"{generator} baseline", config=index,
                                  role="baseline"))
    return Sweep(NAME, designs)


def render(args, results) -> Rendered:
    records, parts = [], []
    generated = [d for d in results.sweep.designs if d.get("role") == "generated"]
    for d in generated:
        base = results.designs.get(f"{d.label} baseline")
        pair = [d] + ([base] if base else [])
        for x in pair:
            for s in x.steps:
                figures = results.figures(x.label, s.name)
                if figures:
                    records.append({"config": d.get("config"), "generator": d.generator,
                                    "module": d.label, "params": results.params(d.label),
                                    "design": x.get("role"), "top": results.module(x.label),
                                    "target": s.name, "figures": figures})
        parts.append(_table(results, d, base))
    return Rendered({"records": records}, "\n".join(parts).rstrip() + "\n")


def _table(results, d, base) -> str:
    params = ", ".join(f"{k}={v}" for k, v in results.params(d.label).items())
    title = [f"### {d.generator}: {params}", ""]
    rows = []
    for label, step_name, figure in ROWS:
        gen = results.get(d.label, step_name, figure)
        ref = results.get(base.label, step_name, figure) if base else None
        if gen is None and ref is None:
            continue
        row = [label, number_text(gen, 2)]
        if base:
            r = ratio(gen, ref)
            row += [number_text(ref, 2), "-" if r is None else f"{r:.3f}"]
        rows.append(row)
    if base:
        title += [f"generated `{d.label}` vs hand-written baseline", ""]
        table = markdown_table(["Figure", "generated", "baseline", "generated/baseline"], rows)
        return "\n".join(title + [table, ""] + _acceptance(results, d, base)) + "\n"
    title += [f"generated `{d.label}` (no hand-written baseline for {d.generator})", ""]
    return "\n".join(title + [markdown_table(["Figure", "generated"], rows)]) + "\n"


def _acceptance(results, d, base) -> list[str]:
    lines = []
    for (step_name, figure), kind, bound, label in ACCEPTANCE:
        r = ratio(results.get(d.label, step_name, figure), results.get(base.label, step_name, figure))
        if r is None:
            continue
        ok = r <= bound if kind == "max" else r >= bound
        sign = "<=" if kind == "max" else ">="
        lines.append(f"- {label}: generated/baseline = {r:.3f} (target {sign} {bound:.2f}): "
                     f"{'PASS' if ok else 'FAIL'}")
    return lines
