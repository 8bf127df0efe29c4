"""Area of ``mixed_int_pe``: shift_add (MixPE) vs dequant_first, product unit alone and whole PE.

Synthesizes, in one run and with the same steps:

* the per-beat product unit alone (``hdl.mixed_int_pe.ShiftAddProducts`` /
  ``DequantFirstProducts``; combinational);
* the whole PE (``mixed_int_pe`` generator), both multipliers;
* ``int_mac`` int8 x int8 at the same K, as the familiar reference.

Figures: iCE40 LUT4 / SB_CARRY / FF without DSP (``synth_ice40``), Yosys generic cells and the CMOS
transistor estimate, and with ``--fmax`` the ECP5 Fmax (registered ports, ``synth_ecp5 -nodsp``,
nextpnr out of context, fixed seed). The issue's target: the shift_add iCE40 LUT4 count is at most
0.5x that of dequant_first (weight_bits 4, int8 activations, K = 8).
"""

from __future__ import annotations

from pathlib import Path

from .. import steps
from ..command import check_params, flag_of
from ..engine import Sweep, custom, design
from ..render import markdown_table
from ..report import Rendered

NAME = "mixed"
FILES = ("json",)
EPILOG = """examples:
    peforge report mixed                          # the issue's configuration
    peforge report mixed --weight-bits 2 --fmax --json build/mixed.json"""
TARGET_RATIO = 0.5
#: Generator parameters this report takes as flags of its own (same names as generate-verilog's).
PARAM_FLAGS = ("weight_bits", "act_format", "lanes", "scale_format")
MULTIPLIERS = ("shift_add", "dequant_first")
FIGURES = (
    ("iCE40 LUT4 (no DSP)", "ice40", "lut4"),
    ("iCE40 SB_CARRY (no DSP)", "ice40", "carry"),
    ("iCE40 FF (no DSP)", "ice40", "ff"),
    ("Generic cells", "generic", "cells"),
    ("CMOS transistors (estimate)", "generic", "transistors"),
    ("ECP5 Fmax MHz (no DSP)", "fmax-nodsp", "fmax_mhz"),
)


def add_arguments(parser) -> None:
    parser.add_argument("--weight-bits", default="4", help="weight code bits [default: 4]")
    parser.add_argument("--act-format", default="int8", help="activation format [default: int8]")
    parser.add_argument("--lanes", default="8", help="K [default: 8]")
    parser.add_argument("--scale-format", default="uq8.8", help="scale format [default: uq8.8]")
    parser.add_argument("--fmax", action="store_true",
                        help="also place and route the PEs on ECP5 for Fmax (slower)")
    parser.add_argument("--json", type=Path, help="also write the JSON report to this file")


def product_unit(values: dict):
    """The product unit of the ``mixed_int_pe`` design of ``values`` alone (a custom source)."""
    from generators import get_generator
    from generators.emit import component_verilog
    from hdl.mixed_int_pe import MixedIntPECore

    from ...fpga import Source

    gen = get_generator("mixed_int_pe")
    p = gen.resolve(values)
    core = MixedIntPECore(weight_bits=p["weight_bits"], act_format=p["act_format"],
                          lanes=p["lanes"], scale_format=p["scale_format"],
                          multiplier=p["multiplier"], acc_width=p["acc_width"])
    core._MustUse__silence = True
    module = f"products_{gen.module_name(p)}"
    source = Source("generated", module, {f"{module}.v": component_verilog(core.product_unit(),
                                                                          module)})
    return source, {q.name: q.to_json(p[q.name]) for q in gen.params}


def plan(args) -> Sweep:
    values = {name: getattr(args, name) for name in PARAM_FLAGS}
    origins = {name: flag_of(args, name) for name in PARAM_FLAGS}
    int_mac = {"a_format": "int8", "b_format": "int8", "lanes": args.lanes}
    for m in MULTIPLIERS:
        check_params("mixed_int_pe", {**values, "multiplier": m}, origins, param_flag=None)
    check_params("int_mac", int_mac, {"lanes": origins["lanes"]}, param_flag=None)
    area = [steps.ice40(), steps.generic()]
    pe_steps = area + ([steps.fmax(False)] if args.fmax else [])
    designs = [custom(f"product unit {m}", product_unit, ({**values, "multiplier": m},), area,
                      kind="mixed_int_pe product unit") for m in MULTIPLIERS]
    designs += [design(f"PE {m}", "mixed_int_pe", {**values, "multiplier": m}, pe_steps)
                for m in MULTIPLIERS]
    designs.append(design("PE int_mac int8 x int8", "int_mac", int_mac, pe_steps))
    return Sweep(NAME, designs)


def render(args, results) -> Rendered:
    labels = [d.label for d in results.sweep.designs]
    config = {name: getattr(args, name) for name in PARAM_FLAGS}
    rows = []
    for name, step, key in FIGURES:
        cells = [results.get(label, step, key) for label in labels]
        if any(c is not None for c in cells):
            rows.append([name] + ["-" if c is None else f"{c:g}" for c in cells])
    lut = {label: results.get(label, "ice40", "lut4") for label in labels}
    ratios = {scope: round(lut[f"{scope} shift_add"] / lut[f"{scope} dequant_first"], 3)
              for scope in ("product unit", "PE")
              if lut[f"{scope} shift_add"] and lut[f"{scope} dequant_first"]}
    checks = [[scope, f"{r:.3f}", f"<= {TARGET_RATIO}", "yes" if r <= TARGET_RATIO else "NO"]
              for scope, r in ratios.items()]
    text = "\n".join([f"mixed_int_pe, {config}", "",
                      markdown_table(["figure"] + labels, rows), "",
                      markdown_table(["iCE40 LUT4 shift_add / dequant_first", "ratio", "target",
                                      "met"], checks, align="lrrl")]) + "\n"
    data = {"config": config,
            "results": {label: {"module": results.module(label), "params": results.params(label),
                                "figures": {s.name: results.figures(label, s.name)
                                            for s in results.designs[label].steps}}
                        for label in labels},
            "lut4_ratio_shift_add_vs_dequant_first": ratios, "target_ratio": TARGET_RATIO}
    return Rendered(data, text)
