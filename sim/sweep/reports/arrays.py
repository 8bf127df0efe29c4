"""Area and Fmax of the bit-weight options of ``int_mac`` and of ``systolic_array`` (issue 6).

Two tables, each measured in one run with its own baseline:

``int_mac`` (int8 x int8, K lanes, pipeline_stages 0): every ``reduction`` x ``accumulator``
combination, plus the baseline (adder tree + binary accumulator) synthesized with Yosys
``synth -booth``. Figures: generic cells and flip-flops and the CMOS transistor estimate
(``synth -flatten -noabc; dfflegalize; techmap; stat -tech cmos``), iCE40 LUT4/SB_CARRY/FF
without DSPs, ECP5 Fmax (no DSP, out of context, every port registered). Ratios are to adder
tree + binary at the same K. All combinations take one beat per cycle (equal throughput).

What Yosys does on its own: ``alumacc`` (part of every ``synth``) turns each ``a * b`` and
``+`` into ``$macc``/``$alu`` cells and merges a sum of products into one ``$macc`` cell
whose generic mapping adds the products with ordinary adders; it does not merge partial-product
bits across lanes. ``synth -booth`` runs the ``booth`` pass, which replaces each ``$mul`` by a
radix-4 Booth multiplier with its own Wallace-style compressor and final adder, per product.
The compressor_tree option instead puts the bits of all products (and the accumulator) into one
tree, so the ``synth -booth`` row is the honest "what Yosys already gives" comparison.

``systolic_array`` (int8 x int8, R x C, both dataflows, adder tree + binary PEs): iCE40
LUT4/FF/SB_MAC16 with and without DSPs, ECP5 LUT4/FF/MULT18X18D (DSP mapping) and Fmax (out of
context, ports registered; DSP mapping up to 8 x 8; 16 x 16 has 256 multipliers, more than
the LFE5U-85F's 156 MULT18X18D, and as LUTs alone they exceed its 83.6k LUT4, so the PEs of the
first 7 rows get LUT multipliers (Yosys ``booth``) and the other 144 DSP blocks), generic cells
and transistors, MACs per cycle (R * C at full rate), and the overhead: array transistors / (R * C x one
``IntMACCore`` with one lane and the same accumulator width) - 1, i.e. what skew, de-skew,
forwarding registers, weight banks and control cost beyond the MACs themselves.

``baselines`` (issue 16): the lean output-stationary options, ``cube_array`` and the
weight-stationary array beside hand-written behavioural Verilog of the same function
(``scripts/baselines/``: no handshake, no skew registers, accumulators exposed), int8, in the
same run: transistors, iCE40 LUT4 and FF (no DSP) and ECP5 Fmax (DSP multipliers, out of
context, every port registered, median of ``--seeds`` nextpnr seeds), each as a ratio to its
baseline.

Writes ``report.json``, ``report.md`` and ``report_arrays.png``.
"""

from __future__ import annotations

import argparse

from .. import steps
from ..command import add_ecp5_freq_option, check_params, choice_list, flag_of, int_at_least
from ..engine import Sweep, custom, design
from ..render import markdown_table, new_plot, save_plot
from ..report import Rendered

NAME = "arrays"
EPILOG = """examples:
    peforge report arrays                       # everything (long: ~1 h on 2 cores)
    peforge report arrays --section int_mac --lanes 1,4,16 --no-fmax
    peforge report arrays --section array --sizes 2x2,4x4 --out build/arrays
    peforge report arrays --section array --sizes 16x16 \\
        --dataflows output_stationary --no-fpga-area      # 16 x 16 OS: gates and Fmax only
    peforge report arrays --section baselines --seeds 5   # lean arrays vs hand-written RTL"""
SECTIONS = ("int_mac", "array", "baselines")
DATAFLOWS = ("output_stationary", "weight_stationary")
COMBOS = (("adder_tree", "binary"), ("adder_tree", "carry_save"),
          ("compressor_tree", "binary"), ("compressor_tree", "carry_save"))
BASE_VARIANT = "adder_tree+binary"
BOOTH = "adder_tree+binary, synth -booth"
#: MULT18X18D blocks of the LFE5U-85F that the out-of-context place and route targets.
ECP5_MULT18 = 156
#: Target of the issue: best combination's transistors at K = 16 relative to the baseline.
TARGET_RATIO = 0.83


