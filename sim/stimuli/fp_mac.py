"""``fp_mac`` stimulus: random codes with special values mixed in, cancellations, signed zeros,
large products, the exhaustive code-pair sweep, and golden outputs."""

from __future__ import annotations

import numpy as np

from sim.golden.fp_mac import fp_mac as fp_mac_golden

from . import group_sources, stream_stimulus

__all__ = ["special_codes", "random_codes", "tie_sequences", "fp_mac_operands", "all_code_pairs",
           "fp_mac_stimulus", "golden_streams"]


def special_codes(fmt, limit: int = 8) -> list[int]:
    """NaN / Inf codes of a format (both signs): every Inf, and NaNs spread over the payloads up
    to ``limit`` codes in all."""
    if fmt.width > 16:
        raise ValueError("special_codes enumerates codes; formats up to 16 bits")
    codes = fmt.all_codes()
    infs = [int(c) for c in codes[fmt.is_inf(codes)]]
    nans = [int(c) for c in codes[fmt.is_nan(codes)]]
    room = max(0, limit - len(infs))
    if len(nans) > room:
        nans = [nans[int(i)] for i in np.linspace(0, len(nans) - 1, room)]
    return infs + nans


def random_codes(fmt, rng: np.random.Generator, shape, special_rate: float = 0.01) -> np.ndarray:
    """Uniform random finite codes (every exponent equally likely), with ``special_rate`` of
    NaN/Inf codes and some extra +-0."""
    codes = fmt.all_codes()
    finite = codes[~(fmt.is_nan(codes) | fmt.is_inf(codes))]
    out = rng.choice(finite, size=shape)
    zeros = np.array([0, 1 << (fmt.width - 1)], dtype=np.uint64)
    out = np.where(rng.random(shape) < 0.03, rng.choice(zeros, size=shape), out)
    specials = special_codes(fmt, limit=64)
    if specials and special_rate:
        out = np.where(rng.random(shape) < special_rate,
                       rng.choice(np.array(specials, dtype=np.uint64), size=shape), out)
    return out.astype(np.uint64)


def _power_of_two_code(fmt, exp: int):
    """Code of 2**exp if the format holds it exactly, else None."""
    if fmt.decode(fmt.encode(2.0 ** exp)) == 2.0 ** exp:
        return int(fmt.encode(2.0 ** exp))
    return None


def _pow2_product(fa, fb, exp: int):
    """(a, b) codes whose product is exactly 2**exp, or None."""
    for i in range(-160, 160):
        ca, cb = _power_of_two_code(fa, i), _power_of_two_code(fb, exp - i)
        if ca is not None and cb is not None:
            return ca, cb
    return None


def tie_sequences(fa, fb) -> list[list[tuple[int, int]]]:
    """Sequences of (a, b) code pairs whose exact product sum lies exactly halfway between two
    binary32 neighbours: big + half an ulp (kept LSB even) and big + ulp + half an ulp (kept LSB
    odd), both signs. Round-to-nearest-even and ties-away differ on each. Empty when the formats
    cannot form such a sum from single products."""
    big_a, big_b = int(fa.encode(fa.max_normal)), int(fb.encode(fb.max_normal))
    e = int(np.floor(np.log2(fa.max_normal * fb.max_normal)))
    half = _pow2_product(fa, fb, e - 24)
    ulp = _pow2_product(fa, fb, e - 23)
    if half is None or ulp is None:
        return []
    sa = 1 << (fa.width - 1)
    neg = lambda pair: (pair[0] ^ sa, pair[1])  # noqa: E731
    seqs = [[(big_a, big_b), half], [(big_a, big_b), ulp, half]]
    return seqs + [[neg(p) for p in seq] for seq in seqs]


