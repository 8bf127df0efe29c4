"""Tests of hdl.formats above 64 bits: integer and fixed-point formats up to 128 bits (wide accumulators).

Codes and integer values of such formats are NumPy object arrays of Python ints; every expected value
here is an exact Python int, or a float64 derived from an exact ``Fraction`` (nearest, ties to even).
"""

import random
from fractions import Fraction

import numpy as np
import pytest

from hdl.formats import FixedFormat, FormatError, IntFormat, parse_format

WIDE_INTS = ["int65", "uint65", "int100", "uint100", "int127", "int128", "uint128"]


def ints(a):
    """Elements of an object array as a (nested) list, checking each is an exact Python int."""
    a = np.asarray(a)
    assert a.dtype == object
    for v in a.flat:
        assert type(v) is int, type(v)
    return a.tolist()


def wrap_signed(v, width):
    """Independent two's complement wrap of a Python int."""
    return ((v + (1 << (width - 1))) % (1 << width)) - (1 << (width - 1))


def nearest_even(q: Fraction) -> int:
    """Round a Fraction to the nearest integer, ties to even (Python's round() on Fractions)."""
    return round(q)


def oracle_encode_raw(fmt, x: float) -> int:
    """Expected raw integer of ``fmt.encode(x)``: exact rounding of the real ``x * 2**F``, then clamp."""
    raw = fmt.raw if isinstance(fmt, FixedFormat) else fmt
    frac = fmt.frac_bits if isinstance(fmt, FixedFormat) else 0
    if np.isnan(x):
        return 0
    if np.isinf(x):
        return raw.max if x > 0 else raw.min
    return min(max(nearest_even(Fraction(x) * 2**frac), raw.min), raw.max)


def is_nearest_float(d: float, exact: Fraction) -> bool:
    """``d`` is a float64 nearest to ``exact`` (no neighbour is strictly closer)."""
    err = abs(Fraction(d) - exact)
    return all(abs(Fraction(float(n)) - exact) >= err
               for n in (np.nextafter(d, np.inf), np.nextafter(d, -np.inf)))


# ----------------------------------------------------------------------------------------------------------
# Parsing and facts
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "width", "lo", "hi"), [
    ("int65", 65, -(2**64), 2**64 - 1),
    ("uint65", 65, 0, 2**65 - 1),
    ("int100", 100, -(2**99), 2**99 - 1),
    ("int128", 128, -(2**127), 2**127 - 1),
    ("uint128", 128, 0, 2**128 - 1),
])
def test_wide_int_facts(name, width, lo, hi):
    fmt = parse_format(name)
    assert isinstance(fmt, IntFormat)
    assert (fmt.name, fmt.width, fmt.signed) == (name, width, name.startswith("int"))
    assert type(fmt.min) is int and type(fmt.max) is int
    assert (fmt.min, fmt.max) == (lo, hi)
    assert parse_format(f" {name.upper()} ") == fmt and hash(parse_format(name)) == hash(fmt)
    assert IntFormat(width, fmt.signed) == fmt
    with pytest.raises(ValueError):
        fmt.all_codes()


def test_q116_12_facts():
    q = parse_format("q116.12")  # bitmod_mac --acc-width 128
    assert isinstance(q, FixedFormat) and q.name == "q116.12"
    assert (q.width, q.int_bits, q.frac_bits, q.signed, q.lsb) == (128, 116, 12, True, 2.0**-12)
    assert q.raw == parse_format("int128")
    assert (q.raw.min, q.raw.max) == (-(2**127), 2**127 - 1)
    # Real bounds: min is exact; max (2**115 - 2**-12) is not a float64, max is its nearest, 2**115.
    assert q.min == -(2.0**115)
    assert q.max == 2.0**115 == float(Fraction(2**127 - 1, 2**12))
    uq = parse_format("uq64.64")
    assert (uq.width, uq.min, uq.max, uq.raw.max) == (128, 0.0, 2.0**64, 2**128 - 1)
    assert parse_format("uq0.128").max == 1.0 and parse_format("q1.127").min == -1.0


