"""N:M structured-sparsity integer multiply-accumulate (FlightLLM's sparse DSP chain).

In N:M structured sparsity every group of M consecutive weights holds at most N non-zero values;
a group is stored compressed as N (value, index) pairs, each index log2(M) bits wide (its
position within the group). An input beat carries the dense activations of G groups,
``a[0..G*M-1]`` (group g, position j at index g*M + j), the compressed weights
``wv[0..G*N-1]`` with their indexes ``wi[0..G*N-1]`` (group g, pair p at index g*N + p), the
beat's pattern ``n`` and ``last``. The beat adds

    sum over groups g and counted pairs p < n of a[g*M + wi[g*N + p]] * wv[g*N + p]

to the accumulator; a beat with ``last`` emits the accumulator (that beat included) and the next
beat starts a new accumulation group from zero. Sums wrap modulo 2^acc_width.

- Only the first ``n`` pairs of each group count (1 <= n <= N), so layers pruned 1:4 and 2:4 (or
  any n:M up to N:M) run on the same PE, beat by beat.
- Indexes may come in any order, and two pairs of one group may carry the same index: each pair
  is its own product, so both add theirs (a[j] * (v1 + v2) for two pairs at position j).
- Invalid pattern: a beat whose ``n`` is 0 or above N adds nothing and sets the sticky ``error``
  flag of its accumulation group; the group's output beat carries ``error`` = 1 (and ``acc``, the
  sum of the group's valid beats). ``n`` is ``bits_for(N)`` bits wide, so such values can be sent.
- Dense data: a dense group of M weights w0..w(M-1) is sent as ceil(M/N) beats with the same
  activations, beat b carrying the pairs (w(bN + p), bN + p) for p = 0 .. min(N, M - bN) - 1
  and ``n`` = their count (unused pairs arbitrary). At N = 2, M = 4, dense positions 0..3 of a
  group: beat 1 carries (w0, 0), (w1, 1), beat 2 carries (w2, 2), (w3, 3), both n = 2. The
  accumulated sum is then the plain dot product of the G*M activations and weights.

Hardware (FlightLLM's one multiplier chain serving every pattern): per pair an M:1 multiplexer
picks the activation its index names, feeding one of the G*N multipliers; the weight of a pair
that does not count (p >= n, or any pair of a beat with an invalid n) is forced to zero before
its multiplier, and all G*N products are summed in one tree together with the accumulator
(:func:`hdl.int_mac.product_sum`: adder tree or compressor tree, binary or carry-save
accumulator, as in :mod:`hdl.int_mac`).

Latency: a ``last`` beat accepted in cycle t gives its output beat in cycle t + 1. Initiation
interval: 1 (one beat per cycle for every ``n``).
"""

from __future__ import annotations

from amaranth.hdl import Array, Module, Mux, Signal
from amaranth.utils import bits_for, exact_log2

from .checks import require_choice
from .formats import IntFormat
from .int_mac import ACCUMULATORS, REDUCTIONS, product_sum
from .numbers import acc_format
from .ports import LAST, Field, Ports, Stream, flag, group_sum, shape_of
from .streaming import EnabledCore, StreamPE

__all__ = ["SparseMACCore", "SparseMAC", "sparse_mac_ports", "pattern_width"]


def pattern_width(max_n: int) -> int:
    """Width of the ``n`` field: ``bits_for(N)``, so it holds 0 .. N and invalid values."""
    return bits_for(max_n)


def sparse_mac_ports(act_format: IntFormat, weight_format: IntFormat, group_m: int, max_n: int,
                     groups: int, acc_width: int, acc_signed: bool) -> Ports:
    """The interface of :class:`SparseMAC` (and of its core)."""
    M, N = group_m, max_n
    return Ports([
        Stream("i", "in", [
            Field("a", act_format, f"dense activation {{k}}: group {{k}} div {M}, position "
                                   f"{{k}} mod {M}, selected by that group's indexes wi",
                  lanes=groups * M),
            Field("wv", weight_format,
                  f"compressed weight value {{k}}: group g = {{k}} div {N}, pair p = {{k}} mod "
                  f"{N}; adds a[{M}*g + wi[{{k}}]] * wv[{{k}}] when p < n", lanes=groups * N),
            Field("wi", f"uint{exact_log2(M)}",
                  f"index of weight wv[{{k}}] within its group of {M} (any order; pairs with "
                  f"equal indexes each add their product)", lanes=groups * N),
            Field("n", f"uint{pattern_width(N)}",
                  f"the beat's pattern n:{M}: only pairs p < n of each group count; 1 to {N} "
                  f"(0 or above {N}: the beat adds nothing and sets the group's error)",
                  role="control"),
            LAST]),
        Stream("o", "out", [
            Field("acc", acc_format(acc_width, signed=acc_signed),
                  group_sum(f"a[{M}*g + wi[k]] * wv[k] (g = k div {N}; a pair k mod {N} >= n "
                            f"adds 0)", acc_width, ", beats with an invalid n adding nothing"),
                  role="result"),
            flag("error", f"flags a beat with an invalid n (0 or above {N}) in the accumulation "
                          f"group", role="status",
                 values={0: f"every beat's n was 1 to {N}",
                         1: "some beat had an invalid n: it added nothing to acc"})]),
    ])


