"""Generator ``bitmod_mac``: BitMoD mixture-of-datatype weights, term-serial, with per-group
dequantization (:class:`hdl.bitmod_mac.BitmodMAC`)."""

from __future__ import annotations

from hdl.bitmod_mac import BitmodMAC, scaled_beat_range

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .params import ChoiceParam, FormatParam, IntParam

__all__ = ["BitmodMACGenerator"]


class BitmodMACGenerator(Generator):
    name = "bitmod_mac"
    summary = ("BitMoD mixture-of-datatype MAC: 3/4-bit weights decoded per beat (INT, FP, "
               "extra-resolution/-range variants) to signed power-of-two terms, term-serial, "
               "per-group scaling, accumulated until 'last'")
    params = (
        FormatParam("act_format", default="int8", help="format of the activations a",
                    kinds=("int", "uint"), min_width=2, max_width=16),
        ChoiceParam("weight_bits", default=4, choices=(3, 4), help="width of the weight codes"),
        IntParam("lanes", default=1, min=1, max=64, help="products per beat (K)"),
        FormatParam("scale_format", default="uq4.12", kinds=("ufixed",), min_width=1,
                    max_width=24, help="format of the per-group scale"),
        acc_width_param("output accumulator width in bits (signed fixed point with the scale's "
                        "fraction bits)"),
    )

    def derive(self, params):
        return derive_acc_width(params, scaled_beat_range(
            params["act_format"], params["weight_bits"], params["lanes"], params["scale_format"]),
            frac_bits=params["scale_format"].frac_bits)

    def build(self, params):
        return BitmodMAC(act_format=params["act_format"], weight_bits=params["weight_bits"],
                         lanes=params["lanes"], scale_format=params["scale_format"],
                         acc_width=params["acc_width"])

    def module_name(self, params):
        scale = params["scale_format"].name.replace(".", "_")
        return (f"bitmod_mac_{params['act_format'].name}_w{params['weight_bits']}"
                f"_k{params['lanes']}_{scale}_acc{params['acc_width']}")
