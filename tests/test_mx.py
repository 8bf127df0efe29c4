"""MX block quantization in software (:mod:`hdl.mx`): the OCP MX v1.0 scale rule, round to
nearest even, saturation, NaN blocks, MXINT8."""

from __future__ import annotations

import numpy as np
import pytest

from hdl.mx import MX_ELEMENTS, MXINT8, dequantize_mx, mx_element, quantize_mx


def _block(*head, fill=0.0):
    v = np.full(32, fill, dtype=np.float64)
    v[:len(head)] = head
    return v


def test_elements_and_emax():
    assert {n: e.emax for n, e in MX_ELEMENTS.items()} == {
        "mxfp8_e4m3": 8, "mxfp8_e5m2": 15, "mxfp6_e3m2": 4, "mxfp6_e2m3": 2, "mxfp4_e2m1": 2,
        "mxint8": 0}
    assert MXINT8.name == "q2.6" and MXINT8.width == 8
    with pytest.raises(ValueError, match="allowed: mxfp8_e4m3"):
        mx_element("mxfp5")


def test_scale_rule_and_exact_elements():
    # max |V| = 1.0: shared_exp = 0 - emax; e4m3 elements are V * 2**8.
    scales, codes = quantize_mx(_block(1.0, -0.5, 0.25), "mxfp8_e4m3")
    assert scales.tolist() == [127 - 8]
    e4m3 = mx_element("mxfp8_e4m3").format
    assert e4m3.decode(codes[:3]).tolist() == [256.0, -128.0, 64.0]
    # max |V| = 6.5 for fp4: floor(log2 6.5) = 2, shared_exp = 0, 6.5 saturates to 6.
    scales, codes = quantize_mx(_block(6.5, 2.5, 3.5, -0.25), "mxfp4_e2m1")
    assert scales.tolist() == [127]
    # 2.5 -> 2 and 3.5 -> 4 (ties to even), -0.25 -> -0 (tie between 0 and 0.5).
    vals = mx_element("mxfp4_e2m1").format.decode(codes[:4])
    assert vals.tolist() == [6.0, 2.0, 4.0, -0.0] and np.signbit(vals[3])


def test_saturation_of_the_largest_element():
    # e4m3: 1.9 * 2**8 = 486.4 > 448 saturates (no NaN), shared_exp = 8 - 8 = 0.
    scales, codes = quantize_mx(_block(486.4, -486.4), "mxfp8_e4m3")
    assert scales.tolist() == [127]
    assert mx_element("mxfp8_e4m3").format.decode(codes[:2]).tolist() == [448.0, -448.0]


def test_nan_inf_zero_and_clamped_blocks():
    scales, _ = quantize_mx(np.concatenate([_block(np.nan), _block(np.inf), _block(),
                                            _block(2.0 ** 200), _block(2.0 ** -200)]),
                            "mxfp6_e3m2")
    # NaN/Inf -> 0xFF; zero block and tiny block -> shared_exp clamped to -127 (code 0);
    # 2**200 -> shared_exp 196 clamped to 127 (code 254).
    assert scales.tolist() == [0xFF, 0xFF, 0, 254, 0]


def test_mxint8_symmetric_and_rounding():
    scales, codes = quantize_mx(_block(-1.0, 0.5 + 1 / 128, 1 / 128, 3 / 128), "mxint8")
    assert scales.tolist() == [127]           # floor(log2 1) - 0
    ints = MXINT8.raw.to_int(codes[:4]).tolist()
    assert ints == [-64, 32, 0, 2]            # 32.5 -> 32 and 0.5 -> 0, 1.5 -> 2 (ties to even)
    # A block whose max rounds beyond 127/64 saturates at +-127, never -128.
    _, codes = quantize_mx(_block(-1.999, 1.999), "mxint8")
    assert MXINT8.raw.to_int(codes[:2]).tolist() == [-127, 127]


@pytest.mark.parametrize("element", list(MX_ELEMENTS))
def test_round_trip_error_bound(element):
    """Each element is within half an element ulp (relative to the block scale) of the value,
    except saturated ones, and 0xFF never appears for finite data."""
    rng = np.random.default_rng(3)
    v = rng.standard_normal((20, 64)) * 2.0 ** rng.integers(-20, 20, size=(20, 1))
    scales, codes = quantize_mx(v, element)
    assert scales.shape == (20, 2) and not np.any(scales == 0xFF)
    back = dequantize_mx(scales, codes, element)
    x = 2.0 ** (scales.astype(np.int64) - 127)
    elem = mx_element(element)
    fmt = elem.format
    man = getattr(fmt, "man_bits", 6)
    # Largest element spacing below 2**(emax+1) is 2**(emax - man) (MXINT8: 2**-6).
    spacing = 2.0 ** (elem.emax - man) if element != "mxint8" else 2.0 ** -6
    err = np.abs(back - v).reshape(20, 2, 32)
    xb = x[..., None]
    over = np.abs(v).reshape(20, 2, 32) - elem.max_value * xb   # > 0: saturated
    bound = np.maximum((spacing / 2) * xb, over)
    assert np.all(err <= bound * (1 + 1e-12))
    # Saturated elements are exactly +-max.
    sat = over > 0
    assert np.all(np.abs(back.reshape(20, 2, 32)[sat]) == (elem.max_value * xb.repeat(32, -1))[sat])
