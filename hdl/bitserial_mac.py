"""Bit-serial and term-serial integer MAC with runtime weight precision.

Activations are bit-parallel, weights are consumed serially, so a weight of ``p`` bits costs
``ceil(p / bits_per_cycle)`` cycles (``bits`` mode) or as many cycles as its lane with the most
non-zero canonical-signed-digit terms, divided by ``bits_per_cycle`` and rounded up
(``terms`` mode) instead of a full multiplier per lane.

:class:`BitSerialMACCore` is the datapath (clock enable, no handshake): it works on the beat at
its inputs and says in ``done`` in which cycle the beat is finished, so the beat's owner holds it
until then. :class:`BitSerialMAC` wraps it with ``lib.stream`` input and output streams.
"""

from __future__ import annotations

from amaranth.hdl import Array, Cat, Module, Mux, Signal, signed

from .checks import require_choice
from .formats import IntFormat
from .numbers import acc_format, dot_product_range, min_signed_width
from .ports import LAST, Field, Ports, Stream, group_sum
from .streaming import EnabledCore, StreamPE
from .term_recoding import LowestTermPicker, NafRecoder, adder_tree, term_sum

__all__ = ["BitSerialMACCore", "BitSerialMAC", "bitserial_mac_ports", "SERIAL_MODES",
           "precision_width"]

SERIAL_MODES = ("bits", "terms")


def precision_width(weight_bits: int) -> int:
    """Width of the ``prec`` field (holds 0 .. ``weight_bits``)."""
    return weight_bits.bit_length()


def bitserial_mac_ports(act_format: IntFormat, weight_bits: int, weight_signed: bool,
                        lanes: int, acc_width: int, acc_signed: bool) -> Ports:
    """The interface of :class:`BitSerialMAC` (and of its core, which adds ``done``)."""
    coding = "two's complement" if weight_signed else "unsigned"
    return Ports([
        Stream("i", "in", [
            Field("a", act_format, "activation of lane {k}: the beat adds a[{k}] * w[{k}] (with "
                                   "the other lanes' products) to the accumulator", lanes=lanes),
            Field("w", f"uint{weight_bits}", f"weight field of lane {{k}}: the weight is its low "
                                             f"prec bits, {coding}; higher bits are ignored",
                  lanes=lanes),
            Field("prec", f"uint{precision_width(weight_bits)}",
                  f"this beat's weight precision in bits, {2 if weight_signed else 1} to "
                  f"{weight_bits} (other values give unspecified sums)", role="control"),
            LAST]),
        Stream("o", "out", [
            Field("acc", acc_format(acc_width, signed=acc_signed),
                  group_sum("a[k] * w[k]", acc_width), role="result")]),
    ])


