#!/usr/bin/env python3
"""Area of ``mixed_int_pe``: shift_add (MixPE) vs dequant_first, product unit alone and whole PE.

A thin wrapper of ``peforge report mixed`` (:mod:`sim.sweep.reports.mixed`).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.sweep.report import script_entry  # noqa: E402

main = script_entry("mixed", "report_mixed.py")

if __name__ == "__main__":
    sys.exit(main())