def _int_list(text: str) -> list[int]:
    """``argparse`` type of ``--lanes``: comma-separated integers (ranges: the generator's)."""
    try:
        return [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: comma-separated "
                                         f"integers, e.g. 1,4,16") from None


def _size_list(text: str) -> list[tuple[int, int]]:
    """``argparse`` type of ``--sizes``: comma-separated RxC items."""
    try:
        sizes = [tuple(int(v) for v in s.lower().split("x")) for s in text.split(",")]
    except ValueError:
        sizes = []
    if not sizes or any(len(size) != 2 for size in sizes):
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: comma-separated "
                                         f"RxC items, e.g. 2x2,4x4")
    return sizes


def add_arguments(parser) -> None:
    parser.add_argument("--section", type=choice_list(SECTIONS, every=None),
                        default="int_mac,array", metavar="LIST",
                        help="comma-separated subset of int_mac, array, baselines (the lean "
                             "arrays and the cube beside hand-written Verilog) "
                             "[default: int_mac,array]")
    parser.add_argument("--seeds", type=int_at_least(1), default=1, metavar="N",
                        help="baselines: median ECP5 Fmax over nextpnr seeds 1..N [default: 1]")
    parser.add_argument("--lanes", type=_int_list, default="1,4,16,64", metavar="LIST",
                        help="int_mac lanes K [default: 1,4,16,64]")
    parser.add_argument("--sizes", type=_size_list, default="2x2,4x4,8x8,16x16", metavar="LIST",
                        help="array sizes RxC [default: 2x2,4x4,8x8,16x16]")
    parser.add_argument("--dataflows", type=choice_list(DATAFLOWS, every=None),
                        default=",".join(DATAFLOWS), metavar="LIST",
                        help="array dataflows [default: both]")
    parser.add_argument("--pipeline-stages", type=int_at_least(0), default=0, metavar="N",
                        help="array: the output-stationary arrays' --pipeline-stages (registers "
                             "between multiplier and accumulator, 0-3) [default: 0]")
    parser.add_argument("--no-fmax", action="store_true", help="skip place and route")
    parser.add_argument("--no-fpga-area", action="store_true",
                        help="arrays: skip the iCE40 and ECP5 area syntheses (generic gates and "
                             "Fmax only; the large arrays' FPGA syntheses take the longest)")
    parser.add_argument("--fmax-max-pes", type=int_at_least(0), default=256, metavar="N",
                        help="place and route arrays of at most N PEs [default: 256]")
    add_ecp5_freq_option(parser)


def _int_mac_params(lanes, reduction="adder_tree", accumulator="binary") -> dict:
    return {"a_format": "int8", "b_format": "int8", "lanes": str(lanes),
            "reduction": reduction, "accumulator": accumulator}


def core_source(acc_width: int):
    """One IntMACCore PE (int8 x int8, one lane): the unit the overhead is measured against."""
    from generators.emit import component_verilog
    from hdl.formats import parse_format
    from hdl.int_mac import IntMACCore

    from ...fpga import Source

    core = IntMACCore(a_format=parse_format("int8"), b_format=parse_format("int8"), lanes=1,
                      acc_width=acc_width)
    name = f"int_mac_core_acc{acc_width}"
    return (Source("core", name, {f"{name}.v": component_verilog(core, name)}),
            {"a_format": "int8", "b_format": "int8", "lanes": 1, "acc_width": acc_width})


#: Hand-written array baselines: file stem -> ports (name, direction, width) from the Verilog
#: parameters (the register ring of the Fmax step needs them; they have no streams).
ARRAY_BASELINES = {
    "os_array_baseline": lambda p: [
        ("en", "in", 1), ("clear", "in", 1), ("a_in", "in", p["ROWS"] * p["A_WIDTH"]),
        ("b_in", "in", p["COLS"] * p["B_WIDTH"]),
        ("acc", "out", p["ROWS"] * p["COLS"] * p["ACC_WIDTH"])],
    "ws_array_baseline": lambda p: [
        ("load", "in", 1), ("en", "in", 1), ("w_in", "in", p["COLS"] * p["B_WIDTH"]),
        ("x_in", "in", p["ROWS"] * p["A_WIDTH"]), ("y", "out", p["COLS"] * p["ACC_WIDTH"])],
    "cube_array_baseline": lambda p: [
        ("en", "in", 1), ("clear", "in", 1),
        ("a_in", "in", p["ROWS"] * p["LANES"] * p["A_WIDTH"]),
        ("b_in", "in", p["LANES"] * p["COLS"] * p["B_WIDTH"]),
        ("acc", "out", p["ROWS"] * p["COLS"] * p["ACC_WIDTH"])],
}