@pytest.mark.parametrize("text", ["int129", "uint129", "int200", "q100.29", "uq65.64", "q1.128"])
def test_too_wide_raise_one_line_error(text):
    with pytest.raises(FormatError) as info:
        parse_format(text)
    message = str(info.value)
    assert "\n" not in message and repr(text) in message
    assert "width must be at most 128" in message
    assert "allowed: int<N>, uint<N>, q<I>.<F>, uq<I>.<F>" in message


def test_minifloats_stay_at_most_64_bits():
    assert parse_format("e11m52").width == 64
    with pytest.raises(FormatError, match="width must be at most 64"):
        parse_format("e12m52")


# ----------------------------------------------------------------------------------------------------------
# to_int / from_int
# ----------------------------------------------------------------------------------------------------------


def test_to_int_extremes_and_around_2_64_and_2_127():
    int128, uint128 = parse_format("int128"), parse_format("uint128")
    codes = [0, 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**64 + 1, 2**127 - 1, 2**127, 2**127 + 1,
             2**128 - 2, 2**128 - 1]
    assert ints(int128.to_int(codes)) == [
        0, 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**64 + 1, 2**127 - 1, -(2**127), -(2**127) + 1, -2, -1]
    assert ints(uint128.to_int(codes)) == codes
    int65 = parse_format("int65")
    assert ints(int65.to_int([2**64 - 1, 2**64, 2**64 + 1, 2**65 - 1])) == [
        2**64 - 1, -(2**64), -(2**64) + 1, -1]
    int100 = parse_format("int100")
    assert ints(int100.to_int([2**64 - 1, 2**64, 2**64 + 1, 2**99, 2**100 - 1])) == [
        2**64 - 1, 2**64, 2**64 + 1, -(2**99), -1]


def test_to_int_accepts_every_integer_container():
    int100 = parse_format("int100")
    expected = [5, 2**64 - 1, 0]
    for codes in (
        [5, 2**64 - 1, 0],
        np.array([5, 2**64 - 1, 0], dtype=np.uint64),
        np.array([5, 2**64 - 1, 0], dtype=object),
        np.array([np.uint64(5), np.uint64(2**64 - 1), np.int8(0)], dtype=object),
    ):
        assert ints(int100.to_int(codes)) == expected
    assert ints(int100.to_int(np.array([True, False]))) == [1, 0]
    assert ints(int100.to_int(np.array([3, 7], dtype=np.int16))) == [3, 7]
    # Scalars give 0-d object arrays that behave like ints (sim.checks uses int(fmt.to_int(code))).
    r = int100.to_int(2**100 - 1)
    assert r.shape == () and r.dtype == object and int(r) == -1 and r == -1
    # Shapes are kept.
    assert ints(int100.to_int([[1, 2**99], [2**99 - 1, 0]])) == [[1, -(2**99)], [2**99 - 1, 0]]
    assert int100.to_int(np.zeros((0, 3), dtype=object)).shape == (0, 3)


@pytest.mark.parametrize("name", WIDE_INTS)
def test_from_int_to_int_round_trip_at_the_extremes(name):
    fmt = parse_format(name)
    w = fmt.width
    values = {fmt.min, fmt.min + 1, fmt.max - 1, fmt.max, 0, 1, 2**63 - 1, 2**63, 2**64 - 1, 2**64, 2**64 + 1,
              -1, -(2**63), -(2**63) - 1, -(2**64) + 1, -(2**64), -(2**64) - 1}
    values = sorted(v for v in values if fmt.min <= v <= fmt.max)
    assert len(values) >= 9
    codes = fmt.from_int(values)
    assert ints(codes) == [v % 2**w for v in values]
    assert ints(fmt.to_int(codes)) == values
    for v in values:  # scalars too
        c = fmt.from_int(v)
        assert c.shape == () and int(c) == v % 2**w and int(fmt.to_int(c)) == v


