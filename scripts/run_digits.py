#!/usr/bin/env python3
"""A real model on the RTL: a quantized digits MLP with every matrix product in simulation.

The handwritten digits that scikit-learn ships (``sklearn.datasets.load_digits``: 1797 images of
8 x 8 pixels, values 0..16) are split 75 / 25 (stratified, fixed seed) and a 64-32-10 ReLU MLP is
trained on them (``MLPClassifier``, fixed seed). Its two layers are quantized in three schemes:

* **int8 per output channel** (``systolic_array`` output- and weight-stationary, ``int_mac``):
  symmetric weights ``w = s[o] * q``, ``q`` in -127..127.
* **4-bit weights with a per-group scale**, groups of ``GROUP`` weights along the input dimension,
  the scale an unsigned fixed-point number (``SCALE_FORMAT``) as the PE takes it:

  - ``mixed_int_pe``: unsigned codes with a zero point, ``w = scale * (q - zero)``;
  - ``bitmod_mac``: BitMoD data types, ``w = scale * grid[dtype][code]``, choosing per group the
    data type (INT4, FP4 or one of its four extra-value variants) with the least squared error.

* **2-bit symmetric per output channel** (``lut_mpgemm``): ``w = s[o] * (2q - 3)``, q in 0..3
  (values -3, -1, 1, 3: no zero), the step chosen by a least-squares search.

Activations are int8 with one scale per tensor: the input pixels are their own codes (scale 1/16,
exact), the hidden layer's scale comes from the float model's largest hidden activation on the
training set. Between the layers NumPy adds the bias, applies ReLU and rescales to int8.

Every matrix product of the test-set inference (both layers, every test sample) runs on the
generated hardware through :func:`sim.api.simulate`: weight tiles and activation tiles for the
8 x 8 arrays, dot products of 8 lanes per beat for the MACs, tiles of 2 samples x 16 outputs
with 4 inputs per beat for ``lut_mpgemm``. For each PE a NumPy integer reference of exactly what
that PE computes (the full dot product, or for weight-stationary the partial sum over one weight
tile; ``sum over groups of scale code * integer group sum`` for the 4-bit schemes) is written
here from the quantization scheme, independent of ``sim/golden``, and every output value is
compared with it.

Per PE and engine the report gives the mismatching output values (expected 0), the test accuracy
of the RTL outputs beside that of the integer reference, of the same scheme fake-quantized in
float NumPy and of the float model, the cycles up to the last output beat, the input beats and
the simulation wall time (builds are timed apart) with beats per second. Both engines run the
whole test set by default (``--samples N`` takes the first N): on a 2-core machine the
simulations take 0.7 s on the fast engine and 82 s on the cocotb engine (0.44 M input beats
each), and ``lut_mpgemm``'s 9000 wide beats add 0.1 s and 11 s; first-time simulator builds
add about half a minute per engine (cached in ``.sim_build/``).

Writes JSON and Markdown (default ``build/reports/digits/report.{json,md}``), prints the
Markdown on stdout and one progress line per PE and layer on stderr.

Example::

    python scripts/run_digits.py                                # both engines, Verilator
    python scripts/run_digits.py --engines fast --samples 20 --pes int_mac,bitmod_mac
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import flow  # noqa: E402
from flow import UsageError, progress  # noqa: E402

PROG = "run_digits.py"
DEFAULT_OUT = flow.ROOT / "build" / "reports" / "digits"

# -- the model -------------------------------------------------------------------------------
SEED = 0
TEST_FRACTION = 0.25
HIDDEN = 32
#: Pixels are 0..16; the MLP is trained on pixel / 16, so the pixel is the int8 code.
INPUT_SCALE = 1.0 / 16.0
#: Activations are int8; after ReLU they use the codes 0..ACT_MAX.
ACT_MAX = 127

# -- the hardware ----------------------------------------------------------------------------
LANES = 8
ARRAY = (8, 8)
#: Weights per scale group along the input dimension: two beats of LANES weights, so that the
#: PEs' group_last (end of a scale group) and last (end of the dot product) differ.
GROUP = 16
#: Scale of the 4-bit schemes: 12 fraction bits keep the scale's rounding under 1 % for group
#: steps above 0.025, 4 integer bits hold steps up to 16 (these weights need below 0.3).
SCALE_FORMAT = "uq4.12"
WEIGHT_BITS = 4
#: ``lut_mpgemm``: the issue's tile, M = 2 sample rows x N = 16 output columns, tables of
#: K = 4 activations, D = 1 table per row and beat (4 inputs per beat: both layers' 64 and 32
#: inputs fill whole beats, layer 1's 32 outputs two column tiles, layer 2's 10 one).
LUT_TILE = dict(rows=2, cols=16, lut_k=4, depth=1)
#: 2-bit symmetric weight codes q mean 2q - 3; beats run at full precision (prec = 2 bits).
SYMMETRIC2_BITS = 2
#: Candidate steps per channel for the 2-bit quantizer: max|w| / 3 times 1/64, 2/64 .. 1.
SYMMETRIC2_STEPS = 64

ENGINES = ("fast", "cocotb")
SIMULATORS = ("verilator", "icarus")


# ============================================================================================
# Data set and float model
# ============================================================================================

@dataclass(frozen=True)
class Digits:
    """The split data set; images are pixel codes (int64, 0..16), 64 per row."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray


