"""Area / Fmax report of the floating-point PEs (issue 3): ``fp_mac``, ``mx_dot`` and
``mixed_int_pe`` beside ``int_mac`` int8 x int8 at the same K, the product units alone, and
L-Mul's mean relative error.

Every design goes through the same steps in the same run:

* ``generic``: Yosys gate count and CMOS transistor estimate;
* ``ice40``:   ``synth_ice40`` without DSP (LUT4, carry, FF);
* ``fmax``:    ECP5 out-of-context place and route (all ports registered), nextpnr fixed seed.

Rows: ``fp_mac`` for each format (a = b), both accumulators (exact where offered), exact vs L-Mul
at ``--fp-lanes`` (default 1), and the exact accumulator with the sequential rounder, beside
``int_mac`` int8 x int8 at that K; ``mx_dot`` for each
element type (a = b) at ``--mx-lanes`` (default 8) and ``mixed_int_pe`` (both multipliers,
weight_bits 4, int8 activations, K = 8) beside ``int_mac`` int8 x int8 K = 8; the exact, L-Mul,
flush-to-zero L-Mul and normals-only L-Mul bf16 product units (:class:`hdl.fp_mac.FloatProduct`)
alone.

L-Mul error: for each format, Gaussian operands N(0, 1) are quantized to the format and the mean of
|lmul - exact| / |exact| over nonzero products is computed with the golden model (also for the
flush-to-zero L-Mul, whose products with a subnormal operand are 0: relative error 1); for
fp8_e4m3 the same operands run through the RTL (first available simulator), whose outputs must
equal the golden ones, which confirms the figure on the hardware.
"""

from __future__ import annotations

import os
from pathlib import Path

from .. import steps
from ..command import check_params, check_value, choice_list, flag_of, int_at_least
from ..engine import Sweep, custom, design, measurement
from ..render import markdown_table
from ..report import Rendered
from ...fpga import DEFAULT_SEED, FlowError, Source

NAME = "float"
FILES = ("json", "markdown")
EPILOG = """examples:
    peforge report float                                # everything (long: ~40 designs)
    peforge report float --set done --targets ice40     # only the Done-when rows
    peforge report float --json build/float.json --markdown build/float.md"""
TARGETS = ("generic", "ice40", "fmax")
FP_FORMATS = ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "fp16", "bf16")
MX_ELEMS = ("mxfp8_e4m3", "mxfp8_e5m2", "mxfp6_e3m2", "mxfp6_e2m3", "mxfp4_e2m1", "mxint8")
LMUL = "L-Mul error"
RTL = "RTL check fp8_e4m3 lmul"
RTL_BEATS = 4096
#: Label suffix of the fp_mac rows with the sequential rounder.
SEQUENTIAL = "rounder=sequential"

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
    ("fp_mac fp8_e4m3 exact K=1 sequential rounder vs int_mac int8 K=1 (iCE40 LUT4; issue 16)",
     f"fp_mac fp8_e4m3 x fp8_e4m3 K=1 acc=exact mul=exact {SEQUENTIAL}",
     "int_mac int8 x int8 K=1", 2.0),
    ("L-Mul flush-to-zero bf16 product unit vs exact bf16 product unit (iCE40 LUT4; issue 16)",
     "product unit bf16 x bf16 lmul_ftz", "product unit bf16 x bf16 exact", 0.6),
)

COLUMNS = (("iCE40 LUT4", "ice40", "lut4"), ("iCE40 carry", "ice40", "carry"),
           ("iCE40 FF", "ice40", "ff"), ("generic cells", "generic", "cells"),
           ("transistors", "generic", "transistors"), ("ECP5 Fmax MHz", "fmax-nodsp", "fmax_mhz"))


def add_arguments(parser) -> None:
    parser.add_argument("--set", choices=("all", "done"), default="all",
                        help="all rows, or only those of the Done-when targets [default: all]")
    parser.add_argument("--targets", type=choice_list(TARGETS), default="all", metavar="LIST",
                        help=f"comma-separated subset of {','.join(TARGETS)} or 'all' "
                             "[default: all]")
    parser.add_argument("--fp-lanes", type=int_at_least(1), default=1, metavar="K",
                        help="lanes of the fp_mac rows and their int_mac baseline [default: 1]")
    parser.add_argument("--mx-lanes", type=int_at_least(1), default=8, metavar="K",
                        help="lanes of the mx_dot rows (1, 2, 4, 8, 16, 32) [default: 8]")
    parser.add_argument("--error-samples", type=int_at_least(0), default=20000, metavar="N",
                        help="Gaussian operand pairs per format for the L-Mul error "
                             "[default: 20000]")
    parser.add_argument("--no-rtl-check", action="store_true",
                        help="skip the RTL confirmation of the L-Mul error")
    parser.add_argument("--seed", type=int_at_least(0), default=DEFAULT_SEED,
                        help=f"nextpnr seed [default: {DEFAULT_SEED}]")
    parser.add_argument("--json", type=Path, metavar="PATH",
                        help="also write the JSON report to PATH")
    parser.add_argument("--markdown", type=Path, metavar="PATH",
                        help="also write the Markdown report to PATH (it is always printed)")


