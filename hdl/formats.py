"""Number formats: the single model of integer, fixed-point and minifloat codes.

Every other part of peforge (hardware generators, NumPy golden models, the CLI) describes operand and
result types with the :class:`Format` objects defined here, so that "what does code ``0x7E`` mean in
``fp8_e4m3``" has exactly one answer in the code base.

A format maps unsigned *codes* (the bit patterns a hardware port carries, ``0 .. 2**width - 1``) to real
values (``decode``) and real values to codes (``encode``, round to nearest, ties to even).

Codes are uint64 arrays up to 64 bits.  Integer and fixed-point formats may be up to 128 bits wide (wide
accumulators); above 64 bits their codes and integer values are NumPy object arrays of Python ints, so
that every operation stays exact (``decode`` still gives float64, the nearest value).

Minifloats are modelled generically from ``(exp_bits, man_bits, bias, flavour)`` in
:func:`_decode_generic` / :func:`_encode_generic`, so custom formats (``e3m4``, ``e5m3_b10``...) work the
same way as the standard ones.  When a library dtype with identical semantics exists (NumPy ``float16`` /
``float32``, the ``ml_dtypes`` types) the public methods use it as the reference implementation; the test
suite checks the generic model against it code by code.

References
----------
- IEEE Std 754-2019, Standard for Floating-Point Arithmetic (binary16/32, roundTiesToEven, Inf/NaN).
- OCP 8-bit Floating Point Specification (OFP8), rev. 1.0, 2023 (E4M3 without Inf, E5M2 IEEE-like).
- OCP Microscaling Formats (MX) Specification v1.0, 2023 (FP6 E3M2/E2M3, FP4 E2M1, E8M0 scale).
"""

from __future__ import annotations

import abc
import dataclasses
import math
import operator
import re

import ml_dtypes
import numpy as np

__all__ = [
    "FormatError",
    "Format",
    "IntFormat",
    "FixedFormat",
    "MiniFloatFormat",
    "PRESETS",
    "parse_format",
]

#: Integer and fixed-point formats may be this wide (accumulators of up to 128 bits).
_MAX_WIDTH = 128
#: Codes up to this width are held in uint64; wider (integer / fixed-point) codes in object arrays of
#: Python ints.
_NATIVE_WIDTH = 64
#: Minifloats are modelled in float64 and their codes are always uint64.
_MAX_FLOAT_WIDTH = 64
#: ``all_codes`` refuses wider formats: 2**25 uint64 codes are already 256 MiB.
_MAX_ENUMERABLE_WIDTH = 24

_FLAVOURS = ("ieee", "fn", "finite", "e8m0")
# Flavour suffix of the generic "e<E>m<M>" syntax.  "ieee" is the default and has no suffix in canonical
# names; "_fnu" (finite, NaN, unsigned: the ml_dtypes spelling) selects the E8M0-style scale flavour.
_FLAVOUR_SUFFIX = {"ieee": "", "fn": "_fn", "finite": "_finite", "e8m0": "_fnu"}

# (exp_bits, man_bits, bias, flavour, signed) of the standard minifloats.  Kept as plain data so that
# MiniFloatFormat can name itself after a preset before PRESETS exists.
_PRESET_MINIFLOATS = {
    # OCP OFP8 E4M3: no Inf, NaN only at S.1111.111 ("FN" = finite + NaN), max 448.
    "fp8_e4m3": (4, 3, 7, "fn", True),
    # OCP OFP8 E5M2: IEEE 754 conventions (Inf and NaN at exponent 11111).
    "fp8_e5m2": (5, 2, 15, "ieee", True),
    # OCP MX v1.0 element types: no Inf, no NaN, every code finite.
    "fp6_e3m2": (3, 2, 3, "finite", True),
    "fp6_e2m3": (2, 3, 1, "finite", True),
    "fp4_e2m1": (2, 1, 1, "finite", True),
    # IEEE 754 binary16 and binary32, and bfloat16 (binary32 with the mantissa cut to 7 bits).
    "fp16": (5, 10, 15, "ieee", True),
    "bf16": (8, 7, 127, "ieee", True),
    "fp32": (8, 23, 127, "ieee", True),
    # OCP MX v1.0 shared scale E8M0: unsigned power of two 2**(code - 127), 0xFF = NaN, no zero.
    "e8m0": (8, 0, 127, "e8m0", False),
}
_PRESET_NAME_BY_PARAMS = {params: name for name, params in _PRESET_MINIFLOATS.items()}

# Alternative spellings accepted by parse_format (mostly the ml_dtypes / NumPy dtype names).
_ALIASES = {
    "float8_e4m3fn": "fp8_e4m3",
    "fp8_e4m3fn": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2",
    "float6_e3m2fn": "fp6_e3m2",
    "float6_e2m3fn": "fp6_e2m3",
    "float4_e2m1fn": "fp4_e2m1",
    "float8_e8m0fnu": "e8m0",
    "e8m0fnu": "e8m0",
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "float32": "fp32",
    "single": "fp32",
}

# Library dtypes with exactly the semantics of a minifloat, keyed like _PRESET_MINIFLOATS.  Besides the
# presets, ml_dtypes has IEEE-style E4M3 and E3M4 types, which double as references for the generic model.
_LIBRARY_DTYPES = {
    (4, 3, 7, "fn", True): "float8_e4m3fn",
    (5, 2, 15, "ieee", True): "float8_e5m2",
    (3, 2, 3, "finite", True): "float6_e3m2fn",
    (2, 3, 1, "finite", True): "float6_e2m3fn",
    (2, 1, 1, "finite", True): "float4_e2m1fn",
    (8, 7, 127, "ieee", True): "bfloat16",
    (8, 0, 127, "e8m0", False): "float8_e8m0fnu",
    (4, 3, 7, "ieee", True): "float8_e4m3",
    (3, 4, 3, "ieee", True): "float8_e3m4",
}
_NUMPY_DTYPES = {
    (5, 10, 15, "ieee", True): np.dtype(np.float16),
    (8, 23, 127, "ieee", True): np.dtype(np.float32),
}