def fp_mac_operands(params: dict, rng: np.random.Generator, beats: int, *,
                    mean_group: float = 6.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Directed groups (signed zeros, exact cancellation, largest products, each special code),
    then random beats with random group lengths; the final beat is ``last``."""
    fa, fb, lanes = params["a_format"], params["b_format"], params["lanes"]
    sa, sb = 1 << (fa.width - 1), 1 << (fb.width - 1)
    one_a, one_b = int(fa.encode(1.0)), int(fb.encode(1.0))
    max_a, max_b = int(fa.encode(fa.max_normal)), int(fb.encode(fb.max_normal))
    rows_a, rows_b, rows_last = [], [], []

    def group(a_rows, b_rows):
        for x, y in zip(a_rows, b_rows):
            rows_a.append(x)
            rows_b.append(y)
            rows_last.append(False)
        rows_last[-1] = True

    full = lambda code: [code] * lanes  # noqa: E731
    group([full(sa)], [full(one_b)])                        # every product -0: -0
    group([full(0)], [full(sb)])                            # +0 * -0 = -0 each: -0
    group([full(sa), full(0)], [full(one_b), full(one_b)])  # -0 and +0: +0
    group([full(one_a), full(one_a | sa)], [full(one_b), full(one_b)])  # 1 - 1 = +0
    group([full(max_a)] * 40, [full(max_b)] * 40)           # largest products (overflow for bf16)
    group([full(max_a), full(max_a | sa)], [full(max_b)] * 2)
    sub_a = int(fa.encode(fa.min_subnormal))
    sub_b = int(fb.encode(fb.min_subnormal))
    group([full(sub_a)] * 3, [full(sub_b)] * 3)             # smallest products
    for seq in tie_sequences(fa, fb):
        group([full(x) for x, _ in seq], [full(y) for _, y in seq])
        # One lane only (others zero): the beat sum itself is the tie.
        group([[x] + [0] * (lanes - 1) for x, _ in seq], [[y] + [0] * (lanes - 1) for _, y in seq])
    for code in special_codes(fa):
        group([full(code), full(one_a)], [full(one_b), full(one_b)])
        group([full(code)], [full(0)])                      # Inf * 0 / NaN * 0
    for code in special_codes(fb):
        group([full(one_a)], [full(code)])
        group([full(max_a)], [full(code ^ sb)])
    a_rnd = random_codes(fa, rng, (beats, lanes))
    b_rnd = random_codes(fb, rng, (beats, lanes))
    # Exact cancellation inside random groups: negate some rows of the previous beat.
    cancel = rng.random(beats) < 0.1
    cancel[0] = False
    a_rnd[cancel] = a_rnd[np.flatnonzero(cancel) - 1] ^ np.uint64(sa)
    b_rnd[cancel] = b_rnd[np.flatnonzero(cancel) - 1]
    last_rnd = rng.random(beats) < 1.0 / mean_group
    last_rnd[-1] = True
    a = np.concatenate([np.array(rows_a, dtype=np.uint64), a_rnd])
    b = np.concatenate([np.array(rows_b, dtype=np.uint64), b_rnd])
    return a, b, np.concatenate([np.array(rows_last, dtype=bool), last_rnd])


def all_code_pairs(params: dict) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Every (a, b) code pair, one beat each with ``last`` (needs K = 1)."""
    if params["lanes"] != 1:
        raise ValueError("the exhaustive sweep is defined for lanes = 1")
    a, b = np.meshgrid(params["a_format"].all_codes(), params["b_format"].all_codes(),
                       indexing="ij")
    n = a.size
    return a.reshape(n, 1), b.reshape(n, 1), np.ones(n, dtype=bool)


def golden_streams(params: dict, streams: dict, inputs: dict) -> dict:
    """The golden model over the stream interface (see :func:`sim.stimuli.golden_outputs`):
    operand codes in, binary32 codes out."""
    v = inputs["i"]
    y = fp_mac_golden(v["a"], v["b"], v["last"], a_format=params["a_format"],
                      b_format=params["b_format"], accumulator=params["accumulator"],
                      multiplier=params["multiplier"])
    return {"o": {"y": np.array(y, dtype=np.uint64)}}


def fp_mac_stimulus(params: dict, manifest: dict, a, b, last, **options) -> dict:
    """Stimulus dict for an ``fp_mac`` design from operand codes and the golden model
    (``options``: idle, stall, seed, check_timing)."""
    return stream_stimulus(params, manifest, {"i": {"a": a, "b": b, "last": last}},
                           sources={"o": group_sources(last)}, **options)
