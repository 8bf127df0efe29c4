#!/usr/bin/env python3
"""Softmax accuracy / area / speed sweep (issue 4).

Sweeps ``algorithm`` x ``exp_table_bits`` {4, 6, 8} x ``interpolate`` x ``reciprocal`` (divider, Newton
with 1/2/3 steps) for q8.8 -> uq0.8, max_length 256, and reports per configuration:

* accuracy: max and mean abs error vs float64 softmax, in output LSBs, over ``--vectors`` random
  vectors (lengths 1..256; uniform codes and Gaussian sigma 0.5/2/8), from the bit-exact golden model
  (the cocotb regression shows it equals the RTL);
* iCE40 LUT4 / FF / BRAM (``synth_ice40`` without DSP) and ECP5 Fmax (``synth_ecp5`` with DSP
  multipliers, every port registered, nextpnr out of context), via ``scripts/flow.py``;
* cycles per vector for lengths 16, 64, 256 without and with ``double_buffer``, from the design's
  schedule (:func:`hdl.softmax.softmax_cycles`), confirmed by simulating the baseline configuration.

Ratios are against the baseline (the generator's defaults: three_pass, 64-entry table with
interpolation, divider), measured in the same run. Writes ``report.json``, ``report.md`` and
``accuracy_vs_area.png`` to ``--out`` and prints the JSON and the Markdown table. Per-configuration
results are cached in ``--out`` (keyed by module name and Verilog), so an interrupted sweep
resumes; ``--jobs N`` synthesizes N configurations at a time (one configuration takes about 2 min
of one core, most of it iCE40 synthesis of the LUT multipliers).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import shlex
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

import numpy as np  # noqa: E402

import flow  # noqa: E402
from generators import get_generator  # noqa: E402
from hdl.softmax import softmax_widths  # noqa: E402
from hdl.softmax import softmax_cycles  # noqa: E402
from sim.golden.softmax import softmax_fixed  # noqa: E402
from sim.stimuli.softmax import measure_vector_period, random_vector  # noqa: E402

PROG = "report_softmax.py"
BASE = {"in_format": "q8.8", "out_format": "uq0.8", "max_length": 256}
BASELINE = {"algorithm": "three_pass", "exp_table_bits": 6, "interpolate": True,
            "reciprocal": "divider"}
LENGTHS = (16, 64, 256)
RECIPROCALS = (("divider", None), ("newton", 1), ("newton", 2), ("newton", 3))


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


def test_vectors(fmt, count: int, seed: int = 4):
    rng = np.random.default_rng(seed)
    kinds = ("uniform", "gauss0.5", "gauss2", "gauss8")
    vectors = [random_vector(fmt, rng, int(n), kinds[j % 4])
               for j, n in enumerate(rng.integers(1, 256, size=count, endpoint=True))]
    lengths = np.array([len(v) for v in vectors])
    X = np.zeros((count, lengths.max()), dtype=np.int64)
    for row, v in enumerate(vectors):
        X[row, :len(v)] = v
    return X, lengths


def accuracy(params, X, lengths) -> dict:
    fin, fout = params["in_format"], params["out_format"]
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
            "mean_err": float(f"{err.mean():.3e}")}


def hardware(design, workdir: Path, synth: bool, fmax: bool) -> dict:
    out = {}
    source = flow.generated_source(design)
    if synth:
        ice = flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=False)
        out.update(ice40_lut4=ice["lut4"], ice40_ff=ice["ff"],
                   ice40_bram=ice["cells_by_type"].get("SB_RAM40_4K", 0),
                   ice40_dsp=ice["dsp"])
    if fmax:
        # With its DSP multipliers, as a user would build it on ECP5 (a softmax unit needs 3 to 6
        # of the 156 MULT18X18D); -nodsp would also make ABC spend minutes per configuration on
        # LUT multipliers whose cost the iCE40 columns already show.
        wrapped = flow.register_wrapper(source)
        ecp5 = flow.synth_fpga(wrapped, workdir / "ecp5", "ecp5", dsp=True)
        report = flow.nextpnr_ecp5_ooc(workdir / "ecp5", ecp5["netlist"])
        out.update(ecp5_fmax_mhz=report["fmax_mhz"], ecp5_dsp=ecp5["dsp"])
    return out


def measure_hardware(params: dict, out: Path, synth: bool, fmax: bool) -> dict:
    """Elaborate ``params`` and measure it (:func:`hardware`) in a temporary directory under
    ``out``; runs in a worker process with ``--jobs``. A tool failure gives a progress line and
    no figures."""
    design = get_generator("softmax").elaborate(params)
    started = time.time()
    with tempfile.TemporaryDirectory(dir=out) as tmp:
        try:
            result = hardware(design, Path(tmp), synth, fmax)
        except flow.FlowError as exc:
            flow.progress(f"  {design.module}: synthesis failed: {exc}")
            result = {}
    flow.progress(f"  {design.module}: {time.time() - started:.0f} s")
    return result


def cycles(params) -> dict:
    w = softmax_widths(params)
    out = {}
    for n in LENGTHS:
        c = softmax_cycles(w, params["algorithm"], n)
        out[f"cyc{n}"] = c["single"]
        out[f"cyc{n}_db"] = c["double"]
    return out


def markdown(rows: list[dict]) -> str:
    baseline = next((r for r in rows if r["label"] == label(BASELINE)), {})
    head = ("| configuration | max err (LSB) | vs rounded (LSB) | mean err (LSB) | iCE40 LUT4 | FF "
            "| BRAM | LUT ratio "
            "| ECP5 Fmax (MHz) | ECP5 DSP | cycles/vector 16 / 64 / 256 | with double_buffer |")
    lines = [head, "|" + "---|" * 12]
    for r in rows:
        lut = r.get("ice40_lut4")
        ratio = f"{lut / baseline['ice40_lut4']:.2f}" if lut and baseline.get("ice40_lut4") else "-"
        lines.append(
            f"| {r['label']} | {r['max_err_lsb']:.2f} | {r['max_err_vs_rounded_lsb']:.0f} "
            f"| {r['mean_err_lsb']:.4f} | {lut or '-'} "
            f"| {r.get('ice40_ff', '-')} | {r.get('ice40_bram', '-')} | {ratio} "
            f"| {r.get('ecp5_fmax_mhz', '-')} | {r.get('ecp5_dsp', '-')} "
            f"| {r['cyc16']} / {r['cyc64']} / {r['cyc256']} "
            f"| {r['cyc16_db']} / {r['cyc64_db']} / {r['cyc256_db']} |")
    return "\n".join(lines) + "\n"


def plot(rows: list[dict], path: Path):
    fig, ax = flow.new_plot(figsize=(8, 5))
    markers = {"three_pass": "o", "online": "s", "two_pass_extexp": "^"}
    for alg, marker in markers.items():
        pts = [(r["ice40_lut4"], r["max_err_lsb"], r) for r in rows
               if r["algorithm"] == alg and r.get("ice40_lut4")]
        if pts:
            ax.scatter([p[0] for p in pts], [p[1] for p in pts], marker=marker, label=alg)
    ax.axhline(1.5, color="grey", linestyle="--", linewidth=0.8, label="1.5 LSB target")
    ax.set_xlabel("iCE40 LUT4 (no DSP)")
    ax.set_ylabel("max abs error vs float64 (uq0.8 LSB)")
    ax.set_title("softmax q8.8 -> uq0.8, max_length 256")
    ax.legend()
    flow.save_plot(fig, path)


def parse_args(argv):
    ap = flow.script_parser(PROG, __doc__)
    ap.add_argument("--quick", action="store_true",
                    help="only 64-entry tables and divider / 2 Newton steps (12 configurations "
                         "instead of 72)")
    ap.add_argument("--vectors", type=flow.int_at_least(1), default=10_000,
                    help="random vectors for the accuracy figures (default 10000)")
    ap.add_argument("--only", action="append", default=[], metavar="LABEL",
                    help="only configurations with this label, e.g. 'online k6+i nr2' (repeatable)")
    ap.add_argument("--jobs", type=flow.int_at_least(1), default=1, metavar="N",
                    help="configurations synthesized in parallel (default 1; the tools are "
                         "single-threaded, so up to the number of cores)")
    ap.add_argument("--no-synth", action="store_true", help="skip iCE40 synthesis")
    ap.add_argument("--no-fmax", action="store_true", help="skip ECP5 place and route")
    ap.add_argument("--out", type=Path, default=ROOT / "build" / "report_softmax",
                    help="output directory (default build/report_softmax)")
    return ap.parse_args(argv)


def selected(args) -> list[dict]:
    """The sweep's configurations, narrowed by ``--only``; a label that is not in the sweep is
    a one-line flow.UsageError saying which labels are."""
    configs = sweep(args.quick)
    labels = [label(c) for c in configs]
    for wanted in args.only:
        if wanted not in labels:
            algorithms = list(dict.fromkeys(c["algorithm"] for c in configs))
            tables = sorted({c["exp_table_bits"] for c in configs})
            recips = list(dict.fromkeys(label(c).split()[-1] for c in configs))
            raise flow.UsageError(
                f"{flow.flag_of(args, 'only')} {shlex.quote(wanted)}: no such configuration"
                f"{' with --quick' if args.quick else ''}; allowed: "
                f"'<algorithm> k<table bits>[+i] <reciprocal>' with algorithm "
                f"{', '.join(algorithms)}; table bits {', '.join(map(str, tables))}; "
                f"reciprocal {', '.join(recips)} (e.g. {label(configs[-1])!r})")
    return [c for c in configs if label(c) in args.only] if args.only else configs


def produce(args) -> str:
    """Run the sweep, write ``--out``; return the text to print (JSON, then Markdown)."""
    configs = selected(args)
    args.out.mkdir(parents=True, exist_ok=True)
    cache_dir = args.out / "cache"
    cache_dir.mkdir(exist_ok=True)

    generator = get_generator("softmax")
    X = lengths = None
    rows = []

    def finish(row, cache):
        cache.write_text(json.dumps(row, indent=1))
        # Partial results after every configuration: a long sweep can be inspected while it runs.
        (args.out / "report.partial.md").write_text(markdown(rows))

    pending = {}
    with (ProcessPoolExecutor(max_workers=args.jobs) if args.jobs > 1
          else contextlib.nullcontext()) as pool:
        for index, c in enumerate(configs):
            design = generator.elaborate({**BASE, **c})
            # Keyed by the Verilog itself, so a changed RTL never reuses stale area/Fmax figures.
            digest = hashlib.sha1(design.verilog().encode()).hexdigest()[:12]
            cache = cache_dir / f"{design.module}-{digest}.json"
            flow.progress(f"[{index + 1}/{len(configs)}] {label(c)} ({design.module})")
            row = json.loads(cache.read_text()) if cache.exists() else {}
            if row.get("vectors") != args.vectors:
                if X is None:
                    X, lengths = test_vectors(design.params["in_format"], args.vectors)
                row.update(accuracy(design.params, X, lengths), vectors=args.vectors)
            row.update(cycles(design.params), label=label(c), module=design.module,
                       **{k: design.params[k] for k in ("algorithm", "exp_table_bits",
                                                        "interpolate", "reciprocal",
                                                        "newton_iters", "recip_table_bits")})
            rows.append(row)
            need_synth = not args.no_synth and "ice40_lut4" not in row
            need_fmax = not args.no_fmax and "ecp5_dsp" not in row
            job = ({**BASE, **c}, args.out, need_synth, need_fmax)
            if not (need_synth or need_fmax):
                finish(row, cache)
            elif pool is None:
                row.update(measure_hardware(*job))
                finish(row, cache)
            else:
                pending[pool.submit(measure_hardware, *job)] = (row, cache)
        for future in as_completed(pending):
            row, cache = pending[future]
            row.update(future.result())
            finish(row, cache)

    # One simulation confirms the schedule the cycle columns come from.
    base_params = generator.resolve({**BASE, **BASELINE})
    confirmed = {}
    for db in (False, True):
        p = {**base_params, "double_buffer": db}
        for n in (16, 64):
            key = f"cyc{n}{'_db' if db else ''}"
            measured = measure_vector_period(p, n)
            confirmed[key] = measured
            model = cycles(p)[key]
            if measured != model:
                raise flow.FlowError(f"schedule mismatch for {key}: simulated {measured}, "
                                     f"model {model}")
    flow.progress(f"cycle schedule confirmed by simulation: {confirmed}")

    report = {"base": BASE, "baseline": label(BASELINE), "vectors": args.vectors,
              "schedule_confirmed": confirmed, "rows": rows}
    md = markdown(rows)
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")
    (args.out / "report.md").write_text(md)
    plotted = any(r.get("ice40_lut4") for r in rows)
    if plotted:   # also from cached synthesis results
        plot(rows, args.out / "accuracy_vs_area.png")
    flow.progress(f"wrote {args.out}/report.json, report.md"
                  f"{', accuracy_vs_area.png' if plotted else ''}")
    return f"{json.dumps(report, indent=1)}\n\n{md}\n"


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, dirs=("out",))


if __name__ == "__main__":
    sys.exit(main())