_ALLOWED = (
    "allowed: int<N>, uint<N>, q<I>.<F>, uq<I>.<F>, e<E>m<M>[_b<bias>][_fn|_finite|_ieee|_fnu], "
    + ", ".join(_PRESET_MINIFLOATS)
)


class FormatError(ValueError):
    """An invalid format string or format parameters.

    The message is one line naming the offending text and the allowed forms.
    """


def _invalid(text: str, reason: str) -> FormatError:
    # Keep the message on one line whatever the user typed (it is echoed by the CLI).
    shown = repr(str(text).replace("\n", " "))
    return FormatError(f"invalid format {shown}: {reason} ({_ALLOWED})")


def _as_codes(codes, width: int) -> np.ndarray:
    """Validate an int or array-like of codes and return it as a uint64 array.

    Above 64 bits the result is an object array of Python ints instead (see :func:`_as_wide_codes`).

    Raises ``ValueError`` for negative or too large codes and ``TypeError`` for non-integer input, rather
    than silently wrapping: a wrong code is nearly always a bug in the caller.
    """
    if width > _NATIVE_WIDTH:
        return _as_wide_codes(codes, width)
    a = np.asarray(codes)
    if a.dtype == object:
        try:
            a = a.astype(np.uint64)
        except (OverflowError, TypeError, ValueError) as exc:
            raise ValueError(f"codes must be integers in 0..{2**width - 1}") from exc
    if a.dtype.kind == "b":
        a = a.astype(np.uint64)
    if a.dtype.kind not in "iu":
        raise TypeError(f"codes must be integers, got dtype {a.dtype}")
    if a.dtype.kind == "i" and np.any(a < 0):
        raise ValueError(f"codes must be in 0..{2**width - 1}, got a negative code")
    c = a.astype(np.uint64)
    if width < 64 and np.any(c >> np.uint64(width)):
        raise ValueError(f"codes must be in 0..{2**width - 1}, got {int(c.max())}")
    return c


def _object_array(values) -> np.ndarray:
    """``values`` as an array, keeping arbitrary-size Python ints exact.

    ``np.asarray`` turns a list such as ``[2**63, 5]`` into float64 (NumPy 2), losing low bits, so
    anything that is not already an ndarray becomes an object array.
    """
    if isinstance(values, np.ndarray):
        return values
    return np.asarray(values, dtype=object)


def _map_ints(func, a: np.ndarray) -> np.ndarray:
    """Object array of ``func(v)`` for every element of ``a`` (same shape, 0-d included).

    ``tolist`` hands out Python ints / floats for numeric dtypes and the stored objects for object
    arrays; building the result with ``np.empty`` keeps NumPy from reinterpreting Python ints.
    """
    flat = a.reshape(-1).tolist()
    out = np.empty(len(flat), dtype=object)
    out[:] = [func(v) for v in flat]
    return out.reshape(a.shape)


def _plain_dtype(values) -> np.dtype | None:
    """The dtype NumPy would give ``values`` by itself (None for arrays and unconvertible input)."""
    if isinstance(values, np.ndarray):
        return None
    try:
        return np.asarray(values).dtype
    except (TypeError, ValueError, OverflowError):
        return None


def _as_wide_codes(codes, width: int) -> np.ndarray:
    """:func:`_as_codes` above 64 bits: an object array of Python ints in ``0 .. 2**width - 1``."""
    top = (1 << width) - 1
    a = _object_array(codes)
    if a.dtype == object:
        try:
            c = _map_ints(operator.index, a)  # ints, NumPy integers and bools; not floats or strings
        except TypeError as exc:
            # Same error kinds as up to 64 bits: input NumPy would read as floats (or strings) is a
            # TypeError naming that dtype, a genuine mixture of objects a ValueError.
            plain = _plain_dtype(codes)
            if plain is not None and plain.kind not in "Oiub":
                raise TypeError(f"codes must be integers, got dtype {plain}") from None
            raise ValueError(f"codes must be integers in 0..{top}") from exc
    elif a.dtype.kind in "iub":
        c = _map_ints(int, a)
    else:
        raise TypeError(f"codes must be integers, got dtype {a.dtype}")
    if c.size:
        lo, hi = min(c.flat), max(c.flat)
        if lo < 0:
            raise ValueError(f"codes must be in 0..{top}, got a negative code")
        if hi > top:
            raise ValueError(f"codes must be in 0..{top}, got {hi}")
    return c


def _uint_container(width: int) -> np.dtype:
    """Smallest unsigned NumPy dtype holding ``width`` bits (the storage of a library dtype)."""
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if width <= np.dtype(dt).itemsize * 8:
            return np.dtype(dt)
    raise ValueError(f"width {width} exceeds 64 bits")


def _check_int(value, what: str, text: str) -> int:
    try:
        return operator.index(value)
    except TypeError:
        raise _invalid(text, f"{what} must be an integer, got {value!r}") from None