def test_round_trip_around_2_127():
    int128, uint128 = parse_format("int128"), parse_format("uint128")
    near = [2**127 + d for d in range(-3, 4)]
    assert ints(uint128.to_int(uint128.from_int(near))) == near
    assert ints(int128.to_int(int128.from_int([-v for v in near]))) == [wrap_signed(-v, 128) for v in near]
    assert ints(int128.to_int(int128.from_int(near))) == [2**127 - 3, 2**127 - 2, 2**127 - 1,
                                                         -(2**127), -(2**127) + 1, -(2**127) + 2,
                                                         -(2**127) + 3]


def test_from_int_wraps_beyond_the_range():
    int128, uint128, int65, uint100 = (parse_format(n) for n in ("int128", "uint128", "int65", "uint100"))
    assert ints(int128.from_int([2**127, 2**128, 2**128 + 7, -(2**127) - 1, -1, 2**200 + 5, -(2**300)])) == [
        2**127, 0, 7, 2**127 - 1, 2**128 - 1, 5, 0]
    assert ints(int128.to_int(int128.from_int([2**127, -(2**127) - 1]))) == [-(2**127), 2**127 - 1]
    assert ints(uint128.from_int([-1, 2**128, -(2**128) + 3])) == [2**128 - 1, 0, 3]
    assert int(int65.to_int(int65.from_int(2**64))) == -(2**64)
    assert int(int65.to_int(int65.from_int(-(2**64) - 1))) == 2**64 - 1
    assert int(uint100.from_int(-1)) == 2**100 - 1
    # NumPy integer inputs (int64 / uint64 arrays) and integral floats wrap the same way.
    assert ints(int128.from_int(np.array([-1, -(2**63), 2**63 - 1], dtype=np.int64))) == [
        2**128 - 1, 2**128 - 2**63, 2**63 - 1]
    assert ints(int128.from_int(np.array([2**64 - 1], dtype=np.uint64))) == [2**64 - 1]
    assert ints(int128.from_int(np.array([2.0**100, -3.0, 2.0**130]))) == [2**100, 2**128 - 3, 0]
    assert ints(int128.from_int([2**63, 5])) == [2**63, 5]  # NumPy alone would make this float64
    assert ints(uint128.from_int(np.array([True, False]))) == [1, 0]


def test_from_int_random_against_python_modulo():
    rng = random.Random(20240611)
    for name in WIDE_INTS:
        fmt = parse_format(name)
        w = fmt.width
        values = [rng.randrange(-(2**140), 2**140) >> rng.randrange(0, 140) for _ in range(300)]
        codes = fmt.from_int(values)
        assert ints(codes) == [v % 2**w for v in values]
        expected = [wrap_signed(v, w) if fmt.signed else v % 2**w for v in values]
        assert ints(fmt.to_int(codes)) == expected


def test_from_int_rejects_non_integers():
    int100 = parse_format("int100")
    for bad in ([1.5], np.array([0.5]), [np.nan], np.array([np.inf]), 2.25):
        with pytest.raises(ValueError, match="int100.from_int needs integral values"):
            int100.from_int(bad)
    for bad in (["a"], np.array(["a"]), [None]):
        with pytest.raises(TypeError):
            int100.from_int(bad)


# ----------------------------------------------------------------------------------------------------------
# Code validation
# ----------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(("codes", "error"), [
    (2**128, ValueError), ([0, 2**128], ValueError), (-1, ValueError),
    (np.array([-1], dtype=np.int64), ValueError),
    ([1.0], TypeError), (np.array([1.5]), TypeError), (1.0, TypeError), (np.array(["1"]), TypeError),
    (np.array([1, None], dtype=object), ValueError),
])
def test_wide_codes_are_validated(codes, error):
    fmt = parse_format("uint128")
    for method in (fmt.to_int, fmt.decode, parse_format("q116.12").decode, parse_format("int65").to_int):
        with pytest.raises(error) as info:
            method(codes)
        assert "\n" not in str(info.value)
    assert type(pytest.raises(error, parse_format("int8").decode, codes).value) is error  # same kinds