def load_digits_split() -> Digits:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    data = load_digits()
    x = data.data.astype(np.int64)
    x_train, x_test, y_train, y_test = train_test_split(
        x, data.target, test_size=TEST_FRACTION, random_state=SEED, stratify=data.target)
    return Digits(x_train, y_train, x_test, y_test)


@dataclass(frozen=True)
class FloatLayer:
    """``y = x @ weight.T + bias``; ``weight`` is (outputs, inputs)."""

    weight: np.ndarray
    bias: np.ndarray


def train_mlp(data: Digits) -> list[FloatLayer]:
    """The 64-32-10 ReLU MLP, trained on pixel * INPUT_SCALE (deterministic: fixed seed)."""
    from sklearn.neural_network import MLPClassifier

    mlp = MLPClassifier(hidden_layer_sizes=(HIDDEN,), activation="relu", alpha=1e-3,
                        max_iter=2000, random_state=SEED)
    mlp.fit(data.x_train * INPUT_SCALE, data.y_train)
    return [FloatLayer(w.T.copy(), b.copy()) for w, b in zip(mlp.coefs_, mlp.intercepts_)]


def float_predict(layers: list[FloatLayer], pixels: np.ndarray) -> np.ndarray:
    x = pixels * INPUT_SCALE
    for i, layer in enumerate(layers):
        x = x @ layer.weight.T + layer.bias
        if i < len(layers) - 1:
            x = np.maximum(x, 0.0)
    return np.argmax(x, axis=1)


def hidden_scale(layers: list[FloatLayer], pixels: np.ndarray) -> float:
    """Per-tensor int8 scale of the hidden activations: their largest float value over
    ``pixels`` (the training set) maps to ACT_MAX."""
    h = np.maximum(pixels * INPUT_SCALE @ layers[0].weight.T + layers[0].bias, 0.0)
    return float(h.max()) / ACT_MAX


# ============================================================================================
# Weight quantization
# ============================================================================================

@dataclass(frozen=True)
class QuantLayer:
    """One layer's weights as a PE receives them and the integer arithmetic they define.

    A PE accumulates ``raw[n, o] = sum_g scale_codes[o, g] * sum_{k in g} x[n, k] *
    values[o, k]`` over groups g of ``group`` inputs; the real pre-activation is
    ``raw * lsb[o] * input_scale + bias[o]``. Per-channel int8 is one group over all inputs
    with scale code 1 (its scale lives in ``lsb``).

    ``lane_codes`` / ``group_codes`` hold the codes the PE's input fields carry, per weight
    (outputs, inputs) and per group (outputs, groups)."""

    scheme: str
    values: np.ndarray
    scale_codes: np.ndarray
    group: int
    lsb: np.ndarray
    bias: np.ndarray
    lane_codes: dict
    group_codes: dict = field(default_factory=dict)
    notes: dict = field(default_factory=dict)

    @property
    def per_channel(self) -> bool:
        """One group per output with scale code 1: plain integer weights (the arrays' case)."""
        return self.group == self.values.shape[1] and bool(np.all(self.scale_codes == 1))

    def reference(self, x: np.ndarray) -> np.ndarray:
        """``raw`` (samples, outputs) for int8 activation codes ``x``: exact int64 arithmetic."""
        x = np.asarray(x, dtype=np.int64)
        outputs, inputs = self.values.shape
        groups = inputs // self.group
        sums = np.einsum("ngk,ogk->nog", x.reshape(len(x), groups, self.group),
                         self.values.reshape(outputs, groups, self.group))
        return (sums * self.scale_codes[None]).sum(axis=2)

    def dequantized(self) -> np.ndarray:
        """The float weights this layer stands for (for the fake-quantized forward pass)."""
        scales = np.repeat(self.scale_codes, self.group, axis=1) * self.lsb[:, None]
        return self.values * scales


def quantize_int8(layer: FloatLayer) -> QuantLayer:
    """Symmetric int8 per output channel: ``q = round(w / s[o])``, ``s[o] = max|w[o]| / 127``."""
    outputs, inputs = layer.weight.shape
    scale = np.abs(layer.weight).max(axis=1) / 127.0
    scale[scale == 0] = 1.0
    q = np.clip(np.rint(layer.weight / scale[:, None]), -127, 127).astype(np.int64)
    return QuantLayer("int8 per channel", q, np.ones((outputs, 1), dtype=np.int64), inputs,
                      scale, layer.bias, lane_codes={"w": q})


def _scale_codes(step: np.ndarray, fmt) -> np.ndarray:
    """Fixed-point codes of group scales ``step``, at least 1 (a zero scale would erase the
    group) and at most the format's largest code (the quantizer then clips the weights)."""
    return np.clip(np.rint(step * 2.0 ** fmt.frac_bits), 1, (1 << fmt.width) - 1).astype(np.int64)


