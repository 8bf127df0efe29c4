"""Generator ``cube_array``: the TPE paper's 3D-Cube, an R x C grid of K-lane dot-product units
(:class:`hdl.cube_array.CubeArray`)."""

from __future__ import annotations

from hdl.cube_array import CubeArray

from .accumulator import acc_width_param
from .base import Generator
from .int_mac import IntMACGenerator
from .options import ACCUMULATOR_PARAM, REDUCTION_PARAM, acc_is_signed, option_suffix
from .params import FormatParam, IntParam

__all__ = ["CubeArrayGenerator"]


class CubeArrayGenerator(Generator):
    name = "cube_array"
    summary = ("3D-Cube integer GEMM engine: R x C grid of K-lane dot-product units, one R x K "
               "block of A and K x C block of B per beat, C = A @ B per tile")
    params = (
        IntParam("rows", default=2, min=1, max=16, help="rows R of the unit grid (rows of A)"),
        IntParam("cols", default=2, min=1, max=16, help="columns C of the unit grid (columns "
                                                        "of B)"),
        IntParam("lanes", default=2, min=1, max=16, help="products per unit and beat (K, the "
                                                         "k-block depth)"),
        FormatParam("a_format", default="int8", kinds=("int", "uint"), min_width=1, max_width=16,
                    help="format of A"),
        FormatParam("b_format", default="int8", kinds=("int", "uint"), min_width=1, max_width=16,
                    help="format of B"),
        acc_width_param("accumulator and output width (one beat: K products per unit)",
                        auto_help="no overflow within 2^16 k-blocks"),
        REDUCTION_PARAM,
        ACCUMULATOR_PARAM,
    )

    #: Each unit adds one K-lane dot product per beat and accumulates over the tile: the
    #: accumulator rule of an int_mac with K lanes.
    derive = IntMACGenerator.derive

    def build(self, params):
        names = ("rows", "cols", "lanes", "a_format", "b_format", "acc_width", "reduction",
                 "accumulator")
        return CubeArray(**{name: params[name] for name in names},
                         acc_signed=acc_is_signed(params["a_format"], params["b_format"]))

    def module_name(self, params):
        return (f"cube_{params['rows']}x{params['cols']}x{params['lanes']}"
                f"_{params['a_format'].name}x{params['b_format'].name}"
                f"_acc{params['acc_width']}{option_suffix(params)}")