class BitSerialMACCore(EnabledCore):
    """Serial-weight dot-product accumulator datapath, clock-enabled, without handshake.

    The beat at the inputs (``valid`` = 1) is ``a[0..K-1]`` (bit-parallel activations),
    ``w[0..K-1]`` (weights: the low ``prec`` bits of each field, two's complement when
    ``weight_signed``) and ``last``. The core adds ``sum_k a[k] * w[k]`` to its accumulator over
    one or more enabled cycles and raises ``done`` (combinationally) in the final one; the inputs
    must stay unchanged until then. A ``done`` beat with ``last`` = 1 loads the total into
    ``result`` and sets ``result_valid`` for one enabled cycle; the accumulator restarts at zero.

    ``bits`` mode processes ``bits_per_cycle`` weight bits per cycle, most significant chunk
    first (Horner's rule in a beat register, added to the accumulator in the final cycle):
    ``ceil(prec / bits_per_cycle)`` cycles. ``terms`` mode recodes each weight to its canonical
    signed digits (:class:`hdl.term_recoding.NafRecoder`) and each lane feeds one non-zero digit
    per cycle, lowest first, into a shift-add tree: the beat takes the largest per-lane count of
    non-zero digits, at least one cycle.

    With ``bits_per_cycle`` = 2, ``terms`` mode takes the two lowest remaining non-zero digits
    of each lane per cycle (two chained :class:`hdl.term_recoding.LowestTermPicker`) and adds
    both shifted activations in the same tree: ``ceil(max non-zero digits / 2)`` cycles, at
    least one.

    ``prec`` must be 1..``weight_bits`` (2..``weight_bits`` when signed); other values give
    unspecified sums but never stall the core.

    Parameters
    ----------
    act_format : IntFormat
    weight_bits : int
        Wmax, width of each ``w`` field.
    weight_signed : bool
    lanes : int
    bits_per_cycle : int
        ``bits`` mode: weight bits per cycle, 1, 2 or 4. ``terms`` mode: non-zero digits per
        lane per cycle, 1 or 2.
    serial_mode : str
        ``"bits"`` or ``"terms"``.
    acc_width : int
        Accumulator width; sums wrap modulo ``2**acc_width``.
    acc_signed : bool

    Ports: those of :func:`bitserial_mac_ports` as a clock-enabled core (see
    :meth:`hdl.ports.Ports.core_members`), plus ``done``.

    Latency: ``result_valid`` follows the ``done`` cycle of a ``last`` beat by one enabled cycle.
    Initiation interval: data-dependent (the cycles per beat above).
    """

    def __init__(self, *, act_format: IntFormat, weight_bits: int, weight_signed: bool,
                 lanes: int, bits_per_cycle: int, serial_mode: str, acc_width: int,
                 acc_signed: bool = True):
        require_choice("serial_mode", serial_mode, SERIAL_MODES)
        require_choice("bits_per_cycle", bits_per_cycle, (1, 2) if serial_mode == "terms"
                       else (1, 2, 4))
        self.act_format, self.weight_bits, self.weight_signed = act_format, weight_bits, \
            weight_signed
        self.lanes, self.bits_per_cycle, self.serial_mode = lanes, bits_per_cycle, serial_mode
        self.acc_width, self.acc_signed = acc_width, acc_signed
        # Latency: fixed from the acceptance of a 'last' beat (its final cycle) to the output
        # beat. The cycles per beat depend on its precision (bits) or non-zero digits (terms).
        ports = bitserial_mac_ports(act_format, weight_bits, weight_signed, lanes, acc_width,
                                    acc_signed)
        super().__init__(ports, latency=1, initiation_interval=None, multi_cycle=True)

    def _beat_width(self) -> int:
        wfmt = IntFormat(self.weight_bits, self.weight_signed)
        lo, hi = dot_product_range(self.act_format, wfmt, self.lanes)
        return min_signed_width(lo, hi) + 1

    def _bits_datapath(self, m, first):
        """Chunk-serial Horner datapath: returns (contribution to the accumulator, final)."""
        bpc = self.bits_per_cycle
        shift = bpc.bit_length() - 1
        chunks = -(-self.weight_bits // bpc)
        prec = self.prec
        # Chunks of this beat, and valid bits in the most significant (first) chunk.
        count = Signal(range(chunks + 2))
        top_bits_m1 = Signal(max(1, shift))   # (bits in the top chunk) - 1
        m.d.comb += [
            count.eq((prec + bpc - 1) >> shift),
            top_bits_m1.eq((prec - 1)[:shift] if shift else 0),
        ]
        index_bits = max(1, (chunks - 1).bit_length())
        index_left = Signal(index_bits)   # index of the next chunk after this cycle
        index = Signal(index_bits)
        with m.If(first):
            # (Comparisons with zero are written as reductions: Amaranth would emit a
            # multi-bit logical NOT, which Verilator's lint rejects.)
            m.d.comb += index.eq(Mux(count.any(), count - 1, 0))
        with m.Else():
            m.d.comb += index.eq(index_left)
        final = Signal()
        m.d.comb += final.eq(~index.any())
        with m.If(self.en & self.valid & ~final):
            m.d.sync += index_left.eq(index - 1)

        # The top chunk of a signed weight is a two's complement digit; bits above the
        # precision are filled with its sign bit (signed) or zeros (unsigned).
        negative_top = Signal()
        m.d.comb += negative_top.eq(first & self.weight_signed)
        planes = [[] for _ in range(bpc)]
        for k in range(self.lanes):
            padded = Signal(chunks * bpc, name=f"w_padded_{k}")
            m.d.comb += padded.eq(self.w[k])
            chunk = Signal(bpc, name=f"chunk_{k}")
            # Arrays (case statements) rather than variable shifts, which lint as truncations;
            # padded to every index value so that the case statement is complete.
            options = [padded[j * bpc:(j + 1) * bpc] for j in range(chunks)]
            options += [options[-1]] * ((1 << index_bits) - chunks)
            m.d.comb += chunk.eq(Array(options)[index])
            fill = (Array(chunk[t] for t in range(bpc))[top_bits_m1]
                    if self.weight_signed and bpc > 1 else 0)
            digit = Signal(bpc, name=f"digit_{k}")
            for t in range(bpc):
                keep = ~first | (top_bits_m1 >= t) if t else 1
                m.d.comb += digit[t].eq(Mux(keep, chunk[t], fill))
            for t in range(bpc):
                planes[t].append(Mux(digit[t], self.a[k], 0))
        partial_terms = []
        for t in range(bpc):
            plane = Signal(signed(self.act_format.width + self.lanes.bit_length() + 1),
                           name=f"plane_{t}")
            m.d.comb += plane.eq(adder_tree(planes[t]))
            if t == bpc - 1 and self.weight_signed:
                partial_terms.append(Mux(negative_top, -plane, plane) << t)
            else:
                partial_terms.append(plane << t)
        partial = Signal(signed(self.act_format.width + self.lanes.bit_length() + bpc + 2))
        m.d.comb += partial.eq(adder_tree(partial_terms))

        # Horner's rule: the beat so far, shifted one chunk up, plus this chunk's partial sum.
        horner = Signal(signed(self._beat_width()))
        beat = Signal(signed(self._beat_width()))
        m.d.comb += beat.eq(Mux(first, 0, horner << bpc) + partial)
        with m.If(self.en & self.valid):
            m.d.sync += horner.eq(beat)
        return beat, final

    def _terms_datapath(self, m, first):
        """Term-serial datapath: returns (contribution to the accumulator, final)."""
        wmax = self.weight_bits
        digits = wmax if self.weight_signed else wmax + 1
        # Thermometer and one-hot decode of the precision, shared by all lanes.
        above = Signal(wmax)      # above[i]: bit i is beyond the precision
        sign_at = Signal(wmax)    # one-hot: position of the sign bit (prec - 1)
        for i in range(wmax):
            m.d.comb += [above[i].eq(self.prec <= i), sign_at[i].eq(self.prec == i + 1)]
        terms = []
        rests = []
        for k in range(self.lanes):
            w = self.w[k]
            fill = (w & sign_at).any() if self.weight_signed else 0
            extended = Signal(signed(wmax + 1), name=f"w_ext_{k}")
            m.d.comb += extended.eq(Cat(*[Mux(above[i], fill, w[i]) for i in range(wmax)], fill))
            recoder = NafRecoder(wmax + 1, digits)
            m.submodules[f"recoder_{k}"] = recoder
            remaining = Signal(digits, name=f"remaining_{k}")
            m.d.comb += recoder.value.eq(extended)
            # bits_per_cycle pickers in a chain: each takes the lowest digit the previous left.
            active = Mux(first, recoder.pos | recoder.neg, remaining)
            for j in range(self.bits_per_cycle):
                picker = LowestTermPicker(digits)
                m.submodules[f"picker_{k}" if j == 0 else f"picker_{k}_{j}"] = picker
                m.d.comb += [picker.active.eq(active), picker.negative.eq(recoder.neg)]
                terms.append(picker.term)
                active = picker.rest
            with m.If(self.en & self.valid):
                m.d.sync += remaining.eq(picker.rest)
            rests.append(picker.rest.any())
        final = Signal()
        m.d.comb += final.eq(~Cat(*rests).any())
        leaves = len(terms)
        partial = Signal(signed(self.act_format.width + digits + leaves.bit_length() + 2))
        # Lane k's terms are terms[k * bits_per_cycle ...]: each multiplies a[k].
        acts = [self.a[k] for k in range(self.lanes) for _ in range(self.bits_per_cycle)]
        m.d.comb += partial.eq(term_sum(m, acts, terms, act_width=self.act_format.width,
                                        max_exp=digits - 1))
        return partial, final

    def elaborate(self, platform):
        m = Module()
        busy = Signal()   # a beat has been started and is not finished yet
        first = Signal()
        m.d.comb += first.eq(~busy)
        if self.serial_mode == "bits":
            contribution, final = self._bits_datapath(m, first)
            add_now = final
        else:
            contribution, final = self._terms_datapath(m, first)
            add_now = 1   # every term goes straight to the accumulator
        m.d.comb += self.done.eq(self.valid & final)

        acc = Signal.like(self.result, name="acc")
        total = Signal.like(self.result, name="total")
        # Truncation to acc_width is the documented two's complement wrap.
        m.d.comb += total.eq(acc + Mux(add_now, contribution, 0))
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid & final & self.last)
            with m.If(self.valid):
                m.d.sync += busy.eq(~final)
                with m.If(final & self.last):
                    m.d.sync += [self.result.eq(total), acc.eq(0)]
                with m.Else():
                    m.d.sync += acc.eq(total)
        return m


class BitSerialMAC(StreamPE):
    """Stream wrapper of :class:`BitSerialMACCore` (interface: :func:`bitserial_mac_ports`).

    Input stream ``i``: payload ``a[0..K-1]``, ``w[0..K-1]``, ``prec``, ``last``. Output stream
    ``o``: payload ``acc``, one beat per input beat with ``last`` = 1, carrying the sum of
    ``a[k] * w[k]`` (weights decoded at each beat's precision) since the previous output.

    An input beat is accepted (``i.ready``) in the core's final cycle for it; until then the
    stream holds it, as the stream contract requires. The core advances only while the output
    register is empty or being read, so no beat is lost or repeated under back-pressure.

    Parameters are those of :class:`BitSerialMACCore`.

    Latency: 1 cycle from accepting a ``last`` beat to ``o.valid``. Initiation interval:
    data-dependent (see :class:`BitSerialMACCore`).
    """

    def __init__(self, **params):
        super().__init__(BitSerialMACCore(**params))
