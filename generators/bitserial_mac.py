"""Generator ``bitserial_mac``: K-lane dot product with bit-parallel activations and bit- or
term-serial weights of runtime precision (:class:`hdl.bitserial_mac.BitSerialMAC`)."""

from __future__ import annotations

from hdl.bitserial_mac import SERIAL_MODES, BitSerialMAC, precision_width
from hdl.formats import IntFormat
from hdl.numbers import dot_product_range

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .fields import LAST, group_sum
from .manifest import FieldInfo
from .params import BoolParam, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["BitSerialMACGenerator"]


def _weight_format(params) -> IntFormat:
    return IntFormat(params["weight_bits"], params["weight_signed"])


def _acc_signed(params) -> bool:
    return params["act_format"].signed or params["weight_signed"]


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
        acc_width_param("accumulator and output width in bits"),
    )

    def derive(self, params):
        if params["bits_per_cycle"] > params["weight_bits"]:
            raise ParamError(f"--bits-per-cycle: {params['bits_per_cycle']} is larger than "
                             f"--weight-bits {params['weight_bits']}; allowed: at most weight_bits")
        if params["serial_mode"] == "terms" and params["bits_per_cycle"] != 1:
            raise ParamError(f"--bits-per-cycle: {params['bits_per_cycle']} is not allowed with "
                             f"--serial-mode terms; allowed: 1 (one term per lane per cycle)")
        beat = dot_product_range(params["act_format"], _weight_format(params), params["lanes"])
        return derive_acc_width(params, beat, signed=_acc_signed(params))

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

    def field_info(self, params):
        signed = params["weight_signed"]
        coding = "two's complement" if signed else "unsigned"
        return {
            "i": {"a": FieldInfo("activation of lane {k}: the beat adds a[{k}] * w[{k}] (with the "
                                 "other lanes' products) to the accumulator"),
                  "w": FieldInfo(f"weight field of lane {{k}}: the weight is its low prec bits, "
                                 f"{coding}; higher bits are ignored"),
                  "prec": FieldInfo(f"this beat's weight precision in bits, {2 if signed else 1} "
                                    f"to {params['weight_bits']} (other values give unspecified "
                                    f"sums)"),
                  "last": LAST},
            "o": {"acc": group_sum("a[k] * w[k]", params["acc_width"])},
        }

    def latency(self, params):
        # Fixed from the acceptance of a 'last' beat (its final cycle) to the output beat.
        return 1

    def initiation_interval(self, params):
        return None   # depends on each beat's precision (bits) or digits (terms)
