"""The sweep engine: a sweep is a declaration -- designs (a generator and its parameters, or a
custom Verilog source) and the steps measured on each -- and :func:`run_sweep` does the rest.

* **Steps** (:class:`Step`; the standard ones are in :mod:`sim.sweep.steps`: generic area,
  iCE40, ECP5, Fmax, lint, custom measurements) run as Dask tasks on a
  ``distributed.LocalCluster`` sized to the machine, or on an existing cluster
  (``scheduler="tcp://host:8786"``). Generating a design's Verilog is a step too.
* **Cache**: every finished step is stored under a content-addressed key (:mod:`sim.sweep.cache`)
  on the client as soon as its result arrives; a rerun finds it and runs nothing (no cluster is
  started when every step is cached), and an interrupted sweep resumes where it stopped.
* **Results database** (:mod:`sim.sweep.db`): every figure, one row per design x step x figure;
  reports read their tables and plots back from it (:class:`Results`).
* **Failures** are recorded per design and step (a database row with the error's one line); the
  sweep goes on. A deterministic failure (a tool's error, a bad parameter) is cached too, so a
  rerun does not repeat it (``retry_failed`` does); a lost worker or a full disk is not.
* **Progress** (:mod:`sim.sweep.progress`): designs done / running / left, the elapsed time of
  every running step, one line per finished step.
"""

from __future__ import annotations

import json
import shutil
import socket
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

from ..fpga import FlowError, Source, generated_source, tool_versions
from .cache import Cache, code_fingerprint, digest, module_digest
from .db import ResultsDB

__all__ = ["Step", "Design", "Sweep", "Built", "Results", "run_sweep", "design", "custom",
           "measurement", "STEP_TOPIC"]

#: Dask event topic on which workers announce the start of a step (for the progress display).
STEP_TOPIC = "peforge-sweep-step"


def _qualname(fn) -> str:
    return f"{fn.__module__}:{fn.__qualname__}"


@dataclass(frozen=True)
class Step:
    """One measurement of a design: ``fn(built, workdir, **options)`` returns a dict of figures
    (numbers, strings, lists; nested dicts are flattened in the database).

    ``built`` is the design's :class:`Built` (None for a design without Verilog), ``workdir`` an
    empty directory of its own. ``fn`` must be a module-level function (workers import it).
    ``tools`` (short names of :data:`sim.fpga.TOOL_PACKAGES`) and ``code`` (module names) are what
    the result depends on beyond the Verilog and the options: their versions / source text go
    into the cache key. Bump ``version`` when ``fn`` changes what it measures.
    """

    name: str
    fn: Callable
    options: tuple = ()
    tools: tuple = ()
    code: tuple = ()
    version: int = 1

    @property
    def kwargs(self) -> dict:
        return dict(self.options)


def step(name: str, fn: Callable, *, tools=(), code=(), version: int = 1, **options) -> Step:
    """A :class:`Step` named ``name`` running ``fn`` with keyword ``options``."""
    return Step(name, fn, tuple(sorted(options.items())), tuple(tools), tuple(code), version)


@dataclass(frozen=True)
class Design:
    """One design of a sweep and its steps.

    Exactly one way of making its Verilog: ``generator`` with ``values`` (parameter name ->
    text, as on the command line), or ``build(*args)`` returning a :class:`sim.fpga.Source` (or
    ``(source, params)``) for a unit that is not a generator (a product unit, a baseline), or
    neither for a measurement without a design (its steps get ``built=None``). ``info`` holds
    what the report needs about the row (group, baseline label, ...); it is not part of any key.
    ``kind`` names a custom design's family in the database's ``generator`` column.
    """

    label: str
    steps: tuple = ()
    generator: str | None = None
    values: tuple = ()
    build: Callable | None = None
    args: tuple = ()
    kind: str | None = None
    info: tuple = ()

    @property
    def family(self) -> str | None:
        """What the database's ``generator`` column says for this design."""
        if self.generator:
            return self.generator
        if self.kind:
            return self.kind
        return self.build.__name__ if self.build else None

    @property
    def has_verilog(self) -> bool:
        return bool(self.generator or self.build)

    def get(self, name: str, default=None):
        """An ``info`` entry."""
        return dict(self.info).get(name, default)