_OS4 = {"rows": "4", "cols": "4", "dataflow": "output_stationary", "acc_width": "32"}
_CUBE = {"rows": "2", "cols": "2", "lanes": "2", "acc_width": "17"}
#: (baseline label, its module, Verilog parameters, [(label, generator, values), ...]): each
#: generated design at the baseline's function (int8, same accumulator width where the
#: generator allows; the weight-stationary default carries the 18 bits its sums need).
BASELINE_GROUPS = (
    ("baseline OS 4x4 acc32", "os_array_baseline",
     {"ROWS": 4, "COLS": 4, "A_WIDTH": 8, "B_WIDTH": 8, "ACC_WIDTH": 32},
     [("systolic_array OS 4x4 acc32 overlap", "systolic_array", _OS4),
      ("systolic_array OS 4x4 acc32 shift compressor_tree", "systolic_array",
       {**_OS4, "drain": "shift", "reduction": "compressor_tree"}),
      ("systolic_array OS 4x4 acc32 shift adder_tree", "systolic_array",
       {**_OS4, "drain": "shift"}),
      ("systolic_array OS 4x4 acc32 shift compressor_tree+carry_save", "systolic_array",
       {**_OS4, "drain": "shift", "reduction": "compressor_tree",
        "accumulator": "carry_save"})]),
    ("baseline cube 2x2x2 acc17", "cube_array_baseline",
     {"ROWS": 2, "COLS": 2, "LANES": 2, "A_WIDTH": 8, "B_WIDTH": 8, "ACC_WIDTH": 17},
     [("cube_array 2x2x2 acc17 compressor_tree", "cube_array",
       {**_CUBE, "reduction": "compressor_tree"}),
      ("cube_array 2x2x2 acc17 adder_tree", "cube_array", _CUBE)]),
    ("baseline WS 4x4 acc32", "ws_array_baseline",
     {"ROWS": 4, "COLS": 4, "A_WIDTH": 8, "B_WIDTH": 8, "ACC_WIDTH": 32},
     [("systolic_array WS 4x4 acc18", "systolic_array",
       {"rows": "4", "cols": "4", "dataflow": "weight_stationary"})]),
)


def array_baseline_source(stem: str, params: dict):
    """The hand-written array ``scripts/baselines/<stem>.v`` with Verilog ``params``."""
    from ...fpga import BASELINE_DIR, Source

    text = (BASELINE_DIR / f"{stem}.v").read_text()
    return (Source("baseline", stem, {f"{stem}.v": text}, dict(params),
                   ports=tuple(ARRAY_BASELINES[stem](params))),
            {k.lower(): v for k, v in params.items()})


