"""cocotb benches of the hand-written array baselines in ``scripts/baselines/`` (run by
``tests/test_baselines.py``): each drives the schedule a controller would and compares the
exposed results with NumPy GEMM. Parameters come from ``PEFORGE_BASELINE`` (JSON)."""

from __future__ import annotations

import json
import os

import cocotb
import numpy as np
from cocotb.clock import Clock
from cocotb.triggers import ReadOnly, RisingEdge



def _pack(values, width: int) -> int:
    return sum((int(v) & ((1 << width) - 1)) << (i * width) for i, v in enumerate(values))


def _unpack(word: int, count: int, width: int) -> np.ndarray:
    out = [(word >> (i * width)) & ((1 << width) - 1) for i in range(count)]
    return np.array([v - (1 << width) if v >> (width - 1) else v for v in out], dtype=object)


def _wrap(values, width: int) -> np.ndarray:
    return _unpack(_pack(np.asarray(values).ravel(), width), np.asarray(values).size, width)


async def _start(dut):
    Clock(dut.clk, 10, unit="ns").start()
    dut.rst.value = 1
    for name in ("en", "clear", "load"):
        if hasattr(dut, name):
            getattr(dut, name).value = 0
    await RisingEdge(dut.clk)
    await RisingEdge(dut.clk)
    dut.rst.value = 0


def _config():
    cfg = json.loads(os.environ["PEFORGE_BASELINE"])
    return cfg, np.random.default_rng(cfg["seed"])


@cocotb.test()
async def baseline(dut):
    cfg, rng = _config()
    await {"os": _os, "ws": _ws, "cube": _cube}[cfg["kind"]](dut, cfg, rng)


async def _os(dut, cfg, rng):
    R, C, K, acc = cfg["rows"], cfg["cols"], cfg["k"], cfg["acc"]
    await _start(dut)
    for tile in range(2):
        a = rng.integers(-128, 128, size=(R, K))
        b = rng.integers(-128, 128, size=(K, C))
        if tile == 0:
            a[:, 0], b[0, :] = -128, -128
        dut.en.value = 1
        for t in range(K + R + C):
            dut.a_in.value = _pack([a[r, t - r] if 0 <= t - r < K else 0 for r in range(R)], 8)
            dut.b_in.value = _pack([b[t - c, c] if 0 <= t - c < K else 0 for c in range(C)], 8)
            await RisingEdge(dut.clk)
        await ReadOnly()
        got = _unpack(int(dut.acc.value), R * C, acc).reshape(R, C)
        assert (got == _wrap(a @ b, acc).reshape(R, C)).all(), (tile, got, a @ b)
        await RisingEdge(dut.clk)
        dut.en.value = 0
        dut.clear.value = 1
        await RisingEdge(dut.clk)
        dut.clear.value = 0


async def _ws(dut, cfg, rng):
    R, C, V, acc = cfg["rows"], cfg["cols"], cfg["k"], cfg["acc"]
    w = rng.integers(-128, 128, size=(R, C))
    x = rng.integers(-128, 128, size=(V, R))
    w[0, 0], x[0, 0] = -128, -128
    await _start(dut)
    dut.load.value = 1
    for t in range(R):
        dut.w_in.value = _pack(w[R - 1 - t], 8)
        await RisingEdge(dut.clk)
    dut.load.value = 0
    dut.en.value = 1
    want = x @ w
    got = np.zeros((V, C), dtype=object)
    for t in range(V + R + C):
        dut.x_in.value = _pack([x[t - r, r] if 0 <= t - r < V else 0 for r in range(R)], 8)
        await ReadOnly()
        ys = _unpack(int(dut.y.value), C, acc)
        for c in range(C):
            # x_in set now is taken at the next edge, so vector v reaches PE (r, c) at edge
            # v + 1 + r + c and its sum shows on y[c] from edge v + R + c on.
            v = t - R - c
            if 0 <= v < V:
                got[v, c] = ys[c]
        await RisingEdge(dut.clk)
    assert (got == _wrap(want, acc).reshape(V, C)).all(), (got, want)


async def _cube(dut, cfg, rng):
    R, C, K, acc = cfg["rows"], cfg["cols"], cfg["lanes"], cfg["acc"]
    await _start(dut)
    blocks = cfg["k"]
    a = rng.integers(-128, 128, size=(R, K * blocks))
    b = rng.integers(-128, 128, size=(K * blocks, C))
    a[:, :K], b[:K, :] = -128, -128
    dut.en.value = 1
    for s in range(blocks):
        dut.a_in.value = _pack(a[:, s * K:(s + 1) * K].ravel(), 8)
        dut.b_in.value = _pack(b[s * K:(s + 1) * K, :].ravel(), 8)
        await RisingEdge(dut.clk)
    dut.en.value = 0
    await ReadOnly()
    got = _unpack(int(dut.acc.value), R * C, acc).reshape(R, C)
    assert (got == _wrap(a @ b, acc).reshape(R, C)).all(), (got, a @ b)