def test_wide_codes_must_be_integers_even_in_object_arrays():
    # Up to 64 bits NumPy's object -> uint64 cast lets floats through; wide codes are integers only.
    with pytest.raises(ValueError, match=f"codes must be integers in 0..{2**100 - 1}$"):
        parse_format("int100").decode(np.array([1, 1.0], dtype=object))


def test_wide_code_messages():
    int65 = parse_format("int65")
    assert str(pytest.raises(ValueError, int65.decode, 2**65).value) == (
        f"codes must be in 0..{2**65 - 1}, got {2**65}")
    assert str(pytest.raises(ValueError, int65.decode, [3, -2]).value) == (
        f"codes must be in 0..{2**65 - 1}, got a negative code")
    message = str(pytest.raises(TypeError, int65.decode, [0.5]).value)
    assert message == "codes must be integers, got dtype float64"


# ----------------------------------------------------------------------------------------------------------
# decode / encode
# ----------------------------------------------------------------------------------------------------------


def test_decode_extremes_nearest_float64():
    int128, uint128, int65 = parse_format("int128"), parse_format("uint128"), parse_format("int65")
    d = int128.decode([2**127, 2**127 - 1, 0, 2**128 - 1, 2**64 + 1])
    assert d.dtype == np.float64
    assert d.tolist() == [-(2.0**127), 2.0**127, 0.0, -1.0, 2.0**64]
    # Near 2**128 the float64 step is 2**75: 2**128 - 2**75 is exact (odd significand), the midpoint below
    # it is a tie that goes to the even neighbour 2**128 - 2**76; 2**128 - 1 rounds up to 2**128.
    codes = [2**128 - 1, 2**128 - 2**75, 2**128 - 2**75 - 2**74, 2**128 - 2**75 - 1]
    assert uint128.decode(codes).tolist() == [2.0**128, 2.0**128 - 2**75, 2.0**128 - 2**76, 2.0**128 - 2**75]
    # Ties to even at 2**53: 2**53 + 1 -> 2**53, 2**53 + 3 -> 2**53 + 4.
    assert int65.decode([2**53 + 1, 2**53 + 3, 2**65 - 2**53 - 1]).tolist() == [
        2.0**53, 2.0**53 + 4, -(2.0**53)]
    assert int65.decode(2**64).shape == () and int65.decode(2**64) == -(2.0**64)


def test_decode_random_codes_is_nearest():
    rng = random.Random(7)
    for name in ["int65", "int100", "int128", "uint128", "q116.12", "uq64.64"]:
        fmt = parse_format(name)
        frac = getattr(fmt, "frac_bits", 0)
        codes = [rng.randrange(0, 2**fmt.width) >> rng.randrange(0, fmt.width) for _ in range(200)]
        raw = fmt.to_int(codes)
        for c, v, d in zip(codes, raw.tolist(), fmt.decode(codes).tolist()):
            assert is_nearest_float(d, Fraction(v, 2**frac)), (name, c, d)


def test_encode_rounds_half_to_even_and_saturates_exactly():
    int128, uint128, int65 = parse_format("int128"), parse_format("uint128"), parse_format("int65")
    probes = [0.5, 1.5, 2.5, -0.5, -1.5, -2.5, 0.49999999999999994, 3.0]
    assert ints(int128.to_int(int128.encode(probes))) == [0, 2, 2, 0, -2, -2, 0, 3]
    below = float(np.nextafter(2.0**127, 0))  # 2**127 - 2**74, the largest float below the bound
    probes = [2.0**127, below, -(2.0**127), -(2.0**127) - 2**75, 1e300, -1e300, np.inf, -np.inf, np.nan, -0.0]
    assert ints(int128.to_int(int128.encode(probes))) == [
        2**127 - 1, 2**127 - 2**74, -(2**127), -(2**127), 2**127 - 1, -(2**127), 2**127 - 1, -(2**127), 0, 0]
    codes = int128.encode(probes)
    assert ints(codes)[0] == 2**127 - 1 and ints(codes)[2] == 2**127
    # int65: float64 cannot hold max = 2**64 - 1; 2**64 saturates, the float below it is exact.
    probes = [2.0**64, float(np.nextafter(2.0**64, 0)), -(2.0**64), float(np.nextafter(-(2.0**64), -np.inf))]
    assert ints(int65.to_int(int65.encode(probes))) == [2**64 - 1, 2**64 - 2**11, -(2**64), -(2**64)]
    assert ints(uint128.encode([-1.0, -1e300, 2.0**128, 3.4e38, 2.0**127 + 2**100])) == [
        0, 0, 2**128 - 1, int(3.4e38), 2**127 + 2**100]
    r = int128.encode(1.0)
    assert r.shape == () and r.dtype == object and int(r) == 1


