"""Where the steps of a sweep run: Dask ``distributed``.

By default a ``LocalCluster`` of single-threaded worker *processes*, one per core (the tools
are single-threaded, and Python steps hold the GIL), so that two syntheses run at the same time
on a 2-core laptop. With ``scheduler="tcp://host:8786"`` the same sweep runs on an existing
cluster (``dask scheduler`` on one machine, ``dask worker tcp://host:8786 --nthreads 1`` on
each, every worker with peforge and the YoWASP tools installed: the same tool versions as the
client, which :func:`check_workers` verifies, since they are part of every cache key).
"""

from __future__ import annotations

import contextlib
import logging
import os

from ..fpga import FlowError, tool_versions

__all__ = ["dask_client", "check_workers", "wait_any", "stop_tools"]


@contextlib.contextmanager
def dask_client(scheduler: str | None = None, workers: int | None = None):
    """A ``distributed.Client`` on the cluster at ``scheduler``, or on a new ``LocalCluster``
    of ``workers`` processes (default: one per core), closed on exit."""
    try:
        from distributed import Client, LocalCluster
    except ImportError:
        raise FlowError("the sweep engine needs Dask: pip install 'peforge[sweep]' "
                        "(dask[distributed], tqdm)") from None
    # A failing step is the engine's business (recorded, one line): no worker tracebacks.
    logging.getLogger("distributed").setLevel(logging.CRITICAL)
    if scheduler:
        try:
            client = Client(scheduler, timeout="20s")
        except (OSError, TimeoutError) as exc:
            raise FlowError(f"--scheduler {scheduler}: cannot connect ({exc}); allowed: the "
                            f"address of a running Dask scheduler, e.g. tcp://host:8786") from None
        try:
            yield client
        finally:
            client.close()
        return
    # No dashboard: sweeps may run side by side, and it needs no port of its own.
    cluster = LocalCluster(n_workers=workers or os.cpu_count() or 1, threads_per_worker=1,
                           processes=True, dashboard_address=":0",
                           silence_logs=logging.CRITICAL, preload=["sim.sweep.worker"])
    client = Client(cluster)
    try:
        yield client
    except BaseException:
        # Interrupted (Ctrl-C) or failed: a step's tool would outlive its worker process, so
        # stop them first. Only on our own cluster: on a shared one they may be someone else's.
        with contextlib.suppress(Exception):
            client.run(stop_tools)
        raise
    finally:
        client.close()
        cluster.close()


def stop_tools() -> int:
    """Terminate the processes this (worker) process started, and their children: the tools
    of the steps it is running. Returns how many there were."""
    import psutil

    children = psutil.Process().children(recursive=True)
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=5)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    return len(children)


def check_workers(client, tools: dict) -> None:
    """Raise :class:`FlowError` if a worker's tool versions differ from this machine's: its
    results would be cached under keys that do not describe them. (Differing peforge code is
    caught per design: the generate step returns the fingerprint of the code it ran.)"""
    client.wait_for_workers(1, timeout=120)
    for worker, theirs in client.run(tool_versions).items():
        if theirs != tools:
            raise FlowError(f"Dask worker {worker} has tools {theirs}, this machine {tools}: "
                            f"install the same YoWASP versions on every worker")


def wait_any(futures: list, timeout: float) -> list:
    """The futures of ``futures`` that are done, waiting up to ``timeout`` seconds for one."""
    from distributed import wait

    try:
        done, _ = wait(futures, timeout=timeout, return_when="FIRST_COMPLETED")
    except TimeoutError:
        return []
    return list(done)