class Format(abc.ABC):
    """Abstract number format: a mapping between unsigned codes and real values.

    Formats are immutable; two formats are equal (and hash equal) exactly when their canonical
    :attr:`name` is equal, and ``parse_format(f.name) == f``.

    Attributes
    ----------
    name : str
        Canonical name, e.g. ``"int8"``, ``"q3.4"``, ``"fp8_e4m3"``, ``"e5m3_b10"``.
    width : int
        Number of bits of one code.
    """

    name: str
    width: int

    @abc.abstractmethod
    def decode(self, codes) -> np.ndarray:
        """Real values of codes.

        Parameters
        ----------
        codes : int or array_like of int
            Unsigned codes in ``0 .. 2**width - 1``.

        Returns
        -------
        numpy.ndarray
            float64 values, same shape as ``codes``.
        """

    @abc.abstractmethod
    def encode(self, values) -> np.ndarray:
        """Codes of the representable values nearest to ``values`` (ties to even).

        Parameters
        ----------
        values : float or array_like of float
            Real values (converted to float64).

        Returns
        -------
        numpy.ndarray
            uint64 codes, same shape as ``values`` (an object array of Python ints for integer and
            fixed-point formats wider than 64 bits).
        """

    def all_codes(self) -> np.ndarray:
        """Every code of the format, ``np.arange(2**width, dtype=np.uint64)``.

        Raises
        ------
        ValueError
            For formats wider than 24 bits (``fp32``...), whose code list would not fit in memory
            comfortably; sample codes instead.
        """
        if self.width > _MAX_ENUMERABLE_WIDTH:
            raise ValueError(
                f"{self.name} has 2**{self.width} codes, too many to enumerate "
                f"(limit 2**{_MAX_ENUMERABLE_WIDTH}); sample codes instead"
            )
        return np.arange(2**self.width, dtype=np.uint64)

    def __str__(self) -> str:
        return self.name

    def __eq__(self, other) -> bool:
        if not isinstance(other, Format):
            return NotImplemented
        return self.name == other.name

    def __hash__(self) -> int:
        return hash(self.name)


# --------------------------------------------------------------------------------------------------
# Integers and fixed point
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class IntFormat(Format):
    """Two's complement (``signed``) or unsigned binary integer of ``width`` bits.

    Parameters
    ----------
    width : int
        Number of bits, 1 to 128.  ``int1`` holds {-1, 0}.  Up to 64 bits codes are uint64 arrays;
        wider formats take and return object arrays of Python ints (exact at any width).
    signed : bool
        Two's complement when true.

    Attributes
    ----------
    min, max : int
        Smallest and largest value (Python ints).
    """

    width: int
    signed: bool = True
    name: str = dataclasses.field(init=False, repr=False)
    min: int = dataclasses.field(init=False, repr=False)
    max: int = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        signed = bool(self.signed)
        text = f"{'' if signed else 'u'}int{self.width}"
        width = _check_int(self.width, "integer width", text)
        if width < 1:
            raise _invalid(text, "integer width must be at least 1")
        if width > _MAX_WIDTH:
            raise _invalid(text, f"integer width must be at most {_MAX_WIDTH}")
        lo, hi = (-(2 ** (width - 1)), 2 ** (width - 1) - 1) if signed else (0, 2**width - 1)
        for field, value in (("width", width), ("signed", signed), ("name", text), ("min", lo), ("max", hi)):
            object.__setattr__(self, field, value)

    def to_int(self, codes) -> np.ndarray:
        """Exact integer value of codes (two's complement when signed).

        Returns
        -------
        numpy.ndarray
            int64, or object (Python ints) for ``uint64`` whose values do not fit in int64 and for
            every format wider than 64 bits.
        """
        if self.width > _NATIVE_WIDTH:
            return self._to_int_wide(codes)
        c = _as_codes(codes, self.width)
        if not self.signed:
            return c.astype(object) if self.width == 64 else c.astype(np.int64)
        if self.width == 64:
            return c.view(np.int64)
        v = c.astype(np.int64)
        # Codes with the sign bit set stand for value - 2**width (two's complement).
        half = 2 ** (self.width - 1)
        if self.width == 63:  # 2**63 does not fit in int64: subtract it in two halves
            return np.where(v >= half, (v - half) - half, v)
        return np.where(v >= half, v - 2**self.width, v)

    def _to_int_wide(self, codes) -> np.ndarray:
        c = _as_wide_codes(codes, self.width)
        if not self.signed:
            return c
        half, full = 1 << (self.width - 1), 1 << self.width
        return _map_ints(lambda v: v - full if v >= half else v, c)

    def from_int(self, values) -> np.ndarray:
        """Codes of integers, wrapping modulo ``2**width`` (two's complement), like a hardware truncation.

        Parameters
        ----------
        values : int or array_like of int
            Any integers (Python ints of any size, NumPy integer arrays, or integral floats).

        Returns
        -------
        numpy.ndarray
            uint64 codes (object array of Python ints above 64 bits).

        Raises
        ------
        ValueError
            For non-integral or non-finite floats.
        TypeError
            For non-numeric input.
        """
        if self.width > _NATIVE_WIDTH:
            return self._from_int_wide(values)
        try:
            a = np.asarray(values)
        except OverflowError:
            a = np.asarray(values, dtype=object)
        mask = (1 << self.width) - 1
        if a.dtype == object:
            # Python ints of arbitrary size: the modulo runs element-wise in NumPy's object loop.
            return np.asarray(a % (1 << self.width), dtype=object).astype(np.uint64)
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a) & (a == np.floor(a))):
                raise ValueError(f"{self.name}.from_int needs integral values")
            a = a.astype(np.int64)
        elif a.dtype.kind not in "iub":
            raise TypeError(f"{self.name}.from_int needs integers, got dtype {a.dtype}")
        # Casting a negative int64 to uint64 wraps modulo 2**64, then the mask keeps the low bits.
        return a.astype(np.int64 if a.dtype.kind != "u" else np.uint64).astype(np.uint64) & np.uint64(mask)

    def _from_int_wide(self, values) -> np.ndarray:
        a = _object_array(values)
        if a.dtype.kind == "f":
            if not np.all(np.isfinite(a) & (a == np.floor(a))):
                raise ValueError(f"{self.name}.from_int needs integral values")
        elif a.dtype.kind not in "iubO":
            raise TypeError(f"{self.name}.from_int needs integers, got dtype {a.dtype}")
        full = 1 << self.width
        # Python's % with a positive modulus is the two's complement wrap, at any size.
        return _map_ints(lambda v: self._exact_int(v) % full, a)

    def _exact_int(self, v) -> int:
        """One element as a Python int: integers as they are, integral floats exactly."""
        try:
            return operator.index(v)
        except TypeError:
            pass
        if isinstance(v, (float, np.floating)):
            if math.isfinite(v) and v == math.floor(v):
                return int(v)  # exact: a finite integral float is an integer
            raise ValueError(f"{self.name}.from_int needs integral values")
        raise TypeError(f"{self.name}.from_int needs integers, got {type(v).__name__}")

    def decode(self, codes) -> np.ndarray:
        """Integer values of codes as float64 (exact up to 53 bits, nearest beyond).

        See :meth:`Format.decode`.
        """
        # Object arrays convert element by element with float(int): correctly rounded, ties to even.
        return np.asarray(self.to_int(codes)).astype(np.float64)

    def encode(self, values) -> np.ndarray:
        """Round half to even, then saturate to ``[min, max]``.  NaN encodes as 0.

        See :meth:`Format.encode`.
        """
        return _encode_integer(self, np.asarray(values, dtype=np.float64))


