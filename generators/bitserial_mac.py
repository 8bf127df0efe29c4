"""Generator ``bitserial_mac``: K-lane dot product with bit-parallel activations and bit- or
term-serial weights of runtime precision (:class:`hdl.bitserial_mac.BitSerialMAC`)."""

from __future__ import annotations

from hdl.bitserial_mac import SERIAL_MODES, BitSerialMAC, precision_width
from hdl.formats import IntFormat
from hdl.int_mac import dot_product_range, min_signed_width

from .base import Generator
from .int_mac import derive_acc_width
from .params import AUTO, BoolParam, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["BitSerialMACGenerator"]


def _weight_format(params) -> IntFormat:
    return IntFormat(params["weight_bits"], params["weight_signed"])


def _acc_signed(params) -> bool:
    return params["act_format"].signed or params["weight_signed"]


def _sum_width(params, beats: int) -> int:
    lo, hi = dot_product_range(params["act_format"], _weight_format(params),
                               params["lanes"] * beats)
    return min_signed_width(lo, hi, signed_=_acc_signed(params))


class BitSerialMACGenerator(Generator):
    name = "bitserial_mac"
    summary = ("bit-/term-serial integer MAC: K-lane dot product, activations bit-parallel, "
               "weights serial at a per-beat precision, accumulated until 'last'")
    params = (
        FormatParam("act_format", default="int8", help="format of the activations a",
                    kinds=("int", "uint"), min_width=2, max_width=16),
        IntParam("weight_bits", default=8, min=2, max=16,
                 help="maximum weight precision Wmax (width of each w field)"),
        BoolParam("weight_signed", default=True,
                  help="weights are two's complement at their precision (else unsigned)"),
        IntParam("lanes", default=1, min=1, max=64, help="products per beat (K)"),
        ChoiceParam("bits_per_cycle", default=1, choices=(1, 2, 4),
                    help="weight bits processed per cycle in bits mode (terms mode: 1)"),
        ChoiceParam("serial_mode", default="bits", choices=SERIAL_MODES,
                    help="bits: ceil(prec/bits_per_cycle) cycles per beat; terms: one canonical "
                         "signed digit per lane per cycle, zero digits skipped"),
        IntParam("acc_width", default=AUTO, min=1, max=128,
                 help="accumulator and output width in bits; narrower values wrap in two's "
                      "complement (must hold one beat's sum)",
                 auto_help="no overflow within 2^16 beats"),
    )

    def derive(self, params):
        if params["bits_per_cycle"] > params["weight_bits"]:
            raise ParamError(f"--bits-per-cycle: {params['bits_per_cycle']} is larger than "
                             f"--weight-bits {params['weight_bits']}; allowed: at most weight_bits")
        if params["serial_mode"] == "terms" and params["bits_per_cycle"] != 1:
            raise ParamError(f"--bits-per-cycle: {params['bits_per_cycle']} is not allowed with "
                             f"--serial-mode terms; allowed: 1 (one term per lane per cycle)")
        return derive_acc_width(params, lambda beats: _sum_width(params, beats),
                                minimum=_sum_width(params, 1), what="one beat's sum of products")

    def build(self, params):
        return BitSerialMAC(
            act_format=params["act_format"], weight_bits=params["weight_bits"],
            weight_signed=params["weight_signed"], lanes=params["lanes"],
            bits_per_cycle=params["bits_per_cycle"], serial_mode=params["serial_mode"],
            acc_width=params["acc_width"], acc_signed=_acc_signed(params))

    def acc_format(self, params) -> str:
        return f"{'int' if _acc_signed(params) else 'uint'}{params['acc_width']}"

    def module_name(self, params):
        sign = "s" if params["weight_signed"] else "u"
        return (f"bitserial_mac_{params['act_format'].name}_w{params['weight_bits']}{sign}"
                f"_k{params['lanes']}_{params['serial_mode']}{params['bits_per_cycle']}"
                f"_acc{params['acc_width']}")

    def stream_formats(self, params):
        return {
            "i": {"a": params["act_format"].name, "w": f"uint{params['weight_bits']}",
                  "prec": f"uint{precision_width(params['weight_bits'])}", "last": "uint1"},
            "o": {"acc": self.acc_format(params)},
        }

    def latency(self, params):
        # Fixed from the acceptance of a 'last' beat (its final cycle) to the output beat.
        return 1

    def initiation_interval(self, params):
        return None   # depends on each beat's precision (bits) or digits (terms)