def design(label: str, generator: str, params: dict, steps, **info) -> Design:
    """A generated design: ``generator`` with ``params`` (name -> value, given as text)."""
    values = tuple(sorted((k, str(v)) for k, v in params.items()))
    return Design(label, tuple(steps), generator=generator, values=values,
                  info=tuple(info.items()))


def custom(label: str, build: Callable, args: tuple, steps, *, kind: str | None = None,
           **info) -> Design:
    """A design whose Verilog is ``build(*args)`` (module-level function, JSON-able args)."""
    return Design(label, tuple(steps), build=build, args=tuple(args), kind=kind,
                  info=tuple(info.items()))


def measurement(label: str, steps, **info) -> Design:
    """Steps that measure no design (an error statistic of a golden model, say)."""
    return Design(label, tuple(steps), info=tuple(info.items()))


@dataclass
class Sweep:
    """A named list of designs (labels unique); ``name`` is the database's ``sweep`` column."""

    name: str
    designs: list

    def __post_init__(self):
        seen = set()
        for d in self.designs:
            if d.label in seen:
                raise ValueError(f"sweep {self.name}: two designs labelled {d.label!r}")
            seen.add(d.label)
            names = [s.name for s in d.steps]
            if len(set(names)) != len(names) or "generate" in names:
                raise ValueError(f"sweep {self.name}: {d.label}: step names must be unique "
                                 f"and not 'generate': {names}")


@dataclass
class Built:
    """A design's Verilog and what is known about it (the result of its generate step)."""

    source: Source
    generator: str | None = None
    values: dict = field(default_factory=dict)
    params: dict = field(default_factory=dict)
    manifest: dict | None = None

    def to_json(self) -> dict:
        s = self.source
        return {"label": s.label, "module": s.module, "files": s.files,
                "verilog_params": s.params, "streams": s.streams, "ports": list(s.ports),
                "generator": self.generator,
                "values": self.values, "params": self.params, "manifest": self.manifest}

    @classmethod
    def from_json(cls, data: dict) -> "Built":
        source = Source(data["label"], data["module"], data["files"], data["verilog_params"],
                        data["streams"], tuple(tuple(p) for p in data.get("ports", ())))
        return cls(source, data["generator"], data["values"], data["params"], data["manifest"])

    def design(self):
        """The :class:`generators.Design` again (elaborated in this process; generated
        designs only): for steps that simulate the Amaranth component."""
        from generators import get_generator

        return get_generator(self.generator).elaborate(self.values)

    def resolved(self) -> dict:
        """The generator's resolved parameters (Python values; generated designs only)."""
        from generators import get_generator

        return get_generator(self.generator).resolve(self.values)


# --------------------------------------------------------------------------------------------
# What runs on the workers
# --------------------------------------------------------------------------------------------

def generate(d: Design) -> dict:
    """Elaborate ``d`` (a worker task): its :class:`Built` as JSON and the fingerprint of the
    code that made it here (see :func:`generate_key`)."""
    worker = _announce(d.label, "generate")
    start = time.monotonic()
    code = code_fingerprint(maker_module(d))
    if d.generator:
        from generators import get_generator

        values = dict(d.values)
        des = get_generator(d.generator).elaborate(values)
        built = Built(generated_source(des), d.generator, values, des.manifest["params"],
                      des.manifest)
    else:
        made = d.build(*d.args)
        source, params = made if isinstance(made, tuple) else (made, {"args": list(d.args)})
        built = Built(source, None, {}, params, None)
    return {"built": built.to_json(), "code": code, "worker": worker,
            "seconds": round(time.monotonic() - start, 2)}


