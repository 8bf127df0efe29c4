"""Shared fixtures: designs are elaborated once per configuration and session."""

from __future__ import annotations

import functools

import pytest

from generators import get_generator


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
