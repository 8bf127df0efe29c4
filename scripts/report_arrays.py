#!/usr/bin/env python3
"""Area and Fmax of the bit-weight options of ``int_mac`` and of ``systolic_array`` (issue 6).

A thin wrapper of ``peforge report arrays`` (:mod:`sim.sweep.reports.arrays`).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.sweep.report import script_entry  # noqa: E402

main = script_entry("arrays", "report_arrays.py")

if __name__ == "__main__":
    sys.exit(main())
