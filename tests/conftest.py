"""Shared fixtures and helpers: designs are elaborated once per configuration and session; the
random regressions of the PEs and their bad-parameter checks run through one helper each."""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import pytest

from generators import ParamError, get_generator
from sim.runner import available_simulators, run_stream_test
from sim.tools import venv_tool

SIMULATORS = available_simulators()


@functools.lru_cache(maxsize=None)
def _design(generator: str, items: tuple):
    return get_generator(generator).elaborate(dict(items))


def design_for(generator: str, **values):
    """Elaborated design for ``values`` (cached: elaboration and Verilog are deterministic)."""
    return _design(generator, tuple(sorted(values.items())))


@pytest.fixture
def sim_dir(tmp_path):
    return tmp_path


def check_lint(design, tmp_path, *, yosys: bool = True):
    """Verilator ``-Wall`` (with the project's waivers) and Yosys ``check -assert`` of a design;
    raises :class:`sim.lint.LintError` on any finding."""
    from generators.emit import write_design
    from sim.lint import verilator_lint, yosys_check

    verilog_path, _ = write_design(design, tmp_path)
    verilator_lint(verilog_path, design.module)
    if yosys:
        yosys_check(design.verilog(), design.module)


# -- random regressions ------------------------------------------------------------------------

def simulator_runs(configs, *, verilator=None):
    """``pytest.param(config_id, params, simulator, id="<config_id>-<simulator>")`` for every
    ``(config_id, params)`` of ``configs`` on every available simulator; on Verilator only the
    ids in ``verilator`` when it is given (its builds are the slow ones)."""
    return [pytest.param(cid, params, sim, id=f"{cid}-{sim}") for cid, params in configs
            for sim in SIMULATORS if sim != "verilator" or verilator is None or cid in verilator]


def config_seed(config_id: str) -> int:
    """The random seed of a configuration: the sum of its id's character codes."""
    return sum(map(ord, config_id))


def run_seeded(generator: str, params: dict, simulator: str, work_dir, make_stimulus, seed: int,
               *, engine: str = "fast"):
    """Elaborate ``generator`` with ``params``, build the stimulus with
    ``make_stimulus(design, np.random.default_rng(seed), seed)`` and run it on ``simulator`` in
    ``work_dir`` with ``engine``, checking every output (:func:`sim.runner.run_stream_test`).
    Returns the design."""
    design = design_for(generator, **params)
    stimulus = make_stimulus(design, np.random.default_rng(seed), seed)
    run_stream_test(design, simulator, stimulus, work_dir, engine=engine)
    return design


def run_configuration(generator: str, config_id: str, params: dict, simulator: str, work_dir,
                      make_stimulus, *, cocotb=()):
    """The random regression run of one configuration (:func:`run_seeded`), seeded with
    :func:`config_seed`: on the cocotb bench when ``config_id`` is in ``cocotb``, else on the
    native engine. Returns the design."""
    return run_seeded(generator, params, simulator, work_dir, make_stimulus, config_seed(config_id),
                      engine="cocotb" if config_id in cocotb else "fast")


def _operand_stimulus(operands, stimulus, count, operand_options, **stimulus_options):
    def make(design, rng, seed):
        values = operands(design.params, rng, count, **operand_options)
        values = values if isinstance(values, tuple) else (values,)
        return stimulus(design.params, design.manifest, *values, seed=seed, **stimulus_options)
    return make


def backpressure_stimulus(operands, stimulus, count, **operand_options):
    """A ``make_stimulus`` for :func:`run_seeded` from a stimulus module's pair of functions:
    ``operands(params, rng, count, **operand_options)`` gives the operands (a tuple of them, or
    one value such as a dict of beats or a list of events), and
    ``stimulus(params, manifest, *operands, idle=0.3, stall=0.4, seed=seed)`` the stimulus, with
    random idle cycles on the input and random back-pressure on the output."""
    return _operand_stimulus(operands, stimulus, count, operand_options, idle=0.3, stall=0.4)


def full_rate_stimulus(operands, stimulus, count, **operand_options):
    """Like :func:`backpressure_stimulus`, at full rate: no idles, no stalls, and the bench checks
    the manifest's latency and initiation interval on every output (``check_timing``)."""
    return _operand_stimulus(operands, stimulus, count, operand_options, idle=0.0, stall=0.0,
                             check_timing=True)


# -- parameter errors --------------------------------------------------------------------------

def assert_one_line_param_error(generator: str, values: dict, *expected: str,
                                resolve_only: bool = False) -> str:
    """``values`` make ``generator`` raise :class:`ParamError` (on elaboration, or on resolving
    the parameters alone with ``resolve_only``) with a message of one line that holds every text
    of ``expected``; returns the message."""
    gen = get_generator(generator)
    with pytest.raises(ParamError) as info:
        (gen.resolve if resolve_only else gen.elaborate)(values)
    message = str(info.value)
    assert "\n" not in message, message
    for text in expected:
        assert text in message, message
    return message


def check_cli_error_and_help(generator: str, bad_args: list[str], flag: str, *,
                             status: int | None = None) -> str:
    """``generate-verilog generator *bad_args`` fails (with exit ``status`` when given) with one
    line on stderr naming ``flag`` and no traceback, and ``generate-verilog generator --help``
    shows every parameter's description. Returns the help text, white space folded."""
    cli = venv_tool("generate-verilog")
    proc = subprocess.run([cli, generator, *bad_args], capture_output=True, text=True)
    if status is None:
        assert proc.returncode != 0
    else:
        assert proc.returncode == status, proc.returncode
    assert proc.stderr.strip().count("\n") == 0 and flag in proc.stderr
    assert "Traceback" not in proc.stderr
    text = " ".join(subprocess.run([cli, generator, "--help"], capture_output=True,
                                   text=True).stdout.split())
    for p in get_generator(generator).params:
        assert " ".join(p.describe().split()) in text
    return text
