"""Generator ``fp_mac``: low-precision floating-point MAC PE with a binary32 result
(:class:`hdl.fp_mac.FpMac`)."""

from __future__ import annotations

from hdl.fp_mac import (ACCUMULATORS, MULTIPLIERS, ROUNDERS, SEQUENTIAL_STEP, FpMac,
                        exact_acc_width)
from hdl.numbers import ACC_WIDTH_MAX

from .base import Generator
from .params import ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["FpMacGenerator", "FP_MAC_FORMATS"]

#: Operand formats (hdl.formats preset names).
FP_MAC_FORMATS = ("fp8_e4m3", "fp8_e5m2", "fp6_e3m2", "fp6_e2m3", "fp4_e2m1", "fp16", "bf16")


class FpMacGenerator(Generator):
    name = "fp_mac"
    summary = ("floating-point multiply-accumulate PE (FP8/FP6/FP4/FP16/BF16 operands, binary32 "
               "result): K products per beat, exact or fp32 accumulation, exact or L-Mul products")
    params = (
        FormatParam("a_format", default="fp8_e4m3", names=FP_MAC_FORMATS,
                    help="format of the a operands (OCP OFP8 e4m3/e5m2, OCP MX fp6/fp4, IEEE "
                         "fp16, bfloat16)"),
        FormatParam("b_format", default="fp8_e4m3", names=FP_MAC_FORMATS,
                    help="format of the b operands (may differ from a_format)"),
        IntParam("lanes", default=1, min=1, max=32, help="products per beat (K)"),
        ChoiceParam("accumulator", default="exact", choices=ACCUMULATORS,
                    help=f"exact: the sum since the last output is held exactly and rounded once "
                         f"to fp32 on 'last' (only where that register is <= {ACC_WIDTH_MAX} "
                         f"bits: not with bf16); fp32: each beat's exact product sum is added to "
                         f"an fp32 accumulator with one round-to-nearest-even addition"),
        ChoiceParam("multiplier", default="exact", choices=MULTIPLIERS,
                    help="exact products; lmul: L-Mul (1 + x_m + y_m + 2^-l(M)) * 2^(x_e + y_e) "
                         "for two normal operands (others exact); lmul_ftz: L-Mul with "
                         "subnormal operands flushed to zero (a zero of their sign: x * sub = "
                         "+-0, Inf * sub = NaN), no exact multiplier at all: for formats with "
                         "a wide exponent range (bf16, fp16, fp8); on fp6/fp4 many small values "
                         "are subnormal"),
        ChoiceParam("rounder", default="combinational", choices=ROUNDERS,
                    help=f"how the exact accumulator's sum is rounded to fp32 on 'last': "
                         f"combinational (output 1 cycle after 'last'), or sequential (smaller: "
                         f"a shift register normalizes it, {SEQUENTIAL_STEP} bits then 1 bit per "
                         f"cycle, while the next group accumulates; same results; the output "
                         f"comes 2 to N/{SEQUENTIAL_STEP}+{SEQUENTIAL_STEP} cycles (depending "
                         f"on the sum) after 'last', N = accumulator width - 1 rounded up to a "
                         f"multiple of {SEQUENTIAL_STEP} (at most 17 cycles for fp8_e4m3 at "
                         f"K=1), and a 'last' beat waits while the previous group is still "
                         f"being rounded; exact accumulator only)"),
    )

    def derive(self, params):
        # The exact accumulator is offered while its register is no wider than any PE's
        # accumulator may be.
        if params["rounder"] == "sequential" and params["accumulator"] != "exact":
            raise ParamError(f"--rounder: 'sequential' rounds the exact accumulator; with "
                             f"--accumulator {params['accumulator']} allowed: combinational")
        if params["accumulator"] == "exact":
            width = exact_acc_width(params["a_format"], params["b_format"], params["lanes"])
            if width > ACC_WIDTH_MAX:
                raise ParamError(
                    f"--accumulator: 'exact' is not offered for {params['a_format'].name} x "
                    f"{params['b_format'].name} at lanes={params['lanes']} (needs a {width}-bit "
                    f"register, limit {ACC_WIDTH_MAX}); allowed: fp32")
        return {}

    def build(self, params):
        return FpMac(a_format=params["a_format"], b_format=params["b_format"],
                     lanes=params["lanes"], accumulator=params["accumulator"],
                     multiplier=params["multiplier"], rounder=params["rounder"])

    def module_name(self, params):
        # The default rounder keeps the module name it had before the option existed.
        rounder = "" if params["rounder"] == "combinational" else f"_r{params['rounder'][:3]}"
        return (f"fp_mac_{params['a_format'].name}x{params['b_format'].name}_k{params['lanes']}"
                f"_acc{params['accumulator']}_mul{params['multiplier']}{rounder}")
