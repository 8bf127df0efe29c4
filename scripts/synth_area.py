#!/usr/bin/env python3
"""Synthesize generated peforge PEs and their hand-written baselines; compare area and Fmax.

A thin wrapper of the sweep engine's ``synth`` report (:mod:`sim.sweep.reports.synth`; for one
design with the generator's own flags: ``peforge synth GENERATOR --lanes 8 ...``). Steps run on a
local Dask cluster (``--workers``) or an existing one (``--scheduler``), every result is cached
by content (``--cache``, default ``build/cache``) and recorded in ``--db`` (default
``build/reports/synth/results.sqlite``).

Examples::

    python scripts/synth_area.py                                   # int_mac int8 x int8, K=1
    python scripts/synth_area.py int_mac --param lanes=8 --targets ice40,fmax
    python scripts/synth_area.py int_mac --config lanes=1 --config lanes=8 --json build/area.json
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.sweep.report import script_entry  # noqa: E402

main = script_entry("synth", "synth_area.py")

if __name__ == "__main__":
    sys.exit(main())
