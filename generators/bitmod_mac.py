"""Generator ``bitmod_mac``: BitMoD mixture-of-datatype weights, term-serial, with per-group
dequantization (:class:`hdl.bitmod_mac.BitmodMAC`)."""

from __future__ import annotations

from hdl.bitmod_mac import BitmodMAC, grid_range
from hdl.int_mac import min_signed_width

from .base import Generator
from .int_mac import ACC_BEATS, derive_acc_width
from .params import AUTO, ChoiceParam, FormatParam, IntParam

__all__ = ["BitmodMACGenerator"]


def _beat_range(params) -> tuple[int, int]:
    fa = params["act_format"]
    wlo, whi = grid_range(params["weight_bits"])
    corners = [x * y for x in (fa.min, fa.max) for y in (wlo, whi)]
    return params["lanes"] * min(corners), params["lanes"] * max(corners)


def group_width(params) -> int:
    """Width of the group sum register: no overflow within 2^16 beats."""
    lo, hi = _beat_range(params)
    return min_signed_width(lo * ACC_BEATS, hi * ACC_BEATS)


def _scaled_width(params, beats: int) -> int:
    lo, hi = _beat_range(params)
    scale_max = (1 << params["scale_format"].width) - 1
    return min_signed_width(lo * beats * scale_max, hi * beats * scale_max)


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
        IntParam("acc_width", default=AUTO, min=1, max=128,
                 help="output accumulator width in bits (signed fixed point with the scale's "
                      "fraction bits); narrower values wrap (must hold one scaled beat)",
                 auto_help="no overflow within 2^16 beats"),
    )

    def derive(self, params):
        return derive_acc_width(
            params, lambda beats: _scaled_width(params, beats),
            minimum=max(_scaled_width(params, 1), params["scale_format"].frac_bits + 1),
            what="one beat's scaled sum of products")

    def build(self, params):
        return BitmodMAC(act_format=params["act_format"], weight_bits=params["weight_bits"],
                         lanes=params["lanes"], scale_format=params["scale_format"],
                         group_width=group_width(params), acc_width=params["acc_width"])

    def acc_format(self, params) -> str:
        frac = params["scale_format"].frac_bits
        return f"q{params['acc_width'] - frac}.{frac}"

    def module_name(self, params):
        scale = params["scale_format"].name.replace(".", "_")
        return (f"bitmod_mac_{params['act_format'].name}_w{params['weight_bits']}"
                f"_k{params['lanes']}_{scale}_acc{params['acc_width']}")

    def stream_formats(self, params):
        return {
            "i": {"a": params["act_format"].name, "w": f"uint{params['weight_bits']}",
                  "dtype": "uint3", "scale": params["scale_format"].name,
                  "group_last": "uint1", "last": "uint1"},
            "o": {"acc": self.acc_format(params), "error": "uint1"},
        }

    def latency(self, params):
        # Fixed from the acceptance of a 'last' beat (its final cycle) to the output beat.
        return 1

    def initiation_interval(self, params):
        return None   # 1 or 2 cycles per beat, depending on the weights
