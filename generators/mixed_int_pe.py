"""Generator ``mixed_int_pe``: mixed-precision integer PE (MixPE), :class:`hdl.mixed_int_pe.MixedIntPE`."""

from __future__ import annotations

from hdl.mixed_int_pe import MULTIPLIERS, MixedIntPE, lane_product_range

from .accumulator import ACC_BEATS, acc_width_param, derive_acc_width, sum_width
from .base import Generator
from .fields import LAST_ENDS_GROUP, group_sum
from .manifest import FieldInfo
from .params import ChoiceParam, FormatParam, IntParam

__all__ = ["MixedIntPEGenerator", "ACC_BEATS", "default_acc_width"]


def _beat_range(weight_bits, act_format, lanes, scale_format) -> tuple[int, int]:
    """Smallest and largest ``scale * sum_k (q[k] - zero) * a[k]`` of one beat, raw fixed point
    (the scale's fraction bits): what one beat adds to the accumulator in the golden model
    (:mod:`sim.golden.mixed_int_pe`), with the largest scale code."""
    lo, hi = lane_product_range(weight_bits, act_format)
    smax = (1 << scale_format.width) - 1
    return lanes * lo * smax, lanes * hi * smax


def default_acc_width(weight_bits, act_format, lanes, scale_format, beats=ACC_BEATS):
    """Width rule: the largest ``|scale * (q - zero) * a|`` times ``lanes * beats``, in two's
    complement raw fixed point (the scale's fraction bits)."""
    return sum_width(_beat_range(weight_bits, act_format, lanes, scale_format), beats)


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
        acc_width_param("accumulator and output width in bits (output format "
                        "q<acc_width-F>.<F>, F = the scale's fraction bits)",
                        auto_help="no overflow within 2^16 beats: width of lanes * 2^16 * "
                                  "max|scale*(q-zero)*a|"),
    )

    def derive(self, params):
        scale = params["scale_format"]
        beat = _beat_range(params["weight_bits"], params["act_format"], params["lanes"], scale)
        return derive_acc_width(params, beat, frac_bits=scale.frac_bits)

    def build(self, params):
        return MixedIntPE(weight_bits=params["weight_bits"], act_format=params["act_format"],
                          lanes=params["lanes"], scale_format=params["scale_format"],
                          multiplier=params["multiplier"], acc_width=params["acc_width"])

    def acc_format(self, params) -> str:
        """``q<acc_width-F>.<F>``, as a name: :class:`hdl.formats.FixedFormat` stops at 64 bits,
        the accumulator at 128."""
        frac = params["scale_format"].frac_bits
        return f"q{params['acc_width'] - frac}.{frac}"

    def module_name(self, params):
        scale = params["scale_format"].name.replace(".", "p")
        return (f"mixed_int_pe_w{params['weight_bits']}_{params['act_format'].name}"
                f"_k{params['lanes']}_{scale}_{params['multiplier']}_acc{params['acc_width']}")

    def stream_formats(self, params):
        code = f"uint{params['weight_bits']}"
        return {
            "i": {"a": params["act_format"].name, "q": code, "zero": code,
                  "scale": params["scale_format"].name, "group_last": "uint1", "last": "uint1"},
            "o": {"acc": self.acc_format(params)},
        }

    def field_info(self, params):
        if params["multiplier"] == "shift_add":
            scale = ("scale of the group (unsigned fixed point), read on the group's final beat: "
                     "acc += scale * (the group's sum of (q[k] - zero) * a[k])")
            group_last = ("ends the scale group: acc += scale * (the group's sum of "
                          "(q[k] - zero) * a[k]), and that sum restarts")
        else:
            scale = ("scale of this beat's weights (unsigned fixed point), applied on every beat; "
                     "constant over a group it gives the per-group result")
            group_last = ("ends the scale group (no effect with dequant_first: every beat is "
                          "scaled on its own)")
        frac = params["scale_format"].frac_bits
        return {
            "i": {"a": FieldInfo("activation of lane {k}"),
                  "q": FieldInfo("unsigned weight code of lane {k}: the weight is "
                                 "scale * (q[{k}] - zero)"),
                  "zero": FieldInfo("zero point of this beat's weight codes, subtracted from "
                                    "each q[k]"),
                  "scale": FieldInfo(scale),
                  "group_last": FieldInfo(group_last),
                  "last": LAST_ENDS_GROUP},
            "o": {"acc": group_sum("scale * (q[k] - zero) * a[k]",
                                   params["acc_width"],
                                   f", exact; raw fixed point with the scale's {frac} fraction "
                                   f"bits")},
        }

    def latency(self, params):
        return 1

    def initiation_interval(self, params):
        return 1
