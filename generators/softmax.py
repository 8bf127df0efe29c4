"""Generator ``softmax``: streaming fixed-point softmax unit (:class:`hdl.softmax.Softmax`).

The internal widths are chosen here, once, by :func:`softmax_widths`; the hardware and the bit-exact
golden model (:mod:`sim.golden.softmax`) both take them from this function.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

from hdl.formats import FixedFormat

from .base import Generator
from .manifest import FieldInfo
from .params import AUTO, BoolParam, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["SoftmaxGenerator", "SoftmaxWidths", "softmax_widths", "ALGORITHMS"]

ALGORITHMS = ("three_pass", "online", "two_pass_extexp")

#: Fraction bits of the exponentials (and of the 2^f table entries) beyond the output's fraction
#: bits. 8 guard bits keep the rounding errors of up to 4096 summed terms and of the reciprocal
#: well below half an output LSB (measured in tests/test_softmax_accuracy.py).
EXP_GUARD_BITS = 8
#: Bits of f below the table index used for linear interpolation.
INTERP_BITS = 8
#: Extra fraction bits of the log2(e) constant beyond those of t = u * log2(e).
LOG2E_GUARD_BITS = 4
#: Largest reciprocal seed table (2^12 entries).
MAX_RECIP_TABLE_BITS = 12


@dataclass(frozen=True)
class SoftmaxWidths:
    """Internal fixed-point widths of one softmax configuration.

    Attributes
    ----------
    in_width, in_frac : int
        Input code width and fraction bits.
    out_frac, out_int : int
        Output fraction bits and integer bits (0 or 1).
    exp_frac : int
        P: fraction bits of 2^f table entries and of every exponential e = 2^t (t <= 0); entries are
        in [1, 2] (P + 1 bits wide for the table, e in [0, 1] also P + 1 bits).
    table_bits : int
        k: the 2^f table has 2^k entries (2^k + 1 with interpolation, the last being 2.0).
    interp_bits : int
        r: fraction bits of f below the table index (0 without interpolation).
    t_frac : int
        T = k + r: fraction bits of t = u * log2(e) after rounding.
    log2e_frac : int
        C: fraction bits of the constant ``log2e = round(log2(e) * 2^C)``.
    log2e : int
        The constant itself.
    sum_width : int
        Width of the sum of exponentials (P fraction bits).
    norm_frac : int
        B = sum_width - 1: fraction bits of the sum normalized to [1, 2) (exact, no bits lost).
    recip_frac : int
        Q = P: fraction bits of the reciprocal 1 / M in (0.5, 1].
    recip_table_bits : int
        Newton seed table index bits (0 with the divider).
    newton_iters : int
    """

    in_width: int
    in_frac: int
    out_frac: int
    out_int: int
    exp_frac: int
    table_bits: int
    interp_bits: int
    t_frac: int
    log2e_frac: int
    log2e: int
    sum_width: int
    norm_frac: int
    recip_frac: int
    recip_table_bits: int
    newton_iters: int

    def as_dict(self):
        return asdict(self)


def _clog2(n: int) -> int:
    return max(0, (n - 1).bit_length())


def softmax_widths(params: dict) -> SoftmaxWidths:
    """The internal widths (see :class:`SoftmaxWidths`) for resolved generator parameters."""
    fin: FixedFormat = params["in_format"]
    fout: FixedFormat = params["out_format"]
    P = fout.frac_bits + EXP_GUARD_BITS
    k = params["exp_table_bits"]
    r = INTERP_BITS if params["interpolate"] else 0
    T = k + r
    C = T + LOG2E_GUARD_BITS
    # Sum of up to max_length terms in [0, 2) (two-pass mantissas), P fraction bits.
    sum_width = P + 2 + _clog2(params["max_length"])
    newton = params["reciprocal"] == "newton"
    return SoftmaxWidths(
        in_width=fin.width, in_frac=fin.frac_bits, out_frac=fout.frac_bits, out_int=fout.int_bits,
        exp_frac=P, table_bits=k, interp_bits=r, t_frac=T, log2e_frac=C,
        log2e=round(math.log2(math.e) * 2 ** C), sum_width=sum_width, norm_frac=sum_width - 1,
        recip_frac=P, recip_table_bits=params["recip_table_bits"] if newton else 0,
        newton_iters=params["newton_iters"] if newton else 0)


def default_recip_table_bits(recip_frac: int, iters: int) -> int:
    """Seed bits so that ``iters`` Newton steps (each doubling the correct bits) reach Q + 1 bits."""
    need = math.ceil((recip_frac + 1) / 2 ** iters)
    return max(2, min(MAX_RECIP_TABLE_BITS, need))


class SoftmaxGenerator(Generator):
    name = "softmax"
    summary = ("streaming fixed-point softmax over vectors ending in 'last': three-pass, online or "
               "two-pass (extended exponents); base-2 exp by table, reciprocal by divider or Newton")
    params = (
        FormatParam("in_format", default="q8.8", help="input element format (signed fixed point)",
                    kinds=("fixed",), min_width=4, max_width=16),
        FormatParam("out_format", default="uq0.8",
                    help="output format uq0.F or uq1.F, F 4 to 16 (with uq0.F 1.0 saturates)",
                    kinds=("ufixed",), min_width=4, max_width=17),
        IntParam("max_length", default=256, min=2, max=4096,
                 help="largest vector length (sizes the on-chip element buffer); longer vectors "
                      "come out with 'error' set"),
        ChoiceParam("algorithm", default="three_pass", choices=ALGORITHMS,
                    help="three_pass (max, sum, normalize), online (running max and rescaled sum) "
                         "or two_pass_extexp (exponentials as mantissa/exponent pairs, no max)"),
        IntParam("exp_table_bits", default=AUTO, min=2, max=10,
                 help="the 2^f table has 2^k entries",
                 auto_help="6, at most in_format width + 1"),
        BoolParam("interpolate", default=True,
                  help="linear interpolation between 2^f table entries"),
        ChoiceParam("reciprocal", default="divider", choices=("divider", "newton"),
                    help="reciprocal of the sum: bit-serial divider or table seed plus Newton-Raphson"),
        IntParam("newton_iters", default=AUTO, min=0, max=3,
                 help="Newton-Raphson steps after the seed (reciprocal=newton only)",
                 auto_help="2 with newton"),
        IntParam("recip_table_bits", default=AUTO, min=2, max=MAX_RECIP_TABLE_BITS,
                 help="reciprocal seed table index bits (reciprocal=newton only)",
                 auto_help="enough for full precision after newton_iters steps, at most 12"),
        BoolParam("double_buffer", default=False,
                  help="one element buffer per pipeline stage (3; 4 for three_pass): accept the "
                       "next vectors while the current one is written out"),
    )

    def derive(self, params):
        fin, fout = params["in_format"], params["out_format"]
        if fout.int_bits not in (0, 1) or not 4 <= fout.frac_bits <= 16:
            raise ParamError(f"--out-format: {fout.name!r} is not allowed; allowed: uq0.F or uq1.F "
                             f"with F 4 to 16")
        # The exponent's input u = x - max takes at most 2^(W+1) distinct values.
        k_max = min(10, fin.width + 1)
        out = {}
        if params["exp_table_bits"] is AUTO:
            out["exp_table_bits"] = params["exp_table_bits"] = min(6, k_max)
        elif params["exp_table_bits"] > k_max:
            raise ParamError(f"--exp-table-bits: {params['exp_table_bits']} gives a table larger than "
                             f"the {2 ** (fin.width + 1)} distinct exponent inputs of {fin.name}; "
                             f"allowed: 2 to {k_max}")
        if params["reciprocal"] == "divider":
            for name in ("newton_iters", "recip_table_bits"):
                if params[name] is not AUTO:
                    raise ParamError(f"--{name.replace('_', '-')}: only allowed with "
                                     f"--reciprocal newton (got --reciprocal divider)")
            out["newton_iters"] = 0
            out["recip_table_bits"] = 0
        else:
            iters = 2 if params["newton_iters"] is AUTO else params["newton_iters"]
            out["newton_iters"] = iters
            if params["recip_table_bits"] is AUTO:
                P = fout.frac_bits + EXP_GUARD_BITS
                out["recip_table_bits"] = default_recip_table_bits(P, iters)
        return out

    def build(self, params):
        from hdl.softmax import Softmax
        return Softmax(widths=softmax_widths(params), max_length=params["max_length"],
                       algorithm=params["algorithm"], double_buffer=params["double_buffer"])

    def module_name(self, params):
        rec = ("div" if params["reciprocal"] == "divider"
               else f"nr{params['newton_iters']}t{params['recip_table_bits']}")
        fin = params["in_format"].name.replace(".", "_")
        fout = params["out_format"].name.replace(".", "_")
        short = {"three_pass": "3p", "online": "on", "two_pass_extexp": "2px"}[params["algorithm"]]
        return (f"softmax_{short}_{fin}_{fout}_n{params['max_length']}_e{params['exp_table_bits']}"
                f"{'i' if params['interpolate'] else ''}_{rec}{'_db' if params['double_buffer'] else ''}")

    def stream_formats(self, params):
        return {
            "i": {"x": params["in_format"].name, "last": "uint1"},
            "o": {"y": params["out_format"].name, "last": "uint1", "error": "uint1"},
        }

    def field_info(self, params):
        fout = params["out_format"]
        saturation = "; 1.0 saturates to the largest code" if fout.int_bits == 0 else ""
        too_long = f"the vector is longer than max_length = {params['max_length']} elements"
        return {
            "i": {"x": FieldInfo("one element of the input vector, in vector order"),
                  "last": FieldInfo("ends the vector: its softmax follows on stream o, one "
                                    "element per beat in input order")},
            "o": {"y": FieldInfo(f"softmax of the input element at the same position of its "
                                 f"vector, rounded to {fout.name}{saturation}; 0 on error beats"),
                  "last": FieldInfo("marks the vector's final output element"),
                  "error": FieldInfo(f"flags that {too_long}",
                                     {0: "y is valid",
                                      1: f"{too_long}: y is 0"})},
        }
