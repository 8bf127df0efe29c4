"""Generator ``softmax``: streaming fixed-point softmax unit (:class:`hdl.softmax.Softmax`).

The internal widths are derived by :func:`hdl.softmax.softmax_widths` (the hardware and the
bit-exact golden model, :mod:`sim.golden.softmax`, both take them from there), and the interface
(fields, formats, descriptions) is declared once in :func:`hdl.softmax.softmax_ports`.
"""

from __future__ import annotations

from hdl.softmax import (ALGORITHMS, EXP_GUARD_BITS, MAX_RECIP_TABLE_BITS, Softmax,
                         default_recip_table_bits, softmax_widths)

from .base import Generator
from .params import AUTO, BoolParam, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["SoftmaxGenerator"]


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