def plan(args) -> Sweep:
    """Every configuration (checked before anything runs: a bad K or array size is a one-line
    error naming ``--lanes`` / ``--sizes``)."""
    designs = []
    fmax_nodsp = [] if args.no_fmax else [steps.fmax(False, freq_mhz=args.ecp5_freq)]
    if "int_mac" in args.section:
        for lanes in args.lanes:
            for reduction, accumulator in COMBOS:
                values = _int_mac_params(lanes, reduction, accumulator)
                check_params("int_mac", values, {"lanes": flag_of(args, "lanes")},
                             param_flag=None)
                chosen = [steps.generic(), steps.ice40()] + fmax_nodsp
                if (reduction, accumulator) == COMBOS[0]:
                    chosen.append(steps.booth())
                designs.append(design(f"int_mac K={lanes} {reduction}+{accumulator}", "int_mac",
                                      values, chosen, section="int_mac", lanes=lanes,
                                      variant=f"{reduction}+{accumulator}"))
    cores = {}
    if "array" in args.section:
        for rows, cols in args.sizes:
            typed = f"{flag_of(args, 'sizes')} {rows}x{cols}"
            for dataflow in args.dataflows:
                values = {"rows": str(rows), "cols": str(cols), "dataflow": dataflow}
                if args.pipeline_stages and dataflow == "output_stationary":
                    values["pipeline_stages"] = str(args.pipeline_stages)
                params = check_params("systolic_array", values,
                                      {"rows": typed, "cols": typed,
                                       "pipeline_stages": flag_of(args, "pipeline_stages")},
                                      param_flag=None)
                chosen = [steps.generic()] + ([] if args.no_fpga_area else
                                              [steps.ice40(), steps.ice40(True), steps.ecp5()])
                # More multipliers than the LFE5U-85F's MULT18X18D blocks: whole rows of PEs get
                # LUT multipliers (all of them do not fit its LUTs either: 16 x 16 OS needs 87.6k
                # LUT4 of 83.6k), the rest DSP blocks.
                lut_rows = max(0, rows - ECP5_MULT18 // cols)
                if not args.no_fmax and rows * cols <= args.fmax_max_pes:
                    chosen.append(steps.fmax(True, freq_mhz=args.ecp5_freq, lut_rows=lut_rows))
                width = params["acc_width"]
                cores.setdefault(width, custom(f"PE core acc{width}", core_source, (width,),
                                               [steps.generic()], kind="int_mac core"))
                stages = values.get("pipeline_stages")
                designs.append(design(f"systolic_array {rows}x{cols} {dataflow}"
                                      + (f" p{stages}" if stages else ""),
                                      "systolic_array", values, chosen, section="array",
                                      rows=rows, cols=cols, dataflow=dataflow, lut_rows=lut_rows,
                                      core=cores[width].label))
    if "baselines" in args.section:
        chosen = [steps.generic(), steps.ice40()] + (
            [] if args.no_fmax else [steps.fmax(True, seeds=tuple(range(1, args.seeds + 1)),
                                                freq_mhz=args.ecp5_freq)])
        for base_label, stem, verilog_params, generated in BASELINE_GROUPS:
            designs.append(custom(base_label, array_baseline_source, (stem, verilog_params),
                                  chosen, kind="hand-written baseline", section="baselines",
                                  baseline=base_label))
            for label, generator, values in generated:
                designs.append(design(label, generator, values, chosen, section="baselines",
                                      baseline=base_label))
    return Sweep(NAME, designs + list(cores.values()))


# -- records (from the database) -------------------------------------------------------------

def _figures(results, d) -> dict:
    return {s.name: results.figures(d.label, s.name) for s in d.steps
            if results.figures(d.label, s.name)}


def int_mac_records(results) -> list[dict]:
    records = []
    for d in results.sweep.designs:
        if d.get("section") != "int_mac":
            continue
        figures = _figures(results, d)
        booth = figures.pop("booth", None)
        records.append({"lanes": d.get("lanes"), "variant": d.get("variant"),
                        "module": results.module(d.label), **figures})
        if booth:
            records.append({"lanes": d.get("lanes"), "variant": BOOTH,
                            "module": results.module(d.label), "generic": booth})
    return records


def array_records(results) -> list[dict]:
    records = []
    for d in results.sweep.designs:
        if d.get("section") != "array":
            continue
        figures = _figures(results, d)
        rows, cols, lut_rows = d.get("rows"), d.get("cols"), d.get("lut_rows")
        pes = rows * cols
        core_t = results.get(d.get("core"), "generic", "transistors")
        transistors = figures.get("generic", {}).get("transistors")
        fmax = figures.get("fmax") or figures.get("fmax-mixed")
        records.append({
            "rows": rows, "cols": cols, "dataflow": d.get("dataflow"),
            "module": results.module(d.label),
            "acc_width": results.params(d.label).get("acc_width"), "macs_per_cycle": pes,
            **figures,
            "fmax_mapping": ("dsp" if "fmax" in figures else
                             f"{lut_rows * cols} PEs LUT, {(rows - lut_rows) * cols} DSP"
                             if fmax else None),
            "core_transistors": core_t,
            "overhead": round(transistors / (pes * core_t) - 1, 3)
            if transistors and core_t else None,
        })
    return records


BASELINE_COLUMNS = (("transistors", ("generic", "transistors")),
                    ("iCE40 LUT4", ("ice40", "lut4")), ("iCE40 FF", ("ice40", "ff")),
                    ("ECP5 Fmax MHz", ("fmax", "fmax_mhz")))


def baseline_records(results) -> list[dict]:
    """Every design of the baselines section with its figures and its ratios to its baseline
    (Fmax: generated / baseline, higher is better; the others: lower is better)."""
    records = {}
    for d in results.sweep.designs:
        if d.get("section") == "baselines":
            records[d.label] = {"label": d.label, "baseline": d.get("baseline"),
                                "module": results.module(d.label), **_figures(results, d)}
    for rec in records.values():
        base = records.get(rec["baseline"], {})
        rec["ratios"] = {name: _ratio(_get(rec, path), _get(base, path))
                         for name, path in BASELINE_COLUMNS}
    return list(records.values())


def baseline_markdown(records, seeds: int) -> str:
    lines = []
    for rec in records:
        own = rec["label"] == rec["baseline"]
        lines.append([rec["label"]] + [_fmt(_get(rec, p)) for _, p in BASELINE_COLUMNS]
                     + ["1" if own else " / ".join(_fmt(rec["ratios"][n])
                                                   for n, _ in BASELINE_COLUMNS)])
    return "\n".join([
        "### Generated arrays vs hand-written baselines (int8; ECP5 with DSP multipliers, "
        f"median of {seeds} seed{'s' if seeds > 1 else ''})", "",
        markdown_table(["design"] + [c for c, _ in BASELINE_COLUMNS]
                       + ["vs its baseline (T / LUT4 / FF / Fmax)"], lines,
                       align="l" * (len(BASELINE_COLUMNS) + 2))])


# -- tables ----------------------------------------------------------------------------------

INT_MAC_COLUMNS = (
    ("cells", ("generic", "cells")), ("FF", ("generic", "ff")),
    ("transistors", ("generic", "transistors")), ("iCE40 LUT4", ("ice40", "lut4")),
    ("iCE40 carry", ("ice40", "carry")), ("iCE40 FF", ("ice40", "ff")),
    ("ECP5 Fmax MHz", ("fmax-nodsp", "fmax_mhz")),
)


def _get(record, path):
    value = record
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def _ratio(value, base):
    return None if value is None or not base else round(value / base, 3)


def _fmt(value):
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.3f}" if value < 10 else f"{value:.1f}"
    return str(value)


