"""OCP MX v1.0 block dot product PE: 32-element blocks with E8M0 scales into a binary32
accumulator.

:class:`MxDotCore` is the datapath (clock enable, no handshake); :class:`MxDot` is the
``lib.stream`` wrapper (:class:`hdl.streaming.StreamPE`); :func:`mx_dot_ports` declares their
interface once.
"""

from __future__ import annotations

from amaranth.hdl import Module, Mux, Signal, signed

from .checks import require_choice
from .fp_mac import FloatProduct, lane_sum, operand_spec, product_frame
from .fp_round import FP32_NEG_ZERO, fp32_accumulate
from .mx import BLOCK_SIZE, E8M0, SCALE_NAN, MXElement
from .ports import Field, Ports, Stream, flag
from .streaming import EnabledCore, StreamPE

__all__ = ["MxDotCore", "MxDot", "mx_dot_ports", "MX_LANES"]

#: Lanes that divide a 32-element block.
MX_LANES = (1, 2, 4, 8, 16, 32)


def mx_dot_ports(a_elem: MXElement, b_elem: MXElement, lanes: int) -> Ports:
    """The interface of :class:`MxDot` (and of its core)."""

    def element(op: str, elem: MXElement) -> Field:
        return Field(op, elem.format, f"{op} element of lane {{k}} ({elem.name} code): element "
                                      f"j * {lanes} + {{k}} of its 32-element block on the "
                                      f"block's beat j", lanes=lanes)

    def scale(op: str) -> Field:
        return Field(f"x{op}", E8M0, f"E8M0 scale of the {op} block, 2^(x{op} - 127) (0xFF: "
                                     f"NaN), taken on the block's first beat and ignored on its "
                                     f"other beats")

    return Ports([
        Stream("i", "in", [
            element("a", a_elem), element("b", b_elem), scale("a"), scale("b"),
            flag("last", "on a block's final beat: the output beat (the accumulator with this "
                         "block added) follows and the accumulator restarts; ignored on other "
                         "beats")]),
        Stream("o", "out", [
            Field("y", "fp32", "binary32 code of the accumulator: the sum of the blocks since "
                               "the previous output, each block's exact scaled dot product added "
                               "with one round-to-nearest-even rounding", role="result")]),
    ])


class MxDotCore(EnabledCore):
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

    Interface: :func:`mx_dot_ports` (``ports``), with ``result`` the field ``y``.

    Latency: ``result_valid`` one enabled cycle after the final beat of a block with ``last``;
    one beat per cycle.
    """

    def __init__(self, *, a_elem: MXElement, b_elem: MXElement, lanes: int):
        require_choice("lanes", lanes, MX_LANES)
        self.a_spec, self.b_spec = operand_spec(a_elem.format), operand_spec(b_elem.format)
        self.lanes = lanes
        super().__init__(mx_dot_ports(a_elem, b_elem, lanes), latency=1)

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


class MxDot(StreamPE):
    """Stream wrapper of :class:`MxDotCore` (interface: :func:`mx_dot_ports`).

    Input stream ``i``: payload ``a[0..K-1]``, ``b[0..K-1]`` (element codes), ``xa``, ``xb``
    (E8M0 scale codes), ``last``. Output stream ``o``: payload ``y`` (binary32 code), one beat per
    block-final input beat with ``last``. It takes one beat per cycle while ``o.ready`` is high
    and never drops or repeats a beat.

    Parameters are those of :class:`MxDotCore`.

    Latency: 1 cycle from accepting that beat to ``o.valid``. Initiation interval: 1.
    """

    def __init__(self, **params):
        super().__init__(MxDotCore(**params))
