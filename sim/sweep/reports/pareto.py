"""Pareto view across generators: area against Fmax and against accuracy, at equal MACs per cycle.

One plot per question, each with two area measures (Yosys CMOS transistor estimate, iCE40 LUT4
without DSP) and the Pareto front marked (no other design is both smaller and better):

* ``area_vs_fmax.png`` -- every MAC-based generator at ``--macs`` MACs per cycle at full rate
  (``int_mac`` two bit-weight options, ``mixed_int_pe`` w4 both multipliers, ``fp_mac`` fp8 and
  bf16 exact and L-Mul, ``mx_dot`` mxfp8, ``bitserial_mac`` 4 bits per cycle at 8-bit weights,
  ``scalable_mac`` in mode w8, ``systolic_array`` 2 x N/2) against the ECP5 Fmax (no DSP, out
  of context, every port registered);
* ``area_vs_product_error.png`` -- ``fp_mac`` for each format, exact, L-Mul and L-Mul
  flush-to-zero products, at ``--macs`` lanes, against the mean relative error of its products
  on Gaussian N(0, 1) operands against the unquantized real products (golden model);
* ``area_vs_softmax_error.png`` -- the softmax configurations of ``peforge report softmax
  --quick`` (one element per cycle each) against their max error vs float64 softmax.

Measurements are the same steps as the other reports', so whatever they measured is a cache
hit here. Writes ``report.json``, ``report.md`` and the three plots.
"""

from __future__ import annotations

from fnmatch import fnmatch

from .. import steps
from ..command import UsageError, check_params, choice_list, flag_of, int_at_least
from ..engine import Sweep, design
from ..render import markdown_table, new_plot, number_text, save_plot
from ..report import Rendered
from . import softmax

NAME = "pareto"
QUESTIONS = ("fmax", "product-error", "softmax-error")
FP_FORMATS = ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp4_e2m1", "fp16", "bf16")
AREAS = (("transistors", "generic", "transistors", "CMOS transistors (estimate)"),
         ("lut4", "ice40", "lut4", "iCE40 LUT4 (no DSP)"))
#: Question -> (plot file, metric (step, figure), axis label, higher is better, caption).
PLOTS = {
    "fmax": ("area_vs_fmax.png", ("fmax-nodsp", "fmax_mhz"), "ECP5 Fmax MHz (no DSP, OOC)", True,
             "Area against ECP5 Fmax at {macs} MACs/cycle, every MAC-based generator; the line "
             "joins the Pareto front (no design both smaller and faster)."),
    "product-error": ("area_vs_product_error.png", ("product-error", "mean_rel_error"),
                      "mean relative product error vs real product", False,
                      "fp_mac at {macs} lanes, every format with exact, L-Mul and L-Mul "
                      "flush-to-zero products: area against the mean relative error of a "
                      "product (Gaussian operands); the line joins the Pareto front."),
    "softmax-error": ("area_vs_softmax_error.png", ("accuracy", "max_err_lsb"),
                      "max error vs float64 softmax (output LSB)", False,
                      "softmax q8.8 -> uq0.8 configurations (one element per cycle): area "
                      "against max error; the line joins the Pareto front."),
}


def add_arguments(parser) -> None:
    parser.add_argument("--macs", type=int_at_least(2), default=8, metavar="N",
                        help="MACs per cycle of every compared design (even, 2..32) "
                             "[default: 8]")
    parser.add_argument("--questions", type=choice_list(QUESTIONS), default="all",
                        metavar="LIST",
                        help=f"comma-separated subset of {','.join(QUESTIONS)} or 'all' "
                             f"[default: all]")
    parser.add_argument("--samples", type=int_at_least(1), default=20000, metavar="N",
                        help="Gaussian operand pairs of the product error [default: 20000]")
    parser.add_argument("--designs", action="append", default=[], metavar="PATTERN",
                        help="only designs whose label matches this shell pattern, e.g. "
                             "'fp_mac fp8*' (repeatable) [default: all]")


