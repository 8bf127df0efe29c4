"""Area, speed and area efficiency of the bit-serial MAC family against ``int_mac``.

For K lanes and int8 activations (defaults: K = 16), the same run synthesizes

* ``int_mac`` with int8 weights (the baseline),
* ``bitserial_mac`` (Wmax 8, signed weights) in ``bits`` mode with 1, 2 and 4 bits per cycle,
  and in ``terms`` mode with 1 and 2 non-zero terms per lane per cycle,
* ``bitmod_mac`` with 4-bit weights,

and reports iCE40 LUT4 / carry / FF without DSP (``synth_ice40``), the generic Yosys cell count
and CMOS transistor estimate, and the ECP5 Fmax without DSP (registered wrapper, nextpnr-ecp5
out of context).

Cycles per beat at weight precisions 1..8 are measured by simulating each PE's stream wrapper in
the Amaranth simulator at full rate (input always valid, output always ready): for the serial
PEs on Gaussian weights with sigma 20 on the int8 scale, rescaled by 2**(p-8) to p bits. The
golden model's cycle count (``sim.golden.bitserial_mac.cycles_per_beat``) is printed beside the
measurement. ``int_mac`` takes one beat per cycle (its manifest's initiation interval) and
``bitmod_mac`` serves precisions up to 4 bits (its INT data type).

Area efficiency = K x beats per cycle / LUT4, reported as a ratio to ``int_mac``. Writes
``report.json``, ``report.md`` and ``efficiency.png``.
"""

from __future__ import annotations

import numpy as np

from .. import steps
from ..command import check_params, flag_of, int_at_least
from ..engine import Sweep, design
from ..render import markdown_table, new_plot, number_text, save_plot
from ..report import Rendered
from ...fpga import FlowError

NAME = "bitserial"
EPILOG = """examples:
    peforge report bitserial                 # the full report (several minutes)
    peforge report bitserial --no-fmax       # skip place and route"""
PRECISIONS = tuple(range(1, 9))
SIGMA = 20.0


def add_arguments(parser) -> None:
    parser.add_argument("--lanes", type=int_at_least(1), default=16,
                        help="lanes K of every PE (default 16)")
    parser.add_argument("--act-format", default="int8", help="activation format (default int8)")
    parser.add_argument("--beats", type=int_at_least(1), default=200,
                        help="simulated beats per precision and PE (default 200)")
    parser.add_argument("--seed", type=int_at_least(0), default=1,
                        help="random and nextpnr seed (default 1)")
    parser.add_argument("--no-fmax", action="store_true", help="skip ECP5 place and route")


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


def plan(args) -> Sweep:
    """Every PE; ``--lanes`` or ``--act-format`` that a generator does not take is a one-line
    error naming the flag."""
    lanes, act = flag_of(args, "lanes"), flag_of(args, "act_format")
    origins = {"lanes": lanes, "act_format": act, "a_format": act}
    entries = designs(args.lanes, args.act_format)
    area = [steps.generic(), steps.ice40()] + \
        ([] if args.no_fmax else [steps.fmax(False, seeds=(args.seed,))])
    out = []
    for label, gen, values in entries:
        check_params(gen, values, {k: v for k, v in origins.items() if k in values},
                     param_flag=None)
        cycles = [] if gen == "int_mac" else [
            steps.measure("cycles", cycles_step, code=("sim.stimuli", "sim.golden.bitserial_mac"),
                          beats=args.beats, seed=args.seed)]
        out.append(design(label, gen, values, area + cycles))
    return Sweep(NAME, out)


# --------------------------------------------------------------------------------------------
# Cycles per beat (Amaranth simulation of the stream wrapper)
# --------------------------------------------------------------------------------------------

def gaussian_weights(rng, shape, p: int) -> np.ndarray:
    """N(0, sigma) on the int8 scale, rescaled to p bits, rounded, clipped to int<p>."""
    x = np.rint(rng.normal(0.0, SIGMA, size=shape) * 2.0 ** (p - 8)).astype(np.int64)
    return np.clip(x, -(1 << (p - 1)), (1 << (p - 1)) - 1)


def measure_cycles(des, beats: list[dict]) -> float:
    """Mean cycles per accepted beat of ``des`` driven at full rate with ``beats`` (per-field
    values of the input payload)."""
    from sim.stimuli import accepted_cycles

    inputs = {name: [beat[name] for beat in beats] for name in beats[0]}
    try:
        accepted = accepted_cycles(des.generator.build(des.params), inputs)
    except RuntimeError as exc:
        raise FlowError(f"{des.module}: {exc}") from None
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


def cycles_step(built, workdir, beats: int, seed: int) -> dict:
    """Precision -> {"measured": mean cycles per beat, "model": golden mean or absent}."""
    from sim.golden.bitserial_mac import cycles_per_beat

    des = built.design()
    lanes = des.params["lanes"]
    out = {}
    for p in PRECISIONS:
        rng = np.random.default_rng(seed + p)
        if built.generator == "bitmod_mac":
            if p <= 4:
                out[str(p)] = {"measured": measure_cycles(des, bitmod_beats(rng, lanes, p, beats))}
            continue
        # Bits mode is data-independent: a few beats measure it; terms mode gets them all.
        count = beats if des.params["serial_mode"] == "terms" else min(beats, 24)
        batch = serial_beats(rng, lanes, p, count)
        weights = np.array([b["w"] for b in batch], dtype=np.int64)
        values = np.where(weights >= 128, weights - 256, weights)
        model = cycles_per_beat(values, np.full(count, p), serial_mode=des.params["serial_mode"],
                                bits_per_cycle=des.params["bits_per_cycle"]).mean()
        out[str(p)] = {"measured": measure_cycles(des, batch), "model": float(model)}
    return out


