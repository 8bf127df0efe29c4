"""Stream payloads as arrays: field codes <-> payload words, vectorized over beats.

A stream's beats are handled as a code matrix (beats x fields, in the manifest's field order;
``uint64``, or ``object`` when a field is wider than 64 bits) or as a word matrix (beats x
``words(width)`` little-endian 32-bit words, ``uint32``), the form the native bench reads and
writes. Both conversions work column by column in NumPy, so 10^5 beats take milliseconds.
"""

from __future__ import annotations

import numpy as np

__all__ = ["words", "code_matrix", "pack_words", "unpack_words", "payload_ints",
           "words_from_ints", "words_to_hex", "words_from_hex"]

_MASK32 = np.uint64(0xFFFFFFFF)


def words(width: int) -> int:
    """32-bit words of a ``width``-bit payload (at least one)."""
    return max(1, (width + 31) // 32)


def code_matrix(fields: list[dict], rows) -> np.ndarray:
    """Code rows (a list of per-beat lists, or an array) as a (beats, fields) matrix."""
    wide = any(f["width"] > 64 for f in fields)
    if isinstance(rows, np.ndarray) and rows.ndim == 2:
        return rows if wide or rows.dtype == np.uint64 else rows.astype(np.uint64)
    matrix = np.array(rows, dtype=object if wide else np.uint64)
    return matrix.reshape(len(rows), len(fields))


def pack_words(stream_spec: dict, codes: np.ndarray) -> np.ndarray:
    """Word matrix (beats, words) of a code matrix (beats, fields)."""
    fields = stream_spec["fields"]
    n = codes.shape[0]
    out = np.zeros((n, words(stream_spec["payload_width"])), dtype=np.uint64)
    for j, f in enumerate(fields):
        column = codes[:, j]
        if f["width"] > 64:
            # Rare (accumulators over 64 bits): Python integers, 32 bits at a time.
            values = [int(c) for c in column]
            for piece in range((f["width"] + 31) // 32):
                part = np.array([(v >> (32 * piece)) & 0xFFFFFFFF for v in values],
                                dtype=np.uint64)
                _place(out, part, f["lsb"] + 32 * piece)
            continue
        column = column.astype(np.uint64)
        _place(out, column & _MASK32, f["lsb"])
        if f["width"] > 32:
            _place(out, column >> np.uint64(32), f["lsb"] + 32)
    return out.astype(np.uint32)


def _place(out: np.ndarray, part: np.ndarray, lsb: int) -> None:
    """OR a column of values below 2^32 into the word matrix at bit ``lsb``."""
    w, s = divmod(lsb, 32)
    shifted = part << np.uint64(s)          # < 2^63: fits
    if w < out.shape[1]:
        out[:, w] |= shifted & _MASK32
    if s and w + 1 < out.shape[1]:
        out[:, w + 1] |= shifted >> np.uint64(32)


def unpack_words(stream_spec: dict, word_matrix: np.ndarray) -> np.ndarray:
    """Code matrix (beats, fields) of a word matrix (beats, words)."""
    fields = stream_spec["fields"]
    wm = np.asarray(word_matrix, dtype=np.uint64)
    n, nw = wm.shape
    wide = any(f["width"] > 64 for f in fields)
    out = np.zeros((n, len(fields)), dtype=object if wide else np.uint64)

    def word(i):
        return wm[:, i] if i < nw else np.zeros(n, dtype=np.uint64)

    for j, f in enumerate(fields):
        w, s = divmod(f["lsb"], 32)
        if f["width"] > 64:
            column = [0] * n
            for piece in range(words(f["width"] + s)):
                part = word(w + piece)
                column = [c | (int(p) << (32 * piece)) for c, p in zip(column, part)]
            mask = (1 << f["width"]) - 1
            out[:, j] = [(c >> s) & mask for c in column]
            continue
        low = word(w) | (word(w + 1) << np.uint64(32))
        value = low >> np.uint64(s)
        if s and f["width"] > 64 - s:
            value |= word(w + 2) << np.uint64(64 - s)
        if f["width"] < 64:
            value &= np.uint64((1 << f["width"]) - 1)
        out[:, j] = value
    return out


def payload_ints(word_matrix: np.ndarray) -> list[int]:
    """Each row of a word matrix as one Python integer."""
    result = []
    for row in np.asarray(word_matrix, dtype=np.uint64):
        value = 0
        for i, w in enumerate(row):
            value |= int(w) << (32 * i)
        result.append(value)
    return result


def words_from_ints(values, width: int) -> np.ndarray:
    """Word matrix of payloads given as Python integers."""
    nw = words(width)
    return np.array([[(v >> (32 * i)) & 0xFFFFFFFF for i in range(nw)] for v in values],
                    dtype=np.uint32).reshape(len(values), nw)


def words_to_hex(word_matrix: np.ndarray) -> list[str]:
    """Each row as hexadecimal digits, most significant first (``8 * words`` digits)."""
    wm = np.ascontiguousarray(np.asarray(word_matrix, dtype=np.uint32)[:, ::-1])
    if wm.size == 0:
        return [] if wm.shape[0] == 0 else ["0"] * wm.shape[0]
    text = wm.astype(">u4").tobytes().hex()
    step = 8 * wm.shape[1]
    return [text[i:i + step] for i in range(0, len(text), step)]


def words_from_hex(tokens: list[str], width: int) -> np.ndarray:
    """Word matrix of hexadecimal payloads (as Verilog's ``%h`` prints them)."""
    nw = words(width)
    digits = 8 * nw
    text = "".join(t.rjust(digits, "0") for t in tokens)
    try:
        data = bytes.fromhex(text)
    except ValueError:
        raise ValueError("undefined (x/z) payload bits") from None
    wm = np.frombuffer(data, dtype=">u4").reshape(len(tokens), nw)[:, ::-1]
    return wm.astype(np.uint32)
