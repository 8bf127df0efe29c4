"""``cube_array`` stimulus: GEMM tiles of k-blocks (one-beat tiles of every pairing of extreme
operands, a long tile of the largest products, random tiles), and the golden outputs.

A cube beat has the shape of an output-stationary systolic beat with R*K values of A and K*C of
B, so the operands and the stream stimulus are those of :mod:`sim.stimuli.systolic_array`."""

from __future__ import annotations

import numpy as np

from sim.golden.cube_array import cube_array

from . import field_format
from .systolic_array import os_operands, os_stimulus

__all__ = ["cube_operands", "cube_stimulus", "golden_streams"]

#: R result rows per tile on stream o, from stream i: the output-stationary array's stimulus.
cube_stimulus = os_stimulus


def cube_operands(params: dict, rng: np.random.Generator, tiles: int, *, k_max: int = 40):
    """Beats of extreme tiles then ``tiles`` random tiles of 1..k_max k-blocks (see
    :func:`sim.stimuli.systolic_array.os_operands`): ``a`` (beats, R*K), ``b`` (beats, K*C),
    ``last`` (beats,)."""
    R, C, K = params["rows"], params["cols"], params["lanes"]
    return os_operands({**params, "rows": R * K, "cols": K * C}, rng, tiles, k_max=k_max)


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`)."""
    i = inputs["i"]
    c, row_last = cube_array(i["a"], i["b"], i["last"], rows=params["rows"],
                             cols=params["cols"], lanes=params["lanes"],
                             acc_width=params["acc_width"],
                             acc_signed=field_format(streams["o"], "c").signed)
    return {"o": {"c": c, "last": row_last}}
