"""Golden model of ``scalable_mac``, written from its specification (AccLLM precision-scalable
W8/W4/W2 x A8 MAC issue).

An input beat carries activations ``a[0..N-1]``, 8-bit weight fields ``w[0..N-1]``, a ``mode``
and ``last``. Mode codes: w8 = 0, w4 = 1, w2 = 2 (code 3 is never a mode). In mode w (8, 4 or
2 bits) the beat uses lanes 0 .. K*8/w - 1 and the weight of lane i is the low w bits of
``w[i]`` (two's complement when ``weight_signed``, else unsigned; the upper bits are ignored);
the beat adds ``sum_i a[i] * weight(i)`` over those lanes to the accumulator. A beat whose mode
code is not among the modes built adds nothing and sets the group's error flag. A ``last`` beat
emits the accumulator (that beat included), wrapped to ``acc_width`` bits (two's complement when
signed), with ``error`` = 1 if any beat of the group had such a code, and both restart.
"""

from __future__ import annotations

import numpy as np

from .bitserial_mac import decode_weights
from .int_mac import int_mac

__all__ = ["MODE_CODES", "MODE_BITS", "scalable_mac"]

#: Mode name -> code, and code -> weight bits.
MODE_CODES = {"w8": 0, "w4": 1, "w2": 2}
MODE_BITS = {0: 8, 1: 4, 2: 2}


def scalable_mac(a, w, mode, last, *, lanes: int, modes, weight_signed: bool, acc_width: int,
                 acc_signed: bool = True) -> tuple[np.ndarray, np.ndarray]:
    """Output beats ``(acc, error)`` for input beats: ``acc`` exact wrapped integers (object
    array), ``error`` int64 flags, one per beat with ``last``.

    Parameters
    ----------
    a : array_like of int, shape (beats, N)
        Activation values.
    w : array_like of int, shape (beats, N)
        Weight field codes (0..255).
    mode : array_like of int, shape (beats,)
        Mode codes (0..3).
    last : array_like of bool, shape (beats,)
    lanes : int
        K.
    modes : collection of str
        The modes built (``"w8"``, ``"w4"``, ``"w2"``).
    """
    a = np.asarray(a, dtype=np.int64)
    w = np.asarray(w, dtype=np.int64)
    mode = np.asarray(mode, dtype=np.int64)
    last = np.asarray(last, dtype=bool)
    built = np.isin(mode, [MODE_CODES[name] for name in modes])
    bits = np.array([MODE_BITS.get(int(c), 8) for c in mode], dtype=np.int64)
    weights = decode_weights(w, bits, signed=weight_signed)
    # Lanes a beat uses: K * 8 / w; none for a mode not built.
    used = np.where(built, lanes * 8 // bits, 0)
    weights = np.where(np.arange(w.shape[1])[None, :] < used[:, None], weights, 0)
    acc = int_mac(a, weights, last, acc_width=acc_width, acc_signed=acc_signed)
    ends = np.flatnonzero(last)
    errors = np.cumsum(~built)
    group_errors = errors[ends] - np.concatenate(([0], errors[ends[:-1]]))
    return acc, (group_errors > 0).astype(np.int64)
