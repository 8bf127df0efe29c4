"""The sweep engine: design-space sweeps as declarations, run on Dask, cached by content,
recorded in an SQLite results database (issue 17).

=====================  =========================================================================
module                 what lives there
=====================  =========================================================================
``engine``             :class:`~sim.sweep.engine.Sweep`, :class:`~sim.sweep.engine.Design`,
                       :class:`~sim.sweep.engine.Step`, :func:`~sim.sweep.engine.run_sweep`,
                       :class:`~sim.sweep.engine.Results` (figures read back from the database)
``steps``              the standard steps: generic area, iCE40, ECP5, Fmax, lint, ``measure``
``cache``              content-addressed step results (keys: Verilog + step + tool versions)
``db``                 the results database (one row per design x step x figure)
``execute``            the Dask cluster: a ``LocalCluster`` or ``--scheduler ADDRESS``
``progress``           designs done / running / left, per-step elapsed time (tqdm)
``report``             how every report runs (options, output files)
``reports/``           the reports, one short declaration each (``peforge report NAME``)
``command``            the command-line conventions (one-line errors naming the flag typed)
``render``             Markdown tables and Matplotlib plots
``cli``                ``peforge report``, ``peforge results``, ``peforge synth``
``worker``             set-up of the local worker processes (Ctrl-C is the client's)
=====================  =========================================================================

A sweep in a few lines::

    from sim.sweep import steps
    from sim.sweep.engine import Sweep, design, run_sweep

    sweep = Sweep("lanes", [design(f"K={k}", "int_mac", {"lanes": k},
                                   [steps.generic(), steps.ice40()]) for k in (1, 2, 4, 8)])
    results = run_sweep(sweep, db="build/lanes.sqlite", cache="build/cache")
    print(results.get("K=8", "ice40", "lut4"))
"""
