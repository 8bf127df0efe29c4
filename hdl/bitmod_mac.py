"""BitMoD-style mixture-of-datatype MAC: term-serial weights, per-group dequantization.

Weights are 3- or 4-bit codes whose meaning is chosen per beat by a 3-bit ``dtype`` (INT, the FP
base grid, or one of four variants that reuse the FP negative-zero code for an extra value,
after "BitMoD: Bit-serial Mixture-of-Datatype LLM Acceleration"). Every value of every grid is a
sum of at most two signed powers of two, so :class:`BitmodDecoder` turns a code into two terms of
the one representation of :mod:`hdl.term_recoding`, and a single term-serial shift-add datapath
serves all data types: a beat takes two cycles when some lane's weight needs two terms, else one.

:class:`BitmodMACCore` is the datapath (clock enable, no handshake); :class:`BitmodMAC` wraps it
with ``lib.stream`` input and output streams.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .formats import FixedFormat, IntFormat
from .streaming import connect_enabled_core
from .term_recoding import signed_power_terms, term_layout, term_sum

__all__ = ["BitmodDecoder", "BitmodMACCore", "BitmodMAC", "DTYPES", "grid_value", "MAX_EXP",
           "grid_range"]

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


def _act_shape(fmt: IntFormat):
    return signed(fmt.width) if fmt.signed else unsigned(fmt.width)


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


class BitmodMACCore(wiring.Component):
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
    group_width : int
        Width of the group sum register (wraps beyond).
    acc_width : int
        Width of the accumulator and ``result`` (two's complement; wraps beyond).

    Latency: ``result_valid`` follows the ``done`` cycle of a ``last`` beat by one enabled cycle.
    """

    def __init__(self, *, act_format: IntFormat, weight_bits: int, lanes: int,
                 scale_format: FixedFormat, group_width: int, acc_width: int):
        self.act_format = act_format
        self.weight_bits = weight_bits
        self.lanes = lanes
        self.scale_format = scale_format
        self.group_width = group_width
        self.acc_width = acc_width
        super().__init__({
            "en": In(1),
            "valid": In(1),
            "a": In(data.ArrayLayout(_act_shape(act_format), lanes)),
            "w": In(data.ArrayLayout(unsigned(weight_bits), lanes)),
            "dtype": In(3),
            "scale": In(unsigned(scale_format.width)),
            "group_last": In(1),
            "last": In(1),
            "done": Out(1),
            "result": Out(signed(acc_width)),
            "error": Out(1),
            "result_valid": Out(1),
        })

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


class BitmodMAC(wiring.Component):
    """Stream wrapper of :class:`BitmodMACCore`.

    Input stream ``i``: payload ``a[0..K-1]``, ``w[0..K-1]``, ``dtype``, ``scale``,
    ``group_last``, ``last``. Output stream ``o``: payload ``acc`` (signed fixed point with the
    scale's fraction bits) and ``error``, one beat per input beat with ``last`` = 1.

    An input beat is accepted in the core's final cycle for it; the core advances only while the
    output register is empty or being read, so no beat is lost or repeated under back-pressure.

    Latency: 1 cycle from accepting a ``last`` beat to ``o.valid``. Initiation interval:
    data-dependent (1 or 2 cycles per beat).
    """

    def __init__(self, **params):
        self._core_params = params
        lanes = params["lanes"]
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "a": data.ArrayLayout(_act_shape(params["act_format"]), lanes),
                "w": data.ArrayLayout(unsigned(params["weight_bits"]), lanes),
                "dtype": 3,
                "scale": unsigned(params["scale_format"].width),
                "group_last": 1,
                "last": 1,
            }))),
            "o": Out(stream.Signature(data.StructLayout({
                "acc": signed(params["acc_width"]),
                "error": 1,
            }))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = BitmodMACCore(**self._core_params)
        connect_enabled_core(m, core, self.i, self.o, result_field="acc")
        return m