def mac_designs(n: int) -> list[tuple[str, str, dict]]:
    """(label, generator, parameters) of the MAC-based designs at ``n`` MACs per cycle."""
    int8 = {"a_format": "int8", "b_format": "int8", "lanes": n}
    return [
        ("int_mac int8 adder_tree+binary", "int_mac", int8),
        ("int_mac int8 compressor_tree+carry_save", "int_mac",
         {**int8, "reduction": "compressor_tree", "accumulator": "carry_save"}),
        ("mixed_int_pe w4 shift_add", "mixed_int_pe",
         {"weight_bits": 4, "act_format": "int8", "lanes": n, "multiplier": "shift_add"}),
        ("mixed_int_pe w4 dequant_first", "mixed_int_pe",
         {"weight_bits": 4, "act_format": "int8", "lanes": n, "multiplier": "dequant_first"}),
        *[(f"fp_mac {fmt} {mul}", "fp_mac", _fp(fmt, mul, n))
          for fmt in ("fp8_e4m3", "bf16") for mul in ("exact", "lmul")],
        ("mx_dot mxfp8_e4m3", "mx_dot", {"a_elem": "mxfp8_e4m3", "b_elem": "mxfp8_e4m3",
                                         "lanes": n}),
        # 4 bits per cycle: an 8-bit weight takes 2 cycles, so 2n lanes make n MACs per cycle.
        ("bitserial_mac w8 bits x4", "bitserial_mac",
         {"act_format": "int8", "weight_bits": 8, "weight_signed": "true", "lanes": 2 * n,
          "bits_per_cycle": 4}),
        ("scalable_mac w8", "scalable_mac", {"act_format": "int8", "lanes": n}),
        (f"systolic_array 2x{n // 2}", "systolic_array",
         {"rows": 2, "cols": n // 2, "dataflow": "output_stationary"}),
    ]


def _fp(fmt: str, mul: str, n: int) -> dict:
    """fp_mac with the exact accumulator where it is offered (fp16 and bf16 need fp32)."""
    from generators import get_generator
    from generators.params import ParamError

    params = {"a_format": fmt, "b_format": fmt, "lanes": str(n), "multiplier": mul}
    try:
        get_generator("fp_mac").resolve({**params, "accumulator": "exact"})
        return {**params, "accumulator": "exact"}
    except ParamError:
        return {**params, "accumulator": "fp32"}


def plan(args) -> Sweep:
    n = args.macs
    if n % 2 or n > 32:
        raise UsageError(f"{flag_of(args, 'macs')}: {n} is not allowed; allowed: an even "
                         f"number 2 to 32 (systolic_array 2 x N/2, fp_mac up to 32 lanes)")
    area = [steps.generic(), steps.ice40()]
    designs: dict[str, tuple] = {}     # label -> (generator, params, steps, question)

    def add(label, generator, params, extra, question):
        check_params(generator, {k: str(v) for k, v in params.items()},
                     {"lanes": f"{flag_of(args, 'macs')} {n}"}, param_flag=None)
        if label in designs:
            gen, p, chosen, questions = designs[label]
            designs[label] = (gen, p, chosen + [s for s in extra if s not in chosen],
                              questions + (question,))
        else:
            designs[label] = (generator, params, area + extra, (question,))

    if "fmax" in args.questions:
        for label, generator, params in mac_designs(n):
            add(label, generator, params, [steps.fmax(False)], "fmax")
    if "product-error" in args.questions:
        for fmt in FP_FORMATS:
            for mul in ("exact", "lmul", "lmul_ftz"):
                add(f"fp_mac {fmt} {mul}", "fp_mac", _fp(fmt, mul, n),
                    [steps.measure("product-error", product_error_step,
                                   code=("sim.golden.fp_mac", "hdl.formats"),
                                   samples=args.samples)], "product-error")
    if "softmax-error" in args.questions:
        for c in softmax.sweep(quick=True):
            add(f"softmax {softmax.label(c)}", "softmax", {**softmax.BASE, **c},
                [steps.measure("accuracy", softmax.accuracy_step, code=softmax.MODEL_CODE,
                               vectors=10_000)], "softmax-error")
    chosen_labels = [label for label in designs
                     if not args.designs or any(fnmatch(label, p) for p in args.designs)]
    if not chosen_labels:
        raise UsageError(f"{flag_of(args, 'designs')} {' '.join(args.designs)}: matches no "
                         f"design; allowed: patterns of {', '.join(designs)}")
    return Sweep(NAME, [design(label, *designs[label][:3], questions=designs[label][3], macs=n)
                        for label in chosen_labels])


# --------------------------------------------------------------------------------------------
# Measurement
# --------------------------------------------------------------------------------------------

def product_error_step(built, workdir, samples: int) -> dict:
    """Mean relative error of the design's products (its format and multiplier, golden model)
    against the real products of Gaussian N(0, 1) operands before quantization."""
    import numpy as np

    from sim.golden.fp_mac import SCALE, product_term

    params = built.resolved()
    fmt, mul = params["a_format"], params["multiplier"]
    rng = np.random.default_rng(1)
    xa, xb = rng.standard_normal(samples), rng.standard_normal(samples)
    qa, qb = fmt.decode(fmt.encode(xa)), fmt.decode(fmt.encode(xb))
    rel = []
    for x, y, rx, ry in zip(qa, qb, xa, xb):
        term = product_term(float(x), float(y), fmt, fmt, mul)
        if term.kind == "finite":
            rel.append(abs(term.value / 2.0 ** SCALE - rx * ry) / abs(rx * ry))
    return {"mean_rel_error": float(np.mean(rel)), "pairs": len(rel)}


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def pareto_front(points: list[tuple[float, float]], higher_is_better: bool) -> list[int]:
    """Indexes of the points (area, metric) that no other point dominates: smaller or equal
    area and a better or equal metric, one of them strictly."""
    def better(a, b):
        return a > b if higher_is_better else a < b

    front = []
    for i, (area, metric) in enumerate(points):
        dominated = any((a <= area and (m == metric or better(m, metric))
                         and (a < area or better(m, metric)))
                        for j, (a, m) in enumerate(points) if j != i)
        if not dominated:
            front.append(i)
    return front


def question_rows(results, question: str) -> list[dict]:
    """Per design of ``question``: its areas, metric and front membership per area."""
    _, (step, figure), _, higher, _ = PLOTS[question]
    rows = []
    for d in results.sweep.designs:
        if question not in d.get("questions"):
            continue
        row = {"design": d.label, "module": results.module(d.label), "macs": d.get("macs"),
               "metric": results.get(d.label, step, figure)}
        for name, s, f, _ in AREAS:
            row[name] = results.get(d.label, s, f)
        rows.append(row)
    for name, *_ in AREAS:
        known = [r for r in rows if r[name] is not None and r["metric"] is not None]
        front = pareto_front([(r[name], r["metric"]) for r in known], higher)
        for i, r in enumerate(known):
            r[f"front_{name}"] = i in front
    return rows


def plot(question: str, rows: list[dict], caption: str, path) -> None:
    _, _, metric_label, higher, _ = PLOTS[question]
    fig, axes = new_plot(1, len(AREAS), figsize=(13, 5.5))
    for ax, (name, _, _, area_label) in zip(axes, AREAS):
        known = [r for r in rows if r[name] is not None and r["metric"] is not None]
        ax.scatter([r["metric"] for r in known], [r[name] for r in known], color="tab:blue")
        front = sorted((r for r in known if r.get(f"front_{name}")), key=lambda r: r["metric"])
        ax.plot([r["metric"] for r in front], [r[name] for r in front], color="tab:red",
                marker="o", linewidth=1.5, label="Pareto front")
        for r in known:
            ax.annotate(r["design"].replace("softmax ", ""), (r["metric"], r[name]), fontsize=6,
                        xytext=(3, 3), textcoords="offset points")
        ax.set_xlabel(metric_label + (" (higher is better)" if higher else " (lower is better)"))
        ax.set_ylabel(area_label)
        ax.set_yscale("log")
        if question == "product-error":
            ax.set_xscale("log")
        ax.grid(True, which="both", linewidth=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(caption, fontsize=9, wrap=True)
    save_plot(fig, path)


def render(args, results) -> Rendered:
    data, parts, plots = {"macs": args.macs}, [], {}
    for question in args.questions:
        filename, _, metric_label, _, caption = PLOTS[question]
        caption = caption.format(macs=args.macs)
        rows = question_rows(results, question)
        data[question] = rows
        table = [[r["design"], number_text(r["transistors"], 0), number_text(r["lut4"], 0),
                  number_text(r["metric"], 4 if question == "product-error" else 2),
                  ", ".join(n for n, *_ in AREAS if r.get(f"front_{n}")) or "-"] for r in rows]
        parts += [f"### {filename}", "", caption, "",
                  markdown_table(["design", "transistors", "iCE40 LUT4", metric_label,
                                  "on the front of"], table), ""]
        plots[filename] = (lambda q, rs, c: lambda path: plot(q, rs, c, path))(question, rows,
                                                                              caption)
    return Rendered(data, "\n".join(parts), plots)
