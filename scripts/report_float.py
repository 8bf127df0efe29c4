#!/usr/bin/env python3
"""Area / Fmax of the floating-point PEs beside int_mac, the product units alone, L-Mul error.

A thin wrapper of ``peforge report float`` (:mod:`sim.sweep.reports.float`).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.sweep.report import script_entry  # noqa: E402

main = script_entry("float", "report_float.py")

if __name__ == "__main__":
    sys.exit(main())