def _grouped(weight: np.ndarray, group: int) -> np.ndarray:
    outputs, inputs = weight.shape
    if inputs % group:
        raise ValueError(f"{inputs} inputs do not split into groups of {group}")
    return weight.reshape(outputs, inputs // group, group)


def quantize_zero_point(layer: FloatLayer, group: int, scale_format: str) -> QuantLayer:
    """Asymmetric unsigned ``WEIGHT_BITS``-bit codes per group, as ``mixed_int_pe`` takes them:
    ``w = scale * (q - zero)``; the group's range (widened to include 0, so that the zero point
    is a code) spans the codes 0..2^bits-1."""
    from hdl.formats import parse_format

    fmt = parse_format(scale_format)
    top = (1 << WEIGHT_BITS) - 1
    wg = _grouped(layer.weight, group)
    lo, hi = np.minimum(wg.min(axis=2), 0.0), np.maximum(wg.max(axis=2), 0.0)
    codes = _scale_codes((hi - lo) / top, fmt)
    step = codes / 2.0 ** fmt.frac_bits
    zero = np.clip(np.rint(-lo / step), 0, top).astype(np.int64)
    q = np.clip(np.rint(wg / step[..., None]) + zero[..., None], 0, top).astype(np.int64)
    outputs, inputs = layer.weight.shape
    return QuantLayer(f"uint{WEIGHT_BITS} zero point, g{group}",
                      (q - zero[..., None]).reshape(outputs, inputs), codes, group,
                      np.full(outputs, 2.0 ** -fmt.frac_bits), layer.bias,
                      lane_codes={"q": q.reshape(outputs, inputs)},
                      group_codes={"zero": zero, "scale": codes})


def _bitmod_grids() -> dict[int, tuple[str, np.ndarray]]:
    """BitMoD 4-bit data types: ``dtype`` code -> (name, value of each weight code 0..15).

    From the BitMoD paper as ``bitmod_mac`` numbers them: INT4 (two's complement) and FP4 E2M1
    scaled by 2 to integers (sign-magnitude, magnitudes 0 1 2 3 4 6 8 12) whose redundant
    negative-zero code (8) means 0 (FP), +-10 (extra resolution, ER_POS / ER_NEG: the paper's
    +-5) or +-16 (extra asymmetric range, EA_POS / EA_NEG: +-8)."""
    magnitudes = [0, 1, 2, 3, 4, 6, 8, 12]

    def fp(negative_zero):
        return np.array(magnitudes + [negative_zero] + [-m for m in magnitudes[1:]])

    int4 = np.array(list(range(8)) + list(range(-8, 0)))
    return {0: ("INT", int4), 1: ("FP", fp(0)), 2: ("ER_POS", fp(10)), 3: ("ER_NEG", fp(-10)),
            4: ("EA_POS", fp(16)), 5: ("EA_NEG", fp(-16))}


#: ``dtype`` code -> (name, value by weight code), for the quantizer and the integer reference.
BITMOD_GRIDS = _bitmod_grids()


def quantize_bitmod(layer: FloatLayer, group: int, scale_format: str) -> QuantLayer:
    """BitMoD: per group and data type the smallest scale whose grid covers the group's largest
    and most negative weight, every weight rounded to the nearest grid value; each group keeps
    the data type with the least squared error (the lowest dtype code on a tie)."""
    from hdl.formats import parse_format

    fmt = parse_format(scale_format)
    wg = _grouped(layer.weight, group)
    w_hi, w_lo = np.maximum(wg.max(axis=2), 0.0), np.minimum(wg.min(axis=2), 0.0)
    best_err = np.full(w_hi.shape, np.inf)
    best = {k: np.zeros(w_hi.shape if k != "code" else wg.shape, dtype=np.int64)
            for k in ("dtype", "scale", "code")}
    for dtype, (_, grid) in BITMOD_GRIDS.items():
        codes = _scale_codes(np.maximum(w_hi / grid.max(), w_lo / grid.min()), fmt)
        step = (codes / 2.0 ** fmt.frac_bits)[..., None]
        # Nearest grid value; argmin takes the lowest code on a tie (FP's two zeros: code 0).
        index = np.argmin(np.abs(wg[..., None] - step[..., None] * grid), axis=-1)
        err = ((step * grid[index] - wg) ** 2).sum(axis=2)
        better = err < best_err
        best_err = np.where(better, err, best_err)
        best["dtype"] = np.where(better, dtype, best["dtype"])
        best["scale"] = np.where(better, codes, best["scale"])
        best["code"] = np.where(better[..., None], index, best["code"])
    grids = np.stack([grid for _, grid in BITMOD_GRIDS.values()])
    values = grids[best["dtype"][..., None], best["code"]]
    outputs, inputs = layer.weight.shape
    used = {BITMOD_GRIDS[d][0]: int(n) for d, n in zip(*np.unique(best["dtype"],
                                                                  return_counts=True))}
    return QuantLayer(f"BitMoD {WEIGHT_BITS}-bit, g{group}", values.reshape(outputs, inputs),
                      best["scale"], group, np.full(outputs, 2.0 ** -fmt.frac_bits), layer.bias,
                      lane_codes={"w": best["code"].reshape(outputs, inputs)},
                      group_codes={"dtype": best["dtype"], "scale": best["scale"]},
                      notes={"dtypes per group": used})


def quantize_symmetric2(layer: FloatLayer) -> QuantLayer:
    """2-bit symmetric weights per output channel, as ``lut_mpgemm``'s ``symmetric`` encoding
    reads them: ``w = s[o] * (2q - 3)``, q in 0..3 (values -3, -1, 1, 3; no zero).

    Per channel, each step ``s`` of a grid (``SYMMETRIC2_STEPS`` fractions of max|w| / 3)
    rounds every weight to its nearest value; the step with the least squared error wins and
    is then refitted by least squares to those codes (``s = <w, v> / <v, v>``, which can only
    lower the error)."""
    top = (1 << SYMMETRIC2_BITS) - 1         # code q means 2q - top: values -top..top, odd
    largest = np.abs(layer.weight).max(axis=1) / top
    largest[largest == 0] = 1.0

    def codes(step):                         # the nearest value's code
        return np.clip(np.rint((layer.weight / step[:, None] + top) / 2), 0,
                       top).astype(np.int64)

    best_err, best_step = np.full(len(largest), np.inf), largest
    for fraction in np.arange(1, SYMMETRIC2_STEPS + 1) / SYMMETRIC2_STEPS:
        step = largest * fraction
        err = ((step[:, None] * (2 * codes(step) - top) - layer.weight) ** 2).sum(axis=1)
        better = err < best_err
        best_err, best_step = np.where(better, err, best_err), np.where(better, step, best_step)
    q = codes(best_step)
    values = 2 * q - top
    step = (layer.weight * values).sum(axis=1) / (values * values).sum(axis=1)
    step = np.where(step > 0, step, best_step)  # an all-zero channel keeps the grid's step
    ratio = step / largest
    return QuantLayer("2-bit symmetric (2q-3) per channel", values,
                      np.ones((len(values), 1), dtype=np.int64), values.shape[1], step,
                      layer.bias, lane_codes={"w": q},
                      notes={"step / (max|w| / 3)": {
                          k: round(float(f(ratio)), 3)
                          for k, f in (("min", np.min), ("median", np.median), ("max", np.max))}})


SCHEMES = {
    "int8": quantize_int8,
    "zero_point": lambda layer: quantize_zero_point(layer, GROUP, SCALE_FORMAT),
    "bitmod": lambda layer: quantize_bitmod(layer, GROUP, SCALE_FORMAT),
    "symmetric2": quantize_symmetric2,
}


# ============================================================================================
# Integer inference (shared by the RTL runs and the references)
# ============================================================================================

def requantize(raw: np.ndarray, layer: QuantLayer, in_scale: float, out_scale: float):
    """Bias, ReLU and rescale to int8 codes (0..ACT_MAX after ReLU)."""
    y = raw * layer.lsb * in_scale + layer.bias
    return np.clip(np.rint(y / out_scale), 0, ACT_MAX).astype(np.int64)


def integer_predict(layers: list[QuantLayer], pixels: np.ndarray, act_scale: float,
                    product) -> np.ndarray:
    """Class predictions of the integer network; ``product(index, layer, x)`` returns the raw
    accumulators (samples, outputs) of layer ``index`` for activation codes ``x``."""
    x, in_scale = pixels, INPUT_SCALE
    for i, layer in enumerate(layers):
        raw = product(i, layer, x)
        if i == len(layers) - 1:
            return np.argmax(raw * layer.lsb * in_scale + layer.bias, axis=1)
        x, in_scale = requantize(raw, layer, in_scale, act_scale), act_scale
    raise ValueError("no layers")


def fake_quant_predict(layers: list[QuantLayer], pixels: np.ndarray,
                       act_scale: float) -> np.ndarray:
    """The same scheme in float: dequantized weights, activations rounded to the int8 grid."""
    x = pixels * INPUT_SCALE
    for i, layer in enumerate(layers):
        y = x @ layer.dequantized().T + layer.bias
        if i == len(layers) - 1:
            return np.argmax(y, axis=1)
        x = np.clip(np.rint(y / act_scale), 0, ACT_MAX) * act_scale
    raise ValueError("no layers")


# ============================================================================================
# PEs: how a layer's matrix product maps onto each generated design
# ============================================================================================

def _pad(a: np.ndarray, axis: int, multiple: int) -> np.ndarray:
    extra = -a.shape[axis] % multiple
    widths = [(0, 0)] * a.ndim
    widths[axis] = (0, extra)
    return np.pad(a, widths)


class PE:
    """A generated design running one layer's product.

    ``inputs`` builds the :func:`sim.api.simulate` input streams; ``outputs`` reads what the
    hardware emitted as an integer array; ``expected`` is the integer reference of that same
    array; ``raw`` turns it into the layer's accumulators (samples, outputs)."""

    name: str
    generator: str
    params: dict
    scheme: str

    def inputs(self, design, x, layer) -> dict:
        raise NotImplementedError

    def outputs(self, design, result, x, layer) -> np.ndarray:
        raise NotImplementedError

    def expected(self, design, x, layer) -> np.ndarray:
        raise NotImplementedError

    def raw(self, design, values, x, layer) -> np.ndarray:
        return values


class MacPE(PE):
    """A K-lane MAC: one dot product x[n] . w[o] per (sample, output), LANES inputs per beat,
    ``last`` on its final beat, and for the grouped schemes the group's codes on each of its
    beats with ``group_last`` on its final beat. ``rename`` maps the layer's code names to the
    PE's field names."""

    def __init__(self, name, generator, params, scheme, *, rename=None, group_last=True):
        self.name, self.generator, self.params, self.scheme = name, generator, params, scheme
        self.rename = rename or {}
        self.group_last = group_last

    def inputs(self, design, x, layer):
        samples, inputs = x.shape
        outputs = layer.values.shape[0]
        if inputs % LANES or layer.group % LANES:
            raise ValueError(f"{inputs} inputs / groups of {layer.group} do not fill "
                             f"{LANES}-lane beats")
        beats = inputs // LANES
        shape = (samples, outputs, beats)         # beat order: sample, output, beat

        def lanes(codes):                         # (samples or outputs, inputs) -> beat rows
            return codes.reshape(-1, beats, LANES)

        fields = {"a": np.broadcast_to(lanes(x)[:, None], shape + (LANES,)).reshape(-1, LANES)}
        for key, codes in layer.lane_codes.items():
            fields[self.rename.get(key, key)] = np.broadcast_to(
                lanes(codes)[None], shape + (LANES,)).reshape(-1, LANES)
        beat_group = np.arange(beats) * LANES // layer.group
        for key, codes in layer.group_codes.items():
            fields[self.rename.get(key, key)] = np.broadcast_to(
                codes[:, beat_group][None], shape).reshape(-1)
        beat = np.broadcast_to(np.arange(beats), shape).reshape(-1)
        fields["last"] = beat == beats - 1
        if self.group_last:
            fields["group_last"] = (beat + 1) * LANES % layer.group == 0
        return {"i": fields}

    def outputs(self, design, result, x, layer):
        return np.asarray(result["o"]["acc"], dtype=np.int64).reshape(len(x), -1)

    def expected(self, design, x, layer):
        return layer.reference(x)


class SystolicPE(PE):
    """An R x C ``systolic_array`` (int8 x int8); its subclasses map a layer onto one
    dataflow."""

    def __init__(self, name, params):
        self.name, self.generator, self.params, self.scheme = name, "systolic_array", params, \
            "int8"

    @staticmethod
    def _shape(design, layer) -> tuple[int, int]:
        """The array's (R, C); raises ValueError for a layer with group scales."""
        if not layer.per_channel:
            raise ValueError("the systolic arrays take plain integer weights (no group scales)")
        return design.params["rows"], design.params["cols"]


class OutputStationaryPE(SystolicPE):
    """R x C output-stationary array: C = A @ B per tile, A = R samples x K inputs (columns on
    ``a``, one per beat), B = K inputs x C outputs (rows on ``b``); samples and outputs are
    zero-padded to whole tiles. The hardware's output is the padded product matrix."""

    def _tiles(self, design, x, layer):
        R, C = self._shape(design, layer)
        return R, C, _pad(x, 0, R), _pad(layer.values.T, 1, C)

    def inputs(self, design, x, layer):
        R, C, xp, wt = self._tiles(design, x, layer)
        k = xp.shape[1]
        ti, tj = xp.shape[0] // R, wt.shape[1] // C
        a = xp.reshape(ti, R, k).transpose(0, 2, 1)            # (ti, k, R)
        b = wt.reshape(k, tj, C).transpose(1, 0, 2)            # (tj, k, C)
        return {"i": {"a": np.broadcast_to(a[:, None], (ti, tj, k, R)).reshape(-1, R),
                      "b": np.broadcast_to(b[None], (ti, tj, k, C)).reshape(-1, C),
                      "last": np.tile(np.arange(k) == k - 1, ti * tj)}}

    def outputs(self, design, result, x, layer):
        R, C, xp, wt = self._tiles(design, x, layer)
        ti, tj = xp.shape[0] // R, wt.shape[1] // C
        c = np.asarray(result["o"]["c"], dtype=np.int64)       # R rows per tile, tiles in order
        return c.reshape(ti, tj, R, C).transpose(0, 2, 1, 3).reshape(ti * R, tj * C)

    def expected(self, design, x, layer):
        R, C, xp, wt = self._tiles(design, x, layer)
        return _pad(layer.reference(xp), 1, C)                 # padded rows/columns give 0

    def raw(self, design, values, x, layer):
        return values[:len(x), :layer.values.shape[0]]


class WeightStationaryPE(SystolicPE):
    """R x C weight-stationary array: for each tile of R inputs x C outputs of the weight
    matrix, load it (phase 2n, :func:`sim.stimuli.systolic_array.ws_beats`) and stream every
    sample's R inputs (phase 2n+1). The hardware emits partial sums over one tile's R inputs;
    NumPy adds the partial sums of a column of tiles."""

    def _tiles(self, design, x, layer):
        R, C = self._shape(design, layer)
        xp, wt = _pad(x, 1, R), _pad(_pad(layer.values.T, 0, R), 1, C)
        return R, C, xp, wt, wt.shape[0] // R, wt.shape[1] // C

    def inputs(self, design, x, layer):
        from sim.stimuli.systolic_array import ws_beats

        R, C, xp, wt, tk, to = self._tiles(design, x, layer)
        events = []
        for j in range(to):                       # load order: output tile, then input tile
            for i in range(tk):
                events.append(("load", wt[i * R:(i + 1) * R, j * C:(j + 1) * C]))
                events += [("x", row) for row in xp[:, i * R:(i + 1) * R]]
        return ws_beats(design.params, events)

    def outputs(self, design, result, x, layer):
        R, C, xp, wt, tk, to = self._tiles(design, x, layer)
        return np.asarray(result["y"]["y"], dtype=np.int64).reshape(to, tk, len(x), C)

    def expected(self, design, x, layer):
        R, C, xp, wt, tk, to = self._tiles(design, x, layer)
        # partial[j, i, n, c] = sum_r x[n, i*R + r] * W^T[i*R + r, j*C + c]
        return np.einsum("nir,irjc->jinc", xp.reshape(len(x), tk, R), wt.reshape(tk, R, to, C))

    def raw(self, design, values, x, layer):
        to, tk, n, C = values.shape
        return values.sum(axis=1).transpose(1, 0, 2).reshape(n, to * C)[:, :layer.values.shape[0]]


class LutGemmPE(PE):
    """``lut_mpgemm`` M x N tile (2-bit symmetric weights at full precision): per tile of M
    samples x N outputs, the input dimension in beats of D*K (row m's activations at a[m*D*K +
    j], output n's weight code at w[j*N + n]), ``last`` on the final beat; then M output beats
    ``y[0..N-1]``, one per sample. Samples pad to whole tiles with zero activations and outputs
    with weight code 0; their outputs are dropped. Inputs pad to whole beats with zero
    activations (and code 0): symmetric codes cannot encode a zero weight, so a padded input
    position adds nothing only because its activation is 0."""

    def __init__(self, name, params):
        self.name, self.generator, self.params, self.scheme = name, "lut_mpgemm", params, \
            "symmetric2"

    @staticmethod
    def _tiles(design, x, layer):
        p = design.params
        m, n, dk = p["rows"], p["cols"], p["depth"] * p["lut_k"]
        return m, n, dk, _pad(_pad(x, 0, m), 1, dk), _pad(_pad(layer.lane_codes["w"], 0, n), 1, dk)

    def inputs(self, design, x, layer):
        m, n, dk, xp, q = self._tiles(design, x, layer)
        ti, tj, beats = len(xp) // m, len(q) // n, xp.shape[1] // dk
        shape = (ti, tj, beats)                # beat order: sample tile, output tile, beat
        a = xp.reshape(ti, m, beats, dk).transpose(0, 2, 1, 3).reshape(ti, 1, beats, m * dk)
        w = q.reshape(tj, n, beats, dk).transpose(0, 2, 3, 1).reshape(1, tj, beats, dk * n)
        beat = np.broadcast_to(np.arange(beats), shape).reshape(-1)
        return {"i": {"a": np.broadcast_to(a, shape + (m * dk,)).reshape(-1, m * dk),
                      "w": np.broadcast_to(w, shape + (dk * n,)).reshape(-1, dk * n),
                      "prec": np.full(beat.size, design.params["weight_bits"]),
                      "last": beat == beats - 1}}

    def outputs(self, design, result, x, layer):
        m, n, dk, xp, q = self._tiles(design, x, layer)
        ti, tj = len(xp) // m, len(q) // n
        y = np.asarray(result["o"]["y"], dtype=np.int64)      # m rows per tile, tiles in order
        full = y.reshape(ti, tj, m, n).transpose(0, 2, 1, 3).reshape(ti * m, tj * n)
        return full[:len(x), :len(layer.values)]

    def expected(self, design, x, layer):
        return layer.reference(x)


def pe_table() -> dict[str, PE]:
    """Every PE of the report, by its ``--pes`` name."""
    rows, cols = ARRAY
    array = dict(rows=rows, cols=cols, a_format="int8", b_format="int8")
    group = dict(act_format="int8", weight_bits=WEIGHT_BITS, lanes=LANES,
                 scale_format=SCALE_FORMAT)
    pes = [
        OutputStationaryPE(f"systolic_os {rows}x{cols}",
                           {**array, "dataflow": "output_stationary"}),
        WeightStationaryPE(f"systolic_ws {rows}x{cols}",
                           {**array, "dataflow": "weight_stationary"}),
        MacPE(f"int_mac K={LANES}", "int_mac", dict(a_format="int8", b_format="int8",
                                                     lanes=LANES), "int8",
              rename={"w": "b"}, group_last=False),
        MacPE(f"mixed_int_pe K={LANES}", "mixed_int_pe", {**group, "multiplier": "shift_add"},
              "zero_point"),
        MacPE(f"bitmod_mac K={LANES}", "bitmod_mac", group, "bitmod"),
        LutGemmPE("lut_mpgemm M={rows} N={cols} K={lut_k} D={depth}".format(**LUT_TILE),
                  dict(act_format="int8", weight_bits=SYMMETRIC2_BITS,
                       weight_encoding="symmetric", table="symmetric", **LUT_TILE)),
    ]
    keys = ("systolic_os", "systolic_ws", "int_mac", "mixed_int_pe", "bitmod_mac", "lut_mpgemm")
    return dict(zip(keys, pes))


PE_NAMES = tuple(pe_table())


# ============================================================================================
# Running
# ============================================================================================

def prebuild(design, engine: str, simulator: str) -> float:
    """Build (or find cached) the simulator model of ``design``; return the seconds it took, so
    that the simulation times below exclude compilation."""
    start = time.monotonic()
    if engine == "fast":
        from sim.native import build_native
        build_native(design, simulator)
    else:
        from sim.runner import build
        build(design, simulator)
    return time.monotonic() - start


def input_beats(inputs: dict) -> int:
    from sim.api import PHASE

    return sum(len(next(v for k, v in fields.items() if k != PHASE))
               for fields in inputs.values())


def run_pe(key: str, pe: PE, design, layers: list[QuantLayer], pixels, labels, act_scale,
           engine: str, simulator: str) -> dict:
    """Test-set inference with every layer's product on ``design``; one report row."""
    from sim.api import simulate

    build_s = prebuild(design, engine, simulator)
    per_layer = []

    def on_hardware(index, layer, x):
        inputs = pe.inputs(design, x, layer)
        start = time.monotonic()
        result = simulate(design, inputs, engine=engine, simulator=simulator)
        seconds = time.monotonic() - start
        got, want = pe.outputs(design, result, x, layer), pe.expected(design, x, layer)
        record = {"layer": index + 1, "beats": input_beats(inputs),
                  "cycles": max(int(c.max()) for c in result.beat_cycles.values() if len(c)),
                  "values": int(want.size), "mismatches": int(np.count_nonzero(got != want)),
                  "sim_seconds": seconds}
        per_layer.append(record)
        progress(f"{pe.name} layer {index + 1} ({engine}, {simulator}): {len(x)} samples, "
                 f"{record['beats']} beats, {record['cycles']} cycles, {record['values']} "
                 f"values, {record['mismatches']} mismatches, {seconds:.1f}s")
        return pe.raw(design, got, x, layer)

    predicted = integer_predict(layers, pixels, act_scale, on_hardware)
    reference = integer_predict(layers, pixels, act_scale, lambda i, layer, x: layer.reference(x))
    sim_s = sum(r["sim_seconds"] for r in per_layer)
    beats = sum(r["beats"] for r in per_layer)
    return {
        "pe": key, "label": pe.name, "generator": pe.generator, "module": design.module,
        "params": design.manifest["params"], "scheme": layers[0].scheme,
        "engine": engine, "simulator": simulator, "samples": len(pixels),
        "values": sum(r["values"] for r in per_layer),
        "mismatches": sum(r["mismatches"] for r in per_layer),
        "accuracy_rtl": float(np.mean(predicted == labels)),
        "accuracy_int_reference": float(np.mean(reference == labels)),
        "predictions_equal_reference": bool(np.array_equal(predicted, reference)),
        "cycles": sum(r["cycles"] for r in per_layer), "beats": beats,
        "sim_seconds": sim_s, "build_seconds": build_s,
        "beats_per_second": beats / sim_s if sim_s else None, "layers": per_layer,
    }


def produce(args) -> str:
    """Train, quantize, run every selected PE on every engine, write the reports; return the
    Markdown."""
    data = load_digits_split()
    if args.samples is not None and args.samples > len(data.x_test):
        raise UsageError(f"{flow.flag_of(args, 'samples')} {args.samples}: more than the "
                         f"{len(data.x_test)} test samples; allowed: integer 1 to "
                         f"{len(data.x_test)}")
    from sim.runner import available_simulators
    if args.simulator not in available_simulators():
        raise UsageError(f"{flow.flag_of(args, 'simulator')} {args.simulator}: not installed "
                         f"here; allowed: {', '.join(available_simulators())}")

    start = time.monotonic()
    progress(f"training the {data.x_train.shape[1]}-{HIDDEN}-10 MLP on {len(data.x_train)} "
             f"digits")
    model = train_mlp(data)
    act_scale = hidden_scale(model, data.x_train)
    pes = {k: v for k, v in pe_table().items() if k in args.pes}
    quantized = {scheme: [SCHEMES[scheme](layer) for layer in model]
                 for scheme in dict.fromkeys(pe.scheme for pe in pes.values())}
    progress(f"trained and quantized in {time.monotonic() - start:.1f}s; float test accuracy "
             f"{np.mean(float_predict(model, data.x_test) == data.y_test):.4f}")

    from generators import get_generator
    designs = {k: get_generator(pe.generator).elaborate(pe.params) for k, pe in pes.items()}
    rows = []
    for engine in args.engines:
        pixels, labels = data.x_test[:args.samples], data.y_test[:args.samples]
        float_acc = float(np.mean(float_predict(model, pixels) == labels))
        engine_start = time.monotonic()
        for key, pe in pes.items():
            layers = quantized[pe.scheme]
            row = run_pe(key, pe, designs[key], layers, pixels, labels, act_scale, engine,
                         args.simulator)
            row["accuracy_fake_quant"] = float(
                np.mean(fake_quant_predict(layers, pixels, act_scale) == labels))
            row["accuracy_float"] = float_acc
            rows.append(row)
        progress(f"{engine} engine: {time.monotonic() - engine_start:.1f}s for {len(pes)} PEs")

    report = {
        "dataset": {"name": "sklearn load_digits", "train": len(data.x_train),
                    "test": len(data.x_test), "test_fraction": TEST_FRACTION, "seed": SEED},
        "model": {"layers": [list(layer.weight.shape[::-1]) for layer in model],
                  "activation": "relu", "input_scale": INPUT_SCALE,
                  "hidden_scale": act_scale,
                  "float_train_accuracy": float(np.mean(
                      float_predict(model, data.x_train) == data.y_train)),
                  "float_test_accuracy": float(np.mean(
                      float_predict(model, data.x_test) == data.y_test))},
        "quantization": {scheme: {"name": layers[0].scheme,
                                  "notes": [layer.notes for layer in layers]}
                         for scheme, layers in quantized.items()},
        "hardware": {"lanes": LANES, "array": f"{ARRAY[0]}x{ARRAY[1]}", "group": GROUP,
                     "scale_format": SCALE_FORMAT, "simulator": args.simulator},
        "rows": rows,
    }
    text = markdown(report)
    flow.write_text(args.json, json.dumps(report, indent=1) + "\n", flow.flag_of(args, "json"))
    flow.write_text(args.markdown, text, flow.flag_of(args, "markdown"))
    progress(f"wrote {args.json} and {args.markdown}")
    return text


# ============================================================================================
# Report
# ============================================================================================

def markdown(report: dict) -> str:
    model = report["model"]
    lines = [
        f"MLP {'-'.join(str(s[0]) for s in model['layers'])}-{model['layers'][-1][1]} (ReLU) on "
        f"sklearn digits: {report['dataset']['train']} training / {report['dataset']['test']} "
        f"test images; float accuracy {model['float_train_accuracy']:.4f} train, "
        f"{model['float_test_accuracy']:.4f} test. Int8 activations (input scale 1/16, hidden "
        f"scale {model['hidden_scale']:.5f}); simulator {report['hardware']['simulator']}.",
        "",
        "| PE | weights | engine | samples | output values | mismatches | RTL acc | int ref acc "
        "| fake-quant acc | float acc | cycles | input beats | sim s | build s | beats/s |",
        "|---|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for r in report["rows"]:
        lines.append(
            f"| {r['label']} | {r['scheme']} | {r['engine']} | {r['samples']} | {r['values']} | "
            f"{r['mismatches']} | {r['accuracy_rtl']:.4f} | {r['accuracy_int_reference']:.4f} | "
            f"{r['accuracy_fake_quant']:.4f} | {r['accuracy_float']:.4f} | {r['cycles']} | "
            f"{r['beats']} | {r['sim_seconds']:.1f} | {r['build_seconds']:.1f} | "
            f"{r['beats_per_second']:.0f} |")
    lines += ["", "Cycles: up to each layer's last output beat, summed over both layers. Input "
              "beats: of every input stream. Sim s: wall time of `simulate` (encoding, "
              "simulation, decoding); build s: the simulator build before it (near 0 when "
              "cached). Accuracies on the same samples: from the RTL outputs, from the NumPy "
              "integer reference, from the scheme fake-quantized in float, from the float "
              "model.", ""]
    for engine in dict.fromkeys(r["engine"] for r in report["rows"]):
        rows = [r for r in report["rows"] if r["engine"] == engine]
        sim_s = sum(r["sim_seconds"] for r in rows)
        beats = sum(r["beats"] for r in rows)
        lines.append(f"- {engine} engine: {beats} input beats in {sim_s:.1f} s of simulation "
                     f"({beats / sim_s:.0f} beats/s), {rows[0]['samples']} samples per PE")
    for scheme in report["quantization"].values():
        for i, notes in enumerate(scheme["notes"]):
            for what, value in notes.items():
                lines.append(f"- {scheme['name']}, layer {i + 1}: {what} "
                             f"{', '.join(f'{k} {v}' for k, v in value.items())}")
    return "\n".join(lines) + "\n"


def parse_args(argv):
    parser = flow.script_parser(PROG, __doc__)
    parser.add_argument("--engines", type=flow.choice_list(ENGINES), default=ENGINES,
                        help="simulation engines, comma-separated (default: fast,cocotb)")
    parser.add_argument("--samples", type=flow.int_at_least(1), default=None,
                        help="the first N test samples (default: all of them)")
    parser.add_argument("--pes", type=flow.choice_list(PE_NAMES), default=PE_NAMES,
                        help=f"PEs, comma-separated (default: all: {','.join(PE_NAMES)})")
    parser.add_argument("--simulator", choices=SIMULATORS, default="verilator",
                        help="HDL simulator (default verilator)")
    parser.add_argument("--json", type=Path, default=DEFAULT_OUT / "report.json",
                        help="JSON report path (default build/reports/digits/report.json)")
    parser.add_argument("--markdown", type=Path, default=DEFAULT_OUT / "report.md",
                        help="Markdown report path (default build/reports/digits/report.md)")
    return parser.parse_args(argv)


def main(argv=None) -> int:
    return flow.script_main(PROG, parse_args, produce, argv, files=("json", "markdown"))


if __name__ == "__main__":
    sys.exit(main())