def _encode_integer(fmt: IntFormat, x: np.ndarray) -> np.ndarray:
    """Saturating round-half-even conversion of float64 ``x`` to the codes of ``fmt``."""
    if fmt.width > _NATIVE_WIDTH:
        return _encode_integer_wide(fmt, x)
    r = np.rint(np.where(np.isnan(x), 0.0, x))  # np.rint rounds half to even (IEEE 754 default)
    # Compare in float64: float(max) may round up (e.g. 2**63 for int64), hence >=; anything at or beyond
    # the rounded bound saturates and never reaches the integer conversion, which could overflow.
    over = r >= float(fmt.max)
    under = r <= float(fmt.min)
    inside = np.where(over | under, 0.0, r)
    ints = inside.astype(np.int64 if fmt.signed else np.uint64)
    codes = fmt.from_int(ints)
    codes = np.where(over, fmt.from_int(fmt.max), codes)
    codes = np.where(under, fmt.from_int(fmt.min), codes)
    return codes.astype(np.uint64)


def _encode_integer_wide(fmt: IntFormat, x: np.ndarray) -> np.ndarray:
    """:func:`_encode_integer` above 64 bits: object codes, bounds compared exactly as Python ints.

    float64 cannot hold the bounds (``2**127 - 1``...), so each rounded value is turned into the Python
    int it stands for (exact: a finite float that ``np.rint`` returns is an integer) and clamped there.
    """
    lo, hi = fmt.min, fmt.max
    r = np.rint(np.where(np.isnan(x), 0.0, x))  # ties to even; |x| >= 2**52 is already integral

    def saturate(v: float) -> int:
        if math.isinf(v):
            return hi if v > 0 else lo
        return min(max(int(v), lo), hi)

    return fmt.from_int(_map_ints(saturate, r))


@dataclasses.dataclass(frozen=True, eq=False)
class FixedFormat(Format):
    """Binary fixed point: a ``width``-bit integer scaled by ``2**-frac_bits``.

    Parameters
    ----------
    int_bits : int
        Integer bits; for signed formats they include the sign bit, so signed needs ``int_bits >= 1``
        (``q4.4`` is 8 bits, values -8 .. 7.9375).
    frac_bits : int
        Fraction bits (>= 0).
    signed : bool
        Two's complement when true.  Names: ``q<I>.<F>`` (signed), ``uq<I>.<F>`` (unsigned).

    Attributes
    ----------
    lsb : float
        Value of one code step, ``2.0**-frac_bits``.
    min, max : float
        Smallest and largest value (the nearest float64 above 53 bits; ``raw.min`` / ``raw.max`` are
        exact).
    raw : IntFormat
        The underlying integer format of the scaled value.
    """

    int_bits: int
    frac_bits: int
    signed: bool = True
    name: str = dataclasses.field(init=False, repr=False)
    width: int = dataclasses.field(init=False, repr=False)
    lsb: float = dataclasses.field(init=False, repr=False)
    min: float = dataclasses.field(init=False, repr=False)
    max: float = dataclasses.field(init=False, repr=False)
    raw: IntFormat = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        signed = bool(self.signed)
        text = f"{'' if signed else 'u'}q{self.int_bits}.{self.frac_bits}"
        int_bits = _check_int(self.int_bits, "integer bits", text)
        frac_bits = _check_int(self.frac_bits, "fraction bits", text)
        if int_bits < 0 or frac_bits < 0:
            raise _invalid(text, "integer and fraction bits must be non-negative")
        if signed and int_bits < 1:
            raise _invalid(text, "signed fixed point needs at least 1 integer bit for the sign (use uq0.F)")
        width = int_bits + frac_bits
        if width < 1:
            raise _invalid(text, "fixed-point width must be at least 1")
        if width > _MAX_WIDTH:
            raise _invalid(text, f"fixed-point width must be at most {_MAX_WIDTH}")
        raw = IntFormat(width, signed)
        lsb = 2.0**-frac_bits
        for field, value in (
            ("int_bits", int_bits), ("frac_bits", frac_bits), ("signed", signed), ("name", text),
            ("width", width), ("lsb", lsb), ("min", raw.min * lsb), ("max", raw.max * lsb), ("raw", raw),
        ):
            object.__setattr__(self, field, value)

    def to_int(self, codes) -> np.ndarray:
        """Raw integer of codes (the value times ``2**frac_bits``).  See :meth:`IntFormat.to_int`."""
        return self.raw.to_int(codes)

    def from_int(self, values) -> np.ndarray:
        """Codes of raw integers, wrapping modulo ``2**width``.  See :meth:`IntFormat.from_int`."""
        return self.raw.from_int(values)

    def decode(self, codes) -> np.ndarray:
        """``to_int(codes) * 2**-frac_bits`` as float64.  See :meth:`Format.decode`."""
        return np.ldexp(self.raw.decode(codes), -self.frac_bits)

    def encode(self, values) -> np.ndarray:
        """Round half to even on the ``lsb`` grid, then saturate to ``[min, max]``; NaN encodes as 0.

        See :meth:`Format.encode`.
        """
        x = np.asarray(values, dtype=np.float64)
        return _encode_integer(self.raw, np.ldexp(x, self.frac_bits))  # scaling by 2**F is exact


