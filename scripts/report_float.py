#!/usr/bin/env python3
"""Area / Fmax report of the floating-point PEs (issue 3): ``fp_mac``, ``mx_dot`` and
``mixed_int_pe`` beside ``int_mac`` int8 x int8 at the same K, the product units alone, and
L-Mul's mean relative error.

Every design goes through the same flow in the same run (``scripts/flow.py``):

* ``generic``: Yosys gate count and CMOS transistor estimate;
* ``ice40``:   ``synth_ice40`` without DSP (LUT4, carry, FF);
* ``fmax``:    ECP5 out-of-context place and route (all ports registered), nextpnr fixed seed.

Rows: ``fp_mac`` for each format (a = b), both accumulators (exact where offered), exact vs L-Mul
at ``--fp-lanes`` (default 1) beside ``int_mac`` int8 x int8 at that K; ``mx_dot`` for each
element type (a = b) at ``--mx-lanes`` (default 8) and ``mixed_int_pe`` (both multipliers,
weight_bits 4, int8 activations, K = 8) beside ``int_mac`` int8 x int8 K = 8; the exact and L-Mul
bf16 product units (:class:`hdl.fp_mac.FloatProduct`) alone.

L-Mul error: for each format, Gaussian operands N(0, 1) are quantized to the format and the mean of
|lmul - exact| / |exact| over nonzero products is computed with the golden model; for fp8_e4m3 the
same operands run through the RTL (cocotb, first available simulator), whose outputs must equal the
golden ones, which confirms the figure on the hardware.

Examples::

    python scripts/report_float.py                         # everything (long: ~40 designs)
    python scripts/report_float.py --set done --targets ice40   # only the Done-when rows
    python scripts/report_float.py --json build/float.json --markdown build/float.md

Prints Markdown on stdout (JSON with --json) and progress on stderr.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow  # noqa: E402
from flow import progress  # noqa: E402

PROG = "report_float.py"
TARGETS = ("generic", "ice40", "fmax")
FP_FORMATS = ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "fp16", "bf16")
MX_ELEMS = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1", "mxint8")

#: Done-when targets: (name, numerator row, denominator row, bound).
DONE_TARGETS = (
    ("fp_mac fp8_e4m3 exact K=1 vs int_mac int8 K=1 (iCE40 LUT4)",
     "fp_mac fp8_e4m3 x fp8_e4m3 K=1 acc=exact mul=exact", "int_mac int8 x int8 K=1", 1.5),
    ("mixed_int_pe shift_add vs dequant_first (iCE40 LUT4)",
     "mixed_int_pe w4 int8 K=8 shift_add", "mixed_int_pe w4 int8 K=8 dequant_first", 0.5),
    ("L-Mul bf16 product unit vs exact bf16 product unit (iCE40 LUT4)",
     "product unit bf16 x bf16 lmul", "product unit bf16 x bf16 exact", 0.5),
    ("(context) L-Mul bf16 normal path alone vs exact bf16 product unit (iCE40 LUT4)",
     "product unit bf16 x bf16 lmul_normals_only", "product unit bf16 x bf16 exact", 0.5),
)


def parse_args(argv):
    parser = flow.script_parser(PROG, __doc__)
    parser.add_argument("--set", choices=("all", "done"), default="all",
                        help="all rows, or only those of the Done-when targets [default: all]")
    parser.add_argument("--targets", type=flow.choice_list(TARGETS), default="all",
                        metavar="LIST",
                        help=f"comma-separated subset of {','.join(TARGETS)} or 'all' "
                             "[default: all]")
    parser.add_argument("--fp-lanes", type=flow.int_at_least(1), default=1, metavar="K",
                        help="lanes of the fp_mac rows and their int_mac baseline [default: 1]")
    parser.add_argument("--mx-lanes", type=flow.int_at_least(1), default=8, metavar="K",
                        help="lanes of the mx_dot rows (1, 2, 4, 8, 16, 32) [default: 8]")
    parser.add_argument("--error-samples", type=flow.int_at_least(0), default=20000,
                        metavar="N",
                        help="Gaussian operand pairs per format for the L-Mul error "
                             "[default: 20000]")
    parser.add_argument("--no-rtl-check", action="store_true",
                        help="skip the RTL confirmation of the L-Mul error")
    parser.add_argument("--seed", type=flow.int_at_least(0), default=flow.DEFAULT_SEED,
                        help=f"nextpnr seed [default: {flow.DEFAULT_SEED}]")
    parser.add_argument("--json", type=Path, metavar="PATH", help="write the JSON report to PATH")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the Markdown report to PATH (it is always printed)")
    parser.add_argument("--keep", type=Path, metavar="DIR",
                        help="keep work files in DIR [default: a temporary directory]")
    parser.add_argument("--cache", type=Path, metavar="DIR",
                        default=Path(__file__).resolve().parent.parent / "build" / "report_float_cache",
                        help="reuse figures measured earlier on identical Verilog, kept in DIR "
                             "[default: build/report_float_cache]")
    parser.add_argument("--no-cache", dest="cache", action="store_const", const=None,
                        help="measure everything again")
    return parser.parse_args(argv)


def check_args(args) -> None:
    """``--fp-lanes`` / ``--mx-lanes`` against every generator that gets them, before anything
    is synthesized or written (a value no generator takes would otherwise leave every fp_mac row
    "not offered"): a one-line flow.UsageError naming the flag."""
    lanes = [(args.fp_lanes, "fp_lanes", ("int_mac", "fp_mac"))]
    if args.set == "all":
        lanes.append((args.mx_lanes, "mx_lanes", ("int_mac", "mx_dot")))
    for value, dest, generators in lanes:
        for generator in generators:
            flow.check_value(generator, "lanes", str(value), flow.flag_of(args, dest))


# ------------------------------------------------------------------------------------------
# Rows
# ------------------------------------------------------------------------------------------

def _generators():
    from generators import GENERATORS
    return GENERATORS


def rows(args) -> tuple[list[dict], list[str]]:
    """Designs to synthesize: dicts with ``label``, ``group``, ``baseline`` (label of the row it
    is compared with) and ``generator``/``params`` or ``product``. Also returns notes."""
    from generators.params import ParamError
    gens = _generators()
    out, notes = [], []
    K, KM = args.fp_lanes, args.mx_lanes
    base_fp = f"int_mac int8 x int8 K={K}"
    base_mx = f"int_mac int8 x int8 K={KM}"
    bases = [K]
    if args.set == "all":
        bases.append(KM)
    if "mixed_int_pe" in gens:
        bases.append(8)
    for k in dict.fromkeys(bases):
        out.append(dict(label=f"int_mac int8 x int8 K={k}", group="baseline",
                        generator="int_mac",
                        params={"a_format": "int8", "b_format": "int8", "lanes": str(k)}))
    formats = FP_FORMATS if args.set == "all" else ("fp8_e4m3",)
    for fmt in formats:
        for acc in ("exact", "fp32"):
            for mul in ("exact", "lmul"):
                if args.set == "done" and (acc, mul) != ("exact", "exact"):
                    continue
                params = {"a_format": fmt, "b_format": fmt, "lanes": str(K),
                          "accumulator": acc, "multiplier": mul}
                try:
                    gens["fp_mac"].resolve(params)
                except ParamError as exc:
                    notes.append(f"fp_mac {fmt} x {fmt} acc={acc}: not offered ({exc})")
                    continue
                out.append(dict(label=f"fp_mac {fmt} x {fmt} K={K} acc={acc} mul={mul}",
                                group="fp_mac", generator="fp_mac", params=params,
                                baseline=base_fp))
    if args.set == "all":
        for elem in MX_ELEMS:
            out.append(dict(label=f"mx_dot {elem} x {elem} K={KM}", group="mx_dot",
                            generator="mx_dot",
                            params={"a_elem": elem, "b_elem": elem, "lanes": str(KM)},
                            baseline=base_mx))
    if "mixed_int_pe" in gens:
        for mul in ("shift_add", "dequant_first"):
            out.append(dict(label=f"mixed_int_pe w4 int8 K=8 {mul}", group="mixed_int_pe",
                            generator="mixed_int_pe",
                            params={"weight_bits": "4", "act_format": "int8", "lanes": "8",
                                    "multiplier": mul},
                            baseline="int_mac int8 x int8 K=8"))
    else:
        notes.append("mixed_int_pe is not registered in generators.GENERATORS: its rows and "
                     "target are skipped")
    for mul in ("exact", "lmul", "lmul_normals_only"):
        out.append(dict(label=f"product unit bf16 x bf16 {mul}", group="product unit",
                        product=("bf16", "bf16", mul),
                        baseline="product unit bf16 x bf16 exact"))
    return out, notes


def product_source(a_fmt: str, b_fmt: str, multiplier: str) -> flow.Source:
    """Verilog of one :class:`hdl.fp_mac.FloatProduct` (combinational) as a Source."""
    from generators.emit import component_verilog

    from hdl.formats import parse_format
    from hdl.fp_mac import FloatProduct, operand_spec
    unit = FloatProduct(a_spec=operand_spec(parse_format(a_fmt)),
                        b_spec=operand_spec(parse_format(b_fmt)), multiplier=multiplier)
    module = f"float_product_{a_fmt}x{b_fmt}_{multiplier}"
    return flow.Source("generated", module, {f"{module}.v": component_verilog(unit, module)})


# ------------------------------------------------------------------------------------------
# Synthesis
# ------------------------------------------------------------------------------------------

def _cached(args, source: flow.Source, target: str, measure) -> dict:
    return flow.cached_figures(args.cache, source, target, measure, key=[args.seed])


def synthesize(row: dict, workdir: Path, args) -> dict:
    if "product" in row:
        source = product_source(*row["product"])
    else:
        source = flow.generated_source(flow.elaborate(row["generator"], row["params"]))
    figures = {"module": source.module}
    if "generic" in args.targets:
        progress(f"{row['label']}: yosys generic + CMOS estimate")
        g = _cached(args, source, "generic",
                    lambda: flow.synth_generic(source, workdir / "generic"))
        figures.update(cells=g["cells"], transistors=g["transistors"])
    if "ice40" in args.targets:
        progress(f"{row['label']}: synth_ice40 (no DSP)")
        f = _cached(args, source, "ice40",
                    lambda: flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=False))
        figures.update(ice40_lut4=f["lut4"], ice40_carry=f["carry"], ice40_ff=f["ff"])
    if "fmax" in args.targets and source.streams:
        progress(f"{row['label']}: ECP5 out-of-context place and route")

        def place_and_route():
            wrapped = flow.register_wrapper(source)
            netlist = flow.synth_fpga(wrapped, workdir / "ecp5", "ecp5", dsp=False)["netlist"]
            return flow.nextpnr_ecp5_ooc(workdir / "ecp5", netlist, seed=args.seed)
        figures.update(ecp5_fmax_mhz=_cached(args, source, "fmax", place_and_route)["fmax_mhz"])
    return figures


# ------------------------------------------------------------------------------------------
# L-Mul error
# ------------------------------------------------------------------------------------------

def lmul_errors(samples: int) -> list[dict]:
    import numpy as np

    from hdl.formats import parse_format
    from sim.golden.fp_mac import SCALE, product_term
    out = []
    rng = np.random.default_rng(1)
    for name in FP_FORMATS:
        fmt = parse_format(name)
        xa, xb = rng.standard_normal(samples), rng.standard_normal(samples)
        qa, qb = fmt.decode(fmt.encode(xa)), fmt.decode(fmt.encode(xb))
        rel, rel_q, rel_normal = [], [], []
        for x, y, rx, ry in zip(qa, qb, xa, xb):
            ex = product_term(float(x), float(y), fmt, fmt, "exact")
            lm = product_term(float(x), float(y), fmt, fmt, "lmul")
            if ex.kind != "finite" or ex.value == 0:
                continue
            rel.append(abs(lm.value - ex.value) / abs(ex.value))
            if min(abs(x), abs(y)) >= fmt.min_normal:
                rel_normal.append(rel[-1])
            real = rx * ry
            rel_q.append(abs(ex.value / 2.0 ** SCALE - real) / abs(real))
        out.append({"format": name, "pairs": len(rel),
                    "lmul_vs_exact_mean_rel_error": float(np.mean(rel)),
                    "normal_pairs": len(rel_normal),
                    "lmul_vs_exact_mean_rel_error_normal_operands":
                        float(np.mean(rel_normal)) if rel_normal else None,
                    "exact_product_vs_unquantized_mean_rel_error": float(np.mean(rel_q))})
        progress(f"L-Mul error {name}: {out[-1]['lmul_vs_exact_mean_rel_error']:.4f}")
    return out


def rtl_confirmation(samples: int, workdir: Path) -> dict:
    """fp8_e4m3 Gaussian operand pairs through the RTL (exact and lmul): the run passes only if
    every RTL output equals the golden one, so the golden error figure holds for the RTL."""
    import numpy as np

    from generators import get_generator
    from hdl.formats import parse_format
    from sim.runner import available_simulators, run_stream_test
    from sim.stimuli.fp_mac import fp_mac_stimulus
    flags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in flags:   # see tests/test_fp_mac.py
        os.environ["MAKEFLAGS"] = f"{flags} CFG_CXXFLAGS_PCH_I=-include".strip()
    fmt = parse_format("fp8_e4m3")
    rng = np.random.default_rng(1)
    a = fmt.encode(rng.standard_normal(samples)).reshape(-1, 1)
    b = fmt.encode(rng.standard_normal(samples)).reshape(-1, 1)
    last = np.ones(samples, dtype=bool)
    simulator = available_simulators()[0]
    results = {}
    outputs = {}
    for mul in ("exact", "lmul"):
        design = get_generator("fp_mac").elaborate(
            {"a_format": "fp8_e4m3", "b_format": "fp8_e4m3", "lanes": 1, "multiplier": mul})
        stim = fp_mac_stimulus(design.params, design.manifest, a, b, last, idle=0.0, stall=0.0, seed=1)
        progress(f"RTL check fp8_e4m3 {mul} on {simulator} ({samples} beats)")
        run_stream_test(design, simulator, stim, workdir / f"rtl_{mul}")
        outputs[mul] = np.array([row[0] for row in stim["expected"]["o"]], dtype=np.uint32)
    ex = outputs["exact"].view(np.float32).astype(np.float64)
    lm = outputs["lmul"].view(np.float32).astype(np.float64)
    ok = ex != 0
    results = {"simulator": simulator, "beats": samples, "format": "fp8_e4m3",
               "rtl_equals_golden": True,
               "lmul_vs_exact_mean_rel_error": float(np.mean(np.abs(lm[ok] - ex[ok]) /
                                                            np.abs(ex[ok])))}
    return results


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------

COLUMNS = (("iCE40 LUT4", "ice40_lut4"), ("iCE40 carry", "ice40_carry"), ("iCE40 FF", "ice40_ff"),
           ("generic cells", "cells"), ("transistors", "transistors"),
           ("ECP5 Fmax MHz", "ecp5_fmax_mhz"))


def _fmt(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def markdown(records, errors, rtl, targets, notes) -> str:
    by_label = {r["label"]: r for r in records}
    cols = [(n, k) for n, k in COLUMNS if any(k in r["figures"] for r in records)]
    out = ["### Floating-point PEs: area and Fmax", "",
           "| design | " + " | ".join(n for n, _ in cols) + " | LUT4 / baseline LUT4 |",
           "|---|" + "---:|" * (len(cols) + 1)]
    for r in records:
        base = by_label.get(r.get("baseline"))
        ratio = None
        if base and base is not r and r["figures"].get("ice40_lut4") and \
                base["figures"].get("ice40_lut4"):
            ratio = r["figures"]["ice40_lut4"] / base["figures"]["ice40_lut4"]
        ratio_text = f"{ratio:.2f} (vs {r['baseline']})" if ratio is not None else "-"
        out.append(f"| {r['label']} | " + " | ".join(_fmt(r["figures"].get(k)) for _, k in cols)
                   + f" | {ratio_text} |")
    if errors:
        out += ["", "### L-Mul mean relative error (Gaussian N(0,1) operands, golden model)", "",
                "| format | pairs | L-Mul vs exact product | same, both operands normal (pairs) "
                "| exact product vs unquantized product |",
                "|---|---:|---:|---:|---:|"]
        for e in errors:
            normal = e["lmul_vs_exact_mean_rel_error_normal_operands"]
            out.append(f"| {e['format']} | {e['pairs']} | "
                       f"{100 * e['lmul_vs_exact_mean_rel_error']:.2f} % | "
                       f"{'-' if normal is None else f'{100 * normal:.2f} %'} "
                       f"({e['normal_pairs']}) | "
                       f"{100 * e['exact_product_vs_unquantized_mean_rel_error']:.2f} % |")
    if rtl:
        out += ["", f"RTL confirmation: {rtl['beats']} fp8_e4m3 Gaussian pairs on "
                    f"{rtl['simulator']}, RTL outputs equal the golden model's for exact and "
                    f"lmul; L-Mul mean relative error from the RTL outputs "
                    f"{100 * rtl['lmul_vs_exact_mean_rel_error']:.2f} %."]
    out += ["", "### Done-when targets", ""]
    for t in targets:
        out.append(f"- {t['name']}: {t['text']}")
    if notes:
        out += ["", "Notes:"] + [f"- {n}" for n in notes]
    return "\n".join(out) + "\n"


def check_targets(records) -> list[dict]:
    by_label = {r["label"]: r for r in records}
    out = []
    for name, num, den, bound in DONE_TARGETS:
        a, b = by_label.get(num), by_label.get(den)
        if not a or not b or "ice40_lut4" not in a["figures"] or "ice40_lut4" not in b["figures"]:
            out.append({"name": name, "status": "NOT RUN",
                        "text": "not run (row missing or ice40 target not selected)"})
            continue
        la, lb = a["figures"]["ice40_lut4"], b["figures"]["ice40_lut4"]
        ratio = la / lb
        ok = ratio <= bound
        text = (f"{la} / {lb} LUT4 = {ratio:.3f} (target <= {bound}): "
                f"{'PASS' if ok else f'MISSED by {ratio / bound:.2f}x'}")
        out.append({"name": name, "status": "PASS" if ok else "MISSED", "ratio": ratio,
                    "bound": bound, "text": text})
    return out


def run(args) -> tuple[str, dict]:
    check_args(args)
    row_list, notes = rows(args)
    for row in row_list:    # every row's parameters before the first synthesis
        if "generator" in row:
            flow.check_params(row["generator"], row["params"], param_flag=None)
    records = []
    with tempfile.TemporaryDirectory(prefix="peforge-float-") as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp)
        for i, row in enumerate(row_list):
            start = time.monotonic()
            figures = synthesize(row, root / f"{i:02d}", args)
            records.append({**{k: v for k, v in row.items() if k != "product"},
                            "figures": figures, "seconds": round(time.monotonic() - start, 1)})
        errors = lmul_errors(args.error_samples) if args.error_samples > 0 else []
        rtl = None if args.no_rtl_check else rtl_confirmation(4096, root)
    targets = check_targets(records)
    report = markdown(records, errors, rtl, targets, notes)
    data = {"records": records, "lmul_error": errors, "rtl_confirmation": rtl,
            "targets": targets, "notes": notes}
    return report, data


def produce(args) -> str:
    """Run the report, write ``--json`` / ``--markdown``; return the text to print."""
    report, data = run(args)
    text = json.dumps(data, indent=2) + "\n"
    for dest, content in (("json", text), ("markdown", report)):
        if getattr(args, dest):
            flow.write_text(getattr(args, dest), content, flow.flag_of(args, dest))
    return f"{text}{report}\n"


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, files=("json", "markdown"),
                            dirs=("keep", "cache"))


if __name__ == "__main__":
    sys.exit(main())
