"""Generator ``scalable_mac``: precision-scalable integer MAC (AccLLM's W8/W4/W2 x A8 engine, Bit
Fusion style), K lanes of A x W8, 2K of A x W4 or 4K of A x W2 per beat on one array of 2-bit
weight slices (:class:`hdl.scalable_mac.ScalableMAC`)."""

from __future__ import annotations

from hdl.scalable_mac import MODES, ScalableMAC, acc_signed, beat_range

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .params import BoolParam, ChoiceSetParam, FormatParam, IntParam

__all__ = ["ScalableMACGenerator"]


class ScalableMACGenerator(Generator):
    name = "scalable_mac"
    summary = ("precision-scalable integer MAC (AccLLM, Bit Fusion style): per beat K lanes of "
               "A x W8, 2K of A x W4 or 4K of A x W2 on one array of 2-bit weight slices, "
               "accumulated until 'last'")
    params = (
        FormatParam("act_format", default="int8", help="format of the activations a",
                    kinds=("int", "uint"), min_width=4, max_width=16),
        IntParam("lanes", default=4, min=1, max=64,
                 help="K, 8-bit weight slots: K products per beat in mode w8, 2K in w4, 4K in w2"),
        ChoiceSetParam("modes", default=MODES, choices=MODES,
                       help="weight precisions built in (mode codes w8 = 0, w4 = 1, w2 = 2); a "
                            "beat with another code adds nothing and flags an error"),
        BoolParam("weight_signed", default=True,
                  help="weights are two's complement at the mode's precision (else unsigned)"),
        acc_width_param("accumulator and output width in bits",
                        auto_help="no overflow within 2^16 beats of the widest-range mode built"),
    )

    def derive(self, params):
        act, signed_w = params["act_format"], params["weight_signed"]
        return derive_acc_width(params, beat_range(act, params["lanes"], params["modes"], signed_w),
                                signed=acc_signed(act, signed_w))

    def build(self, params):
        return ScalableMAC(act_format=params["act_format"], lanes=params["lanes"],
                           modes=params["modes"], weight_signed=params["weight_signed"],
                           acc_width=params["acc_width"])

    def module_name(self, params):
        sign = "s" if params["weight_signed"] else "u"
        return (f"scalable_mac_{params['act_format'].name}_k{params['lanes']}"
                f"_{''.join(params['modes'])}_{sign}_acc{params['acc_width']}")