# ------------------------------------------------------------------------------------------
# Designs
# ------------------------------------------------------------------------------------------

def product_source(a_fmt: str, b_fmt: str, multiplier: str):
    """One :class:`hdl.fp_mac.FloatProduct` (combinational) as a custom source."""
    from generators.emit import component_verilog
    from hdl.formats import parse_format
    from hdl.fp_mac import FloatProduct, operand_spec

    unit = FloatProduct(a_spec=operand_spec(parse_format(a_fmt)),
                        b_spec=operand_spec(parse_format(b_fmt)), multiplier=multiplier)
    module = f"float_product_{a_fmt}x{b_fmt}_{multiplier}"
    return (Source("generated", module, {f"{module}.v": component_verilog(unit, module)}),
            {"a_format": a_fmt, "b_format": b_fmt, "multiplier": multiplier})


def rows(args) -> tuple[list[tuple], list[str]]:
    """(label, group, baseline label, generator or None, parameters or product args) of every
    design, and notes on combinations not offered."""
    from generators import get_generator
    from generators.params import ParamError

    out, notes = [], []
    K, KM = args.fp_lanes, args.mx_lanes
    bases = [K] + ([KM] if args.set == "all" else []) + [8]
    for k in dict.fromkeys(bases):
        out.append((f"int_mac int8 x int8 K={k}", "baseline", None, "int_mac",
                    {"a_format": "int8", "b_format": "int8", "lanes": str(k)}))
    formats = FP_FORMATS if args.set == "all" else ("fp8_e4m3",)
    for fmt in formats:
        for acc in ("exact", "fp32"):
            for mul in ("exact", "lmul"):
                if args.set == "done" and (acc, mul) != ("exact", "exact"):
                    continue
                params = {"a_format": fmt, "b_format": fmt, "lanes": str(K),
                          "accumulator": acc, "multiplier": mul}
                try:
                    get_generator("fp_mac").resolve(params)
                except ParamError as exc:
                    notes.append(f"fp_mac {fmt} x {fmt} acc={acc}: not offered ({exc})")
                    continue
                out.append((f"fp_mac {fmt} x {fmt} K={K} acc={acc} mul={mul}", "fp_mac",
                            f"int_mac int8 x int8 K={K}", "fp_mac", params))
                if (acc, mul) == ("exact", "exact"):
                    out.append((f"fp_mac {fmt} x {fmt} K={K} acc={acc} mul={mul} {SEQUENTIAL}",
                                "fp_mac", f"int_mac int8 x int8 K={K}", "fp_mac",
                                {**params, "rounder": "sequential"}))
    if args.set == "all":
        for elem in MX_ELEMS:
            out.append((f"mx_dot {elem} x {elem} K={KM}", "mx_dot", f"int_mac int8 x int8 K={KM}",
                        "mx_dot", {"a_elem": elem, "b_elem": elem, "lanes": str(KM)}))
    for mul in ("shift_add", "dequant_first"):
        out.append((f"mixed_int_pe w4 int8 K=8 {mul}", "mixed_int_pe", "int_mac int8 x int8 K=8",
                    "mixed_int_pe", {"weight_bits": "4", "act_format": "int8", "lanes": "8",
                                     "multiplier": mul}))
    for mul in ("exact", "lmul", "lmul_ftz", "lmul_normals_only"):
        out.append((f"product unit bf16 x bf16 {mul}", "product unit",
                    "product unit bf16 x bf16 exact", None, ("bf16", "bf16", mul)))
    return out, notes


