#!/usr/bin/env python3
"""Softmax accuracy / area / speed sweep (issue 4).

A thin wrapper of ``peforge report softmax`` (:mod:`sim.sweep.reports.softmax`).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.sweep.report import script_entry  # noqa: E402

main = script_entry("softmax", "report_softmax.py")

if __name__ == "__main__":
    sys.exit(main())
