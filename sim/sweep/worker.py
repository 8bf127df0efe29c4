"""Set-up of the sweep engine's local Dask worker processes (a ``distributed`` preload module).

Ctrl-C in a terminal sends SIGINT to the whole foreground process group: the client, which
closes the cluster and keeps what finished, and every worker process, which would die printing
a traceback. A worker therefore ignores it (with a handler, not ``SIG_IGN``, so that the tools it
runs keep the default and stop at once; such a step counts as interrupted, not failed).
"""

import signal


def _ignore(signum, frame):
    pass


def dask_setup(worker) -> None:
    signal.signal(signal.SIGINT, _ignore)
