"""Generator ``mx_dot``: OCP MX v1.0 block dot-product PE with a binary32 accumulator
(:class:`hdl.mx_dot.MxDot`)."""

from __future__ import annotations

from hdl.mx import MX_ELEMENTS, mx_element
from hdl.mx_dot import MX_LANES, MxDot

from .base import Generator
from .manifest import FieldInfo
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

    def stream_formats(self, params):
        return {
            "i": {"a": mx_element(params["a_elem"]).format.name,
                  "b": mx_element(params["b_elem"]).format.name,
                  "xa": "e8m0", "xb": "e8m0", "last": "uint1"},
            "o": {"y": "fp32"},
        }

    def field_info(self, params):
        lanes = params["lanes"]

        def element(op: str) -> FieldInfo:
            return FieldInfo(f"{op} element of lane {{k}} ({params[op + '_elem']} code): element "
                             f"j * {lanes} + {{k}} of its 32-element block on the block's beat j")

        def scale(op: str) -> FieldInfo:
            return FieldInfo(f"E8M0 scale of the {op} block, 2^(x{op} - 127) (0xFF: NaN), taken on "
                             f"the block's first beat and ignored on its other beats")

        return {
            "i": {"a": element("a"), "b": element("b"), "xa": scale("a"), "xb": scale("b"),
                  "last": FieldInfo("on a block's final beat: the output beat (the accumulator "
                                    "with this block added) follows and the accumulator "
                                    "restarts; ignored on other beats")},
            "o": {"y": FieldInfo("binary32 code of the accumulator: the sum of the blocks since "
                                 "the previous output, each block's exact scaled dot product "
                                 "added with one round-to-nearest-even rounding")},
        }

    def latency(self, params):
        return 1

    def initiation_interval(self, params):
        return 1
