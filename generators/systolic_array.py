"""Generator ``systolic_array``: R x C integer GEMM arrays (:mod:`hdl.systolic_array`)."""

from __future__ import annotations

from hdl.numbers import dot_product_range
from hdl.systolic_array import DATAFLOWS, DRAINS, OutputStationaryArray, WeightStationaryArray

from .accumulator import acc_width_param, derive_acc_width
from .base import Generator
from .options import ACCUMULATOR_PARAM, REDUCTION_PARAM, acc_is_signed, option_suffix
from .params import ChoiceParam, FormatParam, IntParam, ParamError

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
        acc_width_param("accumulator / partial-sum and output width (one beat: one product per "
                        "PE output-stationary, R products weight-stationary)",
                        auto_help="output-stationary: no overflow within 2^16 k-steps; "
                                  "weight-stationary: exact for R products"),
        ChoiceParam("dataflow", default="output_stationary", choices=DATAFLOWS,
                    help="which operand stays in the PEs: the outputs (stream i in, o out) or "
                         "the weights (streams w and x in, y out)"),
        ChoiceParam("drain", default="overlap", choices=DRAINS,
                    help="output-stationary only: how results leave. overlap: through a result "
                         "register per PE, while the next tile enters (row r leaves C + r "
                         "+ pipeline_stages cycles after 'last'; one beat per cycle for tiles of K >= max(R, C) "
                         "beats, else one tile per max(R, C) cycles); shift: through the "
                         "accumulators themselves, shifted up one row per output beat, no "
                         "second register set (row r leaves R + C - 1 + r cycles after 'last'; "
                         "the next tile waits: a tile of K beats takes K + 2R + C - 3 cycles)"),
        IntParam("pipeline_stages", default=0, min=0, max=3,
                 help="output-stationary with drain overlap only, for Fmax: registers "
                      "around each PE's multiplier. 1, 2: between multiplier and accumulator "
                      "(with 2, one can sit beside an ECP5 DSP block, one beside the adder); "
                      "3: as 2 plus the PE's own copy of its operands in front of the "
                      "multiplier. Every result row leaves that many cycles later"),
        REDUCTION_PARAM,
        ACCUMULATOR_PARAM,
    )

    def derive(self, params):
        fa, fb = params["a_format"], params["b_format"]
        if params["dataflow"] != "output_stationary" and params["drain"] != "overlap":
            raise ParamError(f"--drain: {params['drain']!r} is only for --dataflow "
                             f"output_stationary; allowed: overlap")
        if params["pipeline_stages"] and (params["dataflow"] != "output_stationary"
                                          or params["drain"] != "overlap"):
            raise ParamError(f"--pipeline-stages: {params['pipeline_stages']} is only for "
                             f"--dataflow output_stationary with --drain overlap; allowed: 0")
        if params["dataflow"] == "output_stationary":
            # Each PE adds one product a[r] * b[c] per beat and accumulates over the tile.
            return derive_acc_width(params, dot_product_range(fa, fb, 1),
                                    signed=acc_is_signed(fa, fb))
        # A vector beat gives y[c] = sum of R products outright; nothing accumulates across beats.
        return derive_acc_width(params, dot_product_range(fa, fb, params["rows"]),
                                signed=acc_is_signed(fa, fb), auto_beats=1)

    def build(self, params):
        common = dict(rows=params["rows"], cols=params["cols"], a_format=params["a_format"],
                      b_format=params["b_format"], acc_width=params["acc_width"],
                      acc_signed=acc_is_signed(params["a_format"], params["b_format"]),
                      reduction=params["reduction"], accumulator=params["accumulator"])
        if params["dataflow"] == "output_stationary":
            return OutputStationaryArray(drain=params["drain"],
                                         pipeline_stages=params["pipeline_stages"], **common)
        return WeightStationaryArray(**common)

    def module_name(self, params):
        # The default drain adds nothing, so that existing names stay.
        drain = "" if params["drain"] == "overlap" else f"_{params['drain']}"
        pipeline = f"_p{params['pipeline_stages']}" if params["pipeline_stages"] else ""
        return (f"systolic_{_DATAFLOW_TAGS[params['dataflow']]}_{params['rows']}x{params['cols']}"
                f"_{params['a_format'].name}x{params['b_format'].name}"
                f"_acc{params['acc_width']}{option_suffix(params)}{drain}{pipeline}")
