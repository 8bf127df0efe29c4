"""``scalable_mac`` stimulus: every weight code of every mode built against extreme activations,
long groups of the largest products, groups with mode codes not built, random beats whose mode
changes from beat to beat, the exhaustive activation x weight sweep of one mode at K = 1; golden
outputs. Unused lanes and the ignored upper weight bits always carry random garbage."""

from __future__ import annotations

import numpy as np

from hdl.scalable_mac import MODE_CODES, mode_weight_bits, port_lanes, used_lanes
from sim.golden.scalable_mac import scalable_mac as scalable_golden

from . import field_format, group_sources, stream_stimulus

__all__ = ["scalable_operands", "exhaustive_operands", "unbuilt_codes", "scalable_stimulus",
           "golden_streams"]

_FIELDS = ("a", "w", "mode", "last")
_MODE_OF = {code: mode for mode, code in MODE_CODES.items()}


def unbuilt_codes(params: dict) -> list[int]:
    """Mode codes the design does not build (3 always among them)."""
    return [code for code in range(4) if code not in
            {MODE_CODES[mode] for mode in params["modes"]}]


def _weight_values(mode: str, weight_signed: bool) -> np.ndarray:
    bits = mode_weight_bits(mode)
    return np.arange(-(1 << (bits - 1)), 1 << (bits - 1)) if weight_signed \
        else np.arange(1 << bits)


def _act_extremes(fmt) -> list[int]:
    return sorted({fmt.min, fmt.max, 0, max(fmt.min, -1), min(fmt.max, 1)})


class _Beats:
    """Beats under construction; every lane a beat's mode does not use, and every weight bit
    above the mode's precision, gets random garbage."""

    def __init__(self, params: dict, rng: np.random.Generator):
        self.params, self.rng = params, rng
        self.n = port_lanes(params["lanes"], params["modes"])
        self.fmt = params["act_format"]
        self.rows = {key: [] for key in _FIELDS}

    def garbage(self, count: int) -> tuple[np.ndarray, np.ndarray]:
        a = self.rng.integers(self.fmt.min, self.fmt.max, size=(count, self.n), endpoint=True)
        return a, self.rng.integers(0, 256, size=(count, self.n))

    def add(self, code: int, acts, weights, last) -> None:
        """Beats of mode ``code`` whose used lanes hold ``acts`` / ``weights`` (values, shape
        (beats, used lanes)); ``last`` per beat."""
        acts, weights = np.atleast_2d(acts), np.atleast_2d(weights)
        a, w = self.garbage(len(acts))
        used = acts.shape[1]
        if used:
            mask = (1 << mode_weight_bits(_MODE_OF[code])) - 1
            a[:, :used] = acts
            w[:, :used] = (weights & mask) | (w[:, :used] & ~mask & 0xFF)
        for key, value in zip(_FIELDS, (a, w, np.full(len(acts), code),
                                        np.broadcast_to(last, (len(acts),)))):
            self.rows[key].append(np.asarray(value, dtype=np.int64))

    def values(self) -> dict:
        return {key: np.concatenate(parts) for key, parts in self.rows.items()}