def _base(records, lanes):
    return next((r for r in records if r["lanes"] == lanes and r["variant"] == BASE_VARIANT), {})


def int_mac_markdown(records) -> str:
    lines = []
    for rec in records:
        base = _base(records, rec["lanes"])
        cells = []
        for _, path in INT_MAC_COLUMNS:
            v, b = _get(rec, path), _get(base, path)
            cells.append(_fmt(v) if rec is base or v is None else
                         f"{_fmt(v)} ({_fmt(_ratio(v, b))}x)")
        lines.append([rec["lanes"], rec["variant"]] + cells)
    return "\n".join(["### int_mac int8 x int8: bit-weight options (ratio to adder_tree+binary, "
                      "same K)", "",
                      markdown_table(["K", "variant"] + [c for c, _ in INT_MAC_COLUMNS], lines,
                                     align="l" * (len(INT_MAC_COLUMNS) + 2))])


def int_mac_target(records) -> dict | None:
    at16 = [r for r in records if r["lanes"] == 16 and _get(r, ("generic", "transistors"))]
    base = _base(at16, 16)
    if not base:
        return None
    options = [r for r in at16 if r["variant"] != BOOTH]
    best = min(options, key=lambda r: r["generic"]["transistors"])
    booth = next((r for r in at16 if r["variant"] == BOOTH), None)
    ratio = best["generic"]["transistors"] / base["generic"]["transistors"]
    return {"best_variant": best["variant"], "ratio": round(ratio, 3), "target": TARGET_RATIO,
            "met": ratio <= TARGET_RATIO,
            "ratio_to_synth_booth": round(best["generic"]["transistors"]
                                          / booth["generic"]["transistors"], 3) if booth else None}


ARRAY_COLUMNS = (
    ("MACs/cycle", ("macs_per_cycle",)),
    ("iCE40 LUT4", ("ice40", "lut4")), ("iCE40 FF", ("ice40", "ff")),
    ("iCE40 LUT4 -dsp", ("ice40-dsp", "lut4")), ("iCE40 MAC16 -dsp", ("ice40-dsp", "dsp")),
    ("ECP5 LUT4", ("ecp5", "lut4")), ("ECP5 FF", ("ecp5", "ff")),
    ("ECP5 MULT18", ("ecp5", "dsp")),
    ("cells", ("generic", "cells")), ("transistors", ("generic", "transistors")),
)