def test_encode_near_2_64_and_2_127_boundaries():
    int100 = parse_format("int100")
    x = [2.0**64, 2.0**64 + 2**12, -(2.0**64), 2.0**99, float(np.nextafter(2.0**99, 0)), -(2.0**99)]
    assert ints(int100.to_int(int100.encode(x))) == [
        2**64, 2**64 + 2**12, -(2**64), 2**99 - 1, 2**99 - 2**46, -(2**99)]


@pytest.mark.parametrize("name", ["int65", "uint65", "int100", "int128", "uint128", "q116.12", "uq64.64",
                                  "q65.0", "q1.127", "uq0.128"])
def test_encode_random_against_fraction_oracle(name):
    fmt = parse_format(name)
    rng = np.random.default_rng(sum(name.encode()))
    x = rng.normal(size=400) * 2.0 ** rng.integers(-140, 140, 400)
    lsb = getattr(fmt, "lsb", 1.0)
    ties = (np.arange(-20, 20) + 0.5) * lsb  # exact midpoints between codes
    lo, hi = np.float64(fmt.min), np.float64(fmt.max)  # nearest float64 of the (exact) bounds
    bounds = [lo, hi, np.nextafter(hi, 0), np.nextafter(lo, 0), np.nextafter(lo, -np.inf), -hi, 2 * hi]
    x = np.concatenate([x, ties, bounds, [np.inf, -np.inf, np.nan, 0.0, -0.0]])
    raw = fmt.to_int(fmt.encode(x))
    assert ints(raw) == [oracle_encode_raw(fmt, v) for v in x.tolist()]


# ----------------------------------------------------------------------------------------------------------
# Fixed point raw / real conversions
# ----------------------------------------------------------------------------------------------------------


def test_fixed_point_raw_and_real_conversions():
    q = parse_format("q116.12")
    assert q.decode(q.from_int(1)) == 2.0**-12 and q.decode(q.from_int(-1)) == -(2.0**-12)
    assert ints(q.to_int(q.encode([1.5, -1.75, 2.0**-13, 3 * 2.0**-13, 5 * 2.0**-13, -(2.0**-13)]))) == [
        6144, -7168, 0, 2, 2, 0]
    # Large values: exact while the raw integer fits float64's 53 bits of significand.
    assert int(q.to_int(q.encode(2.0**100 + 2.0**50))) == 2**112 + 2**62
    assert int(q.to_int(q.encode(-(2.0**114)))) == -(2**126)
    # Saturation at the real bounds; decode gives the nearest float64 of the raw value.
    assert ints(q.to_int(q.encode([q.max, 2.0**116, -(2.0**115), -1e300]))) == [
        2**127 - 1, 2**127 - 1, -(2**127), -(2**127)]
    assert q.decode([2**127 - 1, 2**127]).tolist() == [2.0**115, -(2.0**115)]
    assert q.decode(q.from_int(12345 * 2**12 + 2**11)) == 12345.5
    # Raw integers wrap modulo 2**128.
    assert int(q.from_int(2**127)) == 2**127 and int(q.to_int(q.from_int(2**127))) == -(2**127)

    uq = parse_format("uq64.64")
    assert int(uq.to_int(uq.encode(0.75))) == 3 * 2**62
    assert uq.decode(uq.from_int(2**64)) == 1.0 and uq.decode(uq.from_int(2**128 - 1)) == 2.0**64
    assert ints(uq.encode([-0.5, 2.0**64, 2.0**-65, 3 * 2.0**-65])) == [0, 2**128 - 1, 0, 2]
    tiny = parse_format("uq0.128")
    assert int(tiny.encode(2.0**-128)) == 1 and tiny.decode(1) == 2.0**-128