def scalable_operands(params: dict, rng: np.random.Generator, random_beats: int, *,
                      mean_group: float = 4.0, extremes: bool = True,
                      unbuilt_rate: float = 0.05, random_modes=None) -> dict:
    """Per-field values ``a``, ``w`` (codes), ``mode``, ``last``.

    With ``extremes``, per mode built: every weight code x every extreme activation (min, max,
    0, +-1) in all used lanes, one group each; a 64-beat group of the largest-magnitude
    product in every used lane; then per code not built (3 among them): a group with such a beat
    (random operands in every lane) between valid beats, and a group of that beat alone. Then
    ``random_beats`` random beats, each with a random mode among ``random_modes`` (default: all
    built; a code not built with probability ``unbuilt_rate``), random groups."""
    lanes, signed_w = params["lanes"], params["weight_signed"]
    beats = _Beats(params, rng)
    fmt = beats.fmt
    if extremes:
        for mode in params["modes"]:
            code, used = MODE_CODES[mode], used_lanes(lanes, mode)
            weights = _weight_values(mode, signed_w)
            acts, ws = np.meshgrid(_act_extremes(fmt), weights, indexing="ij")
            beats.add(code, np.repeat(acts.reshape(-1, 1), used, axis=1),
                      np.repeat(ws.reshape(-1, 1), used, axis=1), True)
            big = max(((x, y) for x in (fmt.min, fmt.max) for y in (weights[0], weights[-1])),
                      key=lambda p: abs(p[0] * p[1]))
            run = np.zeros(64, dtype=bool)
            run[-1] = True
            beats.add(code, np.full((64, used), big[0]), np.full((64, used), big[1]), run)
        valid = MODE_CODES[params["modes"][0]]
        used = used_lanes(lanes, params["modes"][0])
        for code in unbuilt_codes(params):
            a, w = beats.garbage(3)
            beats.add(valid, a[:1, :used], w[:1, :used], False)
            beats.add(code, np.zeros((1, 0)), np.zeros((1, 0)), False)
            beats.add(valid, a[2:, :used], w[2:, :used], True)
            beats.add(code, np.zeros((1, 0)), np.zeros((1, 0)), True)
    built = [MODE_CODES[mode] for mode in params["modes"]]
    chosen = [MODE_CODES[mode] for mode in random_modes or params["modes"]]
    unbuilt = unbuilt_codes(params)
    codes = np.where(rng.random(random_beats) < unbuilt_rate,
                     rng.choice(unbuilt, size=random_beats), rng.choice(chosen, size=random_beats))
    last = rng.random(random_beats) < 1.0 / mean_group
    if random_beats:
        last[-1] = True
    for code, end in zip(codes.tolist(), last.tolist()):
        a, w = beats.garbage(1)
        used = used_lanes(lanes, _MODE_OF[code]) if code in built else 0
        beats.add(code, a[:, :used], w[:, :used], end)
    return beats.values()


def exhaustive_operands(params: dict, mode: str, *, beats: int | None = None,
                        rng: np.random.Generator | None = None) -> dict:
    """Every activation x every weight value of ``mode`` at K = 1, each pair once in every used
    lane (beat n holds pair (n + l * P / L) mod P in lane l, P pairs, L lanes), each beat its own
    group; ``beats`` picks that many of those beats at random (a subset, for slow simulators)."""
    if params["lanes"] != 1:
        raise ValueError("the exhaustive sweep is defined for lanes = 1")
    rng = rng or np.random.default_rng(0)
    fmt, used = params["act_format"], used_lanes(1, mode)
    acts, weights = np.meshgrid(np.arange(fmt.min, fmt.max + 1),
                                _weight_values(mode, params["weight_signed"]), indexing="ij")
    acts, weights = acts.reshape(-1), weights.reshape(-1)
    pairs = len(acts)
    index = (np.arange(pairs)[:, None] + np.arange(used)[None, :] * (pairs // used)) % pairs
    if beats is not None:
        index = index[np.sort(rng.choice(pairs, size=beats, replace=False))]
    out = _Beats(params, rng)
    out.add(MODE_CODES[mode], acts[index], weights[index], True)
    return out.values()


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`)."""
    v = inputs["i"]
    acc, error = scalable_golden(v["a"], v["w"], v["mode"], v["last"], lanes=params["lanes"],
                                 modes=params["modes"], weight_signed=params["weight_signed"],
                                 acc_width=params["acc_width"],
                                 acc_signed=field_format(streams["o"], "acc").signed)
    return {"o": {"acc": acc, "error": error}}


def scalable_stimulus(params: dict, manifest: dict, values: dict, **options) -> dict:
    """Stimulus dict for a ``scalable_mac`` design from per-field values and the golden model
    (``options``: idle, stall, seed, check_timing)."""
    return stream_stimulus(params, manifest, {"i": values},
                           sources={"o": group_sources(values["last"])}, **options)
