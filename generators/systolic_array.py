"""Generator ``systolic_array``: R x C integer GEMM arrays (:mod:`hdl.systolic_array`)."""

from __future__ import annotations

from hdl.int_mac import dot_product_range, min_signed_width
from hdl.systolic_array import DATAFLOWS, OutputStationaryArray, WeightStationaryArray

from .base import Generator
from .int_mac import ACCUMULATOR_PARAM, REDUCTION_PARAM, acc_format_name, acc_is_signed, \
    default_acc_width, option_suffix
from .params import AUTO, ChoiceParam, FormatParam, IntParam

__all__ = ["SystolicArrayGenerator"]

_DATAFLOW_TAGS = {"output_stationary": "os", "weight_stationary": "ws"}


class SystolicArrayGenerator(Generator):
    name = "systolic_array"
    summary = ("R x C integer GEMM array of MAC PEs, output-stationary (C = A @ B per tile) or "
               "weight-stationary (y = x @ W with a stored tile)")
    params = (
        IntParam("rows", default=4, min=1, max=32, help="rows R of the PE grid"),
        IntParam("cols", default=4, min=1, max=32, help="columns C of the PE grid"),
        FormatParam("a_format", default="int8", kinds=("int", "uint"), min_width=1, max_width=16,
                    help="format of A (output-stationary) or of the activations x "
                         "(weight-stationary)"),
        FormatParam("b_format", default="int8", kinds=("int", "uint"), min_width=1, max_width=16,
                    help="format of B (output-stationary) or of the weights W "
                         "(weight-stationary)"),
        IntParam("acc_width", default=AUTO, min=1, max=128,
                 help="accumulator / partial-sum and output width; narrower values wrap in "
                      "two's complement",
                 auto_help="output-stationary: no overflow within 2^16 k-steps; "
                           "weight-stationary: exact for R products"),
        ChoiceParam("dataflow", default="output_stationary", choices=DATAFLOWS,
                    help="which operand stays in the PEs: the outputs (stream i in, o out) or "
                         "the weights (streams w and x in, y out)"),
        REDUCTION_PARAM,
        ACCUMULATOR_PARAM,
    )

    def derive(self, params):
        out = {}
        if params["acc_width"] is AUTO:
            fa, fb = params["a_format"], params["b_format"]
            if params["dataflow"] == "output_stationary":
                out["acc_width"] = default_acc_width(fa, fb, 1)
            else:
                lo, hi = dot_product_range(fa, fb, params["rows"])
                out["acc_width"] = min_signed_width(lo, hi, signed_=acc_is_signed(fa, fb))
        return out

    def build(self, params):
        cls = OutputStationaryArray if params["dataflow"] == "output_stationary" \
            else WeightStationaryArray
        return cls(rows=params["rows"], cols=params["cols"], a_format=params["a_format"],
                   b_format=params["b_format"], acc_width=params["acc_width"],
                   acc_signed=acc_is_signed(params["a_format"], params["b_format"]),
                   reduction=params["reduction"], accumulator=params["accumulator"])

    def module_name(self, params):
        return (f"systolic_{_DATAFLOW_TAGS[params['dataflow']]}_{params['rows']}x{params['cols']}"
                f"_{params['a_format'].name}x{params['b_format'].name}"
                f"_acc{params['acc_width']}{option_suffix(params)}")

    def stream_formats(self, params):
        fa, fb, acc = params["a_format"].name, params["b_format"].name, acc_format_name(params)
        if params["dataflow"] == "output_stationary":
            return {"i": {"a": fa, "b": fb, "last": "uint1"}, "o": {"c": acc, "last": "uint1"}}
        return {"w": {"w": fb, "last": "uint1"}, "x": {"x": fa}, "y": {"y": acc}}

    def latency(self, params):
        # Output-stationary: row r of a tile leaves C + r cycles after its last beat, so no
        # single number describes every output beat.
        if params["dataflow"] == "output_stationary":
            return None
        return params["rows"] + params["cols"] - 1

    def initiation_interval(self, params):
        # Output-stationary tiles shorter than max(R, C) k-steps slow the input down.
        return None if params["dataflow"] == "output_stationary" else 1
