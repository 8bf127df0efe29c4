"""OCP Microscaling (MX v1.0) block formats in software: element types, block quantization and
dequantization of float arrays.

A block is 32 elements ``P_i`` sharing one E8M0 scale ``X``; element ``i`` stands for ``X * P_i``.
Element types (:data:`MX_ELEMENTS`): MXFP8 (E4M3, E5M2), MXFP6 (E3M2, E2M3), MXFP4 (E2M1) and
MXINT8, an 8-bit two's complement integer with an implicit ``2**-6`` (:data:`MXINT8`, the
fixed-point format ``q2.6``; quantization never emits its -128 code, as in the reference library).

Scale rule (OCP MX v1.0, section 6.3, Algorithm 1; also the default of the reference library
``microxcaling``): ``shared_exp = floor(log2(max_i |V_i|)) - emax_elem``, clamped to
``[-127, 127]``; ``X = 2**shared_exp``; ``P_i = V_i / X`` rounded to nearest, ties to even, and
saturated to the element's largest normal magnitude. A block holding a NaN or an Inf gets the NaN
scale 0xFF (E8M0 has no Inf) and zero elements. An all-zero block gets ``shared_exp = -127``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .formats import FixedFormat, Format, MiniFloatFormat, PRESETS

__all__ = ["MXINT8", "MXElement", "MX_ELEMENTS", "BLOCK_SIZE", "E8M0", "SCALE_NAN",
           "mx_element", "quantize_mx", "dequantize_mx", "element_values"]

BLOCK_SIZE = 32
E8M0 = PRESETS["e8m0"]
SCALE_NAN = 0xFF
#: MXINT8 elements: two's complement int8 times 2**-6.
MXINT8 = FixedFormat(2, 6, signed=True)


@dataclass(frozen=True)
class MXElement:
    """An MX element type: its name, code format and ``emax_elem`` (exponent of the largest
    power of two it can represent, used by the scale rule)."""

    name: str
    format: Format
    emax: int

    @property
    def max_value(self) -> float:
        if isinstance(self.format, MiniFloatFormat):
            return self.format.max_normal
        return 127 / 64          # MXINT8 is symmetric: the -128 code is never produced


def _minifloat(name: str, preset: str) -> MXElement:
    fmt = PRESETS[preset]
    return MXElement(name, fmt, fmt.emax)


#: MX element types by name (OCP MX v1.0, table 1).
MX_ELEMENTS: dict[str, MXElement] = {
    "mxfp8_e4m3": _minifloat("mxfp8_e4m3", "fp8_e4m3"),
    "mxfp8_e5m2": _minifloat("mxfp8_e5m2", "fp8_e5m2"),
    "mxfp6_e3m2": _minifloat("mxfp6_e3m2", "fp6_e3m2"),
    "mxfp6_e2m3": _minifloat("mxfp6_e2m3", "fp6_e2m3"),
    "mxfp4_e2m1": _minifloat("mxfp4_e2m1", "fp4_e2m1"),
    "mxint8": MXElement("mxint8", MXINT8, 0),
}


def mx_element(name) -> MXElement:
    """The :class:`MXElement` called ``name`` (or ``name`` itself); ValueError naming the known
    ones otherwise."""
    if isinstance(name, MXElement):
        return name
    try:
        return MX_ELEMENTS[str(name).strip().lower()]
    except KeyError:
        raise ValueError(f"unknown MX element type {name!r}; allowed: "
                         f"{', '.join(MX_ELEMENTS)}") from None


def element_values(element, codes) -> np.ndarray:
    """float64 values (without the scale) of element codes."""
    return mx_element(element).format.decode(np.asarray(codes, dtype=np.uint64))


def quantize_mx(values, element) -> tuple[np.ndarray, np.ndarray]:
    """Quantize ``values`` (last axis a multiple of 32) into MX blocks.

    Returns
    -------
    scales : numpy.ndarray of uint64, shape ``values.shape[:-1] + (n_blocks,)``
        E8M0 scale codes.
    codes : numpy.ndarray of uint64, same shape as ``values``
        Element codes.
    """
    elem = mx_element(element)
    v = np.asarray(values, dtype=np.float64)
    if v.ndim == 0 or v.shape[-1] % BLOCK_SIZE:
        raise ValueError(f"the last axis must be a multiple of {BLOCK_SIZE}, got shape {v.shape}")
    blocks = v.reshape(*v.shape[:-1], v.shape[-1] // BLOCK_SIZE, BLOCK_SIZE)
    bad = ~np.all(np.isfinite(blocks), axis=-1)
    amax = np.max(np.abs(np.where(np.isfinite(blocks), blocks, 0.0)), axis=-1)
    _, k = np.frexp(amax)                       # amax = f * 2**k, f in [0.5, 1)
    floor_log2 = np.where(amax > 0, k.astype(np.int64) - 1, -127)
    shared = np.clip(floor_log2 - elem.emax, -127, 127)
    scaled = np.ldexp(np.where(bad[..., None], 0.0, blocks), (-shared)[..., None].astype(np.int32))
    # Saturate normals to the element's largest magnitude, then round to nearest even.
    scaled = np.clip(scaled, -elem.max_value, elem.max_value)
    if isinstance(elem.format, MiniFloatFormat):
        codes = elem.format.encode(scaled)
    else:
        codes = elem.format.encode(scaled)     # q2.6: round half even; clipped to +-127/64 above
    scales = np.where(bad, SCALE_NAN, shared + 127).astype(np.uint64)
    return scales, codes.reshape(v.shape).astype(np.uint64)


def dequantize_mx(scales, codes, element) -> np.ndarray:
    """float64 values ``X * P_i`` of MX blocks (NaN for a 0xFF scale)."""
    elem = mx_element(element)
    c = np.asarray(codes, dtype=np.uint64)
    s = np.asarray(scales, dtype=np.uint64)
    p = element_values(elem, c).reshape(*c.shape[:-1], c.shape[-1] // BLOCK_SIZE, BLOCK_SIZE)
    x = E8M0.decode(s)[..., None]
    return (p * x).reshape(c.shape)