def _announce(label: str, step_name: str) -> str:
    """Tell the client a step started (Dask event); return this worker's name."""
    try:
        from distributed import get_worker

        worker = get_worker()
    except (ImportError, ValueError):
        return socket.gethostname()
    try:
        worker.log_event(STEP_TOPIC, {"design": label, "step": step_name, "time": time.time()})
    except Exception:   # progress display only: never fail a step for it
        pass
    return worker.address


def _jsonable(value):
    if hasattr(value, "item"):          # NumPy scalars
        return value.item()
    if hasattr(value, "tolist"):
        return value.tolist()
    if isinstance(value, (set, tuple)):
        return list(value)
    return str(value)


def run_step(s: Step, built: dict | None, label: str, keep: str | None) -> dict:
    """Run step ``s`` of design ``label`` (a worker task) in a fresh work directory (kept below
    ``keep`` if given, else removed); return its figures, seconds and worker."""
    worker = _announce(label, s.name)
    start = time.monotonic()
    if keep:
        workdir = Path(keep) / _file_name(label) / s.name
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
    else:
        workdir = Path(tempfile.mkdtemp(prefix=f"peforge-{s.name}-"))
    try:
        figures = s.fn(Built.from_json(built) if built is not None else None, workdir,
                       **s.kwargs)
    finally:
        if not keep:
            shutil.rmtree(workdir, ignore_errors=True)
    figures = json.loads(json.dumps(figures, default=_jsonable))
    return {"figures": figures, "seconds": round(time.monotonic() - start, 2), "worker": worker}


def _file_name(label: str) -> str:
    return "".join(c if c.isalnum() or c in "._-" else "_" for c in label)[:120]


# --------------------------------------------------------------------------------------------
# Keys
# --------------------------------------------------------------------------------------------

def maker_module(d: Design) -> str:
    """The module that makes ``d``'s Verilog: its generator's, or its builder's."""
    if d.generator:
        from generators import get_generator
        from generators.params import ParamError

        try:
            return type(get_generator(d.generator)).__module__
        except ParamError:          # an unknown generator: its generate step fails and says so
            return "generators"
    return d.build.__module__


def generate_key(d: Design, code: str | None = None) -> str | None:
    """Cache key of ``d``'s generate step (None for a design without Verilog): its generator
    and parameters (or builder and arguments) and ``code``, the fingerprint of the code that
    makes it (default: this machine's, :func:`sim.sweep.cache.code_fingerprint`)."""
    if not d.has_verilog:
        return None
    what = {"generator": d.generator, "values": list(d.values),
            "build": _qualname(d.build) if d.build else None, "args": list(d.args),
            "code": code or code_fingerprint(maker_module(d))}
    return digest(["generate", what])


def step_key(s: Step, built: Built | None, tools: dict) -> str:
    """Cache key of step ``s`` on ``built``: Verilog + step (name, function, options, version)
    + the versions of the tools it declares + the source of the modules it declares."""
    verilog = None
    if built is not None:
        src = built.source
        verilog = {"module": src.module, "files": src.files, "params": src.params}
    return digest({"verilog": verilog, "step": s.name, "fn": _qualname(s.fn),
                   "options": [list(o) for o in s.options], "version": s.version,
                   "tools": {t: tools.get(t) for t in s.tools},
                   "code": {m: module_digest(m) for m in s.code}})


# --------------------------------------------------------------------------------------------
# Results, read back from the database
# --------------------------------------------------------------------------------------------

