"""Shared command-line, synthesis and place-and-route helpers of the scripts in ``scripts/``.

The code lives in the package (so that the installed ``peforge report`` / ``peforge synth``
commands have it); this module re-exports it for the scripts:

* :mod:`sim.fpga` -- :class:`Source` (a generated PE or a hand-written baseline),
  :func:`generated_source`, :func:`baseline_source`, :func:`register_wrapper`, the Yosys runs
  :func:`synth_generic` and :func:`synth_fpga`, :func:`nextpnr_ecp5_ooc`, :func:`board_build`,
  the YoWASP plumbing (:func:`run_tool`, :func:`tool_path`, ...);
* :mod:`sim.sweep.command` -- the command-line conventions (:func:`script_main`,
  :func:`script_parser`, :class:`UsageError`, :func:`parse_param_pairs`, :func:`elaborate`, ...);
* :mod:`sim.sweep.render` -- :func:`new_plot`, :func:`save_plot`, :func:`number_text`.

Reports run on the sweep engine (:mod:`sim.sweep`: cached steps, results database, Dask);
:func:`cached_figures` and :func:`write_report` remain for the scripts not ported to it yet
(``report_lut.py``, ``report_sparse_scalable.py``).
"""

from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from sim.fpga import (BASELINE_DIR, BASELINES, DEFAULT_SEED, ECP5_FREQ_MHZ,  # noqa: E402, F401
                      FPGA_CELLS, FlowError, Source, baseline_source, board_build, build_env,
                      generated_source, group_cells, median_fmax, netlist_figures,
                      nextpnr_ecp5_ooc, parse_nextpnr_report, register_wrapper, run_tool,
                      synth_fpga, synth_generic, tool_path, yosys_read_script)
from sim.sweep.command import (OneLineParser, UsageError, add_ecp5_freq_option,  # noqa: E402, F401
                               check_output, check_params, check_value, choice_list, elaborate,
                               flag_of, int_at_least, number_above, parse_param_pairs, progress,
                               run_command, script_main, script_parser, write_text)
from sim.sweep.render import new_plot, number_text, save_plot  # noqa: E402, F401

__all__ = [
    "BASELINE_DIR", "BASELINES", "DEFAULT_SEED", "ECP5_FREQ_MHZ", "FPGA_CELLS", "FlowError",
    "Source", "baseline_source", "board_build", "build_env", "generated_source", "group_cells",
    "median_fmax", "netlist_figures", "nextpnr_ecp5_ooc", "parse_nextpnr_report",
    "register_wrapper", "run_tool", "synth_fpga", "synth_generic", "tool_path",
    "yosys_read_script",
    "OneLineParser", "UsageError", "add_ecp5_freq_option", "check_output", "check_params",
    "check_value", "choice_list", "elaborate", "flag_of", "int_at_least", "number_above",
    "parse_param_pairs", "progress", "run_command", "script_main", "script_parser", "write_text",
    "new_plot", "number_text", "save_plot",
    "ROOT", "cached_figures", "write_report",
]

#: Repository root (this file lives in ``<root>/scripts``).
ROOT = Path(__file__).resolve().parent.parent


def cached_figures(cache_dir: Path | None, source: Source, target: str, measure, *,
                   key=()) -> dict:
    """``measure()``, or its result from an earlier run on the same Verilog (files of
    ``source``), ``target`` and ``key`` (seeds, clocks), kept as JSON in ``cache_dir`` (None: no
    cache) so that an interrupted sweep resumes where it stopped."""
    if cache_dir is None:
        return measure()
    digest = hashlib.sha256(json.dumps([target, *key, source.files], sort_keys=True)
                            .encode()).hexdigest()[:16]
    path = Path(cache_dir) / f"{source.module}.{target}.{digest}.json"
    if path.is_file():
        progress(f"  {source.module} {target}: cached")
        return json.loads(path.read_text())
    result = measure()
    result.pop("cells_by_type", None)     # bulky, and not reported
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(result))
    return result


def write_report(out: Path, report: dict, text: str, plot, plot_name: str) -> None:
    """``report.json``, ``report.md`` and the plot ``plot_name`` (drawn by ``plot(report,
    path)``) in ``out``, with one progress line."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n")
    (out / "report.md").write_text(text)
    plot(report, out / plot_name)
    progress(f"wrote {out}/report.json, report.md, {plot_name}")
