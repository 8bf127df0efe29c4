"""LUT-based mixed-precision GEMM (LUT Tensor Core): low-bit weights select precomputed signed
sums of activations from shared tables instead of multiplying, one weight bit plane per cycle.

:class:`LUTMpGEMM` computes, per accumulation group, the M x N product of M rows of integer
activations (D groups of K per row and beat) with D*K x N low-bit weights (1 to ``weight_bits``
bits, the precision chosen per beat), and streams the M result rows out.

Structure (the point of the design; ``shared/reference/numerics.md`` section 8):

- **Symmetric reading of a bit plane.** A ``symmetric`` weight code q of p bits means
  2q - (2^p - 1) = sum_i 2^i (2 q_i - 1): every bit plane i contributes +-1 times 2^i per
  activation. For a K-group of activations a_0..a_{K-1} and an index ``idx`` (bit j: bit i of
  weight j) the plane's contribution is T[idx] = sum_j (2 idx_j - 1) a_j, so T[~idx] = -T[idx].
- **Table precompute unit** (adders only), one per row m and K-group d: the table T, built by
  expanding the partial sums one activation at a time (entry count - 1 adders). ``table =
  symmetric`` stores the 2^(K-1) entries whose index has bit K-1 set (the paper's half table);
  ``table = full`` stores all 2^K. The unit then shifts every entry by the plane number i (a
  b-way multiplexer per entry bit), so the shift of the shift-accumulate happens once per table
  and not once per column. Its entries are shared by all N column units of the row.
- **Column unit** (m, n), no multiplier: per cycle, for each K-group, its K weights' bit i form
  the index (formed once per column and shared by the M rows), the entry is selected (``full``:
  ``T[idx]``; ``symmetric``: ``T[idx]`` when bit K-1 of idx is set, else ``-T[~idx]``, the
  mirrored entry negated through an inverted operand and a carry-in), the D selections are added
  and accumulated.
- **Two's complement weights** (``weight_encoding = int``): flipping the sign bit of a p-bit two's
  complement w gives the offset-binary code u = w + 2^(p-1), whose symmetric value is 2w + 1; so
  sum_j a_j w_j = (sum_j a_j sym(u_j) - sum_j a_j) / 2. Flipping bit p-1 of all K weights flips
  the whole index of the sign plane, which by the table's symmetry is a negation of its entry (the
  sign bit weighs negatively, as in two's complement). The constant correction sum_j a_j is the
  table's all-ones entry, added once per beat into one register per row, shared by the columns:
  the column accumulators hold twice the result (one bit wider), and the output subtracts the
  row's correction and halves (exact: the difference is even), once per output column after the
  row multiplexer.

**fp16 / bf16 activations** (``act_format``): each activation code is converted once per beat to an
exact two's complement fixed-point integer (``(-1)^s * significand * 2^(e-1)`` in units of the
format's smallest subnormal: fp16 2^-24, 41 bits; bf16 2^-133, 262 bits; NaN and Inf codes convert
to 0 and are tracked by flags). Tables, column units and accumulators are those of the integer path
over these integers (adders and multiplexers only, no multiplier); the accumulator width is derived
exactly for 2^16 beats (``acc_width``: fp16 59 to 63 bits, bf16 280 to 284 at D*K = 4). Beside each
accumulator the column keeps special-value flags, updated when a beat is accepted: per row "a NaN
activation seen"; per row and column "a +Inf term", "a -Inf term" (an infinite activation times a
nonzero weight, the sign being the activation's sign times the weight's), "Inf x 0" (an infinite
activation times a zero weight, possible for ``int`` weights only) and "every term so far is -0" (a
zero activation or weight, the two signs differing; an integer weight 0 is +0). The rules are those
of ``fp_mac``: NaN activation, Inf x 0, or +Inf and -Inf terms give the canonical NaN 0x7FC00000;
else an infinite term gives that Inf; else the exact sum, rounded once to binary32
(:class:`hdl.fp_round.FixedToFloat32`: ties to even, overflow to +-Inf, subnormals kept), an exact
zero being +0 unless every term was -0. The output field ``y`` is that binary32 code; the rounder
sits after the row multiplexer, one per column, shared by the M rows that leave one per output
beat.

Timing: a beat takes ``prec`` cycles (planes 0..prec-1, least significant first) and is accepted
in its final cycle. After a ``last`` beat the accumulators hold the group's results, and the M
rows leave one per output beat straight from them (no result register bank); row m's
accumulators restart at zero when it leaves. While rows are waiting the input stalls; the next
beat starts in the cycle the final row leaves (so the output works under any back-pressure). At
full rate, row m of a group leaves 1 + m cycles after its ``last`` beat was accepted, and the beat
after a ``last`` beat is accepted prec + M - 1 cycles after it (other beats: prec cycles). The
manifest's latency is therefore 1 for M = 1 and None for M > 1 (one number per output beat cannot
describe rows 1 + m cycles late); the initiation interval is data-dependent, None.
"""

