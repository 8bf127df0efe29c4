"""OCP MX v1.0 block dot product PE: 32-element blocks with E8M0 scales into a binary32
accumulator.

:class:`MxDotCore` is the datapath (clock enable, no handshake); :class:`MxDot` is the
``lib.stream`` wrapper.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed
from amaranth.lib import data, stream, wiring
from amaranth.lib.wiring import In, Out

from .fp_mac import FloatProduct, lane_sum, operand_spec, product_frame
from .fp_round import FP32_NEG_ZERO, fp32_accumulate
from .mx import BLOCK_SIZE, SCALE_NAN, MXElement
from .streaming import connect_enabled_core

__all__ = ["MxDotCore", "MxDot", "MX_LANES"]

#: Lanes that divide a 32-element block.
MX_LANES = (1, 2, 4, 8, 16, 32)


class MxDotCore(wiring.Component):
    """MX block dot-product accumulator datapath, clock-enabled, without handshake.

    A block is ``32 / lanes`` beats, counted by the core from reset. On a block's first beat the
    scales ``xa``, ``xb`` are taken (later beats' scales are ignored). The block's element
    products are summed exactly; after its final beat the exact block value
    ``2**(xa - 127) * 2**(xb - 127) * sum_i a_i * b_i`` is added to the binary32 accumulator with
    one roundTiesToEven rounding. ``last`` on a block's final beat loads the new accumulator into
    ``result`` and restarts the accumulator (from -0); ``last`` on other beats is ignored.

    Special values: a 0xFF scale, a NaN element (E4M3/E5M2), Inf x 0 or Infs of both signs give
    NaN 0x7FC00000; otherwise an infinite product gives that Inf; an exact zero is +0 unless every
    term was -0.

    Parameters
    ----------
    a_elem, b_elem : MXElement
    lanes : int
        Elements per beat, one of 1, 2, 4, 8, 16, 32.

    Latency: ``result_valid`` one enabled cycle after the final beat of a block with ``last``.
    """

    def __init__(self, *, a_elem: MXElement, b_elem: MXElement, lanes: int):
        if lanes not in MX_LANES:
            raise ValueError(f"lanes must be one of {MX_LANES}")
        self.a_spec, self.b_spec = operand_spec(a_elem.format), operand_spec(b_elem.format)
        self.lanes = lanes
        super().__init__({
            "en": In(1), "valid": In(1), "last": In(1),
            "a": In(data.ArrayLayout(a_elem.format.width, lanes)),
            "b": In(data.ArrayLayout(b_elem.format.width, lanes)),
            "xa": In(8), "xb": In(8),
            "result": Out(32), "result_valid": Out(1),
        })

    def elaborate(self, platform):
        m = Module()
        products = []
        for k in range(self.lanes):
            p = FloatProduct(a_spec=self.a_spec, b_spec=self.b_spec)
            m.submodules[f"product{k}"] = p
            m.d.comb += [p.a.eq(self.a[k]), p.b.eq(self.b[k])]
            products.append(p)
        dot, nan, pos_inf, neg_inf, neg_zero = lane_sum(m, products)
        lsb_exp, _ = product_frame(self.a_spec, self.b_spec)

        beats = BLOCK_SIZE // self.lanes
        if beats > 1:
            beat = Signal(range(beats))
            first, final = Signal(), Signal()
            m.d.comb += [first.eq(~beat.any()), final.eq(beat == beats - 1)]
        else:
            first = final = 1

        # Block state: exact partial sum, flags and the scales taken on the first beat.
        block_width = len(dot) + (beats - 1).bit_length() + 1
        part = Signal(signed(block_width))
        p_nan, p_pinf, p_ninf, p_neg_zero = Signal(), Signal(), Signal(), Signal()
        xa_held, xb_held = Signal(8), Signal(8)

        total = Signal(signed(block_width))
        t_nan, t_pinf, t_ninf, t_neg_zero = Signal(), Signal(), Signal(), Signal()
        xa, xb = Signal(8), Signal(8)
        m.d.comb += [
            total.eq(Mux(first, 0, part) + dot),
            t_pinf.eq((~first & p_pinf) | pos_inf),
            t_ninf.eq((~first & p_ninf) | neg_inf),
            t_nan.eq((~first & p_nan) | nan | (t_pinf & t_ninf)),
            t_neg_zero.eq((first | p_neg_zero) & neg_zero),
            xa.eq(Mux(first, self.xa, xa_held)),
            xb.eq(Mux(first, self.xb, xb_held)),
        ]
        scale_nan = (xa == SCALE_NAN) | (xb == SCALE_NAN)
        # Block value = total * 2**(xa + xb) in units of 2**(lsb_exp - 254).
        scaled = Signal(signed(block_width + 2 * 254 + 1))
        m.d.comb += scaled.eq(total << Mux(scale_nan, 0, xa + xb))

        acc = Signal(32, init=FP32_NEG_ZERO)
        new = fp32_accumulate(m, acc, scaled, addend_lsb_exp=lsb_exp - 254,
                              nan=t_nan | scale_nan, pos_inf=t_pinf, neg_inf=t_ninf,
                              neg_zero=t_neg_zero)

        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid & self.last & final)
            with m.If(self.valid):
                if beats > 1:
                    m.d.sync += beat.eq(Mux(final, 0, beat + 1))
                m.d.sync += [part.eq(total), p_nan.eq(t_nan), p_pinf.eq(t_pinf),
                             p_ninf.eq(t_ninf), p_neg_zero.eq(t_neg_zero)]
                with m.If(first):
                    m.d.sync += [xa_held.eq(self.xa), xb_held.eq(self.xb)]
                with m.If(final):
                    with m.If(self.last):
                        m.d.sync += [self.result.eq(new), acc.eq(FP32_NEG_ZERO)]
                    with m.Else():
                        m.d.sync += acc.eq(new)
        return m


class MxDot(wiring.Component):
    """Stream wrapper of :class:`MxDotCore`.

    Input stream ``i``: payload ``a[0..K-1]``, ``b[0..K-1]`` (element codes), ``xa``, ``xb``
    (E8M0 scale codes), ``last``. Output stream ``o``: payload ``y`` (binary32 code), one beat per
    block-final input beat with ``last``.

    Latency: 1 cycle from accepting that beat to ``o.valid``. Initiation interval: 1.
    """

    def __init__(self, *, a_elem: MXElement, b_elem: MXElement, lanes: int):
        self._core_params = dict(a_elem=a_elem, b_elem=b_elem, lanes=lanes)
        super().__init__({
            "i": In(stream.Signature(data.StructLayout({
                "a": data.ArrayLayout(a_elem.format.width, lanes),
                "b": data.ArrayLayout(b_elem.format.width, lanes),
                "xa": 8, "xb": 8,
                "last": 1,
            }))),
            "o": Out(stream.Signature(data.StructLayout({"y": 32}))),
        })

    def elaborate(self, platform):
        m = Module()
        m.submodules.core = core = MxDotCore(**self._core_params)
        connect_enabled_core(m, core, self.i, self.o, result_field="y")
        return m