def plan(args) -> Sweep:
    """Check ``--fp-lanes`` / ``--mx-lanes`` against every generator that gets them (a value no
    generator takes would otherwise leave every fp_mac row "not offered"), then every row."""
    lanes = [(args.fp_lanes, "fp_lanes", ("int_mac", "fp_mac"))]
    if args.set == "all":
        lanes.append((args.mx_lanes, "mx_lanes", ("int_mac", "mx_dot")))
    for value, dest, generators in lanes:
        for generator in generators:
            check_value(generator, "lanes", str(value), flag_of(args, dest))
    table, notes = rows(args)
    args.notes = notes
    area = ([steps.generic()] if "generic" in args.targets else []) + \
        ([steps.ice40()] if "ice40" in args.targets else [])
    fmax = [steps.fmax(False, seeds=(args.seed,))] if "fmax" in args.targets else []
    designs = []
    for label, group, baseline, generator, params in table:
        info = {"group": group, "baseline": baseline}
        if generator is None:
            designs.append(custom(label, product_source, params, area, kind="fp product unit",
                                  **info))
        else:
            check_params(generator, params, param_flag=None)
            designs.append(design(label, generator, params, area + fmax, **info))
    if args.error_samples > 0:
        designs.append(measurement(LMUL, [steps.measure("lmul-error", lmul_error_step,
                                                        code=("sim.golden.fp_mac", "hdl.formats"),
                                                        samples=args.error_samples)]))
    if not args.no_rtl_check:
        designs.append(design(RTL, "fp_mac", {"a_format": "fp8_e4m3", "b_format": "fp8_e4m3",
                                              "lanes": "1", "multiplier": "lmul"},
                              [steps.measure("rtl-check", rtl_check_step, beats=RTL_BEATS,
                                             code=("hdl.fp_mac", "generators.fp_mac",
                                                   "sim.stimuli.fp_mac", "sim.golden.fp_mac"))]))
    return Sweep(NAME, designs)


# ------------------------------------------------------------------------------------------
# Measurements
# ------------------------------------------------------------------------------------------

def lmul_error_step(built, workdir, samples: int) -> dict:
    """L-Mul vs exact products per format, from the golden model (see the module docstring)."""
    import numpy as np

    from hdl.formats import parse_format
    from sim.golden.fp_mac import SCALE, product_term

    out = {}
    rng = np.random.default_rng(1)
    for name in FP_FORMATS:
        fmt = parse_format(name)
        xa, xb = rng.standard_normal(samples), rng.standard_normal(samples)
        qa, qb = fmt.decode(fmt.encode(xa)), fmt.decode(fmt.encode(xb))
        rel, rel_q, rel_normal, rel_ftz = [], [], [], []
        for x, y, rx, ry in zip(qa, qb, xa, xb):
            ex = product_term(float(x), float(y), fmt, fmt, "exact")
            lm = product_term(float(x), float(y), fmt, fmt, "lmul")
            if ex.kind != "finite" or ex.value == 0:
                continue
            rel.append(abs(lm.value - ex.value) / abs(ex.value))
            ftz = product_term(float(x), float(y), fmt, fmt, "lmul_ftz")
            rel_ftz.append(abs(ftz.value - ex.value) / abs(ex.value))
            if min(abs(x), abs(y)) >= fmt.min_normal:
                rel_normal.append(rel[-1])
            real = rx * ry
            rel_q.append(abs(ex.value / 2.0 ** SCALE - real) / abs(real))
        out[name] = {"pairs": len(rel), "lmul_vs_exact_mean_rel_error": float(np.mean(rel)),
                     "lmul_ftz_vs_exact_mean_rel_error": float(np.mean(rel_ftz)),
                     "normal_pairs": len(rel_normal),
                     "lmul_vs_exact_mean_rel_error_normal_operands":
                         float(np.mean(rel_normal)) if rel_normal else None,
                     "exact_product_vs_unquantized_mean_rel_error": float(np.mean(rel_q))}
    return out


def rtl_check_step(built, workdir: Path, beats: int) -> dict:
    """fp8_e4m3 Gaussian operand pairs through the RTL of the exact and the L-Mul fp_mac
    (``built`` is the L-Mul one): the step fails unless every RTL output equals the golden one,
    so the golden error figure holds for the RTL; returns the L-Mul error from the RTL outputs."""
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
    a = fmt.encode(rng.standard_normal(beats)).reshape(-1, 1)
    b = fmt.encode(rng.standard_normal(beats)).reshape(-1, 1)
    last = np.ones(beats, dtype=bool)
    simulator = available_simulators()[0]
    outputs = {}
    for mul in ("exact", "lmul"):
        des = built.design() if mul == "lmul" else get_generator("fp_mac").elaborate(
            {**built.values, "multiplier": mul})
        stim = fp_mac_stimulus(des.params, des.manifest, a, b, last, idle=0.0, stall=0.0, seed=1)
        try:
            run_stream_test(des, simulator, stim, workdir / f"rtl_{mul}")
        except Exception as exc:
            raise FlowError(f"RTL check of fp_mac {mul}: {exc}") from None
        outputs[mul] = np.array([row[0] for row in stim["expected"]["o"]], dtype=np.uint32)
    ex = outputs["exact"].view(np.float32).astype(np.float64)
    lm = outputs["lmul"].view(np.float32).astype(np.float64)
    ok = ex != 0
    return {"simulator": simulator, "beats": beats, "rtl_equals_golden": 1,
            "lmul_vs_exact_mean_rel_error": float(np.mean(np.abs(lm[ok] - ex[ok]) /
                                                         np.abs(ex[ok])))}


