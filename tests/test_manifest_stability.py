"""Manifests stay what testbenches and tools rely on: for 27 parameter sets over every generator,
the manifest equals the one stored in ``tests/data/manifests/`` (written before the interface
declarations were rewritten), except that keys may be added — nothing removed, renamed or
changed."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from .conftest import design_for
from .test_manifest_schema import CONFIGS, IDS

STORED = Path(__file__).parent / "data" / "manifests"
#: The generators that existed when the manifests were stored (later ones have nothing to keep).
STORED_GENERATORS = ("bitmod_mac", "bitserial_mac", "fp_mac", "int_mac", "mixed_int_pe", "mx_dot",
                     "softmax", "systolic_array")
CHECKED = [(config, ident) for config, ident in zip(CONFIGS, IDS)
           if config[0] in STORED_GENERATORS]


def _contains(stored, now, where="manifest") -> list[str]:
    """Differences that matter: everything in ``stored`` must be in ``now`` unchanged."""
    if isinstance(stored, dict):
        if not isinstance(now, dict):
            return [f"{where}: was an object"]
        problems = []
        for key, value in stored.items():
            if key not in now:
                problems.append(f"{where}.{key}: removed")
            else:
                problems += _contains(value, now[key], f"{where}.{key}")
        return problems
    if isinstance(stored, list):
        if not isinstance(now, list) or len(now) != len(stored):
            return [f"{where}: list changed length"]
        return [p for i, (a, b) in enumerate(zip(stored, now))
                for p in _contains(a, b, f"{where}[{i}]")]
    return [] if stored == now else [f"{where}: {stored!r} -> {now!r}"]


def test_at_least_twenty_stored_configurations():
    assert len(list(STORED.glob("*.json"))) >= 20 and len(CHECKED) >= 20


@pytest.mark.parametrize("name, values", [c for c, _ in CHECKED], ids=[i for _, i in CHECKED])
def test_manifest_keeps_every_stored_key(name, values):
    design = design_for(name, **values)
    stored = json.loads((STORED / f"{design.module}.json").read_text())
    now = json.loads(design.manifest_text())
    assert _contains(stored, now) == []
