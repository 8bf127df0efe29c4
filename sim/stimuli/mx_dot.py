"""``mx_dot`` stimulus: MX-quantized Gaussian blocks, random element codes with random and
extreme scales (0, 254, 0xFF...), special values, overflow and underflow blocks, ignored ``last``
flags and don't-care scales on non-first beats; golden outputs."""

from __future__ import annotations

import numpy as np

from hdl.mx import BLOCK_SIZE, SCALE_NAN, mx_element, quantize_mx
from sim.golden.mx_dot import mx_dot as mx_dot_golden

from . import group_sources, stream_stimulus
from .fp_mac import random_codes

__all__ = ["mx_dot_operands", "mx_dot_stimulus", "golden_streams"]

#: Scale codes that reach the extremes of the exponent range.
EXTREME_SCALES = (0, 1, 2, 100, 126, 127, 128, 160, 252, 253, 254)


def _element_codes(elem, rng, n, special_rate):
    fmt = elem.format
    if fmt.width <= 16 and hasattr(fmt, "is_nan"):
        return random_codes(fmt, rng, (n,), special_rate=special_rate)
    return rng.integers(0, 2 ** fmt.width, size=n).astype(np.uint64)


def _block(kind, ea, eb, rng):
    """One block of 32 (a codes, b codes, xa, xb)."""
    if kind == "quantized":
        mag_a, mag_b = 2.0 ** rng.integers(-30, 30, size=2)
        va = rng.standard_normal(BLOCK_SIZE) * mag_a
        vb = rng.standard_normal(BLOCK_SIZE) * mag_b
        (xa,), ca = quantize_mx(va, ea)
        (xb,), cb = quantize_mx(vb, eb)
        return ca, cb, int(xa), int(xb)
    if kind == "max":
        ca = np.full(BLOCK_SIZE, int(ea.format.encode(ea.max_value)), dtype=np.uint64)
        cb = np.full(BLOCK_SIZE, int(eb.format.encode(eb.max_value)), dtype=np.uint64)
        return ca, cb, int(rng.choice([200, 254])), 254
    if kind == "min":
        tiny_a = ea.format.min_subnormal if hasattr(ea.format, "min_subnormal") else 2.0 ** -6
        tiny_b = eb.format.min_subnormal if hasattr(eb.format, "min_subnormal") else 2.0 ** -6
        ca = np.full(BLOCK_SIZE, int(ea.format.encode(tiny_a)), dtype=np.uint64)
        cb = np.full(BLOCK_SIZE, int(eb.format.encode(-tiny_b)), dtype=np.uint64)
        return ca, cb, int(rng.integers(0, 3)), int(rng.integers(0, 40))
    if kind == "negzero":
        ca = np.full(BLOCK_SIZE, 1 << (ea.format.width - 1), dtype=np.uint64)
        ca = np.where(rng.random(BLOCK_SIZE) < 0.5, ca, 0).astype(np.uint64)
        cb = np.full(BLOCK_SIZE, int(eb.format.encode(1.0)), dtype=np.uint64)
        if np.any(ca == 0):
            ca[:] = 1 << (ea.format.width - 1)   # every product -0
        return ca, cb, 127, 127
    # "random": any element codes, specials mixed in, scales anywhere (0xFF rarely).
    ca = _element_codes(ea, rng, BLOCK_SIZE, 0.005)
    cb = _element_codes(eb, rng, BLOCK_SIZE, 0.005)
    pick = lambda: int(rng.choice(EXTREME_SCALES)) if rng.random() < 0.5 \
        else int(rng.integers(0, 255))  # noqa: E731
    xa, xb = pick(), pick()
    if rng.random() < 0.03:
        xa = SCALE_NAN
    if rng.random() < 0.03:
        xb = SCALE_NAN
    return ca, cb, xa, xb


def mx_dot_operands(params: dict, rng: np.random.Generator, blocks: int, *,
                    mean_group: float = 3.0):
    """Beats ``a``, ``b`` (shape (n, K)), ``xa``, ``xb``, ``last`` for ``blocks`` blocks plus a
    directed prefix. Non-first beats carry random scale codes and non-final beats random
    ``last`` flags: the PE must ignore both."""
    ea, eb, lanes = mx_element(params["a_elem"]), mx_element(params["b_elem"]), params["lanes"]
    per_block = BLOCK_SIZE // lanes
    kinds = ["negzero", "max", "max", "min", "quantized", "random"]
    kinds += list(rng.choice(["quantized", "random", "random", "quantized", "min"], size=blocks))
    a_rows, b_rows, xa_rows, xb_rows, last_rows = [], [], [], [], []
    for i, kind in enumerate(kinds):
        ca, cb, xa, xb = _block(kind, ea, eb, rng)
        a_rows.append(ca.reshape(per_block, lanes))
        b_rows.append(cb.reshape(per_block, lanes))
        sa = rng.integers(0, 256, size=per_block)
        sb = rng.integers(0, 256, size=per_block)
        sa[0], sb[0] = xa, xb
        xa_rows.append(sa)
        xb_rows.append(sb)
        last = rng.random(per_block) < 0.2              # ignored unless on the final beat
        # Directed blocks end a group each (all but the two "max" blocks, which overflow
        # together); random blocks end one with probability 1/mean_group.
        last[-1] = (kind != "max" or i == 2) if i < 6 else rng.random() < 1.0 / mean_group
        last_rows.append(last)
    last_rows[-1][-1] = True
    return (np.concatenate(a_rows), np.concatenate(b_rows), np.concatenate(xa_rows),
            np.concatenate(xb_rows), np.concatenate(last_rows))


def _sources(last, lanes):
    """Input beats behind each output: from the beat after the previous output's block."""
    per_block = BLOCK_SIZE // lanes
    final = np.zeros(len(last), dtype=bool)
    final[per_block - 1::per_block] = True
    return group_sources(np.asarray(last, dtype=bool) & final)


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`):
    element and scale codes in, binary32 codes out."""
    v = inputs["i"]
    y = mx_dot_golden(v["a"], v["b"], v["xa"], v["xb"], v["last"], a_elem=params["a_elem"],
                      b_elem=params["b_elem"])
    return {"o": {"y": np.array(y, dtype=np.uint64)}}


def mx_dot_stimulus(params: dict, manifest: dict, a, b, xa, xb, last, **options) -> dict:
    """Stimulus dict for an ``mx_dot`` design from codes and the golden model (``options``:
    idle, stall, seed, check_timing)."""
    return stream_stimulus(params, manifest,
                           {"i": {"a": a, "b": b, "xa": xa, "xb": xb, "last": last}},
                           sources={"o": _sources(last, params["lanes"])}, **options)