from __future__ import annotations

from amaranth.hdl import Cat, Const, Module, Mux, Signal, signed
from amaranth.lib import wiring

from .checks import require_choice
from .formats import Format, IntFormat
from .fp_mac import _unpack, operand_spec
from .fp_round import fp32_result
from .numbers import acc_format, min_signed_width
from .ports import Field, Ports, Stream, flag

__all__ = ["LUTMpGEMM", "lut_mpgemm_ports", "WEIGHT_ENCODINGS", "TABLE_KINDS", "FLOAT_ACTIVATIONS",
           "weight_range", "precision_width", "activation_fixed_point"]

WEIGHT_ENCODINGS = ("int", "symmetric")
TABLE_KINDS = ("symmetric", "full")
#: Floating-point activation formats (hdl.formats preset names); the others are signed integers.
FLOAT_ACTIVATIONS = ("fp16", "bf16")


def activation_fixed_point(act_format: Format) -> tuple[int, int]:
    """``(lsb_exp, magnitude)``: activations as integers in units of ``2**lsb_exp``, and a bound
    on their magnitude (integers: 2^(A-1); fp16 / bf16: the largest finite value, exactly)."""
    if isinstance(act_format, IntFormat):
        return 0, 1 << (act_format.width - 1)
    spec = operand_spec(act_format)
    return spec.lsb_exp, ((1 << spec.sig_width) - 1) << spec.shift_max


def precision_width(weight_bits: int) -> int:
    """Width of the ``prec`` field (holds 1 .. ``weight_bits``)."""
    return weight_bits.bit_length()


def weight_range(weight_bits: int, encoding: str) -> tuple[int, int]:
    """Smallest and largest weight value at full precision (every lower precision lies within)."""
    if encoding == "int":
        return -(1 << (weight_bits - 1)), (1 << (weight_bits - 1)) - 1
    return -((1 << weight_bits) - 1), (1 << weight_bits) - 1


def lut_mpgemm_ports(act_format: Format, weight_bits: int, weight_encoding: str, lut_k: int,
                     depth: int, cols: int, rows: int, acc_width: int) -> Ports:
    """The interface of :class:`LUTMpGEMM`."""
    dk = depth * lut_k
    if weight_encoding == "int":
        meaning = "two's complement at prec bits"
    else:
        meaning = "code q' means 2q' - (2^prec - 1)"
    sum_text = (f"the group's sum over its beats of sum_j A[m][j] * W[j][{{k}}], m = this beat's "
                f"position among the {rows} result rows")
    if isinstance(act_format, IntFormat):
        a_text = ""
        y = Field("y", acc_format(acc_width), f"Y[m][{{k}}]: {sum_text}; modulo 2^{acc_width}",
                  lanes=cols, role="result")
    else:
        a_text = f" ({act_format.name} code)"
        y = Field("y", "fp32",
                  f"Y[m][{{k}}]: binary32 code of {sum_text}, held exactly and rounded once "
                  f"(round to nearest, ties to even; overflow to +-Inf; subnormals kept); a NaN "
                  f"activation in row m, an infinite activation times a zero weight, or +Inf "
                  f"and -Inf terms give NaN 0x7FC00000, else an infinite term (sign of the "
                  f"activation times the weight's) gives that Inf; an exact zero is +0 unless "
                  f"every term was -0 (a zero times a value of the other sign; weight 0 is +0)",
                  lanes=cols, role="result")
    return Ports([
        Stream("i", "in", [
            Field("a", act_format, f"A[m][j] for {{k}} = m*{dk} + j: activation of row m at "
                                   f"position j (K-group j div {lut_k}){a_text}",
                  lanes=rows * dk),
            Field("w", f"uint{weight_bits}",
                  f"W[j][n] for {{k}} = j*{cols} + n: weight code of position j, column n; "
                  f"its low prec bits q', {meaning}; higher bits ignored",
                  lanes=dk * cols),
            Field("prec", f"uint{precision_width(weight_bits)}",
                  f"this beat's weight precision in bits (cycles it takes), 1 to {weight_bits} "
                  f"(other values give unspecified sums)", role="control"),
            flag("last", f"ends the accumulation group: its {rows} result rows follow on "
                         f"stream o")]),
        Stream("o", "out", [
            y,
            flag("last", f"marks the group's final result row (m = {rows - 1})")]),
    ])