# ------------------------------------------------------------------------------------------
# Report
# ------------------------------------------------------------------------------------------

def _fmt(v):
    if v is None:
        return "-"
    return f"{v:.3f}" if isinstance(v, float) else str(v)


def _records(results) -> list[dict]:
    out = []
    for d in results.sweep.designs:
        if d.get("group") is None:
            continue
        figures = {"module": results.module(d.label)}
        for name, step, key in COLUMNS:
            value = results.get(d.label, step, key)
            if value is not None:
                figures[f"{step}.{key}"] = value
        out.append({"label": d.label, "group": d.get("group"), "baseline": d.get("baseline"),
                    "generator": d.generator, "params": results.params(d.label),
                    "figures": figures})
    return out


def _targets(results) -> list[dict]:
    out = []
    for name, num, den, bound in DONE_TARGETS:
        la, lb = results.get(num, "ice40", "lut4"), results.get(den, "ice40", "lut4")
        if la is None or lb is None:
            out.append({"name": name, "status": "NOT RUN",
                        "text": "not run (row missing or ice40 target not selected)"})
            continue
        r = la / lb
        ok = r <= bound
        out.append({"name": name, "status": "PASS" if ok else "MISSED", "ratio": r,
                    "bound": bound, "text": f"{la} / {lb} LUT4 = {r:.3f} (target <= {bound}): "
                                            f"{'PASS' if ok else f'MISSED by {r / bound:.2f}x'}"})
    return out


def _errors(results) -> list[dict]:
    figures = results.figures(LMUL, "lmul-error")
    return [{"format": fmt, **{k.split(".", 1)[1]: v for k, v in figures.items()
                               if k.startswith(fmt + ".")}}
            for fmt in FP_FORMATS if f"{fmt}.pairs" in figures]


def render(args, results) -> Rendered:
    records = _records(results)
    cols = [(n, s, k) for n, s, k in COLUMNS if any(f"{s}.{k}" in r["figures"] for r in records)]
    by_label = {r["label"]: r for r in records}
    table = []
    for r in records:
        base = by_label.get(r["baseline"]) if r["baseline"] != r["label"] else None
        la = r["figures"].get("ice40.lut4")
        lb = base["figures"].get("ice40.lut4") if base else None
        ratio_text = f"{la / lb:.2f} (vs {r['baseline']})" if la and lb else "-"
        table.append([r["label"]] + [_fmt(r["figures"].get(f"{s}.{k}")) for _, s, k in cols]
                     + [ratio_text])
    out = ["### Floating-point PEs: area and Fmax", "",
           markdown_table(["design"] + [n for n, _, _ in cols] + ["LUT4 / baseline LUT4"], table)]
    errors = _errors(results)
    if errors:
        lines = []
        for e in errors:
            normal = e.get("lmul_vs_exact_mean_rel_error_normal_operands")
            ftz = e.get("lmul_ftz_vs_exact_mean_rel_error")
            lines.append([e["format"], e["pairs"],
                          f"{100 * e['lmul_vs_exact_mean_rel_error']:.2f} %",
                          "-" if ftz is None else f"{100 * ftz:.2f} %",
                          f"{'-' if normal is None else f'{100 * normal:.2f} %'} "
                          f"({e['normal_pairs']})",
                          f"{100 * e['exact_product_vs_unquantized_mean_rel_error']:.2f} %"])
        out += ["", "### L-Mul mean relative error (Gaussian N(0,1) operands, golden model)", "",
                markdown_table(["format", "pairs", "L-Mul vs exact product",
                                "L-Mul flush-to-zero vs exact product",
                                "L-Mul, both operands normal (pairs)",
                                "exact product vs unquantized product"], lines)]
    rtl = results.figures(RTL, "rtl-check") or None
    if rtl:
        out += ["", f"RTL confirmation: {rtl['beats']} fp8_e4m3 Gaussian pairs on "
                    f"{rtl['simulator']}, RTL outputs equal the golden model's for exact and "
                    f"lmul; L-Mul mean relative error from the RTL outputs "
                    f"{100 * rtl['lmul_vs_exact_mean_rel_error']:.2f} %."]
    targets = _targets(results)
    out += ["", "### Done-when targets", ""] + [f"- {t['name']}: {t['text']}" for t in targets]
    notes = getattr(args, "notes", [])
    if notes:
        out += ["", "Notes:"] + [f"- {n}" for n in notes]
    data = {"records": records, "lmul_error": errors, "rtl_confirmation": rtl,
            "targets": targets, "notes": notes}
    return Rendered(data, "\n".join(out) + "\n")
