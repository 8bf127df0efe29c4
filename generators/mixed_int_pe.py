"""Generator ``mixed_int_pe``: mixed-precision integer PE (MixPE), :class:`hdl.mixed_int_pe.MixedIntPE`."""

from __future__ import annotations

from hdl.mixed_int_pe import MAX_PIPELINE_STAGES, MULTIPLIERS, MixedIntPE, scaled_beat_range
from hdl.numbers import ACC_BEATS, acc_width_bounds

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .params import ChoiceParam, FormatParam, IntParam

__all__ = ["MixedIntPEGenerator", "default_acc_width"]


def default_acc_width(weight_bits, act_format, lanes, scale_format, beats=ACC_BEATS):
    """Width rule: the largest ``|scale * (q - zero) * a|`` times ``lanes * beats``, in two's
    complement raw fixed point (the scale's fraction bits): the AUTO ``acc_width`` for
    ``beats`` = 2^16."""
    beat = scaled_beat_range(weight_bits, act_format, lanes, scale_format)
    return acc_width_bounds(beat, auto_beats=beats, frac_bits=scale_format.frac_bits)[0]


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
        IntParam("pipeline_stages", default=0, min=0, max=MAX_PIPELINE_STAGES,
                 help="pipeline registers for timing closure, each adding a cycle of latency "
                      "(results unchanged); shift_add: after the beat's products, then in the "
                      "middle of the scale product, then after the lane products; "
                      "dequant_first: after the products, then after the second multipliers, "
                      "then after the first ones"),
    )

    def derive(self, params):
        return derive_acc_width(params, scaled_beat_range(
            params["weight_bits"], params["act_format"], params["lanes"], params["scale_format"]),
            frac_bits=params["scale_format"].frac_bits)

    def build(self, params):
        return MixedIntPE(weight_bits=params["weight_bits"], act_format=params["act_format"],
                          lanes=params["lanes"], scale_format=params["scale_format"],
                          multiplier=params["multiplier"], acc_width=params["acc_width"],
                          pipeline_stages=params["pipeline_stages"])

    def module_name(self, params):
        scale = params["scale_format"].name.replace(".", "p")
        # No suffix without pipeline registers: the names of the unpipelined designs stay.
        stages = f"_p{params['pipeline_stages']}" if params["pipeline_stages"] else ""
        return (f"mixed_int_pe_w{params['weight_bits']}_{params['act_format'].name}"
                f"_k{params['lanes']}_{scale}_{params['multiplier']}_acc{params['acc_width']}"
                f"{stages}")