def _switch(m, index, options, shape, name):
    """A signal that is ``options[index]`` (the last option for larger indices)."""
    out = Signal(shape, name=name)
    if len(options) == 1:
        m.d.comb += out.eq(options[0])
        return out
    with m.Switch(index):
        for s, value in enumerate(options[:-1]):
            with m.Case(s):
                m.d.comb += out.eq(value)
        with m.Default():
            m.d.comb += out.eq(options[-1])
    return out


class LUTMpGEMM(wiring.Component):
    """LUT-based mpGEMM tile: M rows x N columns, D K-groups per beat (see the module docstring
    for the table and column units).

    Input stream ``i``: ``a[0..M*D*K-1]`` (row m, position j at index m*D*K + j), ``w[0..D*K*N-1]``
    (position j, column n at index j*N + n; ``weight_bits``-bit codes read at ``prec`` bits in
    ``weight_encoding``), ``prec`` and ``last``. Output stream ``o``: after a ``last`` beat, M beats
    ``y[0..N-1]`` (row m), ``last`` on row M-1, where
    y[m][n] = sum over the group's beats of sum_j a[m][j] * w(j, n), modulo 2^``acc_width``.

    Parameters
    ----------
    act_format : IntFormat
        Signed integer activations.
    weight_bits : int
        b, width of each weight code (1..4).
    weight_encoding : str
        ``int`` (two's complement) or ``symmetric`` (code q means 2q - (2^p - 1)).
    lut_k : int
        K, activations per table.
    depth : int
        D, K-groups per row and beat.
    cols, rows : int
        N column units per row, M rows.
    table : str
        ``symmetric`` (2^(K-1) stored entries, mirrored and negated) or ``full`` (2^K).
    acc_width : int
        Output width; sums wrap modulo 2^acc_width. fp16 / bf16: the exact accumulator's
        width in units of the activations' smallest subnormal (the generator derives it for
        2^16 beats; beyond, the register wraps and results are unspecified).

    Latency: the first result row leaves 1 cycle after the ``last`` beat is accepted, row m after
    1 + m cycles (at full rate); ``latency`` is 1 for M = 1, else None (fp16 / bf16 the same:
    the rounders are combinational). Initiation interval: ``prec`` cycles per beat
    (data-dependent), None.
    """

    def __init__(self, *, act_format: Format, weight_bits: int, weight_encoding: str,
                 lut_k: int, depth: int, cols: int, rows: int, table: str, acc_width: int):
        require_choice("weight_encoding", weight_encoding, WEIGHT_ENCODINGS)
        require_choice("table", table, TABLE_KINDS)
        if lut_k < 2:
            raise ValueError("lut_k must be at least 2")
        self.act_format, self.weight_bits, self.weight_encoding = act_format, weight_bits, \
            weight_encoding
        self.lut_k, self.depth, self.cols, self.rows = lut_k, depth, cols, rows
        self.table, self.acc_width = table, acc_width
        self.is_float = not isinstance(act_format, IntFormat)
        if self.is_float:
            require_choice("act_format", act_format.name, FLOAT_ACTIVATIONS)
        self.act_lsb_exp, self.act_magnitude = activation_fixed_point(act_format)
        self.ports = lut_mpgemm_ports(act_format, weight_bits, weight_encoding, lut_k, depth,
                                      cols, rows, acc_width)
        self.latency = 1 if rows == 1 else None
        self.initiation_interval = None
        super().__init__(self.ports.signature())

    # -- table precompute unit -------------------------------------------------------------

    def _table(self, m, acts, name):
        """Entries of one K-group's table (adders only): ``full``: T[idx] for idx in
        0..2^K-1; ``symmetric``: T[2^(K-1) + r] for r in 0..2^(K-1)-1."""
        K = self.lut_k
        width = min_signed_width(-K * self.act_magnitude, K * self.act_magnitude)
        # Partial sums over positions K-1 .. j, index bits in the same order (high first).
        if self.table == "full":
            level = [-acts[K - 1], acts[K - 1]]
        else:
            level = [acts[K - 1]]
        for j in range(K - 2, -1, -1):
            nxt = []
            for r, e in enumerate(level):
                lo = Signal(signed(width), name=f"{name}_p{j}_{2 * r}")
                hi = Signal(signed(width), name=f"{name}_p{j}_{2 * r + 1}")
                m.d.comb += [lo.eq(e - acts[j]), hi.eq(e + acts[j])]
                nxt += [lo, hi]
            level = nxt
        return level, width

    # -- fp16 / bf16 activations ---------------------------------------------------------------

    def _fixed_activations(self, m):
        """Every activation code as an exact fixed-point integer (units 2**act_lsb_exp; NaN and
        Inf give 0), converted once per beat for all planes and columns, and its class flags."""
        spec = operand_spec(self.act_format)
        width = min_signed_width(-self.act_magnitude, self.act_magnitude)
        values, specials = [], []
        for i, code in enumerate(self.i.payload.a):
            u = _unpack(m, code, spec, f"a{i}")
            magnitude = u["sig"] << u["shift"]
            fixed = Signal(signed(width), name=f"a{i}_fixed")
            m.d.comb += fixed.eq(Mux(u["sign"], -magnitude, magnitude))
            values.append(fixed)
            specials.append(u)
        return values, specials

    def _weight_signs(self, m, prec, plane_bits):
        """Per position j and column n: ``(negative, zero)`` of the weight at this beat's
        precision, valid in the beat's final cycle (the plane bit is then bit prec-1, the sign
        of a two's complement weight; a symmetric weight is odd, negative when it is 0)."""
        b = self.weight_bits
        is_int = self.weight_encoding == "int"
        if is_int:
            # Bit s of the code is within the precision when s < prec.
            within = Signal(b, name="prec_mask")
            m.d.comb += within.eq(Cat(*(prec > s for s in range(b))))
        signs = []
        for j, bits in enumerate(plane_bits):
            row = []
            for n, bit in enumerate(bits):
                if not is_int:
                    row.append((~bit, Const(0, 1)))
                    continue
                code = self.i.payload.w[j * self.cols + n]
                zero = Signal(name=f"wzero_j{j}_n{n}")
                m.d.comb += zero.eq(~(code & within).any())
                row.append((bit, zero))
            signs.append(row)
        return signs

    def _special_flags(self, m, acts, weight_signs, accept, clear, name):
        """Special-value registers of one row, per column ``(nan, +inf, -inf, all -0)``
        (``fp_mac``'s rules): updated with each accepted beat, reset when the row leaves."""
        row_nan = Signal(name=f"nan_{name}")
        beat_nan = Cat(*(a["nan"] for a in acts)).any()
        with m.If(accept):
            m.d.sync += row_nan.eq(Mux(clear, 0, row_nan) | beat_nan)
        with m.Elif(clear):
            m.d.sync += row_nan.eq(0)
        flags = []
        for n in range(self.cols):
            inf_zero, pos_inf, neg_inf, neg_zero = (
                Signal(name=f"{what}_{name}_n{n}", init=int(what == "nzero"))
                for what in ("infzero", "pinf", "ninf", "nzero"))
            terms = {"infzero": [], "pinf": [], "ninf": [], "nzero": []}
            for a, signs in zip(acts, weight_signs):
                w_neg, w_zero = signs[n]
                negative = a["sign"] ^ w_neg
                terms["infzero"].append(a["inf"] & w_zero)
                terms["pinf"].append(a["inf"] & ~w_zero & ~negative)
                terms["ninf"].append(a["inf"] & ~w_zero & negative)
                terms["nzero"].append((a["zero"] | w_zero) & negative)
            with m.If(accept):
                m.d.sync += [
                    inf_zero.eq(Mux(clear, 0, inf_zero) | Cat(*terms["infzero"]).any()),
                    pos_inf.eq(Mux(clear, 0, pos_inf) | Cat(*terms["pinf"]).any()),
                    neg_inf.eq(Mux(clear, 0, neg_inf) | Cat(*terms["ninf"]).any()),
                    neg_zero.eq(Mux(clear, 1, neg_zero) & Cat(*terms["nzero"]).all())]
            with m.Elif(clear):
                m.d.sync += [inf_zero.eq(0), pos_inf.eq(0), neg_inf.eq(0), neg_zero.eq(1)]
            flags.append((row_nan | inf_zero, pos_inf, neg_inf, neg_zero))
        return flags

    def elaborate(self, platform):
        m = Module()
        b, K, D, N, M = self.weight_bits, self.lut_k, self.depth, self.cols, self.rows
        DK = D * K
        is_int = self.weight_encoding == "int"
        symmetric = self.table == "symmetric"
        # Accumulators hold twice the result for two's complement weights (see module doc).
        acc_w = self.acc_width + (1 if is_int else 0)

        # -- control: plane counter, output rows ----------------------------------------------
        pending = Signal()                   # result rows waiting in the accumulators
        row = Signal(range(M), name="out_row") if M > 1 else Const(0, 1)
        last_row = Signal()
        m.d.comb += last_row.eq(row == M - 1)
        fire = Signal()
        m.d.comb += fire.eq(self.o.valid & self.o.ready)
        go = Signal()                        # the datapath may work on the input beat
        m.d.comb += go.eq(~pending | (fire & last_row))
        step = Signal()
        m.d.comb += step.eq(go & self.i.valid)

        prec = self.i.payload.prec
        final = Signal()
        if b > 1:
            plane = Signal(range(b), name="plane")
            m.d.comb += final.eq((plane + 1 >= prec) | (plane == b - 1))
            with m.If(step):
                m.d.sync += plane.eq(Mux(final, 0, plane + 1))
        else:
            plane = Const(0, 1)
            m.d.comb += final.eq(1)
        m.d.comb += self.i.ready.eq(go & final)
        end_group = Signal()
        m.d.comb += end_group.eq(step & final & self.i.payload.last)

        # The sign plane of two's complement weights reads the flipped index (negated entry).
        flip = Signal()
        m.d.comb += flip.eq(final if is_int else 0)

        # -- weight bit plane -> index per (K-group, column), shared by the rows --------------
        index = [[None] * N for _ in range(D)]
        plane_bits = [[None] * N for _ in range(DK)]
        for d in range(D):
            for n in range(N):
                bits = []
                for j in range(K):
                    code = self.i.payload.w[(d * K + j) * N + n]
                    bits.append(_switch(m, plane, [code[s] for s in range(b)], 1,
                                        f"wbit_d{d}_j{j}_n{n}"))
                    plane_bits[d * K + j][n] = bits[-1]
                idx = Signal(K, name=f"idx_d{d}_n{n}")
                m.d.comb += idx.eq(Cat(*bits) ^ Mux(flip, (1 << K) - 1, 0))
                index[d][n] = idx

        # Shared select/negate decisions per (K-group, column).
        select, negate = [[None] * N for _ in range(D)], [[None] * N for _ in range(D)]
        for d in range(D):
            for n in range(N):
                idx = index[d][n]
                if symmetric:
                    top = idx[K - 1]
                    sel = Signal(K - 1, name=f"sel_d{d}_n{n}")
                    m.d.comb += sel.eq(idx[:K - 1] ^ Mux(top, 0, (1 << (K - 1)) - 1))
                    neg = Signal(name=f"neg_d{d}_n{n}")
                    m.d.comb += neg.eq(~top)
                    select[d][n], negate[d][n] = sel, neg
                else:
                    select[d][n] = idx

        accs = [[Signal(signed(acc_w), name=f"acc_m{r}_n{n}") for n in range(N)]
                for r in range(M)]
        corrs = [Signal(signed(acc_w), name=f"corr_m{r}") for r in range(M)] if is_int else None
        if self.is_float:
            activations, specials = self._fixed_activations(m)
            weight_signs = self._weight_signs(m, prec, plane_bits)
            flags = []
        else:
            activations = self.i.payload.a
        for r in range(M):
            clear = Signal(name=f"clear_m{r}")
            # (A comparison with zero is written as a reduction: Amaranth would emit a
            # multi-bit logical NOT, which Verilator's lint rejects.)
            m.d.comb += clear.eq(fire & (~row.any() if r == 0 else row == r))
            if self.is_float:
                flags.append(self._special_flags(m, specials[r * DK:(r + 1) * DK], weight_signs,
                                                 step & final, clear, f"m{r}"))
            tables, asums = [], []
            for d in range(D):
                acts = [activations[r * DK + d * K + j] for j in range(K)]
                entries, width = self._table(m, acts, f"t_m{r}_d{d}")
                # Shift every entry by the plane number once, for all N columns.
                shifted = [_switch(m, plane, [e << s for s in range(b)], signed(width + b - 1),
                                   f"t_m{r}_d{d}_e{e_i}") for e_i, e in enumerate(entries)]
                tables.append(shifted)
                asums.append(entries[-1])          # T[all ones] = sum of the group's a
            for n in range(N):
                terms, carries = [], []
                for d in range(D):
                    entry = _switch(m, select[d][n], tables[d], signed(width + b - 1),
                                    f"e_m{r}_d{d}_n{n}")
                    if symmetric:
                        neg = negate[d][n]
                        # -e = ~e + 1: the inverted entry here, the 1 as a carry into the sum.
                        terms.append(Mux(neg, ~entry, entry))
                        carries.append(neg)
                    else:
                        terms.append(entry)
                acc = accs[r][n]
                base = Mux(clear, 0, acc)
                contribution = Signal(signed(width + b - 1 + D.bit_length() + 1),
                                      name=f"c_m{r}_n{n}")
                total = terms[0]
                for t in terms[1:]:
                    total = total + t
                if carries:
                    total = total + (Cat(*carries) if len(carries) == 1 else
                                     sum(c.as_unsigned() for c in carries))
                m.d.comb += contribution.eq(total)
                with m.If(step):
                    # Truncation to the accumulator width is the documented wrap.
                    m.d.sync += acc.eq(base + contribution)
                with m.Elif(clear):
                    m.d.sync += acc.eq(0)
            if is_int:
                corr = corrs[r]
                row_sum = Signal(signed(width + D.bit_length() + 1), name=f"asum_m{r}")
                total = asums[0]
                for s in asums[1:]:
                    total = total + s
                m.d.comb += row_sum.eq(total)
                base = Mux(clear, 0, corr)
                with m.If(step & final):
                    m.d.sync += corr.eq(base + row_sum)
                with m.Elif(clear):
                    m.d.sync += corr.eq(0)

        # -- output: one row per beat, straight from the accumulators ------------------------
        for n in range(N):
            value = _switch(m, row, [accs[r][n] for r in range(M)], signed(acc_w), f"row_n{n}")
            if is_int:
                corr = _switch(m, row, corrs, signed(acc_w), f"row_corr_n{n}") if n == 0 \
                    else corr
                diff = Signal(signed(acc_w), name=f"y2_n{n}")
                m.d.comb += diff.eq(value - corr)
                total = diff[1:]
            else:
                total = value
            if self.is_float:
                # One rounder per column, after the row multiplexer: shared by the M rows.
                exact = Signal(signed(self.acc_width), name=f"y_exact_n{n}")
                nan, pos_inf, neg_inf, neg_zero = (
                    _switch(m, row, [f[n][i] for f in flags], 1, f"row_{what}_n{n}")
                    for i, what in enumerate(("nan", "pinf", "ninf", "nzero")))
                m.d.comb += exact.eq(total)
                m.d.comb += self.o.payload.y[n].eq(fp32_result(
                    m, exact, lsb_exp=self.act_lsb_exp, nan=nan | (pos_inf & neg_inf),
                    pos_inf=pos_inf, neg_inf=neg_inf, neg_zero=neg_zero, name=f"y_n{n}",
                    tree=True))
            else:
                m.d.comb += self.o.payload.y[n].eq(total)
        m.d.comb += [self.o.valid.eq(pending), self.o.payload.last.eq(last_row)]
        with m.If(fire):
            if M > 1:
                m.d.sync += row.eq(Mux(last_row, 0, row + 1))
            with m.If(last_row):
                m.d.sync += pending.eq(0)
        with m.If(end_group):
            m.d.sync += pending.eq(1)
        return m