class SparseMACCore(EnabledCore):
    """N:M sparse dot-product accumulator datapath, clock-enabled, without handshake.

    Each enabled cycle with ``valid`` = 1 takes one beat (see the module docstring for its
    fields and sum). With ``last`` the sum goes to ``result`` together with ``error`` (some beat
    of the group had ``n`` = 0 or ``n`` > N; such beats add nothing), the accumulator and the
    error flag restart, and ``result_valid`` is set for one enabled cycle; hold ``en`` low to
    keep a result.

    Parameters
    ----------
    act_format, weight_format : IntFormat
        Activation and weight value formats (signed or unsigned).
    group_m : int
        M, weights per group (a power of two, at least 2).
    max_n : int
        N, stored pairs per group (1 to M).
    groups : int
        G, groups per beat.
    acc_width : int
        Accumulator and result width; sums wrap modulo ``2**acc_width``.
    acc_signed : bool
        Whether ``result`` is two's complement.
    reduction, accumulator : str
        As in :class:`hdl.int_mac.IntMACCore`.

    Latency: a ``last`` beat presented in cycle t gives ``result_valid`` in cycle t + 1
    (counting enabled cycles). Initiation interval: 1.
    """

    def __init__(self, *, act_format: IntFormat, weight_format: IntFormat, group_m: int,
                 max_n: int, groups: int, acc_width: int, acc_signed: bool = True,
                 reduction: str = "adder_tree", accumulator: str = "binary"):
        if group_m < 2 or group_m & (group_m - 1) or not 1 <= max_n <= group_m or groups < 1:
            raise ValueError(f"need M >= 2 (a power of two), 1 <= N <= M, G >= 1, not "
                             f"M={group_m}, N={max_n}, G={groups}")
        require_choice("reduction", reduction, REDUCTIONS)
        require_choice("accumulator", accumulator, ACCUMULATORS)
        self.act_format, self.weight_format = act_format, weight_format
        self.group_m, self.max_n, self.groups = group_m, max_n, groups
        self.acc_width, self.acc_signed = acc_width, acc_signed
        self.reduction, self.accumulator = reduction, accumulator
        super().__init__(sparse_mac_ports(act_format, weight_format, group_m, max_n, groups,
                                          acc_width, acc_signed), latency=1)

    def elaborate(self, platform):
        m = Module()
        M, N, G, W = self.group_m, self.max_n, self.groups, self.acc_width
        n = self.n

        # Which pair positions count this beat: p < n, and none when n is invalid. (p = 0 is
        # n != 0, written as a reduction: Amaranth writes == 0 as a multi-bit '!', which
        # Verilator's lint rejects; n <= N is left out where every code of n satisfies it, so
        # no constant comparison reaches the Verilog.)
        n_in_range = n <= N if N < (1 << len(n)) - 1 else 1
        counted = []
        for p in range(N):
            c = Signal(name=f"counted{p}")
            m.d.comb += c.eq((n.any() if p == 0 else n > p) & n_in_range)
            counted.append(c)
        beat_error = Signal()
        m.d.comb += beat_error.eq(~counted[0])

        products = []
        for g in range(G):
            acts = Array(self.a[g * M + j] for j in range(M))
            for p in range(N):
                k = g * N + p
                # The M:1 multiplexer of this multiplier: the activation the pair's index names.
                act = Signal(shape_of(self.act_format), name=f"act{k}")
                weight = Signal(shape_of(self.weight_format), name=f"weight{k}")
                m.d.comb += [act.eq(acts[self.wi[k]]),
                             weight.eq(Mux(counted[p], self.wv[k], 0))]
                products.append((act, weight, self.act_format.signed, self.weight_format.signed))

        # One tree: the beat's G*N products and the accumulator (one row, or two carry-save).
        carry_save = self.accumulator == "carry_save"
        state = [Signal(W, name="acc_sum"), Signal(W, name="acc_carry")] if carry_save \
            else [Signal(W, name="acc")]
        out = product_sum(m, products, [(r, False) for r in state], width=W,
                          reduction=self.reduction, carry_save=carry_save, name="dot")
        nexts = list(out) if carry_save else [out]
        total = Signal(W, name="total")
        # Carry-save: the carry-propagate adder feeds only the result register, not the loop.
        m.d.comb += total.eq((nexts[0] + nexts[1])[:W] if carry_save else nexts[0])

        error_seen = Signal()
        with m.If(self.en):
            m.d.sync += self.result_valid.eq(self.valid & self.last)
            with m.If(self.valid):
                with m.If(self.last):
                    m.d.sync += [self.result.eq(total), self.error.eq(error_seen | beat_error),
                                 error_seen.eq(0)]
                    m.d.sync += [r.eq(0) for r in state]
                with m.Else():
                    m.d.sync += [r.eq(v) for r, v in zip(state, nexts)]
                    m.d.sync += error_seen.eq(error_seen | beat_error)
        return m


class SparseMAC(StreamPE):
    """Stream wrapper of :class:`SparseMACCore` (interface: :func:`sparse_mac_ports`).

    Input stream ``i``: payload ``a[0..G*M-1]``, ``wv[0..G*N-1]``, ``wi[0..G*N-1]``, ``n``,
    ``last``. Output stream ``o``: payload ``acc`` and ``error``, one beat per input beat with
    ``last`` = 1 (see the module docstring). It takes one beat per cycle while ``o.ready`` is
    high and never drops or repeats a beat.

    Parameters are those of :class:`SparseMACCore`.

    Latency: 1 cycle from accepting a ``last`` beat to ``o.valid``. Initiation interval: 1.
    """

    def __init__(self, **params):
        super().__init__(SparseMACCore(**params))
