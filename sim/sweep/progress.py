"""Progress of a sweep on stderr: a tqdm bar of designs done / running / left with the elapsed
time of every running step (refreshed every second, so a long ABC or nextpnr run shows that it is
alive), and one line per finished step with its elapsed time. Without a terminal (a log file, a
CI job) the bar is replaced by a ``running: ...`` line every 30 seconds."""

from __future__ import annotations

import os
import sys
import time

__all__ = ["SweepProgress"]

#: Seconds between two "running: ..." lines when stderr is not a terminal.
LOG_INTERVAL = 30.0


def _seconds(value: float) -> str:
    value = int(value)
    return f"{value // 60}m{value % 60:02d}s" if value >= 60 else f"{value}s"


class SweepProgress:
    """What the engine tells about a run (see :func:`sim.sweep.engine.run_sweep`)."""

    def __init__(self, sweep, *, enabled: bool = True, stream=None):
        self.name = sweep.name
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.left = {d.label: {s.name for s in d.steps} | ({"generate"} if d.has_verilog else set())
                     for d in sweep.designs}
        self.steps_total = sum(len(v) for v in self.left.values())
        self.cached_steps = 0
        self.run_steps = 0
        self.failures = 0
        self.running: dict = {}                 # (design, step) -> start time
        self.start = time.time()
        self.last_log = self.start
        self.bar = None

    # -- context ----------------------------------------------------------------------------

    def __enter__(self):
        return self

    def __exit__(self, exc_type, *exc):
        if self.bar is not None:
            self.bar.close()
            self.bar = None
        if not self.enabled:
            return
        if exc_type is KeyboardInterrupt:
            self._line(f"{self.name}: interrupted; {self.run_steps} steps finished in this run "
                       f"are cached, the next run resumes from there")
        elif exc_type is None:
            done = self.steps_total - sum(len(v) for v in self.left.values())
            self._line(f"{self.name}: {done} of {self.steps_total} steps done "
                       f"({self.cached_steps} cached, {self.run_steps} run, {self.failures} "
                       f"failed) in {_seconds(time.time() - self.start)}")

    def _line(self, text: str) -> None:
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text, file=self.stream)
        else:
            print(text, file=self.stream, flush=True)

    # -- counts -----------------------------------------------------------------------------

    def _counts(self) -> tuple[int, int, int]:
        """(designs done, running, left)."""
        done = sum(1 for steps in self.left.values() if not steps)
        running = len({d for d, _ in self.running})
        return done, running, len(self.left) - done - running

    def _running_text(self) -> str:
        now = time.time()
        items = sorted(self.running.items(), key=lambda item: item[1])
        return ", ".join(f"{d} {s} {_seconds(now - t)}" for (d, s), t in items)

    # -- events -----------------------------------------------------------------------------

    def cached(self, design: str, step: str, *, failed: bool = False) -> None:
        """A step found in the cache (a cached failure with ``failed``)."""
        self.left[design].discard(step)
        self.cached_steps += 1
        self.failures += failed

    def starting(self, scheduler: str | None, workers: int | None) -> None:
        """The cluster is about to start (something is not cached)."""
        left = sum(len(v) for v in self.left.values())
        where = f"the Dask cluster at {scheduler}" if scheduler else \
            f"a local Dask cluster of {workers or os.cpu_count()} worker processes"
        self._line(f"{self.name}: {left} of {self.steps_total} steps to run on {where} "
                   f"({self.cached_steps} cached)")

    def started_cluster(self, client) -> None:
        if not self.enabled or not self.stream.isatty():
            return
        from tqdm import tqdm

        done, _, _ = self._counts()
        self.bar = tqdm(total=len(self.left), initial=done, file=self.stream, desc=self.name,
                        unit="design", dynamic_ncols=True, mininterval=0.5,
                        bar_format="{desc}: {n_fmt}/{total_fmt} designs done |{bar:16}| "
                                   "{elapsed} {postfix}")

    def event(self, event) -> None:
        """A worker started a step (Dask event ``(time, message)``)."""
        _, message = event
        self.running[(message["design"], message["step"])] = message["time"]

    def _done(self, design: str, step: str) -> None:
        self.left[design].discard(step)
        self.running.pop((design, step), None)
        if self.bar is not None:
            self.bar.n = self._counts()[0]
            self.refresh()

    def finished(self, design: str, step: str, seconds: float | None) -> None:
        self.run_steps += 1
        self._done(design, step)
        self._line(f"  {design}: {step} {seconds:.1f} s")

    def failed(self, design: str, step: str, message: str) -> None:
        self.failures += 1
        self._done(design, step)
        self._line(f"  {design}: {step} FAILED: {message}")

    def skipped(self, design: str, step: str) -> None:
        self._done(design, step)

    def note(self, text: str) -> None:
        self._line(f"  note: {text}")

    def refresh(self) -> None:
        """Once a second while the cluster works."""
        done, running, left = self._counts()
        text = f"running {running}, left {left}"
        if self.running:
            text += f" | {self._running_text()}"
        if self.bar is not None:
            self.bar.set_postfix_str(text, refresh=True)
        elif self.enabled and time.time() - self.last_log >= LOG_INTERVAL:
            self.last_log = time.time()
            self._line(f"{self.name}: {done}/{len(self.left)} designs done, {text}")