class Results:
    """The figures of one run of a sweep, read from its database rows (only rows whose key is
    the step's current key count: a stale row of an earlier run is never shown)."""

    def __init__(self, sweep: Sweep, keys: dict, rows: list[dict]):
        self.sweep = sweep
        self.designs = {d.label: d for d in sweep.designs}
        self._figures: dict = {}
        self._errors: dict = {}
        self._meta: dict = {}
        for row in rows:
            where = (row["design"], row["step"])
            if keys.get(where) != row["key"]:
                continue
            self._meta.setdefault(row["design"], row)
            if row["figure"] == "error":
                self._errors[where] = row["text"]
                continue
            value = row["value"]
            if value is None and row["text"] is not None:
                value = row["text"]
                if value[:1] in "[{":
                    value = json.loads(value)
            self._figures.setdefault(where, {})[row["figure"]] = value

    def figures(self, label: str, step: str) -> dict:
        """Every figure of ``label`` x ``step`` (flattened names), empty if not measured."""
        return self._figures.get((label, step), {})

    def get(self, label: str, step: str, figure: str, default=None):
        """One figure, or ``default`` if it was not measured (or the step failed)."""
        return self._figures.get((label, step), {}).get(figure, default)

    def error(self, label: str, step: str) -> str | None:
        """The one-line error of a failed step (``generate`` included), else None."""
        return self._errors.get((label, step))

    def errors(self) -> list[tuple[str, str, str]]:
        """(design, step, error line) of every failed step."""
        return [(d, s, e) for (d, s), e in self._errors.items()]

    def module(self, label: str) -> str | None:
        return (self._meta.get(label) or {}).get("module")

    def params(self, label: str) -> dict:
        """The design's parameters as recorded (resolved generator parameters)."""
        meta = self._meta.get(label)
        return json.loads(meta["params"]) if meta and meta["params"] else {}


# --------------------------------------------------------------------------------------------
# Running a sweep
# --------------------------------------------------------------------------------------------

@dataclass
class _State:
    """One design during a run."""

    index: int
    design: Design
    gen_key: str | None
    built: Built | None = None
    keys: dict = field(default_factory=dict)       # step name -> key
    pending: set = field(default_factory=set)      # step names still to run

    @property
    def label(self) -> str:
        return self.design.label


