"""Golden model of ``lut_mpgemm``, written from its specification (issue 14): a plain GEMM on
decoded weights (never the table algorithm).

An input beat carries activations ``a[0..M*D*K-1]`` (row m, position j at index m*D*K + j),
weight codes ``w[0..D*K*N-1]`` (position j, column n at index j*N + n), a precision ``prec``
and ``last``. A weight's value is taken from the low ``prec`` bits q' of its code: ``int``:
two's complement at ``prec`` bits; ``symmetric``: 2q' - (2^prec - 1). After a beat with
``last``, M output beats follow, row m carrying y[m][n] = sum over the group's beats of
sum_j a[m][j] * w(j, n), ``last`` on row M-1:

- integer activations: as ``acc_width``-bit two's complement (wrapping);
- fp16 / bf16 activations (codes, decoded with ml_dtypes / NumPy): exact products and exact
  sum, rounded once to binary32 (:func:`sim.golden.fp32_round.round_to_fp32` through
  ``fp_mac``'s term rules, which the issue says to follow): a NaN activation, Inf x 0 (a zero
  weight) or Infs of both signs give NaN 0x7FC00000, else an infinite product gives that Inf;
  an exact zero is +0 unless every product was -0 (an integer weight 0 is +0).
"""

from __future__ import annotations

import numpy as np

from hdl.formats import IntFormat, parse_format

from .bitserial_mac import decode_weights as twos_complement_weights
from .fp_mac import combine, product_term, result_code
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


def _float_gemm(a_codes, w, last, fmt):
    """Binary32 codes per output row of fp16 / bf16 activation codes (beats, M, D*K) times
    weight values (beats, D*K, N): every product a term, each group's terms rounded once."""
    a = fmt.decode(np.asarray(a_codes, dtype=np.uint64))
    rows, cols = a.shape[1], w.shape[2]
    y, terms = [], [[[] for _ in range(cols)] for _ in range(rows)]
    for t in range(a.shape[0]):
        for m in range(rows):
            for n in range(cols):
                terms[m][n] += [product_term(float(x), float(v), fmt, None)
                                for x, v in zip(a[t, m], w[t, :, n])]
        if last[t]:
            y += [[result_code(*combine(column)) for column in row] for row in terms]
            terms = [[[] for _ in range(cols)] for _ in range(rows)]
    return y


def lut_mpgemm(a, w_codes, prec, last, *, rows: int, cols: int, weight_encoding: str,
               acc_width: int, act_format=None):
    """Output beats for input beats: ``(y, out_last)``, ``y`` an object array (outputs, N) of
    exact wrapped integers (binary32 codes for fp16 / bf16 ``act_format``; None or an integer
    format: integer activations), ``out_last`` (outputs,) bool. ``a``: (beats, M*D*K) values
    (fp16 / bf16: codes); ``w_codes``: (beats, D*K*N) codes."""
    fmt = parse_format(act_format or "int8")
    a = np.asarray(a, dtype=np.int64)
    beats = a.shape[0]
    dk = a.shape[1] // rows
    w = decode_weights(np.asarray(w_codes).reshape(beats, dk, cols), prec,
                       encoding=weight_encoding).astype(object)
    if not isinstance(fmt, IntFormat):
        y = _float_gemm(a.reshape(beats, rows, dk), w, last, fmt)
        out_last = [i % rows == rows - 1 for i in range(len(y))]
        return np.array(y, dtype=object).reshape(-1, cols), np.array(out_last, dtype=bool)
    a = a.reshape(beats, rows, dk).astype(object)
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