# ----------------------------------------------------------------------------------------------------------
# sim.api-style use and behaviour up to 64 bits
# ----------------------------------------------------------------------------------------------------------


def test_decode_outputs_style_object_matrix():
    """sim.api decodes output code matrices (beats x lanes, object dtype when wide) with fmt.to_int."""
    int100 = parse_format("int100")
    values = [[-(2**99), 2**99 - 1], [-1, 2**64], [0, -(2**64) - 1]]
    col = np.array([[v % 2**100 for v in row] for row in values], dtype=object)
    got = int100.to_int(col)
    assert got.shape == (3, 2) and ints(got) == values
    assert ints(int100.to_int(col[:, 0])) == [-(2**99), -1, 0]
    # A <=64-bit field in a wide (object) code matrix still decodes as before.
    small = np.array([[255, 1]], dtype=object)
    assert parse_format("int8").to_int(small).tolist() == [[-1, 1]]
    assert parse_format("int8").to_int(small).dtype == np.int64


def test_64_bit_and_narrower_unchanged():
    int64, uint64, int32, int8 = (parse_format(n) for n in ("int64", "uint64", "int32", "int8"))
    c = np.array([2**63, 2**64 - 1, 5], dtype=np.uint64)
    assert int64.to_int(c).dtype == np.int64 and int64.to_int(c).tolist() == [-(2**63), -1, 5]
    r = uint64.to_int(np.array([2**64 - 1], dtype=np.uint64))
    assert r.dtype == object and r.tolist() == [2**64 - 1]
    assert int32.to_int([2**31, 7]).dtype == np.int64 and int32.to_int([2**31, 7]).tolist() == [-(2**31), 7]
    for fmt in (int64, uint64, int32, int8):
        assert fmt.encode([1.0, 2.5]).dtype == np.uint64
        assert fmt.from_int([1, -1]).dtype == np.uint64
        assert fmt.decode([0, 1]).dtype == np.float64
    assert int64.encode([1e30, -1e30, 2.0**62, 2.5]).tolist() == [2**63 - 1, 2**63, 2**62, 2]
    assert uint64.encode([1e30, -5.0, 3.5]).tolist() == [2**64 - 1, 0, 4]
    assert int8.from_int([-1, 2**70 + 5, 300]).tolist() == [255, 5, 44]
    assert int8.encode([127.5, -128.5, -2.5, np.nan]).tolist() == [127, 128, 254, 0]
    q = parse_format("q32.32")
    assert q.width == 64 and q.decode(np.array([2**63, 2**32], dtype=np.uint64)).tolist() == [-(2.0**31), 1.0]
    assert q.encode([1.5, -1e30]).tolist() == [3 * 2**31, 2**63] and q.encode(1.5).dtype == np.uint64
    assert parse_format("uq32.32").to_int(np.array([2**64 - 1], dtype=np.uint64)).dtype == object
    assert parse_format("q3.4").decode([0x40, 0x7F]).tolist() == [-4.0, -0.0625]
    # int63 (2**63 does not fit int64) decodes, as every width up to 64 does.
    assert parse_format("int63").to_int([2**62, 1]).tolist() == [-(2**62), 1]
    # Code validation up to 64 bits is as before.
    with pytest.raises(ValueError):
        int8.decode(256)
    with pytest.raises(TypeError):
        int8.decode(1.0)
    # Codes of <=64-bit formats are uint64, of wider ones Python ints.
    assert parse_format("int64").from_int(-1).dtype == np.uint64
    assert parse_format("int65").from_int(-1).dtype == object
