"""The int_mac golden model against values worked out by hand from the specification."""

from __future__ import annotations

import numpy as np

from sim.golden.int_mac import int_mac, wrap


def test_groups_close_on_last_and_restart():
    a = [[1, 2], [3, 4], [5, 6], [7, 8]]
    b = [[1, 1], [2, 2], [-1, 0], [0, 1]]
    last = [False, True, False, True]
    # beats 0-1: 1+2 + 6+8 = 17; beats 2-3: -5 + 8 = 3
    assert list(int_mac(a, b, last, acc_width=32)) == [17, 3]


def test_trailing_beats_without_last_emit_nothing():
    assert list(int_mac([[2]], [[3]], [False], acc_width=8)) == []
    assert list(int_mac([[2], [9]], [[3], [9]], [True, False], acc_width=8)) == [6]


def test_wraps_in_twos_complement():
    # 100 * 100 = 10000 = 0x2710; low 12 bits 0x710 = 1808 (positive); low 8 bits 0x10 = 16.
    assert list(int_mac([[100]], [[100]], [True], acc_width=12)) == [1808]
    # 127 * 2 = 254 -> 8-bit two's complement -2; unsigned 254.
    assert list(int_mac([[127]], [[2]], [True], acc_width=8)) == [-2]
    assert list(int_mac([[127]], [[2]], [True], acc_width=8, acc_signed=False)) == [254]
    assert list(wrap([-1, 2 ** 70 + 5], 4, True)) == [-1, 5]


def test_exact_beyond_int64():
    # Products of (-2^23)^2 = 2^46 over 64 lanes and 4096 beats sum to 2^64, past int64.
    lanes, beats = 64, 4096
    a = np.full((beats, lanes), -(2 ** 23))
    last = np.zeros(beats, dtype=bool)
    last[-1] = True
    assert list(int_mac(a, a, last, acc_width=80)) == [2 ** 64]
    assert list(int_mac(a, a, last, acc_width=64)) == [0]