def array_markdown(records) -> str:
    lines = []
    for rec in records:
        fmax = rec.get("fmax") or rec.get("fmax-mixed")
        fmax_text = f"{fmax['fmax_mhz']:.1f} ({rec['fmax_mapping']})" if fmax else "-"
        overhead = "-" if rec["overhead"] is None else f"{rec['overhead']:+.1%}"
        lines.append([f"{rec['rows']}x{rec['cols']}", rec["dataflow"]]
                     + [_fmt(_get(rec, p)) for _, p in ARRAY_COLUMNS] + [overhead, fmax_text])
    header = ["RxC", "dataflow"] + [c for c, _ in ARRAY_COLUMNS] + ["overhead vs RxC cores",
                                                                    "ECP5 Fmax MHz (OOC)"]
    return "\n".join(["### systolic_array int8 x int8 (adder_tree + binary PEs)", "",
                      markdown_table(header, lines, align="l" * len(header))])


# -- plot ------------------------------------------------------------------------------------

def plot(int_records, array_records, path, base_records=()) -> None:
    generated = [r for r in base_records if r["label"] != r["baseline"]]
    panels = bool(int_records) + bool(array_records) + bool(generated)
    fig, axes = new_plot(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
    axes = list(axes[0])
    if int_records:
        ax = axes.pop(0)
        lanes = sorted({r["lanes"] for r in int_records})
        for v in dict.fromkeys(r["variant"] for r in int_records):
            points = []
            for k in lanes:
                rec = next((r for r in int_records if r["lanes"] == k and r["variant"] == v), {})
                t, b = _get(rec, ("generic", "transistors")), \
                    _get(_base(int_records, k), ("generic", "transistors"))
                if t and b:
                    points.append((k, t / b))
            ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=v)
        ax.axhline(TARGET_RATIO, color="grey", linestyle=":", label=f"target {TARGET_RATIO}x")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("lanes K")
        ax.set_ylabel("CMOS transistors / adder_tree+binary")
        ax.set_title("int_mac int8 x int8")
        ax.legend(fontsize=7)
    if array_records:
        ax = axes.pop(0)
        for dataflow in DATAFLOWS:
            recs = [r for r in array_records if r["dataflow"] == dataflow and "generic" in r]
            mapped = [r for r in recs if "ecp5" in r]
            if mapped:
                ax.plot([r["macs_per_cycle"] for r in mapped],
                        [r["ecp5"]["lut4"] / r["macs_per_cycle"] for r in mapped], marker="o",
                        label=f"{dataflow}: ECP5 LUT4 per MAC/cycle")
            ax.plot([r["macs_per_cycle"] for r in recs],
                    [r["generic"]["transistors"] / r["macs_per_cycle"] / 1000 for r in recs],
                    marker="s", linestyle="--",
                    label=f"{dataflow}: k-transistors per MAC/cycle")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("PEs (R x C)")
        ax.set_title("systolic_array int8 x int8")
        ax.legend(fontsize=7)
    if generated:
        ax = axes.pop(0)
        width = 0.8 / len(BASELINE_COLUMNS)
        for i, (name, _) in enumerate(BASELINE_COLUMNS):
            ax.barh([j + i * width for j in range(len(generated))],
                    [r["ratios"][name] or 0 for r in generated], height=width, label=name)
        ax.axvline(1.0, color="grey", linestyle=":")
        ax.set_yticks([j + 0.4 - width / 2 for j in range(len(generated))])
        ax.set_yticklabels([r["label"] for r in generated], fontsize=6)
        ax.invert_yaxis()
        ax.set_xlabel("generated / hand-written baseline")
        ax.set_title("arrays vs hand-written RTL")
        ax.legend(fontsize=7)
    save_plot(fig, path)


def render(args, results) -> Rendered:
    int_records, arr_records = int_mac_records(results), array_records(results)
    base_records = baseline_records(results)
    target = int_mac_target(int_records)
    report = {"int_mac": int_records, "int_mac_target_k16": target,
              "systolic_array": arr_records, "baselines": base_records}
    parts = []
    if int_records:
        parts.append(int_mac_markdown(int_records))
        if target:
            parts.append(f"K=16 best: {target['best_variant']} at {target['ratio']}x the "
                         f"transistors of adder_tree+binary (target <= {TARGET_RATIO}x: "
                         f"{'met' if target['met'] else 'MISSED'}); "
                         f"{target['ratio_to_synth_booth']}x of Yosys synth -booth")
    if arr_records:
        parts.append(array_markdown(arr_records))
    if base_records:
        parts.append(baseline_markdown(base_records, args.seeds))
    return Rendered(report, "\n\n".join(parts) + "\n",
                    {"report_arrays.png": lambda path: plot(int_records, arr_records, path,
                                                            base_records)})
