"""Softmax accuracy / area / speed sweep (issue 4).

Sweeps ``algorithm`` x ``exp_table_bits`` {4, 6, 8} x ``interpolate`` x ``reciprocal`` (divider, Newton
with 1/2/3 steps) for q8.8 -> uq0.8, max_length 256, and reports per configuration:

* accuracy: max and mean abs error vs float64 softmax, in output LSBs, over ``--vectors`` random
  vectors (lengths 1..256; uniform codes and Gaussian sigma 0.5/2/8), from the bit-exact golden model
  (the cocotb regression shows it equals the RTL);
* iCE40 LUT4 / FF / BRAM (``synth_ice40`` without DSP) and ECP5 Fmax (``synth_ecp5`` with DSP
  multipliers, every port registered, nextpnr out of context);
* cycles per vector for lengths 16, 64, 256 without and with ``double_buffer``, from the design's
  schedule (:func:`hdl.softmax.softmax_cycles`), confirmed by simulating the baseline configuration.

Ratios are against the baseline (the generator's defaults: three_pass, 64-entry table with
interpolation, divider), measured in the same run. Writes ``report.json``, ``report.md`` and
``accuracy_vs_area.png``. One configuration takes about 2 min of one core, most of it iCE40
synthesis of the LUT multipliers; ``--workers`` (default: one per core) run side by side.
"""

from __future__ import annotations

import shlex

import numpy as np

from .. import steps
from ..command import UsageError, flag_of, int_at_least
from ..engine import Sweep, design
from ..render import markdown_table, new_plot, save_plot
from ..report import Rendered
from ...fpga import FlowError

NAME = "softmax"
BASE = {"in_format": "q8.8", "out_format": "uq0.8", "max_length": 256}
BASELINE = {"algorithm": "three_pass", "exp_table_bits": 6, "interpolate": True,
            "reciprocal": "divider"}
LENGTHS = (16, 64, 256)
RECIPROCALS = (("divider", None), ("newton", 1), ("newton", 2), ("newton", 3))
#: What the measurement steps depend on beyond the Verilog.
MODEL_CODE = ("sim.golden.softmax", "sim.stimuli.softmax", "hdl.softmax")


def add_arguments(parser) -> None:
    parser.add_argument("--quick", action="store_true",
                        help="only 64-entry tables and divider / 2 Newton steps (12 configurations "
                             "instead of 72)")
    parser.add_argument("--vectors", type=int_at_least(1), default=10_000,
                        help="random vectors for the accuracy figures (default 10000)")
    parser.add_argument("--only", action="append", default=[], metavar="LABEL",
                        help="only configurations with this label, e.g. 'online k6+i nr2' (repeatable)")
    parser.add_argument("--no-synth", action="store_true", help="skip iCE40 synthesis")
    parser.add_argument("--no-fmax", action="store_true", help="skip ECP5 place and route")


def sweep(quick: bool) -> list[dict]:
    algorithms = ("three_pass", "online", "two_pass_extexp")
    tables = (6,) if quick else (4, 6, 8)
    recips = (RECIPROCALS[0], RECIPROCALS[2]) if quick else RECIPROCALS
    configs = [dict(BASELINE)]
    for alg in algorithms:
        for k in tables:
            for interp in (False, True):
                for rec, iters in recips:
                    c = {"algorithm": alg, "exp_table_bits": k, "interpolate": interp,
                         "reciprocal": rec}
                    if iters is not None:
                        c["newton_iters"] = iters
                    if c not in configs:
                        configs.append(c)
    return configs


def label(c: dict) -> str:
    rec = "div" if c["reciprocal"] == "divider" else f"nr{c['newton_iters']}"
    return f"{c['algorithm']} k{c['exp_table_bits']}{'+i' if c['interpolate'] else ''} {rec}"


