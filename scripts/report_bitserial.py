#!/usr/bin/env python3
"""Area, speed and area efficiency of the bit-serial MAC family against ``int_mac``.

A thin wrapper of ``peforge report bitserial`` (:mod:`sim.sweep.reports.bitserial`).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.sweep.report import script_entry  # noqa: E402

main = script_entry("bitserial", "report_bitserial.py")

if __name__ == "__main__":
    sys.exit(main())
