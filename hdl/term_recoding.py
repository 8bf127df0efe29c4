"""Signed power-of-two terms: the one weight representation of the term-serial datapaths.

A *term* is ``0`` or ``±2**exp``. Term-serial PEs (``bitserial_mac`` in ``terms`` mode and
``bitmod_mac``) feed, per lane and per cycle, one term of the lane's weight into
:func:`term_sum`, which adds ``sum_k ±(a[k] << exp[k])`` for all lanes. Where the terms come from
is the only difference between those PEs:

* :class:`NafRecoder`: an integer weight in canonical signed digit form (the non-adjacent form,
  NAF): the fewest non-zero digits of any signed binary representation, at most ``ceil((w+1)/2)``
  for ``w`` bits, and never two adjacent ones. CSD was chosen over radix-4 Booth because it
  minimizes the number of non-zero terms per weight, which is exactly the cycle count of a
  zero-skipping term-serial PE.
* :class:`LowestTermPicker`: the next term of a lane (lowest non-zero digit first) and the
  digits that remain, so one term leaves per cycle.
* :class:`hdl.bitmod_mac.BitmodDecoder`: a BitMoD weight code, as two terms (every BitMoD grid
  value is a sum of at most two powers of two).

Reference: Reitwiesner, "Binary arithmetic" (1960) for the NAF; the bit-weight-dimension paper
(``numerics.md`` section 7) for term-serial PEs with zero skipping.
"""

from __future__ import annotations

from amaranth.hdl import Const, Module, Mux, Signal, signed, unsigned
from amaranth.lib import data, wiring
from amaranth.lib.wiring import In, Out

__all__ = ["term_layout", "NafRecoder", "LowestTermPicker", "term_sum", "adder_tree",
           "signed_power_terms"]


def term_layout(exp_bits: int) -> data.StructLayout:
    """One signed power-of-two term: value ``nz * (-1)**neg * 2**exp``."""
    return data.StructLayout({"nz": 1, "neg": 1, "exp": unsigned(max(1, exp_bits))})


class NafRecoder(wiring.Component):
    """Combinational canonical-signed-digit (NAF) recoder.

    ``value = sum_i 2**i * (pos[i] - neg[i])``, with ``pos & neg == 0`` and no two adjacent
    non-zero digits (the representation with the fewest non-zero digits).

    Parameters
    ----------
    width : int
        Width of the two's complement input ``value``.
    digits : int
        Digit positions produced (``pos`` and ``neg`` width). ``width`` digits suffice for every
        signed ``width``-bit value; ``width + 1`` for unsigned values zero-extended by one bit.

    Latency: combinational.
    """

    def __init__(self, width: int, digits: int | None = None):
        self.width = width
        self.digits = width + 1 if digits is None else digits
        super().__init__({
            "value": In(signed(width)),
            "pos": Out(self.digits),
            "neg": Out(self.digits),
        })

    def elaborate(self, platform):
        m = Module()
        w = self.width + 3
        x = Signal(signed(w))
        triple = Signal(signed(w))
        m.d.comb += [x.eq(self.value), triple.eq(x + (x << 1))]
        # Digit i of the NAF is bit i+1 of 3x minus bit i+1 of x (h = 3x: positive digits where
        # h has a 1 and x a 0, negative digits the reverse), which is exact for negative x too
        # because both operands are sign-extended.
        m.d.comb += [
            self.pos.eq((triple & ~x)[1:1 + self.digits]),
            self.neg.eq((~triple & x)[1:1 + self.digits]),
        ]
        return m


class LowestTermPicker(wiring.Component):
    """Take the lowest non-zero digit of a lane's remaining digits as this cycle's term.

    Parameters
    ----------
    digits : int
        Number of digit positions.

    Members
    -------
    active : In(digits)
        Positions of the non-zero digits still to process.
    negative : In(digits)
        Positions of the negative digits (may cover already processed ones).
    term : Out(term_layout)
        ``±2**i`` for the lowest ``i`` in ``active``; ``nz`` = 0 when ``active`` is empty.
    rest : Out(digits)
        ``active`` without that digit.

    Latency: combinational.
    """

    def __init__(self, digits: int):
        self.digits = digits
        self.exp_bits = max(1, (digits - 1).bit_length())
        super().__init__({
            "active": In(digits),
            "negative": In(digits),
            "term": Out(term_layout(self.exp_bits)),
            "rest": Out(digits),
        })

    def elaborate(self, platform):
        m = Module()
        n = self.digits
        pick = Signal(n)
        # Two's complement isolates the lowest set bit: x & -x.
        m.d.comb += pick.eq(self.active & (~self.active + 1)[:n])
        m.d.comb += [
            self.rest.eq(self.active & ~pick),
            self.term.nz.eq(self.active.any()),
            self.term.neg.eq((pick & self.negative).any()),
        ]
        # pick is one-hot, so each exponent bit is the OR of the positions that have it set.
        for b in range(self.exp_bits):
            ones = [pick[i] for i in range(n) if (i >> b) & 1]
            if ones:
                bit = ones[0]
                for o in ones[1:]:
                    bit = bit | o
                m.d.comb += self.term.exp[b].eq(bit)
        return m


def adder_tree(values: list):
    """Balanced binary sum of Amaranth values (Amaranth widens each sum by one bit)."""
    values = list(values)
    if not values:
        return Const(0)
    while len(values) > 1:
        values = [values[i] + values[i + 1] if i + 1 < len(values) else values[i]
                  for i in range(0, len(values), 2)]
    return values[0]


def term_sum(m: Module, a, terms, *, act_width: int, max_exp: int, name: str = "term"):
    """``sum_k a[k] * term[k]`` for per-lane terms ``±2**exp`` (or 0), as one adder tree.

    Each lane shifts its activation by the term's exponent; a negative term adds the one's
    complement of the shifted value, and the count of negative terms is added once at the root,
    which turns every one's complement into the two's complement negation without a per-lane
    incrementer.

    Parameters
    ----------
    m : Module
        Module receiving the combinational logic.
    a : sequence of Value
        Activations (signed or unsigned), one per lane.
    terms : sequence of term_layout views
    act_width : int
        Width of the activations.
    max_exp : int
        Largest exponent any term can have (sizes the shifted values).

    Returns
    -------
    Value
        Signed sum.
    """
    width = act_width + max_exp + 1
    leaves = []
    negatives = []
    for k, (ak, tk) in enumerate(zip(a, terms)):
        shifted = Signal(signed(width), name=f"{name}_shifted_{k}")
        leaf = Signal(signed(width), name=f"{name}_leaf_{k}")
        m.d.comb += [
            shifted.eq(Mux(tk.nz, ak << tk.exp, 0)),
            leaf.eq(Mux(tk.nz & tk.neg, ~shifted, shifted)),
        ]
        leaves.append(leaf)
        negatives.append(tk.nz & tk.neg)
    count = Signal(range(len(negatives) + 1), name=f"{name}_negatives")
    m.d.comb += count.eq(adder_tree(negatives))
    return adder_tree(leaves + [count])


def signed_power_terms(value: int) -> list[tuple[int, int]]:
    """``(sign, exp)`` pairs of the canonical signed digits of a constant, lowest first
    (elaboration-time helper for term tables)."""
    x = int(value)
    terms = []
    exp = 0
    while x:
        if x & 1:
            digit = 2 - (x % 4)   # +1 or -1, chosen so that the next digit is zero
            terms.append((digit, exp))
            x -= digit
        x //= 2
        exp += 1
    return terms
