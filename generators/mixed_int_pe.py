"""Generator ``mixed_int_pe``: mixed-precision integer PE (MixPE), :class:`hdl.mixed_int_pe.MixedIntPE`."""

from __future__ import annotations

from hdl.formats import FixedFormat
from hdl.int_mac import min_signed_width
from hdl.mixed_int_pe import MULTIPLIERS, MixedIntPE, lane_product_range

from .base import Generator
from .int_mac import ACC_BEATS
from .params import AUTO, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["MixedIntPEGenerator", "ACC_BEATS", "default_acc_width"]


def default_acc_width(weight_bits, act_format, lanes, scale_format, beats=ACC_BEATS):
    """Width rule: the largest ``|scale * (q - zero) * a|`` times ``lanes * beats``, in two's
    complement raw fixed point (the scale's fraction bits)."""
    lo, hi = lane_product_range(weight_bits, act_format)
    smax = (1 << scale_format.width) - 1
    return min_signed_width(lanes * beats * lo * smax, lanes * beats * hi * smax)


class MixedIntPEGenerator(Generator):
    name = "mixed_int_pe"
    summary = ("mixed-precision integer PE (MixPE): K unsigned weight codes q with zero point and "
               "fixed-point scale times K integer activations per beat; P += sum (q - zero) * a, "
               "on group_last acc += scale * P (exact), on last emit acc. 'last' also ends the "
               "group. The scale is per group: shift_add reads it on the group's final beat, "
               "dequant_first on every beat, so both agree when it is constant over a group")
    params = (
        IntParam("weight_bits", default=4, min=2, max=8,
                 help="width of the unsigned weight codes q and of the zero point (uint<N>)"),
        FormatParam("act_format", default="int8", help="format of the activations a",
                    kinds=("int", "uint"), min_width=4, max_width=16),
        IntParam("lanes", default=8, min=1, max=64, help="weights and activations per beat (K)"),
        FormatParam("scale_format", default="uq8.8",
                    help="format of the per-group scale (unsigned fixed point); the output keeps "
                         "its fraction bits",
                    kinds=("ufixed",), min_width=1, max_width=24),
        ChoiceParam("multiplier", default="shift_add", choices=MULTIPLIERS,
                    help="shift_add: q*a from shifts and adds, zero point and scale applied after "
                         "the group sum (MixPE); dequant_first: each weight becomes "
                         "scale*(q-zero), then a multiplier (baseline)"),
        IntParam("acc_width", default=AUTO, min=2, max=128,
                 help="accumulator and output width in bits (output format "
                      "q<acc_width-F>.<F>, F = the scale's fraction bits); narrower values wrap "
                      "in two's complement",
                 auto_help="no overflow within 2^16 beats: width of lanes * 2^16 * "
                           "max|scale*(q-zero)*a|"),
    )

    def derive(self, params):
        out = {}
        if params["acc_width"] is AUTO:
            out["acc_width"] = default_acc_width(params["weight_bits"], params["act_format"],
                                                 params["lanes"], params["scale_format"])
        acc_width = out.get("acc_width", params["acc_width"])
        frac = params["scale_format"].frac_bits
        if acc_width < frac + 1:
            raise ParamError(f"--acc-width: {acc_width} is not allowed; allowed: at least "
                             f"{frac + 1} (the scale's {frac} fraction bits plus a sign bit)")
        return out

    def build(self, params):
        return MixedIntPE(weight_bits=params["weight_bits"], act_format=params["act_format"],
                          lanes=params["lanes"], scale_format=params["scale_format"],
                          multiplier=params["multiplier"], acc_width=params["acc_width"])

    def acc_format(self, params) -> FixedFormat:
        frac = params["scale_format"].frac_bits
        return FixedFormat(params["acc_width"] - frac, frac, signed=True)

    def module_name(self, params):
        scale = params["scale_format"].name.replace(".", "p")
        return (f"mixed_int_pe_w{params['weight_bits']}_{params['act_format'].name}"
                f"_k{params['lanes']}_{scale}_{params['multiplier']}_acc{params['acc_width']}")

    def stream_formats(self, params):
        code = f"uint{params['weight_bits']}"
        return {
            "i": {"a": params["act_format"].name, "q": code, "zero": code,
                  "scale": params["scale_format"].name, "group_last": "uint1", "last": "uint1"},
            "o": {"acc": self.acc_format(params).name},
        }

    def latency(self, params):
        return 1

    def initiation_interval(self, params):
        return 1
