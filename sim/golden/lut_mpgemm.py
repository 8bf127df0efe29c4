"""Golden model of ``lut_mpgemm``, written from its specification (issue 14), integer
activations: a plain integer GEMM on decoded weights (never the table algorithm).

An input beat carries activations ``a[0..M*D*K-1]`` (row m, position j at index m*D*K + j),
weight codes ``w[0..D*K*N-1]`` (position j, column n at index j*N + n), a precision ``prec``
and ``last``. A weight's value is taken from the low ``prec`` bits q' of its code: ``int``:
two's complement at ``prec`` bits; ``symmetric``: 2q' - (2^prec - 1). After a beat with
``last``, M output beats follow, row m carrying y[m][n] = sum over the group's beats of
sum_j a[m][j] * w(j, n), as ``acc_width``-bit two's complement (wrapping), ``last`` on row M-1.
"""

from __future__ import annotations

import numpy as np

from .bitserial_mac import decode_weights as twos_complement_weights
from .int_mac import wrap

__all__ = ["decode_weights", "lut_mpgemm"]


def decode_weights(codes, prec, *, encoding: str) -> np.ndarray:
    """Weight values (int64) of codes at per-beat precisions; ``codes`` (beats, ...),
    ``prec`` (beats,)."""
    if encoding == "int":
        return twos_complement_weights(codes, prec, signed=True)
    if encoding == "symmetric":
        # Code q' (its low prec bits) means the odd value 2q' - (2^prec - 1).
        low = twos_complement_weights(codes, prec, signed=False)
        prec = np.asarray(prec, dtype=np.int64).reshape((-1,) + (1,) * (low.ndim - 1))
        return 2 * low - ((np.int64(1) << prec) - 1)
    raise ValueError(f"unknown weight encoding {encoding!r}")


def lut_mpgemm(a, w_codes, prec, last, *, rows: int, cols: int, weight_encoding: str,
               acc_width: int):
    """Output beats for input beats: ``(y, out_last)``, ``y`` an object array (outputs, N) of
    exact wrapped integers, ``out_last`` (outputs,) bool. ``a``: (beats, M*D*K) values;
    ``w_codes``: (beats, D*K*N) codes."""
    a = np.asarray(a, dtype=np.int64)
    beats = a.shape[0]
    dk = a.shape[1] // rows
    a = a.reshape(beats, rows, dk).astype(object)
    w = decode_weights(np.asarray(w_codes).reshape(beats, dk, cols), prec,
                       encoding=weight_encoding).astype(object)
    total = np.zeros((rows, cols), dtype=object)
    y, out_last = [], []
    for t in range(beats):
        total = total + a[t].dot(w[t])
        if last[t]:
            for m in range(rows):
                y.append(list(wrap(total[m], acc_width, True)))
                out_last.append(m == rows - 1)
            total = np.zeros((rows, cols), dtype=object)
    return np.array(y, dtype=object).reshape(-1, cols), np.array(out_last, dtype=bool)
