"""BitMoD-style mixture-of-datatype MAC: term-serial weights, per-group dequantization.

Weights are 3- or 4-bit codes whose meaning is chosen per beat by a 3-bit ``dtype`` (INT, the FP
base grid, or one of four variants that reuse the FP negative-zero code for an extra value,
after "BitMoD: Bit-serial Mixture-of-Datatype LLM Acceleration"). Every value of every grid is a
sum of at most two signed powers of two, so :class:`BitmodDecoder` turns a code into two terms of
the one representation of :mod:`hdl.term_recoding`, and a single term-serial shift-add datapath
serves all data types: a beat takes two cycles when some lane's weight needs two terms, else one.

:class:`BitmodMACCore` is the datapath (clock enable, no handshake); :class:`BitmodMAC` wraps it
with ``lib.stream`` input and output streams (:class:`hdl.streaming.StreamPE`);
:func:`bitmod_mac_ports` declares their interface once. The PE's number rules (weight grid,
value ranges, group sum width) are here too.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed
from amaranth.lib import wiring
from amaranth.lib.wiring import In, Out

from .formats import FixedFormat, IntFormat
from .numbers import ACC_BEATS, acc_format, sum_width
from .ports import LAST_ENDS_GROUP, Field, Ports, Stream, flag, group_sum
from .streaming import EnabledCore, StreamPE
from .term_recoding import signed_power_terms, term_layout, term_sum

__all__ = ["BitmodDecoder", "BitmodMACCore", "BitmodMAC", "bitmod_mac_ports", "DTYPES",
           "grid_value", "MAX_EXP", "grid_range", "dtype_values", "beat_range",
           "scaled_beat_range", "group_sum_width"]

#: dtype code -> name; codes 6 and 7 are invalid.
DTYPES = {0: "INT", 1: "FP", 2: "ER_POS", 3: "ER_NEG", 4: "EA_POS", 5: "EA_NEG"}
#: Largest term exponent of any grid value (16 = 2**4 in the 4-bit EA variants).
MAX_EXP = 4
_EXP_BITS = 3

# Magnitudes of the FP base grid by magnitude code; the variants' value of the negative-zero
# code (sign bit set, magnitude 0), in dtype order ER_POS, ER_NEG, EA_POS, EA_NEG.
_FP_MAGNITUDES = {3: (0, 1, 2, 4), 4: (0, 1, 2, 3, 4, 6, 8, 12)}
_SPECIAL = {3: (3, -3, 6, -6), 4: (10, -10, 16, -16)}


def grid_value(code: int, dtype: int, weight_bits: int) -> int | None:
    """Integer value of a weight code under ``dtype``; None for the invalid dtypes 6 and 7."""
    if dtype not in DTYPES:
        return None
    if dtype == 0:
        return code - (1 << weight_bits) if code >> (weight_bits - 1) else code
    magnitude_code = code & ((1 << (weight_bits - 1)) - 1)
    negative = code >> (weight_bits - 1)
    if negative and magnitude_code == 0:
        return 0 if dtype == 1 else _SPECIAL[weight_bits][dtype - 2]
    magnitude = _FP_MAGNITUDES[weight_bits][magnitude_code]
    return -magnitude if negative else magnitude


def grid_range(weight_bits: int) -> tuple[int, int]:
    """Smallest and largest weight value of any valid dtype."""
    values = [grid_value(c, d, weight_bits) for c in range(1 << weight_bits) for d in DTYPES]
    return min(values), max(values)


def dtype_values(weight_bits: int) -> dict[int, str]:
    """``dtype`` code -> what the weight codes mean under it (from :func:`grid_value`, the
    hardware's own table)."""
    n = 1 << weight_bits
    negative_zero = n >> 1   # sign bit set, magnitude 0
    int_values = [grid_value(code, 0, weight_bits) for code in range(n)]
    magnitudes = ", ".join(str(grid_value(code, 1, weight_bits)) for code in range(negative_zero))
    values = {
        0: f"{DTYPES[0]}: two's complement, {min(int_values)} to {max(int_values)}",
        1: f"{DTYPES[1]}: sign-magnitude (top bit the sign), magnitudes {magnitudes} by "
           f"magnitude code; the negative-zero code is 0",
    }
    for dtype in range(2, len(DTYPES)):
        special = grid_value(negative_zero, dtype, weight_bits)
        values[dtype] = f"{DTYPES[dtype]}: {DTYPES[1]}, but the negative-zero code is {special:+d}"
    for dtype in range(len(DTYPES), 8):
        values[dtype] = "invalid: the weights count as 0 and the output beat's error is set"
    return values


def beat_range(act_format: IntFormat, weight_bits: int, lanes: int) -> tuple[int, int]:
    """Smallest and largest ``sum_k a[k] * w[k]`` of one beat (any valid dtype)."""
    wlo, whi = grid_range(weight_bits)
    corners = [x * y for x in (act_format.min, act_format.max) for y in (wlo, whi)]
    return lanes * min(corners), lanes * max(corners)


def scaled_beat_range(act_format: IntFormat, weight_bits: int, lanes: int,
                      scale_format: FixedFormat) -> tuple[int, int]:
    """What one beat adds to the accumulator, raw (the scale's fraction bits): its products
    times the largest scale code (a one-beat group)."""
    scale_max = (1 << scale_format.width) - 1
    lo, hi = beat_range(act_format, weight_bits, lanes)
    return lo * scale_max, hi * scale_max


def group_sum_width(act_format: IntFormat, weight_bits: int, lanes: int) -> int:
    """Width of the group sum register: no overflow within :data:`hdl.numbers.ACC_BEATS`
    beats."""
    return sum_width(beat_range(act_format, weight_bits, lanes), ACC_BEATS)


def bitmod_mac_ports(act_format: IntFormat, weight_bits: int, lanes: int,
                     scale_format: FixedFormat, acc_width: int) -> Ports:
    """The interface of :class:`BitmodMAC` (and of its core, which adds ``done``)."""
    frac = scale_format.frac_bits
    return Ports([
        Stream("i", "in", [
            Field("a", act_format, "activation of lane {k}: the beat adds a[{k}] * w[{k}] (with "
                                   "the other lanes' products) to the group sum", lanes=lanes),
            Field("w", IntFormat(weight_bits, signed=False),
                  "weight code of lane {k}, decoded under this beat's dtype", lanes=lanes),
            Field("dtype", IntFormat(3, signed=False), "data type of this beat's weight codes",
                  role="control", values=dtype_values(weight_bits)),
            Field("scale", scale_format, "scale of the group (unsigned fixed point), read on the "
                                         "group's final beat: acc += scale * (the group's sum)"),
            flag("group_last", "ends the scale group: acc += scale * (the group's sum of "
                               "a[k] * w[k]), and that sum restarts"),
            LAST_ENDS_GROUP]),
        Stream("o", "out", [
            Field("acc", acc_format(acc_width, frac_bits=frac, fixed=True),
                  group_sum("scale * a[k] * w[k]", acc_width,
                            f", exact; raw fixed point with the scale's {frac} fraction bits"),
                  role="result"),
            flag("error", "flags an invalid dtype (6 or 7) in the accumulation group",
                 role="status",
                 values={0: "every beat's dtype was valid",
                         1: "some beat had dtype 6 or 7: its weights counted as 0"})]),
    ])


class BitmodDecoder(wiring.Component):
    """Weight code and dtype to two signed power-of-two terms (combinational ROM).

    ``first`` is the lower term (non-zero whenever the value is), ``second`` the other one
    (``nz`` = 0 when the value is a single power of two or zero). Invalid dtypes (6, 7) give two
    zero terms and ``error`` = 1.

    Parameters
    ----------
    weight_bits : int
        3 or 4.

    Latency: combinational.
    """

    def __init__(self, weight_bits: int):
        if weight_bits not in (3, 4):
            raise ValueError(f"weight_bits must be 3 or 4, not {weight_bits}")
        self.weight_bits = weight_bits
        super().__init__({
            "code": In(weight_bits),
            "dtype": In(3),
            "first": Out(term_layout(_EXP_BITS)),
            "second": Out(term_layout(_EXP_BITS)),
            "error": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        with m.Switch(Cat(self.code, self.dtype)):
            # Every output is assigned in every case and the invalid dtypes are the default, so
            # the emitted case statements are complete (Verilator lints incomplete ones).
            for dtype in DTYPES:
                for code in range(1 << self.weight_bits):
                    terms = signed_power_terms(grid_value(code, dtype, self.weight_bits))
                    assert len(terms) <= 2, (code, dtype, terms)
                    terms += [(0, 0)] * (2 - len(terms))
                    with m.Case(code | (dtype << self.weight_bits)):
                        m.d.comb += self.error.eq(0)
                        for port, (sign, exp) in zip((self.first, self.second), terms):
                            m.d.comb += [port.nz.eq(sign != 0), port.neg.eq(sign < 0),
                                         port.exp.eq(exp)]
            with m.Default():   # dtypes 6 and 7
                m.d.comb += [self.error.eq(1), self.first.eq(0), self.second.eq(0)]
        return m


class BitmodMACCore(EnabledCore):
    """BitMoD dot-product datapath with per-group scaling, clock-enabled, without handshake.

    The beat at the inputs (``valid`` = 1): activations ``a[0..K-1]``, weight codes
    ``w[0..K-1]``, ``dtype``, ``scale`` (unsigned fixed point), ``group_last``, ``last``. The
    group sum ``G`` adds ``sum_k a[k] * decode(w[k], dtype)`` over one or two enabled cycles
    (two when some lane's weight is a sum of two powers of two); ``done`` marks the final one,
    and the inputs must stay unchanged until then. In the final cycle of a beat with
    ``group_last`` (or ``last``, which implies it) the accumulator adds ``scale * G`` exactly
    and ``G`` restarts; with ``last`` the accumulator goes to ``result`` (fixed point with the
    scale's fraction bits), ``error`` says whether any beat since the previous result had an
    invalid dtype (whose weights counted as 0), and ``result_valid`` is set for one enabled cycle.

    Parameters
    ----------
    act_format : IntFormat
    weight_bits : int
        3 or 4.
    lanes : int
    scale_format : FixedFormat
        Unsigned fixed point.
    acc_width : int
        Width of the accumulator and ``result`` (two's complement; wraps beyond).
    group_width : int, optional
        Width of the group sum register (wraps beyond); by default
        :func:`group_sum_width`, which cannot overflow within 2^16 beats.

    Interface: :func:`bitmod_mac_ports` (``ports``), with ``result`` the field ``acc``, plus the
    output ``done``.

    Latency: ``result_valid`` follows the ``done`` cycle of a ``last`` beat by one enabled cycle.
    Initiation interval: data-dependent (1 or 2 enabled cycles per beat).
    """

    def __init__(self, *, act_format: IntFormat, weight_bits: int, lanes: int,
                 scale_format: FixedFormat, acc_width: int, group_width: int | None = None):
        self.act_format = act_format
        self.weight_bits = weight_bits
        self.lanes = lanes
        self.scale_format = scale_format
        self.group_width = (group_sum_width(act_format, weight_bits, lanes)
                            if group_width is None else group_width)
        self.acc_width = acc_width
        # Latency: fixed from the acceptance of a 'last' beat (its final cycle) to the output
        # beat. A beat takes 1 or 2 cycles, depending on its weights.
        super().__init__(bitmod_mac_ports(act_format, weight_bits, lanes, scale_format, acc_width),
                         latency=1, initiation_interval=None, multi_cycle=True)

    def elaborate(self, platform):
        m = Module()
        busy = Signal()   # the first term of the beat has been added, the second is due
        first = Signal()
        m.d.comb += first.eq(~busy)

        terms, seconds, errors = [], [], []
        for k in range(self.lanes):
            decoder = m.submodules[f"decoder_{k}"] = BitmodDecoder(self.weight_bits)
            m.d.comb += [decoder.code.eq(self.w[k]), decoder.dtype.eq(self.dtype)]
            term = Signal(term_layout(_EXP_BITS), name=f"term_{k}")
            m.d.comb += term.eq(Mux(first, decoder.first, decoder.second))
            terms.append(term)
            seconds.append(decoder.second.nz)
            errors.append(decoder.error)
        final = Signal()
        m.d.comb += [final.eq(~first | ~Cat(*seconds).any()), self.done.eq(self.valid & final)]
        partial = Signal(signed(self.act_format.width + MAX_EXP + self.lanes.bit_length() + 2))
        m.d.comb += partial.eq(term_sum(m, [self.a[k] for k in range(self.lanes)], terms,
                                        act_width=self.act_format.width, max_exp=MAX_EXP))

        group = Signal(signed(self.group_width))
        group_next = Signal(signed(self.group_width))
        acc = Signal(signed(self.acc_width))
        acc_next = Signal(signed(self.acc_width))
        errors_seen = Signal()
        beat_error = errors[0]   # all lanes share the dtype
        m.d.comb += [
            group_next.eq(group + partial),
            # Exact product: group sum times the raw scale, already on the output's grid.
            acc_next.eq(acc + group_next * self.scale),
        ]
        close_group = self.group_last | self.last
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid & final & self.last)
            with m.If(self.valid):
                m.d.sync += busy.eq(~final)
                with m.If(final & close_group):
                    m.d.sync += group.eq(0)
                    with m.If(self.last):
                        m.d.sync += [self.result.eq(acc_next), acc.eq(0),
                                     self.error.eq(errors_seen | beat_error), errors_seen.eq(0)]
                    with m.Else():
                        m.d.sync += [acc.eq(acc_next), errors_seen.eq(errors_seen | beat_error)]
                with m.Else():
                    m.d.sync += group.eq(group_next)
                    with m.If(final):
                        m.d.sync += errors_seen.eq(errors_seen | beat_error)
        return m


class BitmodMAC(StreamPE):
    """Stream wrapper of :class:`BitmodMACCore` (interface: :func:`bitmod_mac_ports`).

    Input stream ``i``: payload ``a[0..K-1]``, ``w[0..K-1]``, ``dtype``, ``scale``,
    ``group_last``, ``last``. Output stream ``o``: payload ``acc`` (signed fixed point with the
    scale's fraction bits) and ``error``, one beat per input beat with ``last`` = 1.

    An input beat is accepted in the core's final cycle for it (``done``); the core advances
    only while the output register is empty or being read, so no beat is lost or repeated under
    back-pressure.

    Parameters are those of :class:`BitmodMACCore`.

    Latency: 1 cycle from accepting a ``last`` beat to ``o.valid``. Initiation interval:
    data-dependent (1 or 2 cycles per beat).
    """

    def __init__(self, **params):
        super().__init__(BitmodMACCore(**params))
