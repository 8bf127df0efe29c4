"""Generator ``mx_dot``: OCP MX v1.0 block dot-product PE with a binary32 accumulator
(:class:`hdl.mx_dot.MxDot`)."""

from __future__ import annotations

from hdl.mx import MX_ELEMENTS, mx_element
from hdl.mx_dot import MX_LANES, MxDot

from .base import Generator
from .params import ChoiceParam

__all__ = ["MxDotGenerator"]


class MxDotGenerator(Generator):
    name = "mx_dot"
    summary = ("OCP MX v1.0 block dot-product PE: 32-element blocks with E8M0 scales, each block's "
               "exact value added to an fp32 accumulator with one rounding")
    params = (
        ChoiceParam("a_elem", default="mxfp8_e4m3", choices=tuple(MX_ELEMENTS),
                    help="MX element type of a (mxfp8 e4m3/e5m2, mxfp6 e3m2/e2m3, mxfp4 e2m1, "
                         "mxint8 = int8 * 2^-6)"),
        ChoiceParam("b_elem", default="mxfp8_e4m3", choices=tuple(MX_ELEMENTS),
                    help="MX element type of b (may differ from a_elem)"),
        ChoiceParam("lanes", default=8, choices=MX_LANES,
                    help="elements per beat (K); a 32-element block takes 32/K beats"),
    )

    def build(self, params):
        return MxDot(a_elem=mx_element(params["a_elem"]), b_elem=mx_element(params["b_elem"]),
                     lanes=params["lanes"])

    def module_name(self, params):
        return f"mx_dot_{params['a_elem']}x{params['b_elem']}_k{params['lanes']}"
