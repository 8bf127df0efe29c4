#!/usr/bin/env python3
"""Measured area of ``sparse_mac`` (N:M sparsity) and ``scalable_mac`` (W8/W4/W2) against the
fixed-function ``int_mac`` of the same peak throughput, per MAC/cycle (issue 15).

One run synthesizes, int8 activations throughout (``--part`` picks one half):

* sparse: ``sparse_mac`` int8 x int8, M=4 N=2 G=4 by default (``--group-m``, ``--max-n``,
  ``--groups``), against dense ``int_mac`` int8 x int8 with G*M lanes (G*M MACs per cycle);
* scalable: ``scalable_mac`` int8, K=4 lanes by default (``--lanes``), all modes built
  (w8,w4,w2), signed weights, against ``int_mac`` int8 x int8 with K lanes and, as extra rows,
  the fixed-function PEs at the peak throughput of the other modes: ``int_mac`` int8 x int4
  with 2K lanes and int8 x int2 with 4K lanes;
* ``sparse_mac`` and ``int_mac`` with each ``--reductions`` option (adder tree, compressor
  tree); ``scalable_mac`` has one structure (its slice products in an adder tree, which
  was smaller than a compressor tree there). Every comparison takes the
  variant with the fewest iCE40 LUT4 of each design (the strongest fixed-function reference).

Effective MACs per cycle (printed with the report): dense-equivalent weight positions a PE
covers per cycle. ``sparse_mac`` takes one beat per cycle; a layer pruned n:M with n <= N
covers its G groups of M positions in one beat (G*M MACs/cycle, G*n of them non-zero
products); a pattern with n > N (dense: n = M) is sent as ceil(n/N) beats per group, so G*M /
ceil(n/N). ``scalable_mac`` mode w8/w4/w2 does K / 2K / 4K MACs per cycle; ``int_mac`` does
its lanes. Acc widths are each generator's default (no overflow within 2^16 beats).

Figures: the Yosys generic CMOS transistor estimate, iCE40 LUT4 / FF without DSP
(``synth_ice40``: the LUT4 of the targets and of the MACs per LUT4 columns), ECP5 LUT4 /
MULT18X18D with DSP mapping (``synth_ecp5``) and, unless ``--no-fmax``, the ECP5 Fmax of the
same mapping with every port registered (nextpnr out of context; minutes per design). Results
are cached per Verilog text in ``--cache``, so a rerun or an interrupted run resumes.

Targets (iCE40 LUT4, no DSP): sparse_mac at 2:M >= 1.6x the effective MACs/cycle per LUT4 of
the dense int_mac; scalable_mac in w2 >= 2.5x the MACs/cycle per LUT4 of int_mac int8 x int8
K lanes, while its LUT4 (all modes built) are <= 1.3x that int_mac's.

Writes ``report.json``, ``report.md`` and ``macs_per_lut.png`` into ``--out`` (default
``build/reports/sparse_scalable``), prints the Markdown on stdout and progress on stderr.

Examples::

    python scripts/report_sparse_scalable.py --jobs 1          # everything (tens of minutes)
    python scripts/report_sparse_scalable.py --part sparse --no-fmax
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

from hdl.int_mac import REDUCTIONS  # noqa: E402
from hdl.scalable_mac import MODES, mode_weight_bits, used_lanes  # noqa: E402

PROG = "report_sparse_scalable.py"
PARTS = ("sparse", "scalable")
ACT = "int8"
#: int_mac takes at most this many lanes (its references have G*M and 4K lanes).
MAX_LANES = 64
#: Issue 15 targets (ratios of iCE40 LUT4 figures, no DSP).
TARGET_SPARSE = 1.6     # sparse_mac at 2:M, MACs/cycle per LUT4 over dense int_mac: at least
TARGET_W2 = 2.5         # scalable_mac w2, MACs/cycle per LUT4 over int_mac int8 x int8 K: at least
TARGET_W8_LUT4 = 1.3    # scalable_mac LUT4 over int_mac int8 x int8 K LUT4: at most

DEFINITION = (
    "Effective MACs/cycle = dense-equivalent weight positions covered per cycle. sparse_mac (one "
    "beat per cycle): an n:M-sparse layer with n <= N covers G*M positions per beat (G*n "
    "non-zero products); n > N (dense: n = M) needs ceil(n/N) beats per group: G*M / ceil(n/N). "
    "scalable_mac: K (w8), 2K (w4), 4K (w2). int_mac: its lanes. LUT4 = iCE40 LUT4 without DSP "
    "(synth_ice40); 'per kLUT4' = MACs/cycle per 1000 of them. 'vs int8 ref' divides by the same "
    "figure of int_mac int8 x int8 at the sparse part's dense throughput (G*M lanes) or at "
    "scalable_mac's w8 throughput (K lanes); 'vs same-rate ref' by int_mac at the row's weight "
    "bits and MACs/cycle (scalable_mac w4: int8 x int4 2K lanes). Each reference is the int_mac "
    "reduction with the fewest LUT4.")


# --------------------------------------------------------------------------------------------
# The compared designs
# --------------------------------------------------------------------------------------------

def int_mac_design(part: str, b: int, lanes: int, reduction: str) -> dict:
    return dict(label=f"int_mac int8 x int{b} K={lanes} {reduction}", part=part,
                generator="int_mac", b=b, lanes=lanes, family=f"int_mac int8 x int{b}",
                params=dict(a_format=ACT, b_format=f"int{b}", lanes=str(lanes),
                            reduction=reduction),
                uses=[dict(use="dense", macs=lanes, products=lanes)])


def sparse_uses(m: int, n_max: int, groups: int) -> list[dict]:
    """One row per pattern n:M (n = 1 .. N, and dense n = M): MACs and products per cycle."""
    uses = []
    for n in sorted(set(range(1, n_max + 1)) | {m}):
        beats = math.ceil(n / n_max)
        uses.append(dict(use=f"{n}:{m}" + (" (dense)" if n == m else ""), n=n,
                         beats_per_group=beats, macs=groups * m / beats,
                         products=groups * n / beats))
    return uses


def designs(args) -> list[dict]:
    """Every synthesized design: label, part, generator, parameters and its uses (patterns or
    modes), each with MACs and non-zero products per cycle."""
    rows = []
    m, n, g, k = args.group_m, args.max_n, args.groups, args.lanes
    if "sparse" in args.part:
        for reduction in args.reductions:
            rows.append(dict(label=f"sparse_mac M={m} N={n} G={g} int8 x int8 {reduction}",
                             part="sparse", generator="sparse_mac", b=8, family="sparse_mac",
                             params=dict(act_format=ACT, weight_format=ACT, group_m=str(m),
                                         max_n=str(n), groups=str(g), reduction=reduction),
                             uses=sparse_uses(m, n, g)))
        rows += [int_mac_design("sparse", 8, g * m, r) for r in args.reductions]
    if "scalable" in args.part:
        modes = [dict(use=mode, b=mode_weight_bits(mode), macs=used_lanes(k, mode),
                      products=used_lanes(k, mode)) for mode in MODES]
        rows.append(dict(label=f"scalable_mac int8 K={k} {','.join(MODES)}", part="scalable",
                         generator="scalable_mac", b=8, family="scalable_mac",
                         params=dict(act_format=ACT, lanes=str(k), modes=",".join(MODES),
                                     weight_signed="true"),
                         uses=modes))
        for mode in modes:
            rows += [int_mac_design("scalable", mode["b"], mode["macs"], r)
                     for r in args.reductions]
    return rows


def check_args(args) -> None:
    """Every design's parameters, before anything is synthesized or written: a mistake is a
    one-line :class:`flow.UsageError` naming the flag as typed."""
    origins = {name: flow.flag_of(args, name) for name in ("group_m", "max_n", "groups")}
    if "sparse" in args.part and args.groups * args.group_m > MAX_LANES:
        raise flow.UsageError(
            f"{origins['groups']} {args.groups} with {origins['group_m']} {args.group_m}: the "
            f"dense int_mac reference needs G*M = {args.groups * args.group_m} lanes; allowed: "
            f"G*M at most {MAX_LANES}")
    if "scalable" in args.part and 4 * args.lanes > MAX_LANES:
        raise flow.UsageError(f"{flow.flag_of(args, 'lanes')} {args.lanes}: the int8 x int2 "
                              f"int_mac reference needs 4K = {4 * args.lanes} lanes; allowed: "
                              f"1 to {MAX_LANES // 4}")
    for d in designs(args):
        flow.check_params(d["generator"], d["params"], origins, param_flag=None)


# --------------------------------------------------------------------------------------------
# Synthesis (cached per Verilog text)
# --------------------------------------------------------------------------------------------

def synth_ecp5(source: flow.Source, workdir: Path) -> dict:
    """``synth_ecp5`` with DSP mapping; the figures of :func:`flow.synth_fpga` plus
    ``abc9_dff``: whether it had to be retried with ``-dff`` (flip-flops mapped inside ABC9 as
    well). Yosys 0.70 (YoWASP) stops on some designs (int_mac int8 x int2 K=16) with an internal
    assertion in its ABC9 re-integration step (abc_ops_reintegrate.cc: Assert `wire');
    ``-dff`` avoids it."""
    try:
        return {**flow.synth_fpga(source, workdir, "ecp5", dsp=True), "abc9_dff": False}
    except flow.FlowError as exc:
        progress(f"{source.module}: {exc}; retrying with synth_ecp5 -dff")
    return {**flow.synth_fpga(source, workdir, "ecp5", dsp=True, options="-dff"),
            "abc9_dff": True}


def synthesize(source: flow.Source, workdir: Path, args) -> dict:
    """Generic CMOS estimate, iCE40 without DSP, ECP5 with DSP and (unless ``--no-fmax``) the
    ECP5 Fmax of the register-wrapped design, each cached per Verilog text."""
    def cached(target, measure):
        return flow.cached_figures(args.cache, source, target, measure,
                                   key=[args.seed, args.ecp5_freq] if target == "fmax" else [])

    progress(f"{source.module}: generic synth + CMOS estimate")
    g = cached("generic", lambda: flow.synth_generic(source, workdir / "generic"))
    progress(f"{source.module}: synth_ice40 (no DSP)")
    ice = cached("ice40", lambda: flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=False))
    progress(f"{source.module}: synth_ecp5 (DSP)")
    ecp = cached("ecp5", lambda: synth_ecp5(source, workdir / "ecp5"))
    out = {"module": source.module, "transistors": g["transistors"], "ice40_lut4": ice["lut4"],
           "ice40_ff": ice["ff"], "ecp5_lut4": ecp["lut4"], "ecp5_mult18": ecp["dsp"],
           "ecp5_ff": ecp["ff"], "ecp5_abc9_dff": ecp["abc9_dff"]}
    if not args.no_fmax:
        progress(f"{source.module}: ECP5 (DSP) out-of-context place and route")

        def place_and_route():
            wrapped = flow.register_wrapper(source)
            mapped = synth_ecp5(wrapped, workdir / "fmax")
            return {**flow.nextpnr_ecp5_ooc(workdir / "fmax", mapped["netlist"], seed=args.seed,
                                            freq_mhz=args.ecp5_freq),
                    "abc9_dff": mapped["abc9_dff"]}
        pnr = cached("fmax", place_and_route)
        out["ecp5_fmax_mhz"] = pnr["fmax_mhz"]
        out["fmax_abc9_dff"] = pnr["abc9_dff"]
    progress(f"{source.module}: {out['transistors']} transistors, {out['ice40_lut4']} LUT4")
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def build_report(rows: list[dict], args) -> dict:
    refs = {}       # (weight bits, lanes) -> the int_mac with the fewest iCE40 LUT4
    for d in rows:
        if d["generator"] == "int_mac":
            key = (d["b"], d["lanes"])
            if key not in refs or d["ice40_lut4"] < refs[key]["ice40_lut4"]:
                refs[key] = d
    int8_lanes = {"sparse": args.groups * args.group_m, "scalable": args.lanes}
    for d in rows:
        for u in d["uses"]:
            u["macs_per_klut4"] = 1000 * u["macs"] / d["ice40_lut4"]
            u["transistors_per_mac"] = d["transistors"] / u["macs"]
    for d in rows:
        int8_ref = refs[(8, int8_lanes[d["part"]])]
        for u in d["uses"]:
            same = refs[(u.get("b", d["b"]), u["macs"])] if d["part"] == "scalable" else int8_ref
            for name, ref in (("int8", int8_ref), ("same_rate", same)):
                u[f"vs_{name}"] = u["macs_per_klut4"] / ref["uses"][0]["macs_per_klut4"]
                u[f"{name}_ref"] = ref["label"]
    best = {}
    for d in rows:
        if d["generator"] != "int_mac" and (d["generator"] not in best or
                                            d["ice40_lut4"] < best[d["generator"]]["ice40_lut4"]):
            best[d["generator"]] = d
    checks = []
    if "sparse_mac" in best and args.max_n >= 2:
        use = next(u for u in best["sparse_mac"]["uses"] if u["n"] == 2)
        checks.append({"what": f"{best['sparse_mac']['label']} at {use['use']}: effective MACs/"
                               f"cycle per LUT4 / {use['int8_ref']}'s",
                       "value": use["vs_int8"], "target": TARGET_SPARSE, "at_least": True})
    if "scalable_mac" in best:
        d = best["scalable_mac"]
        w2 = next(u for u in d["uses"] if u["use"] == "w2")
        ref = refs[(8, args.lanes)]
        checks += [{"what": f"{d['label']} in w2: MACs/cycle per LUT4 / {ref['label']}'s",
                    "value": w2["vs_int8"], "target": TARGET_W2, "at_least": True},
                   {"what": f"{d['label']} (w8 {args.lanes} MACs/cycle): LUT4 / {ref['label']}'s",
                    "value": d["ice40_lut4"] / ref["ice40_lut4"], "target": TARGET_W8_LUT4,
                    "at_least": False}]
    for c in checks:
        c["met"] = c["value"] >= c["target"] if c["at_least"] else c["value"] <= c["target"]
    return {"activations": ACT, "definition": DEFINITION, "lut4": "iCE40 LUT4, synth_ice40 "
            "without DSP", "sparse": dict(group_m=args.group_m, max_n=args.max_n,
                                          groups=args.groups),
            "scalable": dict(lanes=args.lanes, modes=list(MODES)),
            "references": {f"int{b} K={k}": d["label"] for (b, k), d in sorted(refs.items())},
            "designs": rows, "checks": checks}


def _n(value, digits=1) -> str:
    return flow.number_text(value, digits)


def markdown(report: dict) -> str:
    fmax = any("ecp5_fmax_mhz" in d for d in report["designs"])
    refs = set(report["references"].values())
    lines = ["### sparse_mac and scalable_mac vs int_mac of the same peak throughput, "
             f"{report['activations']} activations", "", report["definition"], "",
             "| design | pattern / mode | MACs/cycle | products/cycle | transistors | iCE40 LUT4 "
             "| iCE40 FF | ECP5 LUT4 | ECP5 MULT18 |" + (" ECP5 Fmax MHz |" if fmax else "")
             + " MACs/cycle per kLUT4 | vs int8 ref | vs same-rate ref |",
             "|---|---|---:|---:|---:|---:|---:|---:|---:|" + ("---:|" if fmax else "")
             + "---:|---:|---:|"]
    for d in report["designs"]:
        label = d["label"] + (" (ref)" if d["label"] in refs else "")
        ecp5_lut4 = f"{d['ecp5_lut4']}{' *' if d['ecp5_abc9_dff'] else ''}"
        fmax_text = f"{_n(d.get('ecp5_fmax_mhz'))}{' *' if d.get('fmax_abc9_dff') else ''}"
        for u in d["uses"]:
            lines.append(f"| {label} | {u['use']} | {_n(float(u['macs']), 0)} | "
                         f"{_n(float(u['products']), 0)} | {d['transistors']} | "
                         f"{d['ice40_lut4']} | {d['ice40_ff']} | {ecp5_lut4} | "
                         f"{d['ecp5_mult18']} |" + (f" {fmax_text} |" if fmax else "")
                         + f" {_n(u['macs_per_klut4'], 2)} | {_n(u['vs_int8'], 2)} | "
                           f"{_n(u['vs_same_rate'], 2)} |")
    if any(d["ecp5_abc9_dff"] or d.get("fmax_abc9_dff") for d in report["designs"]):
        lines += ["", "\\* synth_ecp5 stopped on an internal Yosys assertion (ABC9 "
                  "re-integration); mapped with flip-flops inside ABC9 (synth_ecp5 -dff) instead."]
    lines += ["", "Targets (iCE40 LUT4, no DSP; each design's variant with the fewest LUT4 "
              "against the int_mac reference with the fewest LUT4)", "",
              "| check | measured | target | met |", "|---|---:|---:|---|"]
    for c in report["checks"]:
        sign = ">=" if c["at_least"] else "<="
        lines.append(f"| {c['what']} | {c['value']:.3f} | {sign} {c['target']} | "
                     f"{'yes' if c['met'] else 'NO'} |")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    bars = [(f"{d['label']} {u['use'] if len(d['uses']) > 1 else ''}".strip(), d["family"],
             u["macs_per_klut4"]) for d in report["designs"] for u in d["uses"]]
    fig, ax = flow.new_plot(figsize=(9, 0.32 * len(bars) + 1.5))
    families = list(dict.fromkeys(f for _, f, _ in bars))
    colors = {f: f"C{i}" for i, f in enumerate(families)}
    y = range(len(bars))
    drawn = ax.barh(list(y), [v for _, _, v in bars], color=[colors[f] for _, f, _ in bars])
    ax.bar_label(drawn, fmt="%.1f", fontsize=7, padding=2)
    ax.set_yticks(list(y))
    ax.set_yticklabels([name for name, _, _ in bars], fontsize=7)
    ax.invert_yaxis()
    ax.set_xlabel("effective MACs/cycle per 1000 iCE40 LUT4 (no DSP)")
    ax.grid(True, axis="x", linewidth=0.3)
    ax.set_title(f"MACs per cycle per kLUT4, {report['activations']} activations")
    flow.save_plot(fig, path)


def parse_args(argv):
    parser = flow.script_parser(PROG, __doc__)
    parser.add_argument("--part", type=flow.choice_list(PARTS), default=PARTS, metavar="LIST",
                        help="sparse, scalable or all [default: all]")
    parser.add_argument("--group-m", type=flow.int_at_least(2), default=4, metavar="M",
                        help="sparse_mac group size M [default: 4]")
    parser.add_argument("--max-n", type=flow.int_at_least(1), default=2, metavar="N",
                        help="sparse_mac pairs per group N [default: 2]")
    parser.add_argument("--groups", type=flow.int_at_least(1), default=4, metavar="G",
                        help="sparse_mac groups per beat G [default: 4]")
    parser.add_argument("--lanes", type=flow.int_at_least(1), default=4, metavar="K",
                        help=f"scalable_mac lanes K, 1 to {MAX_LANES // 4} [default: 4]")
    parser.add_argument("--reductions", type=flow.choice_list(REDUCTIONS), default=REDUCTIONS,
                        metavar="LIST", help="sparse_mac and int_mac reductions to synthesize "
                                             "[default: all]")
    parser.add_argument("--no-fmax", action="store_true",
                        help="skip the ECP5 place and route (minutes per design)")
    flow.add_ecp5_freq_option(parser)
    parser.add_argument("--seed", type=flow.int_at_least(0), default=flow.DEFAULT_SEED,
                        help=f"nextpnr seed [default: {flow.DEFAULT_SEED}]")
    parser.add_argument("--jobs", type=flow.int_at_least(1), default=2,
                        help="syntheses run at the same time [default: 2]")
    parser.add_argument("--out", type=Path, default=Path("build/reports/sparse_scalable"),
                        help="output folder for report.json, report.md, macs_per_lut.png "
                             "[default: build/reports/sparse_scalable]")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        default=flow.ROOT / "build" / "report_sparse_scalable_cache",
                        help="figures cached per Verilog text "
                             "[default: build/report_sparse_scalable_cache]")
    parser.add_argument("--no-cache", dest="cache", action="store_const", const=None,
                        help="synthesize everything again")
    parser.add_argument("--keep", type=Path, help="keep synthesis work files in this folder")
    return parser.parse_args(argv)


def produce(args) -> str:
    check_args(args)         # every parameter checked before the first synthesis
    rows = designs(args)
    sources = {}        # module -> source: a design in both parts is synthesized once
    for d in rows:
        design = flow.elaborate(d["generator"], d["params"], param_flag=None)
        if design.manifest["initiation_interval"] != 1:
            raise flow.FlowError(f"{design.module}: initiation interval "
                                 f"{design.manifest['initiation_interval']}, this report assumes "
                                 f"one beat per cycle")
        d["module"] = design.module
        sources[design.module] = flow.generated_source(design)
    progress(f"{len(sources)} designs to synthesize ({args.jobs} at a time)")
    with tempfile.TemporaryDirectory(prefix="peforge-sparse-scalable-") as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp)
        with ThreadPoolExecutor(max_workers=args.jobs) as pool:
            futures = {module: pool.submit(synthesize, source, root / module, args)
                       for module, source in sources.items()}
            for d in rows:
                d.update(futures[d["module"]].result())
    report = build_report(rows, args)
    text = markdown(report)
    flow.write_report(args.out, report, text, plot, "macs_per_lut.png")
    return text


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, dirs=("out", "cache", "keep"))


if __name__ == "__main__":
    sys.exit(main())
