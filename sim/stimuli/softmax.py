"""``softmax`` stimulus: random and adversarial vectors, golden outputs from the fixed-point model."""

from __future__ import annotations

import numpy as np

from hdl.softmax import Softmax, softmax_widths
from sim.golden.softmax import softmax_stream

from . import accepted_cycles, field_codes, make_stimulus

__all__ = ["random_vector", "adversarial_vectors", "softmax_vectors", "softmax_stimulus",
           "flatten", "golden_streams", "measure_vector_period", "measure_first_output"]


def random_vector(fmt, rng: np.random.Generator, length: int, kind: str) -> np.ndarray:
    """Raw values of one vector: ``uniform`` over the format's codes, or ``gauss<sigma>`` (sigma in
    real units, rounded and saturated to the format)."""
    lo, hi = fmt.raw.min, fmt.raw.max
    if kind == "uniform":
        return rng.integers(lo, hi, size=length, endpoint=True)
    sigma = float(kind[len("gauss"):])
    raw = np.rint(rng.normal(0.0, sigma, size=length) * 2 ** fmt.frac_bits)
    return np.clip(raw, lo, hi).astype(np.int64)


def adversarial_vectors(fmt, max_length: int, rng: np.random.Generator) -> list[np.ndarray]:
    """All equal (at several values), one dominant element, all at the format minimum, length 1
    (min, max, 0), length = max_length (uniform and all-minimum)."""
    lo, hi = fmt.raw.min, fmt.raw.max
    n = min(max_length, 64)
    vectors = [np.full(n, v, dtype=np.int64) for v in (lo, 0, hi, rng.integers(lo, hi))]
    dominant = np.full(n, lo, dtype=np.int64)
    dominant[n // 3] = hi
    vectors.append(dominant)
    near = rng.integers(lo, 0, size=n)
    near[-1] = hi
    vectors.append(near)
    vectors += [np.array([v], dtype=np.int64) for v in (lo, hi, 0)]
    vectors.append(rng.integers(lo, hi, size=max_length, endpoint=True))
    vectors.append(np.full(max_length, lo, dtype=np.int64))
    vectors.append(np.full(max_length, hi, dtype=np.int64))
    return vectors


def softmax_vectors(fmt, max_length: int, rng: np.random.Generator, count: int, *,
                    kinds=("uniform", "gauss0.5", "gauss2", "gauss8"), adversarial: bool = True,
                    overflow: bool = True) -> list[np.ndarray]:
    """Adversarial vectors, ``count`` random ones (lengths uniform in 1..max_length, each kind in
    turn), and, with ``overflow``, a vector of max_length + 1 elements followed by a normal one."""
    vectors = adversarial_vectors(fmt, max_length, rng) if adversarial else []
    for j in range(count):
        length = int(rng.integers(1, max_length, endpoint=True))
        vectors.append(random_vector(fmt, rng, length, kinds[j % len(kinds)]))
    if overflow:
        vectors.append(random_vector(fmt, rng, max_length + 1, "uniform"))
        vectors.append(random_vector(fmt, rng, max(1, max_length // 2), "gauss2"))
        vectors.append(random_vector(fmt, rng, 2 * max_length + 3, "uniform"))
        vectors.append(random_vector(fmt, rng, max_length, "gauss8"))
    return vectors


def flatten(vectors) -> tuple[np.ndarray, np.ndarray]:
    """Beats ``(x, last)`` of a list of vectors."""
    x = np.concatenate(vectors).astype(np.int64)
    last = np.zeros(len(x), dtype=bool)
    last[np.cumsum([len(v) for v in vectors]) - 1] = True
    return x, last


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`):
    raw fixed-point values in and out, one output beat per input beat."""
    v = inputs["i"]
    y, out_last, error = softmax_stream(v["x"], v["last"], softmax_widths(params),
                                        params["algorithm"], params["max_length"])
    return {"o": {"y": y, "last": out_last, "error": error}}


def softmax_stimulus(design, vectors, *, idle: float, stall: float, seed: int,
                     min_rate: float | None = None) -> dict:
    """Stimulus dict for a ``softmax`` design from input vectors and the golden model. With
    ``min_rate`` the bench also checks that both streams average at least that many beats per
    cycle (meaningful with ``idle = stall = 0``)."""
    streams = design.manifest["streams"]
    x, last = flatten(vectors)
    inputs = {"i": {"x": x, "last": last}}
    # Each output beat comes from its own input beat (outputs are in input order).
    sources = [["i", k, k] for k in range(len(x))]
    stimulus = make_stimulus(
        inputs={"i": field_codes(streams["i"], inputs["i"])},
        expected={"o": field_codes(streams["o"],
                                   golden_streams(design.params, streams, inputs)["o"])},
        sources={"o": sources}, idle=idle, stall=stall, seed=seed)
    if min_rate is not None:
        stimulus["min_rate"] = {"i": min_rate, "o": min_rate}
    return stimulus


def measure_vector_period(params: dict, length: int, vectors: int = 10) -> int:
    """Cycles between the first accepted elements of back-to-back vectors of ``length`` in steady
    state, with the output always ready and the input always valid (Amaranth simulator), for
    resolved ``softmax`` parameters."""
    dut = Softmax(widths=softmax_widths(params), max_length=params["max_length"],
                  algorithm=params["algorithm"], double_buffer=params["double_buffer"])
    x, last = flatten([np.zeros(length, dtype=np.int64)] * vectors)
    accepted = accepted_cycles(dut, {"x": x, "last": last}, limit_per_beat=8 * length)
    return accepted[-length] - accepted[-2 * length]


def measure_first_output(params: dict, length: int) -> int:
    """Cycles from the first accepted element of one vector of ``length`` (into an idle unit,
    offered back to back) to its first output beat, with the output always ready (Amaranth
    simulator), for resolved ``softmax`` parameters."""
    from amaranth.sim import Simulator

    dut = Softmax(widths=softmax_widths(params), max_length=params["max_length"],
                  algorithm=params["algorithm"], double_buffer=params["double_buffer"])
    result = []

    async def bench(ctx):
        ctx.set(dut.o.ready, 1)
        accepted = []
        for cycle in range(16 * length + 200):
            offering = len(accepted) < length
            ctx.set(dut.i.valid, offering)
            ctx.set(dut.i.payload.last, len(accepted) == length - 1)
            _, _, ready, out_valid = await ctx.tick().sample(dut.i.ready, dut.o.valid)
            if offering and ready:
                accepted.append(cycle)
            if out_valid:
                result.append(cycle - accepted[0])
                return
        raise RuntimeError("softmax: no output beat")

    sim = Simulator(dut)
    sim.add_clock(1e-8)
    sim.add_testbench(bench)
    sim.run()
    return result[0]