# --------------------------------------------------------------------------------------------
# Report
# --------------------------------------------------------------------------------------------

def _cycles(results, d) -> dict:
    """Precision -> {"measured", "model"} (int_mac: its manifest's initiation interval)."""
    if d.generator == "int_mac":
        built_ii = results.get(d.label, "generate", "initiation_interval") or 1
        return {str(p): {"measured": float(built_ii), "model": None} for p in PRECISIONS}
    figures = results.figures(d.label, "cycles")
    return {str(p): {"measured": figures[f"{p}.measured"], "model": figures.get(f"{p}.model")}
            for p in PRECISIONS if f"{p}.measured" in figures}


def build_report(args, results) -> dict:
    lanes = args.lanes
    rows = []
    for d in results.sweep.designs:
        lut4 = results.get(d.label, "ice40", "lut4")
        cycles = _cycles(results, d)
        rows.append({"label": d.label, "generator": d.generator, "module": results.module(d.label),
                     "params": results.params(d.label),
                     "cells": results.get(d.label, "generic", "cells"),
                     "transistors": results.get(d.label, "generic", "transistors"),
                     "ice40_lut4": lut4, "ice40_carry": results.get(d.label, "ice40", "carry"),
                     "ice40_ff": results.get(d.label, "ice40", "ff"),
                     "ecp5_fmax_mhz": results.get(d.label, "fmax-nodsp", "fmax_mhz"),
                     "ecp5_synth": results.get(d.label, "fmax-nodsp", "ecp5_synth"),
                     "cycles_per_beat": cycles,
                     "efficiency": {p: lanes / c["measured"] / lut4 for p, c in cycles.items()}
                     if lut4 else {}})
    base = rows[0]["efficiency"]
    for r in rows:
        r["efficiency_ratio"] = {p: e / base[p] for p, e in r.pop("efficiency").items()
                                 if base.get(p)}
    by_label = {r["label"]: r for r in rows}

    def value(label, *path):
        v = by_label[label]
        for key in path:
            v = v.get(key) if isinstance(v, dict) else None
        return v

    checks = [
        ("bitserial bits x1 area efficiency at 2-bit weights vs int_mac", ">=", 2.0,
         value("bitserial bits x1", "efficiency_ratio", "2")),
        ("bitserial bits x1 area efficiency at 4-bit weights vs int_mac", ">=", 1.2,
         value("bitserial bits x1", "efficiency_ratio", "4")),
        ("terms mode mean cycles per beat, Gaussian int8 sigma 20, 8-bit", "<=", 4.5,
         value("bitserial terms", "cycles_per_beat", "8", "measured")),
        (f"terms mode at 2 terms per cycle mean cycles per beat, Gaussian int8 sigma 20, 8-bit, "
         f"K = {lanes}", "<=", 2.0, value("bitserial terms x2", "cycles_per_beat", "8", "measured")),
    ]
    return {"lanes": lanes, "precisions": list(PRECISIONS), "sigma": SIGMA, "rows": rows,
            "checks": [{"what": w, "op": op, "target": t, "value": v,
                        "pass": None if v is None else v >= t if op == ">=" else v <= t}
                       for w, op, t, v in checks]}


def markdown(report: dict) -> str:
    rows = report["rows"]
    area = [[r["label"], f"`{r['module']}`", number_text(r["ice40_lut4"], 0),
             number_text(r["ice40_carry"], 0), number_text(r["ice40_ff"], 0),
             number_text(r["cells"], 0), number_text(r["transistors"], 0),
             number_text(r["ecp5_fmax_mhz"], 2)
             + (" (-dff)" if (r["ecp5_synth"] or "").endswith("-dff") else "")] for r in rows]
    lines = [f"### Bit-serial MAC family, K = {report['lanes']}, int8 activations", "",
             markdown_table(["PE", "module", "iCE40 LUT4", "iCE40 carry", "iCE40 FF",
                             "generic cells", "transistors", "ECP5 Fmax MHz (no DSP)"], area,
                            align="llrrrrrr")]
    head = ["PE"] + [f"p={p}" for p in report["precisions"]]
    cycles = []
    for r in rows:
        cells = []
        for p in report["precisions"]:
            c = r["cycles_per_beat"].get(str(p))
            if c is None:
                cells.append("-")
            elif c["model"] is None:
                cells.append(number_text(c["measured"], 2))
            else:
                cells.append(f"{number_text(c['measured'], 2)} [{number_text(c['model'], 2)}]")
        cycles.append([r["label"]] + cells)
    lines += ["", "Cycles per beat (measured by simulation; serial PEs on Gaussian weights, "
              f"sigma {report['sigma']:g} on the int8 scale; golden model in brackets)", "",
              markdown_table(head, cycles)]
    eff = [[r["label"]] + [number_text(r["efficiency_ratio"].get(str(p)), 3)
                           for p in report["precisions"]] for r in rows]
    lines += ["", "Area efficiency (K x beats per cycle / iCE40 LUT4) as a ratio to int_mac", "",
              markdown_table(head, eff), ""]
    for c in report["checks"]:
        verdict = "NOT MEASURED" if c["pass"] is None else "PASS" if c["pass"] else "MISSED"
        lines.append(f"- {c['what']}: {number_text(c['value'], 3)} (target {c['op']} "
                     f"{c['target']}): {verdict}")
    return "\n".join(lines) + "\n"


def plot(report: dict, path) -> None:
    fig, ax = new_plot(figsize=(7, 4.5))
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
    save_plot(fig, path)


def render(args, results) -> Rendered:
    report = build_report(args, results)
    return Rendered(report, markdown(report), {"efficiency.png": lambda path: plot(report, path)})