def selected(args) -> list[dict]:
    """The sweep's configurations, narrowed by ``--only``; a label that is not in the sweep is
    a one-line UsageError saying which labels are."""
    configs = sweep(args.quick)
    labels = [label(c) for c in configs]
    for wanted in args.only:
        if wanted not in labels:
            algorithms = list(dict.fromkeys(c["algorithm"] for c in configs))
            tables = sorted({c["exp_table_bits"] for c in configs})
            recips = list(dict.fromkeys(label(c).split()[-1] for c in configs))
            raise UsageError(
                f"{flag_of(args, 'only')} {shlex.quote(wanted)}: no such configuration"
                f"{' with --quick' if args.quick else ''}; allowed: "
                f"'<algorithm> k<table bits>[+i] <reciprocal>' with algorithm "
                f"{', '.join(algorithms)}; table bits {', '.join(map(str, tables))}; "
                f"reciprocal {', '.join(recips)} (e.g. {label(configs[-1])!r})")
    return [c for c in configs if label(c) in args.only] if args.only else configs


def plan(args) -> Sweep:
    model = [steps.measure("accuracy", accuracy_step, code=MODEL_CODE, vectors=args.vectors),
             steps.measure("cycles", cycles_step, code=MODEL_CODE)]
    # ECP5 with its DSP multipliers, as a user would build it (a softmax unit needs 3 to 6 of the
    # 156 MULT18X18D); -nodsp would also make ABC spend minutes per configuration on LUT
    # multipliers whose cost the iCE40 columns already show.
    hardware = ([] if args.no_synth else [steps.ice40()]) + \
        ([] if args.no_fmax else [steps.fmax(True)])
    designs = []
    for c in selected(args):
        extra = [steps.measure("schedule-check", schedule_check_step, code=MODEL_CODE)] \
            if c == BASELINE else []
        designs.append(design(label(c), "softmax", {**BASE, **c}, model + hardware + extra))
    return Sweep(NAME, designs)


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------

def test_vectors(fmt, count: int, seed: int = 4):
    from sim.stimuli.softmax import random_vector

    rng = np.random.default_rng(seed)
    kinds = ("uniform", "gauss0.5", "gauss2", "gauss8")
    vectors = [random_vector(fmt, rng, int(n), kinds[j % 4])
               for j, n in enumerate(rng.integers(1, 256, size=count, endpoint=True))]
    lengths = np.array([len(v) for v in vectors])
    X = np.zeros((count, lengths.max()), dtype=np.int64)
    for row, v in enumerate(vectors):
        X[row, :len(v)] = v
    return X, lengths


def accuracy_step(built, workdir, vectors: int) -> dict:
    """Errors of the golden model (bit-exact with the RTL) against float64 softmax."""
    from hdl.softmax import softmax_widths
    from sim.golden.softmax import softmax_fixed

    params = built.resolved()
    fin, fout = params["in_format"], params["out_format"]
    X, lengths = test_vectors(fin, vectors)
    Y = softmax_fixed(X, lengths, softmax_widths(params), params["algorithm"]) * fout.lsb
    mask = np.arange(X.shape[1])[None, :] < lengths[:, None]
    values = np.where(mask, X * fin.lsb, -np.inf)
    exact = np.exp(values - values.max(axis=1, keepdims=True))
    exact /= exact.sum(axis=1, keepdims=True)
    err = np.abs(Y - exact)[mask]
    # The same against the correctly rounded (and saturated) exact softmax: the algorithm's own
    # contribution beyond the unavoidable output quantization.
    rounded = np.minimum(np.floor(exact / fout.lsb + 0.5), 2 ** fout.width - 1) * fout.lsb
    err_rounded = np.abs(Y - rounded)[mask]
    return {"max_err_lsb": round(float(err.max() / fout.lsb), 4),
            "max_err_vs_rounded_lsb": round(float(err_rounded.max() / fout.lsb), 4),
            "mean_err_lsb": round(float(err.mean() / fout.lsb), 5),
            "mean_err": float(f"{err.mean():.3e}"), "vectors": vectors}


def _cycles(params) -> dict:
    from hdl.softmax import softmax_cycles, softmax_widths

    w = softmax_widths(params)
    out = {}
    for n in LENGTHS:
        c = softmax_cycles(w, params["algorithm"], n)
        out[f"cyc{n}"] = c["single"]
        out[f"cyc{n}_db"] = c["double"]
    return out


def cycles_step(built, workdir) -> dict:
    """Cycles per vector of the design's schedule (:func:`hdl.softmax.softmax_cycles`)."""
    return _cycles(built.resolved())


