"""The reports of ``peforge report NAME``: each a short declaration of its sweep and of how its
tables and plots are drawn from the results (see :mod:`sim.sweep.report`)."""

from __future__ import annotations

import importlib

#: Report name -> (module, one-line summary).
REPORTS = {
    "arrays": ("arrays", "int_mac bit-weight options and systolic arrays: area, Fmax, overhead"),
    "float": ("float", "floating-point PEs beside int_mac, product units, L-Mul error"),
    "softmax": ("softmax", "softmax algorithm x table x reciprocal: accuracy, area, Fmax, cycles"),
    "bitserial": ("bitserial", "bit-serial MAC family vs int_mac: area, cycles, efficiency"),
    "mixed": ("mixed", "mixed_int_pe shift_add vs dequant_first: product unit and PE area"),
    "synth": ("synth", "configurations of one generator beside its hand-written baseline "
                       "(synth_area.py; one design: peforge synth)"),
    "pareto": ("pareto", "across generators at equal MACs/cycle: area vs Fmax and accuracy"),
    "speedup": ("speedup", "the same 12-design iCE40 sweep on 1 and 2 local workers"),
}


def report_module(name: str):
    """The module of report ``name``."""
    return importlib.import_module(f"{__name__}.{REPORTS[name][0]}")
