"""Golden model of ``mixed_int_pe`` (MixPE), written from its specification (issue 3, item 1).

A beat carries activations ``a[0..K-1]`` (integers), unsigned weight codes ``q[0..K-1]``, a zero point
``zero``, a scale ``scale`` (a non-negative real, an unsigned fixed-point value), ``group_last`` and
``last``. The PE keeps a group sum P and an accumulator:

* every beat: ``P += sum_k (q[k] - zero) * a[k]`` with that beat's zero point;
* at the end of a group (``group_last``, and also ``last``, which implies the end of the group):
  ``acc += scale * P`` exactly, with the scale of that beat, and ``P`` restarts from 0;
* on ``last``: the accumulator is emitted (that beat included) and restarts from 0.

The output is signed fixed point with the scale's fraction bits F: its raw integer is
``acc * 2**F``, wrapped modulo ``2**acc_width`` (two's complement). Beats after the final ``last``
produce no output.

All arithmetic here is on exact rationals (:class:`fractions.Fraction`), independent of how the
hardware splits the work.
"""

from __future__ import annotations

from fractions import Fraction

import numpy as np

from .int_mac import wrap

__all__ = ["mixed_int_pe", "dequant_first_reference"]


def _beats(a, q, zero, scale, group_last, last):
    a = np.asarray(a, dtype=object)
    q = np.asarray(q, dtype=object)
    n = a.shape[0]
    zero, scale = list(zero), list(scale)
    group_last = np.asarray(group_last, dtype=bool)
    last = np.asarray(last, dtype=bool)
    if a.shape != q.shape or a.ndim != 2 or not (len(zero) == len(scale) == n) \
            or group_last.shape != (n,) or last.shape != (n,):
        raise ValueError(f"shapes do not match: a{a.shape}, q{q.shape}, zero {len(zero)}, "
                         f"scale {len(scale)}, group_last{group_last.shape}, last{last.shape}")
    return a, q, zero, scale, group_last, last


def _raw_output(acc: Fraction, frac_bits: int, acc_width: int) -> int:
    raw = acc * 2**frac_bits
    if raw.denominator != 1:
        raise ValueError(f"accumulator {acc} is not on the 2**-{frac_bits} grid")
    return int(wrap([int(raw)], acc_width, True)[0])


def mixed_int_pe(a, q, zero, scale, group_last, last, *, frac_bits: int,
                 acc_width: int) -> np.ndarray:
    """Output beats (raw fixed-point integers, object array) for input beats.

    Parameters
    ----------
    a, q : array_like of int, shape (beats, K)
        Activation values and weight codes.
    zero : array_like of int, shape (beats,)
    scale : array_like of Fraction or float, shape (beats,)
        Scale values (not codes), e.g. ``Fraction(code, 2**frac_bits)``.
    group_last, last : array_like of bool, shape (beats,)
    frac_bits : int
        Fraction bits F of the output (those of the scale format).
    acc_width : int
        Output width; the raw output wraps modulo ``2**acc_width``.
    """
    a, q, zero, scale, group_last, last = _beats(a, q, zero, scale, group_last, last)
    outputs = []
    group_sum = 0
    acc = Fraction(0)
    for t in range(a.shape[0]):
        group_sum += sum((int(q[t, k]) - int(zero[t])) * int(a[t, k]) for k in range(a.shape[1]))
        if group_last[t] or last[t]:
            acc += Fraction(scale[t]) * group_sum
            group_sum = 0
        if last[t]:
            outputs.append(_raw_output(acc, frac_bits, acc_width))
            acc = Fraction(0)
    return np.array(outputs, dtype=object)


def dequant_first_reference(a, q, zero, scale, last, *, frac_bits: int,
                            acc_width: int) -> np.ndarray:
    """The dequantize-first formulation: every weight becomes ``scale * (q - zero)`` on its own
    beat, and ``sum_k weight[k] * a[k]`` is accumulated until ``last``.

    Equal to :func:`mixed_int_pe` whenever the scale is constant over each group; used to check
    that claim, not as a second model of the PE.
    """
    a, q, zero, scale, _, last = _beats(a, q, zero, scale, np.zeros(len(last), bool), last)
    outputs = []
    acc = Fraction(0)
    for t in range(a.shape[0]):
        s = Fraction(scale[t])
        acc += sum(s * (int(q[t, k]) - int(zero[t])) * int(a[t, k]) for k in range(a.shape[1]))
        if last[t]:
            outputs.append(_raw_output(acc, frac_bits, acc_width))
            acc = Fraction(0)
    return np.array(outputs, dtype=object)
