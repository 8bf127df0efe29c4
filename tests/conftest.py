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
