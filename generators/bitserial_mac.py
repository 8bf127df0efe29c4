"""Generator ``bitserial_mac``: K-lane dot product with bit-parallel activations and bit- or
term-serial weights of runtime precision (:class:`hdl.bitserial_mac.BitSerialMAC`)."""

from __future__ import annotations

from hdl.bitserial_mac import SERIAL_MODES, BitSerialMAC
from hdl.formats import IntFormat
from hdl.numbers import dot_product_range

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .options import acc_is_signed
from .params import BoolParam, ChoiceParam, FormatParam, IntParam, ParamError

__all__ = ["BitSerialMACGenerator"]


def _weight_format(params) -> IntFormat:
    return IntFormat(params["weight_bits"], params["weight_signed"])


def _acc_signed(params) -> bool:
    return acc_is_signed(params["act_format"], _weight_format(params))


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
                    help="bits mode: weight bits processed per cycle; terms mode: non-zero "
                         "canonical signed digits per lane per cycle (1 or 2)"),
        ChoiceParam("serial_mode", default="bits", choices=SERIAL_MODES,
                    help="bits: ceil(prec/bits_per_cycle) cycles per beat; terms: "
                         "bits_per_cycle canonical signed digits per lane per cycle, zero "
                         "digits skipped, ceil(max non-zero digits of a lane / bits_per_cycle) "
                         "cycles per beat, at least 1"),
        acc_width_param("accumulator and output width in bits"),
    )

    def derive(self, params):
        if params["bits_per_cycle"] > params["weight_bits"]:
            raise ParamError(f"--bits-per-cycle: {params['bits_per_cycle']} is larger than "
                             f"--weight-bits {params['weight_bits']}; allowed: at most weight_bits")
        if params["serial_mode"] == "terms" and params["bits_per_cycle"] not in (1, 2):
            raise ParamError(f"--bits-per-cycle: {params['bits_per_cycle']} is not allowed with "
                             f"--serial-mode terms; allowed: 1 or 2 (non-zero terms per lane per "
                             f"cycle)")
        beat = dot_product_range(params["act_format"], _weight_format(params), params["lanes"])
        return derive_acc_width(params, beat, signed=_acc_signed(params))

    def build(self, params):
        return BitSerialMAC(
            act_format=params["act_format"], weight_bits=params["weight_bits"],
            weight_signed=params["weight_signed"], lanes=params["lanes"],
            bits_per_cycle=params["bits_per_cycle"], serial_mode=params["serial_mode"],
            acc_width=params["acc_width"], acc_signed=_acc_signed(params))

    def module_name(self, params):
        sign = "s" if params["weight_signed"] else "u"
        return (f"bitserial_mac_{params['act_format'].name}_w{params['weight_bits']}{sign}"
                f"_k{params['lanes']}_{params['serial_mode']}{params['bits_per_cycle']}"
                f"_acc{params['acc_width']}")
