"""Generator ``bitmod_mac``: BitMoD mixture-of-datatype weights, term-serial, with per-group
dequantization (:class:`hdl.bitmod_mac.BitmodMAC`)."""

from __future__ import annotations

from hdl.bitmod_mac import DTYPES, BitmodMAC, grid_range, grid_value

from .accumulator import ACC_BEATS, acc_width_param, derive_acc_width, sum_width
from .base import Generator
from .fields import LAST_ENDS_GROUP, group_sum
from .manifest import FieldInfo
from .params import ChoiceParam, FormatParam, IntParam

__all__ = ["BitmodMACGenerator", "dtype_values"]


def _beat_range(params) -> tuple[int, int]:
    """Smallest and largest ``sum_k a[k] * w[k]`` of one beat (any valid dtype)."""
    fa = params["act_format"]
    wlo, whi = grid_range(params["weight_bits"])
    corners = [x * y for x in (fa.min, fa.max) for y in (wlo, whi)]
    return params["lanes"] * min(corners), params["lanes"] * max(corners)


def group_width(params) -> int:
    """Width of the group sum register: no overflow within 2^16 beats."""
    return sum_width(_beat_range(params), ACC_BEATS)


def _scaled_beat_range(params) -> tuple[int, int]:
    """What one beat adds to the accumulator, raw: its products times the largest scale code
    (a one-beat group)."""
    scale_max = (1 << params["scale_format"].width) - 1
    lo, hi = _beat_range(params)
    return lo * scale_max, hi * scale_max


def dtype_values(weight_bits: int) -> dict[int, str]:
    """``dtype`` code -> what the weight codes mean under it (from :func:`hdl.bitmod_mac.
    grid_value`, the hardware's own table)."""
    n = 1 << weight_bits
    negative_zero = n >> 1   # sign bit set, magnitude 0
    int_values = [grid_value(code, 0, weight_bits) for code in range(n)]
    magnitudes = ", ".join(str(grid_value(code, 1, weight_bits)) for code in range(negative_zero))
    values = {
        0: f"{DTYPES[0]}: two's complement, {min(int_values)} to {max(int_values)}",
        1: f"{DTYPES[1]}: sign-magnitude (top bit the sign), magnitudes {magnitudes} by "
           f"magnitude code; the negative-zero code is 0",
    }
    for dtype in range(2, len(DTYPES)):
        special = grid_value(negative_zero, dtype, weight_bits)
        values[dtype] = f"{DTYPES[dtype]}: {DTYPES[1]}, but the negative-zero code is {special:+d}"
    for dtype in range(len(DTYPES), 8):
        values[dtype] = "invalid: the weights count as 0 and the output beat's error is set"
    return values


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
        return derive_acc_width(params, _scaled_beat_range(params),
                                frac_bits=params["scale_format"].frac_bits)

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

    def field_info(self, params):
        frac = params["scale_format"].frac_bits
        return {
            "i": {"a": FieldInfo("activation of lane {k}: the beat adds a[{k}] * w[{k}] (with the "
                                 "other lanes' products) to the group sum"),
                  "w": FieldInfo("weight code of lane {k}, decoded under this beat's dtype"),
                  "dtype": FieldInfo("data type of this beat's weight codes",
                                     dtype_values(params["weight_bits"])),
                  "scale": FieldInfo("scale of the group (unsigned fixed point), read on the "
                                     "group's final beat: acc += scale * (the group's sum)"),
                  "group_last": FieldInfo("ends the scale group: acc += scale * (the group's sum "
                                          "of a[k] * w[k]), and that sum restarts"),
                  "last": LAST_ENDS_GROUP},
            "o": {"acc": group_sum("scale * a[k] * w[k]", params["acc_width"],
                                   f", exact; raw fixed point with the scale's {frac} fraction "
                                   f"bits"),
                  "error": FieldInfo("flags an invalid dtype (6 or 7) in the accumulation group",
                                     {0: "every beat's dtype was valid",
                                      1: "some beat had dtype 6 or 7: its weights counted as 0"})},
        }

    def latency(self, params):
        # Fixed from the acceptance of a 'last' beat (its final cycle) to the output beat.
        return 1

    def initiation_interval(self, params):
        return None   # 1 or 2 cycles per beat, depending on the weights