class _Run:
    """The client side of one sweep run: cache, database, progress, Dask futures."""

    def __init__(self, sweep: Sweep, db: ResultsDB, cache: Cache, tools: dict, keep, progress,
                 retry_failed: bool = False):
        self.sweep, self.db, self.cache, self.tools = sweep, db, cache, tools
        self.retry_failed = retry_failed
        self.keep = str(Path(keep).resolve()) if keep else None
        self.progress = progress
        existing = self.db.rows(sweep.name)
        self.recorded = {(r["design"], r["step"], r["key"]) for r in existing}
        self.states = [_State(i, d, generate_key(d)) for i, d in enumerate(sweep.designs)]
        self.futures: dict = {}                  # future -> (state, step name or "generate")

    # -- bookkeeping ----------------------------------------------------------------------

    def _record(self, st: _State, step_name: str, key: str, *, figures=None, error=None):
        built = st.built
        self.db.record(sweep=self.sweep.name, design=st.label, generator=st.design.family,
                       module=built.source.module if built else None,
                       params=built.params if built else dict(st.design.values),
                       step=step_name, key=key, tools=self._tools_of(st, step_name),
                       figures=figures, error=error)
        self.recorded.add((st.label, step_name, key))

    def _tools_of(self, st: _State, step_name: str) -> dict:
        if step_name == "generate":
            return {}
        s = next(s for s in st.design.steps if s.name == step_name)
        return {t: self.tools.get(t) for t in s.tools}

    def _generate_figures(self, built: Built) -> dict:
        manifest = built.manifest or {}
        return {"verilog_bytes": sum(len(t) for t in built.source.files.values()),
                "latency": manifest.get("latency"),
                "initiation_interval": manifest.get("initiation_interval")}

    def _set_built(self, st: _State, built: Built | None) -> None:
        """Know ``st``'s Verilog: compute its step keys, take cached steps, leave the rest
        pending."""
        st.built = built
        for s in st.design.steps:
            key = step_key(s, built, self.tools)
            st.keys[s.name] = key
            cached = self.cache.get(key)
            if cached is not None and "error" in cached:
                if not self._cached_failure(st, s.name, cached):
                    cached = None
                else:
                    continue
            if cached is None:
                st.pending.add(s.name)
                continue
            if (st.label, s.name, key) not in self.recorded:
                self._record(st, s.name, key, figures=cached["figures"])
            self.progress.cached(st.label, s.name)

    def plan(self) -> None:
        """Everything the cache already holds; what is left is in the states' ``pending``."""
        for st in self.states:
            if st.gen_key is None:
                self._set_built(st, None)
                continue
            data = self.cache.get(st.gen_key)
            if data is not None and "error" in data:
                if self._cached_failure(st, "generate", data):
                    for s in st.design.steps:
                        self.progress.skipped(st.label, s.name)
                    continue
                data = None
            if data is None:
                st.pending.add("generate")
                continue
            built = Built.from_json(data["built"])
            st.built = built
            if (st.label, "generate", st.gen_key) not in self.recorded:
                self._record(st, "generate", st.gen_key, figures=self._generate_figures(built))
            self.progress.cached(st.label, "generate")
            self._set_built(st, built)

    def todo(self) -> bool:
        return any(st.pending for st in self.states)

    def keys(self) -> dict:
        out = {}
        for st in self.states:
            if st.gen_key:
                out[(st.label, "generate")] = st.gen_key
            out.update({(st.label, name): key for name, key in st.keys.items()})
        return out

    # -- Dask -----------------------------------------------------------------------------

    def _submit_steps(self, client, st: _State) -> None:
        built = st.built.to_json() if st.built is not None else None
        if built is not None and sum(len(t) for t in built["files"].values()) > 200_000:
            # Big Verilog: send it once. (In a list: a dict given to scatter is scattered
            # value by value.)
            [built] = client.scatter([built], hash=False)
        for s in st.design.steps:
            if s.name in st.pending:
                future = client.submit(run_step, s, built, st.label, self.keep, pure=False,
                                       priority=-st.index, key=f"{s.name}-{st.index}-"
                                       f"{st.keys[s.name][:12]}")
                self.futures[future] = (st, s.name)

    def submit(self, client) -> None:
        for st in self.states:
            if "generate" in st.pending:
                future = client.submit(generate, st.design, pure=False, priority=-st.index,
                                       key=f"generate-{st.index}-{st.gen_key[:12]}")
                self.futures[future] = (st, "generate")
            elif st.pending:
                self._submit_steps(client, st)

    def finished(self, client, future) -> None:
        """A future is done: cache and record its result (or its failure), submit what it
        unblocks."""
        st, name = self.futures.pop(future)
        st.pending.discard(name)
        try:
            result = future.result()
        except KeyboardInterrupt:
            raise
        except BaseException as exc:   # noqa: BLE001 -- any failure of a step is recorded
            self._failed(st, name, exc)
            return
        if name == "generate":
            built = st.built = Built.from_json(result["built"])
            key = generate_key(st.design, result["code"])
            if key != st.gen_key:
                # The worker's code differs from this machine's (another installation, or a
                # file edited since this run started): cache the Verilog under what made it.
                self.progress.note(f"{st.label}: generated by different peforge code on the "
                                   f"worker than on this machine")
                st.gen_key = key
            self.cache.put(st.gen_key, {"built": result["built"], "code": result["code"]})
            self._record(st, "generate", st.gen_key, figures=self._generate_figures(built))
            self.db.record_run(key=st.gen_key, sweep=self.sweep.name, design=st.label,
                               step="generate", seconds=result["seconds"],
                               worker=result["worker"])
            self.progress.finished(st.label, "generate", result["seconds"])
            self._set_built(st, built)
            if st.pending:
                self._submit_steps(client, st)
            return
        key = st.keys[name]
        self.cache.put(key, {"figures": result["figures"], "seconds": result["seconds"]})
        self._record(st, name, key, figures=result["figures"])
        self.db.record_run(key=key, sweep=self.sweep.name, design=st.label, step=name,
                           seconds=result["seconds"], worker=result["worker"])
        self.progress.finished(st.label, name, result["seconds"])

    def _failed(self, st: _State, name: str, exc: BaseException) -> None:
        message = " ".join(str(exc).split()) or type(exc).__name__
        if not isinstance(exc, FlowError):
            message = f"{type(exc).__name__}: {message}"
        key = st.gen_key if name == "generate" else st.keys[name]
        if _deterministic(exc):
            self.cache.put(key, {"error": message, "code": self._failure_code(st, name)})
        self._record(st, name, key, error=message)
        self.progress.failed(st.label, name, message)
        if name == "generate":      # nothing else of this design can run
            for s in st.design.steps:
                self.progress.skipped(st.label, s.name)

    def _failure_code(self, st: _State, name: str) -> str:
        """What a cached failure of step ``name`` is valid for: the source of the engine and of
        its function's module (a fixed bug in either makes it run again)."""
        if name == "generate":
            return module_digest(__name__)
        s = next(s for s in st.design.steps if s.name == name)
        return digest([module_digest(__name__), module_digest(s.fn.__module__)])

    def _cached_failure(self, st: _State, name: str, data: dict) -> bool:
        """Take a cached failure (True) unless failures are retried or its code changed."""
        if self.retry_failed or data.get("code") != self._failure_code(st, name):
            return False
        key = st.gen_key if name == "generate" else st.keys[name]
        if (st.label, name, key) not in self.recorded:
            self._record(st, name, key, error=data["error"])
        self.progress.cached(st.label, name, failed=True)
        return True


