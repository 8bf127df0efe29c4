#!/usr/bin/env python3
"""Area of ``mixed_int_pe``: shift_add (MixPE) vs dequant_first, product unit alone and whole PE.

Synthesizes, in one run and with the same flow (``scripts/flow.py``):

* the per-beat product unit alone (``hdl.mixed_int_pe.ShiftAddProducts`` /
  ``DequantFirstProducts``; combinational);
* the whole PE (``mixed_int_pe`` generator), both multipliers;
* ``int_mac`` int8 x int8 at the same K, as the familiar reference.

Figures: iCE40 LUT4 / SB_CARRY / FF without DSP (``synth_ice40``), Yosys generic cells and the CMOS
transistor estimate, and with ``--fmax`` the ECP5 Fmax (registered ports, ``synth_ecp5 -nodsp``,
nextpnr out of context, fixed seed). The issue's target: the shift_add iCE40 LUT4 count is at most
0.5x that of dequant_first (weight_bits 4, int8 activations, K = 8).

Examples::

    python scripts/report_mixed.py                         # the issue's configuration
    python scripts/report_mixed.py --weight-bits 2 --fmax --json build/mixed.json

Prints JSON, then Markdown tables on stdout; progress on stderr.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow  # noqa: E402
from flow import progress  # noqa: E402

PROG = "report_mixed.py"
TARGET_RATIO = 0.5
#: Generator parameters this script takes as flags of its own (same names as generate-verilog's).
PARAM_FLAGS = ("weight_bits", "act_format", "lanes", "scale_format")
FIGURES = (
    *flow.ICE40_ROWS,
    ("Generic cells", "generic", "cells"),
    ("CMOS transistors (estimate)", "generic", "transistors"),
    ("ECP5 Fmax MHz (no DSP)", "fmax", "fmax_mhz"),
)


def parse_args(argv):
    parser = flow.script_parser(PROG, __doc__)
    parser.add_argument("--weight-bits", default="4", help="weight code bits [default: 4]")
    parser.add_argument("--act-format", default="int8", help="activation format [default: int8]")
    parser.add_argument("--lanes", default="8", help="K [default: 8]")
    parser.add_argument("--scale-format", default="uq8.8", help="scale format [default: uq8.8]")
    parser.add_argument("--fmax", action="store_true",
                        help="also place and route the PEs on ECP5 for Fmax (slower)")
    parser.add_argument("--json", type=Path, help="also write the JSON to this file")
    parser.add_argument("--workdir", type=Path,
                        help="keep build files here (default: a temporary directory)")
    return parser.parse_args(argv)


def _unit_source(design) -> flow.Source:
    """The PE's product unit alone as a :class:`flow.Source`."""
    from generators.emit import component_verilog

    from hdl.mixed_int_pe import MixedIntPECore

    p = design.params
    core = MixedIntPECore(weight_bits=p["weight_bits"], act_format=p["act_format"],
                          lanes=p["lanes"], scale_format=p["scale_format"],
                          multiplier=p["multiplier"], acc_width=p["acc_width"])
    core._MustUse__silence = True
    unit = core.product_unit()
    module = f"products_{design.module}"
    return flow.Source("generated", module, {f"{module}.v": component_verilog(unit, module)})


def _synth(source: flow.Source, workdir: Path, fmax: bool) -> dict:
    progress(f"{source.module}: synth_ice40 (no DSP)")
    figures = {"ice40": flow.synth_fpga(source, workdir / "ice40", "ice40", dsp=False)}
    progress(f"{source.module}: generic synth + CMOS estimate")
    figures["generic"] = flow.synth_generic(source, workdir / "generic")
    if fmax and source.streams:
        progress(f"{source.module}: ECP5 -nodsp out-of-context place and route")
        wrapped = flow.register_wrapper(source)
        netlist = flow.synth_fpga(wrapped, workdir / "fmax", "ecp5", dsp=False)["netlist"]
        figures["fmax"] = flow.nextpnr_ecp5_ooc(workdir / "fmax", netlist)
    for fig in figures.values():
        fig.pop("cells_by_type", None)
    return figures


def run(args) -> dict:
    values = {name: getattr(args, name) for name in PARAM_FLAGS}
    origins = {name: flow.flag_of(args, name) for name in PARAM_FLAGS}
    designs = {m: flow.elaborate("mixed_int_pe", {**values, "multiplier": m}, origins,
                                 param_flag=None)
               for m in ("shift_add", "dequant_first")}
    int_mac = flow.elaborate("int_mac", {"a_format": "int8", "b_format": "int8",
                                         "lanes": args.lanes}, {"lanes": origins["lanes"]},
                             param_flag=None)
    with tempfile.TemporaryDirectory(prefix="report_mixed_") as tmp:
        root = args.workdir or Path(tmp)
        rows = {}
        for m, design in designs.items():
            rows[f"product unit {m}"] = (_unit_source(design), design)
        for m, design in designs.items():
            rows[f"PE {m}"] = (flow.generated_source(design), design)
        rows["PE int_mac int8 x int8"] = (flow.generated_source(int_mac), int_mac)
        results = {}
        for i, (label, (source, design)) in enumerate(rows.items()):
            results[label] = {"module": source.module, "params": design.manifest["params"],
                              "figures": _synth(source, root / f"{i}_{source.module}", args.fmax)}

    def lut(label):
        return results[label]["figures"]["ice40"]["lut4"]

    ratios = {scope: round(lut(f"{scope} shift_add") / lut(f"{scope} dequant_first"), 3)
              for scope in ("product unit", "PE")}
    return {"config": values, "results": results, "lut4_ratio_shift_add_vs_dequant_first": ratios,
            "target_ratio": TARGET_RATIO}


def markdown(report: dict) -> str:
    labels = list(report["results"])
    lines = [f"mixed_int_pe, {report['config']}", "",
             "| figure | " + " | ".join(labels) + " |",
             "|---|" + "---:|" * len(labels)]
    for name, target, key in FIGURES:
        cells = []
        for label in labels:
            value = report["results"][label]["figures"].get(target, {}).get(key)
            cells.append("-" if value is None else f"{value:g}" if isinstance(value, float)
                         else str(value))
        if any(c != "-" for c in cells):
            lines.append(f"| {name} | " + " | ".join(cells) + " |")
    lines.append("")
    lines.append("| iCE40 LUT4 shift_add / dequant_first | ratio | target | met |")
    lines.append("|---|---:|---:|---|")
    for scope, ratio in report["lut4_ratio_shift_add_vs_dequant_first"].items():
        met = "yes" if ratio <= report["target_ratio"] else "NO"
        lines.append(f"| {scope} | {ratio:.3f} | <= {report['target_ratio']} | {met} |")
    return "\n".join(lines) + "\n"


def produce(args) -> str:
    """Run the report, write ``--json``; return the text to print (JSON, then Markdown)."""
    report = run(args)
    text = json.dumps(report, indent=2)
    if args.json:
        flow.write_text(args.json, text + "\n", flow.flag_of(args, "json"))
    return f"{text}\n\n{markdown(report)}\n"


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, files=("json",),
                            dirs=("workdir",))


if __name__ == "__main__":
    sys.exit(main())