# --------------------------------------------------------------------------------------------------
# Minifloats
# --------------------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True, eq=False)
class MiniFloatFormat(Format):
    """Binary floating point with ``exp_bits`` exponent and ``man_bits`` mantissa bits.

    Layout of a code, most significant first: sign (when ``signed``), exponent field, mantissa field.
    A normal code (exponent field ``e >= 1``) is ``(-1)**s * 2**(e - bias) * (1 + m / 2**man_bits)``;
    exponent field 0 is subnormal, ``(-1)**s * 2**(1 - bias) * (m / 2**man_bits)`` (IEEE 754 3.4).

    Parameters
    ----------
    exp_bits, man_bits : int
        Field widths (``exp_bits >= 1``, ``man_bits >= 0``).
    bias : int
        Exponent bias; ``2**(exp_bits - 1) - 1`` is the IEEE 754 choice.
    flavour : {"ieee", "fn", "finite", "e8m0"}
        Special values.
        ``"ieee"``: the all-ones exponent field is Inf (mantissa 0) or NaN (IEEE 754; OCP OFP8 E5M2).
        ``"fn"``: no Inf; NaN only when exponent and mantissa fields are all ones (OCP OFP8 E4M3).
        ``"finite"``: no Inf, no NaN (OCP MX v1.0 FP6/FP4 elements).
        ``"e8m0"``: unsigned power of two ``2**(code - bias)``, all-ones code is NaN, no zero
        (OCP MX v1.0 E8M0 scale); needs ``signed=False`` and ``man_bits=0``.
    signed : bool
        Only the ``"e8m0"`` flavour is unsigned.

    Attributes
    ----------
    max_normal : float
        Largest finite value.
    min_normal : float
        Smallest positive normal value, ``2**(1 - bias)`` (``2**-bias`` for e8m0).
    min_subnormal : float
        Smallest positive value (equals ``min_normal`` when there are no subnormals).
    emax, emin : int
        Exponents of ``max_normal`` and ``min_normal`` (``emax`` is OCP MX's emax_elem).
    has_inf, has_nan : bool
        Whether Inf / NaN codes exist.
    canonical_nan : int or None
        The positive NaN code produced by ``encode(nan)`` (None without NaN).
    ml_dtype : numpy.dtype or None
        The NumPy / ml_dtypes dtype with identical semantics, when one exists.
    """

    exp_bits: int
    man_bits: int
    bias: int
    flavour: str = "ieee"
    signed: bool = True
    name: str = dataclasses.field(init=False, repr=False)
    width: int = dataclasses.field(init=False, repr=False)
    max_normal: float = dataclasses.field(init=False, repr=False)
    min_normal: float = dataclasses.field(init=False, repr=False)
    min_subnormal: float = dataclasses.field(init=False, repr=False)
    emax: int = dataclasses.field(init=False, repr=False)
    emin: int = dataclasses.field(init=False, repr=False)
    has_inf: bool = dataclasses.field(init=False, repr=False)
    has_nan: bool = dataclasses.field(init=False, repr=False)
    canonical_nan: int | None = dataclasses.field(init=False, repr=False)
    # Magnitude code (sign bit clear) of max_normal; encode's overflow threshold.
    _max_code_mag: int = dataclasses.field(init=False, repr=False)

    def __post_init__(self):
        flavour = str(self.flavour).lower()
        signed = bool(self.signed)
        text = f"e{self.exp_bits}m{self.man_bits}_b{self.bias}{_FLAVOUR_SUFFIX.get(flavour, '_' + flavour)}"
        E = _check_int(self.exp_bits, "exponent bits", text)
        M = _check_int(self.man_bits, "mantissa bits", text)
        bias = _check_int(self.bias, "bias", text)
        if flavour not in _FLAVOURS:
            raise _invalid(text, f"flavour must be one of {', '.join(_FLAVOURS)}")
        if E < 1:
            raise _invalid(text, "exponent width must be at least 1")
        if M < 0:
            raise _invalid(text, "mantissa width must be non-negative")
        if flavour == "e8m0":
            if signed or M != 0:
                raise _invalid(text, "the e8m0 (fnu) flavour is unsigned with no mantissa bits")
        elif not signed:
            raise _invalid(text, "only the e8m0 (fnu) flavour can be unsigned")
        if flavour == "ieee" and (M < 1 or E < 2):
            raise _invalid(text, "the ieee flavour needs 2+ exponent and 1+ mantissa bits (Inf and NaN)")
        if flavour == "fn" and E + M < 2:
            raise _invalid(text, "the fn flavour needs at least 2 bits besides the sign")
        width = E + M + int(signed)
        if width > _MAX_FLOAT_WIDTH:
            raise _invalid(text, f"width must be at most {_MAX_FLOAT_WIDTH}")

        emask = (1 << E) - 1
        if flavour == "e8m0":
            e_top, m_top = emask - 1, 0  # all-ones code is NaN
            emin = -bias  # exponent field 0 is 2**-bias: no subnormals
            min_sub_exp = emin
        else:
            e_top, m_top = {
                "ieee": (emask - 1, (1 << M) - 1),
                # "fn" loses only the all-ones code to NaN; with M == 0 that is the whole top binade.
                "fn": (emask, (1 << M) - 2) if M >= 1 else (emask - 1, 0),
                "finite": (emask, (1 << M) - 1),
            }[flavour]
            emin = 1 - bias
            min_sub_exp = emin - M if M else emin
        emax = e_top - bias
        # Values are computed in float64 by the models below, so the format must fit in float64 exactly.
        if M > 52 or emax > 1023 or min_sub_exp < -1074:
            raise _invalid(text, "exponent or mantissa range exceeds what float64 can hold exactly")

        has_nan = flavour in ("ieee", "fn", "e8m0")
        if flavour == "ieee":
            canonical_nan = (emask << M) | (1 << (M - 1))  # quiet NaN: mantissa MSB set (IEEE 754 6.2.1)
        elif flavour in ("fn", "e8m0"):
            canonical_nan = (1 << (E + M)) - 1
        else:
            canonical_nan = None

        params = (E, M, bias, flavour, signed)
        if params in _PRESET_NAME_BY_PARAMS:
            name = _PRESET_NAME_BY_PARAMS[params]
        else:
            name = f"e{E}m{M}"
            if bias != 2 ** (E - 1) - 1:
                name += f"_b{bias}"
            name += _FLAVOUR_SUFFIX[flavour]

        max_normal = float(np.ldexp(1.0 + m_top / 2.0**M, emax))
        for field, value in (
            ("exp_bits", E), ("man_bits", M), ("bias", bias), ("flavour", flavour), ("signed", signed),
            ("name", name), ("width", width), ("max_normal", max_normal),
            ("min_normal", float(np.ldexp(1.0, emin))), ("min_subnormal", float(np.ldexp(1.0, min_sub_exp))),
            ("emax", emax), ("emin", emin), ("has_inf", flavour == "ieee"), ("has_nan", has_nan),
            ("canonical_nan", canonical_nan), ("_max_code_mag", (e_top << M) | m_top),
        ):
            object.__setattr__(self, field, value)

    @property
    def _params(self) -> tuple:
        return (self.exp_bits, self.man_bits, self.bias, self.flavour, self.signed)

    @property
    def ml_dtype(self) -> np.dtype | None:
        """NumPy / ml_dtypes dtype with identical semantics, or None (custom formats)."""
        params = self._params
        if params in _NUMPY_DTYPES:
            return _NUMPY_DTYPES[params]
        lib_name = _LIBRARY_DTYPES.get(params)
        lib_type = getattr(ml_dtypes, lib_name, None) if lib_name else None
        return np.dtype(lib_type) if lib_type is not None else None

    def decode_fields(self, codes) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Split codes into ``(sign, exp_field, man_field)`` uint64 arrays (sign is 0 when unsigned)."""
        c = _as_codes(codes, self.width)
        E, M = self.exp_bits, self.man_bits
        sign = (c >> np.uint64(E + M)) & np.uint64(1) if self.signed else np.zeros_like(c)
        exp_field = (c >> np.uint64(M)) & np.uint64((1 << E) - 1)
        man_field = c & np.uint64((1 << M) - 1)
        return sign, exp_field, man_field

    def is_nan(self, codes) -> np.ndarray:
        """Boolean array: which codes are NaN."""
        _, e, m = self.decode_fields(codes)
        return _nan_fields(self, e, m)

    def is_inf(self, codes) -> np.ndarray:
        """Boolean array: which codes are +-Inf."""
        _, e, m = self.decode_fields(codes)
        if not self.has_inf:
            return np.zeros(e.shape, dtype=bool)
        return (e == (1 << self.exp_bits) - 1) & (m == 0)

    def decode(self, codes) -> np.ndarray:
        """Values of codes, through :attr:`ml_dtype` when it exists.  See :meth:`Format.decode`."""
        c = _as_codes(codes, self.width)
        dt = self.ml_dtype
        if dt is None:
            return _decode_generic(self, c)
        # ml_dtypes stores 4- and 6-bit types in a uint8 container, code in the low bits.  Widening a
        # signalling NaN raises NumPy's "invalid" flag; the NaN itself is the intended result.
        with np.errstate(invalid="ignore"):
            return c.astype(_uint_container(self.width)).view(dt).astype(np.float64)

    def encode(self, values) -> np.ndarray:
        """Nearest code, ties to even; overflow per flavour.  See :meth:`Format.encode`.

        Overflow gives +-Inf (``ieee``), NaN (``fn``) or +-max (``finite``); NaN gives the canonical NaN
        with the input's sign (``finite`` formats: see :func:`_encode_generic`).  The conversion is a
        single correct rounding of the float64 input (IEEE 754 5.4.2).
        """
        x = np.asarray(values, dtype=np.float64)
        dt = self.ml_dtype
        if dt is None:
            return _encode_generic(self, x)
        with np.errstate(over="ignore", invalid="ignore"):
            codes = x.astype(dt).view(_uint_container(self.width)).astype(np.uint64)
            # NumPy keeps NaN payloads; every NaN should give the canonical NaN (with its sign) instead.
            redo = np.isnan(x)
            if dt not in (np.dtype(np.float16), np.dtype(np.float32)):
                # ml_dtypes (0.6) converts float64 through float32, a double rounding that can miss the
                # nearest value (ml_dtypes PR #401; e.g. 1 + 2**-8 + 2**-40 -> bf16 gives 1.0).  It is
                # correctly rounded for float32-exact inputs, so only the others take the generic model.
                redo |= x.astype(np.float32) != x
            if np.any(redo):
                codes = np.where(redo, _encode_generic(self, x), codes)
        return codes


def _nan_fields(fmt: MiniFloatFormat, e: np.ndarray, m: np.ndarray) -> np.ndarray:
    """NaN mask from exponent and mantissa fields, per flavour."""
    emask = (1 << fmt.exp_bits) - 1
    if fmt.flavour == "ieee":
        return (e == emask) & (m != 0)
    if fmt.flavour == "fn":
        return (e == emask) & (m == (1 << fmt.man_bits) - 1)
    if fmt.flavour == "e8m0":
        return e == emask
    return np.zeros(e.shape, dtype=bool)


def _decode_generic(fmt: MiniFloatFormat, codes) -> np.ndarray:
    """Parametric minifloat decoder (reference model independent of any library).

    float64 holds every value exactly (checked in the constructor).  NaN codes decode to a NaN with the
    code's sign, as the library dtypes do; -0 decodes to -0.0.
    """
    sign, e_field, m_field = fmt.decode_fields(codes)
    e = e_field.astype(np.int64)
    M = fmt.man_bits
    if fmt.flavour == "e8m0":
        mag = np.ldexp(1.0, (e - fmt.bias).astype(np.int32))
    else:
        normal = e > 0
        # Normal: implicit leading 1; subnormal: exponent field 0 uses the exponent of field 1.
        significand = np.where(normal, m_field.astype(np.int64) + (1 << M), m_field.astype(np.int64))
        exponent = np.where(normal, e, 1) - fmt.bias - M
        mag = np.ldexp(significand.astype(np.float64), exponent.astype(np.int32))
        if fmt.has_inf:
            mag = np.where((e == (1 << fmt.exp_bits) - 1) & (m_field == 0), np.inf, mag)
    mag = np.where(_nan_fields(fmt, e_field, m_field), np.nan, mag)
    return np.where(sign.astype(bool), -mag, mag)


def _encode_generic(fmt: MiniFloatFormat, values) -> np.ndarray:
    """Parametric minifloat encoder: round to nearest, ties to even, from float64 (single rounding).

    Matches the library casts (ml_dtypes 0.6, NumPy) on every float32-exact input, including ties in the
    subnormal range and at the overflow boundary.

    Notes
    -----
    The value is scaled by a power of two so that one unit is the quantum (ulp) of its binade, clamped to
    the subnormal binade below; ``np.rint`` then does IEEE 754 roundTiesToEven on the integer significand
    ``r``.  The magnitude code is ``(binade_exponent + bias - 1) * 2**M + r``: a carry out of the mantissa
    (``r == 2**(M+1)``) or out of the subnormals (``r == 2**M``) lands on the next exponent field by
    itself, and a magnitude code above the largest finite one is an overflow.  With ``M == 0`` a tie
    between two powers of two goes to the larger (``r`` = 2 is the even candidate).

    NaN input encodes as the canonical NaN with the input's sign for ``ieee`` / ``fn``.  ``finite``
    formats have no NaN: ml_dtypes 0.6 returns -0 for +NaN and +0 for -NaN (implementation-defined, the
    OCP MX v1.0 spec leaves it open), and this model does the same so the two stay interchangeable.
    """
    x = np.asarray(values, dtype=np.float64)
    if fmt.flavour == "e8m0":
        return _encode_e8m0(fmt, x)
    E, M, bias = fmt.exp_bits, fmt.man_bits, fmt.bias
    neg = np.signbit(x)
    nan = np.isnan(x)
    a = np.abs(x)
    inf = np.isinf(a)
    a = np.where(nan | inf, 0.0, a)

    _, k = np.frexp(a)  # a = f * 2**k with f in [0.5, 1): binade exponent k - 1 (0 for a == 0)
    binade = np.where(a == 0, fmt.emin, k.astype(np.int64) - 1)
    # Below emin everything shares the subnormal quantum; above emax + 1 everything overflows anyway
    # (clamping keeps the integer arithmetic small).
    binade = np.clip(binade, fmt.emin, fmt.emax + 1)
    scaled = np.ldexp(a, (M - binade).astype(np.int32))  # exact: power-of-two scaling
    r = np.minimum(np.rint(scaled), float(1 << (M + 2)))  # rint: ties to even; cap keeps int64 safe
    mag = (binade + (bias - 1)) * (1 << M) + r.astype(np.int64)

    over = (mag > fmt._max_code_mag) | inf
    if fmt.flavour == "ieee":
        overflow_code = ((1 << E) - 1) << M  # +-Inf (IEEE 754 7.4, roundTiesToEven overflow)
    elif fmt.flavour == "fn":
        overflow_code = (1 << (E + M)) - 1  # NaN: E4M3 has no Inf (OCP OFP8, non-saturating mode)
    else:
        overflow_code = fmt._max_code_mag  # saturate: FP6/FP4 have neither Inf nor NaN (OCP MX v1.0)
    mag = np.where(over, overflow_code, mag).astype(np.uint64)

    sign_bit = np.uint64(1 << (E + M))
    codes = np.where(neg, mag | sign_bit, mag)
    if fmt.has_nan:
        nan_code = np.where(neg, np.uint64(fmt.canonical_nan) | sign_bit, np.uint64(fmt.canonical_nan))
    else:
        nan_code = np.where(neg, np.uint64(0), sign_bit)  # ml_dtypes quirk, see Notes
    return np.where(nan, nan_code, codes).astype(np.uint64)


def _encode_e8m0(fmt: MiniFloatFormat, x: np.ndarray) -> np.ndarray:
    """Encoder for the unsigned power-of-two (E8M0) flavour, matching ml_dtypes float8_e8m0fnu.

    A positive value ``2**k * f`` (``1 <= f < 2``) rounds to ``2**(k+1)`` when ``f >= 1.5`` and to
    ``2**k`` otherwise: nearest, with ties away from zero (ml_dtypes 0.6 behaviour, also CUDA's and
    ONNX's "round up" for E8M0; OCP MX v1.0 defines no conversion rounding for scales).  Values strictly
    between the two smallest scales (codes 0 and 1) give code 1: for float8_e8m0fnu that interval is
    float32's subnormal range (2**-127, 2**-126), where ml_dtypes rounds up rather than to nearest.
    Positive values up to the smallest scale give code 0 (``2**-bias``, there is no zero); zero,
    negative values, +-Inf, NaN and overflow give the NaN code.
    """
    emask = (1 << fmt.exp_bits) - 1
    valid = (x > 0) & np.isfinite(x)
    a = np.where(valid, x, 1.0)
    f, k = np.frexp(a)  # a = f * 2**k, f in [0.5, 1): significand 2f, exponent k - 1
    binade = k.astype(np.int64) - 1
    e = binade + fmt.bias + (f >= 0.75)
    # ml_dtypes quirk reproduced (see above): inside the lowest binade, anything above code 0 is code 1.
    e = np.where((binade == -fmt.bias) & (f > 0.5) & (emask > 1), 1, np.maximum(e, 0))
    return np.where(valid & (e < emask), e, emask).astype(np.uint64)


# --------------------------------------------------------------------------------------------------
# Presets and parsing
# --------------------------------------------------------------------------------------------------

#: The standard formats by canonical name.
PRESETS: dict[str, Format] = {
    name: MiniFloatFormat(E, M, bias, flavour, signed)
    for name, (E, M, bias, flavour, signed) in _PRESET_MINIFLOATS.items()
}

_INT_RE = re.compile(r"(u?)int(.*)")
_FIXED_RE = re.compile(r"(u?)q(.*)")
_FIXED_BITS_RE = re.compile(r"(\d+)\.(\d+)")
_MINIFLOAT_RE = re.compile(r"e(\d+)m(\d+)((?:_[a-z0-9\-]*)*)")
_BIAS_RE = re.compile(r"b(-?\d+)")


def parse_format(text: str) -> Format:
    """Parse a format name.

    Accepted forms (case-insensitive, surrounding whitespace ignored):

    - preset names (``fp8_e4m3``, ``fp8_e5m2``, ``fp6_e3m2``, ``fp6_e2m3``, ``fp4_e2m1``, ``fp16``,
      ``bf16``, ``fp32``, ``e8m0``) and the ml_dtypes / NumPy dtype names (``float8_e4m3fn``...);
    - ``int<N>``, ``uint<N>`` with ``1 <= N <= 128``;
    - ``q<I>.<F>`` (signed, ``I >= 1`` including the sign bit) and ``uq<I>.<F>``, ``I + F <= 128``;
    - ``e<E>m<M>`` with an optional ``_b<bias>`` (default ``2**(E-1) - 1``) and an optional flavour
      ``_ieee`` (default), ``_fn``, ``_finite`` or ``_fnu`` (unsigned E8M0-style scale).

    A format equal to a preset gets the preset's name (``e4m3_b7_fn`` is ``fp8_e4m3``).  A
    :class:`Format` is returned unchanged.

    Raises
    ------
    FormatError
        One-line message naming ``text`` and the allowed forms.
    """
    if isinstance(text, Format):
        return text
    if not isinstance(text, str):
        raise _invalid(str(text), f"expected a string, got {type(text).__name__}")
    key = text.strip().lower()
    shown = text.strip()
    if not key:
        raise _invalid(shown, "empty format name")
    key = _ALIASES.get(key, key)
    if key in PRESETS:
        return PRESETS[key]

    try:
        if m := _INT_RE.fullmatch(key):
            return IntFormat(_parse_count(m.group(2), shown, "integer width"), signed=not m.group(1))
        if m := _FIXED_RE.fullmatch(key):
            bits = _FIXED_BITS_RE.fullmatch(m.group(2))
            if not bits:
                raise _invalid(shown, "fixed point is written q<I>.<F> or uq<I>.<F> with decimal bit counts")
            return FixedFormat(int(bits.group(1)), int(bits.group(2)), signed=not m.group(1))
        if m := _MINIFLOAT_RE.fullmatch(key):
            E, M = int(m.group(1)), int(m.group(2))
            bias, flavour = None, None
            for token in m.group(3).split("_")[1:]:
                if (b := _BIAS_RE.fullmatch(token)) and bias is None:
                    bias = int(b.group(1))
                elif token in ("ieee", "fn", "finite", "fnu") and flavour is None:
                    flavour = "e8m0" if token == "fnu" else token
                else:
                    raise _invalid(shown, f"unexpected minifloat suffix '_{token}'")
            if E < 1:
                raise _invalid(shown, "exponent width must be at least 1")
            if bias is None:
                bias = 2 ** (E - 1) - 1
            flavour = flavour or "ieee"
            fmt = MiniFloatFormat(E, M, bias, flavour, signed=flavour != "e8m0")
            return PRESETS.get(fmt.name, fmt)  # hand out the preset object itself when equal
    except FormatError as exc:
        # Re-word constructor errors so that they name the text the user wrote.
        reason = str(exc).split(": ", 1)[1].rsplit(" (allowed:", 1)[0]
        raise _invalid(shown, reason) from None
    raise _invalid(shown, "unknown format name")


def _parse_count(digits: str, shown: str, what: str) -> int:
    if not digits:
        raise _invalid(shown, f"missing {what}")
    if not digits.isdigit() or not digits.isascii():
        raise _invalid(shown, f"{what} must be a decimal number")
    value = int(digits)
    if value < 1:
        raise _invalid(shown, f"{what} must be at least 1")
    return value