def _deterministic(exc: BaseException) -> bool:
    """Whether the same step on the same input would fail the same way again (a tool's error,
    a bad parameter, a bug), as opposed to a lost worker, a cancelled task, a full disk or
    exhausted memory: only the former is cached."""
    transient = (OSError, MemoryError, KeyboardInterrupt)
    try:
        from distributed import KilledWorker
        from distributed.client import FutureCancelledError

        transient += (KilledWorker, FutureCancelledError)
    except ImportError:
        pass
    import concurrent.futures

    if isinstance(exc, FlowError) and "(exit -" in str(exc):     # a tool killed by a signal
        return False
    return not isinstance(exc, transient + (concurrent.futures.CancelledError,))


def run_sweep(sweep: Sweep, *, db: Path, cache: Path, scheduler: str | None = None,
              workers: int | None = None, keep: Path | None = None,
              show_progress: bool = True, retry_failed: bool = False) -> Results:
    """Run every step of ``sweep`` that the cache does not hold; return the results.

    ``db``: the SQLite results file; ``cache``: the cache directory; ``scheduler``: the address
    of an existing Dask scheduler (default: a ``LocalCluster`` of ``workers`` single-threaded
    worker processes, default one per core); ``keep``: keep each step's work directory (Verilog,
    scripts, netlists, logs) below this directory (on the workers' file system) instead of
    removing it. A step that failed deterministically (a tool's error, not a lost worker) is
    cached as a failure and not tried again unless ``retry_failed`` (or its step function's
    module changed). Raises ``KeyboardInterrupt`` after closing the cluster on Ctrl-C: every
    step finished before it is in the cache and the database.
    """
    from .execute import check_workers, dask_client, wait_any
    from .progress import SweepProgress

    tools = tool_versions()
    with ResultsDB(db) as results_db, SweepProgress(sweep, enabled=show_progress) as progress:
        run = _Run(sweep, results_db, Cache(cache), tools, keep, progress, retry_failed)
        run.plan()
        if run.todo():
            progress.starting(scheduler, workers)
            with dask_client(scheduler, workers) as client:
                check_workers(client, tools)
                client.subscribe_topic(STEP_TOPIC, progress.event)
                progress.started_cluster(client)
                run.submit(client)
                while run.futures:
                    for future in wait_any(list(run.futures), timeout=1.0):
                        run.finished(client, future)
                    progress.refresh()
        return Results(sweep, run.keys(), results_db.rows(sweep.name))