def schedule_check_step(built, workdir) -> dict:
    """Simulate the design (and its double-buffered twin) at lengths 16 and 64: the vector
    period must equal the schedule's, which the cycle columns come from."""
    from sim.stimuli.softmax import measure_vector_period

    base = built.resolved()
    confirmed = {}
    for db in (False, True):
        p = {**base, "double_buffer": db}
        for n in (16, 64):
            key = f"cyc{n}{'_db' if db else ''}"
            measured = measure_vector_period(p, n)
            model = _cycles(p)[key]
            if measured != model:
                raise FlowError(f"schedule mismatch for {key}: simulated {measured}, "
                                f"model {model}")
            confirmed[key] = measured
    return confirmed


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def _row(results, d) -> dict:
    params = results.params(d.label)
    row = {"label": d.label, "module": results.module(d.label),
           **{k: params.get(k) for k in ("algorithm", "exp_table_bits", "interpolate",
                                          "reciprocal", "newton_iters", "recip_table_bits")},
           **results.figures(d.label, "accuracy"), **results.figures(d.label, "cycles")}
    ice = results.figures(d.label, "ice40")
    if ice:
        row.update(ice40_lut4=ice["lut4"], ice40_ff=ice["ff"],
                   ice40_bram=ice.get("cells_by_type.SB_RAM40_4K", 0), ice40_dsp=ice["dsp"])
    fmax = results.figures(d.label, "fmax")
    if fmax:
        row.update(ecp5_fmax_mhz=fmax["fmax_mhz"], ecp5_dsp=fmax["dsp_blocks"])
    return row


def _text(value, digits=None) -> str:
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if digits is not None else str(value)


def markdown(rows: list[dict]) -> str:
    baseline = next((r for r in rows if r["label"] == label(BASELINE)), {})
    lines = []
    for r in rows:
        lut = r.get("ice40_lut4")
        ratio = f"{lut / baseline['ice40_lut4']:.2f}" if lut and baseline.get("ice40_lut4") else "-"
        lines.append([r["label"], _text(r.get("max_err_lsb"), 2),
                      _text(r.get("max_err_vs_rounded_lsb"), 0), _text(r.get("mean_err_lsb"), 4),
                      _text(lut), _text(r.get("ice40_ff")), _text(r.get("ice40_bram")), ratio,
                      _text(r.get("ecp5_fmax_mhz")), _text(r.get("ecp5_dsp")),
                      " / ".join(_text(r.get(f"cyc{n}")) for n in LENGTHS),
                      " / ".join(_text(r.get(f"cyc{n}_db")) for n in LENGTHS)])
    return markdown_table(["configuration", "max err (LSB)", "vs rounded (LSB)",
                           "mean err (LSB)", "iCE40 LUT4", "FF", "BRAM", "LUT ratio",
                           "ECP5 Fmax (MHz)", "ECP5 DSP", "cycles/vector 16 / 64 / 256",
                           "with double_buffer"], lines, align="l" * 12) + "\n"


def plot(rows: list[dict], path) -> None:
    fig, ax = new_plot(figsize=(8, 5))
    markers = {"three_pass": "o", "online": "s", "two_pass_extexp": "^"}
    for alg, marker in markers.items():
        pts = [(r["ice40_lut4"], r["max_err_lsb"]) for r in rows
               if r["algorithm"] == alg and r.get("ice40_lut4") and "max_err_lsb" in r]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=alg)
    ax.axhline(1.5, color="grey", linestyle="--", linewidth=0.8, label="1.5 LSB target")
    ax.set_xlabel("iCE40 LUT4 (no DSP)")
    ax.set_ylabel("max abs error vs float64 (uq0.8 LSB)")
    ax.set_title("softmax q8.8 -> uq0.8, max_length 256")
    ax.legend()
    save_plot(fig, path)


def render(args, results) -> Rendered:
    rows = [_row(results, d) for d in results.sweep.designs]
    confirmed = results.figures(label(BASELINE), "schedule-check") or None
    report = {"base": BASE, "baseline": label(BASELINE), "vectors": args.vectors,
              "schedule_confirmed": confirmed, "rows": rows}
    text = markdown(rows)
    if confirmed:
        text += f"\nCycle schedule confirmed by simulation of the baseline: {confirmed}\n"
    plots = {"accuracy_vs_area.png": lambda path: plot(rows, path)} \
        if any(r.get("ice40_lut4") for r in rows) else {}
    return Rendered(report, text, plots)
