"""Beat-by-beat comparison of a DUT's output streams with a golden model's expected beats."""

from __future__ import annotations

from hdl.formats import IntFormat, parse_format

__all__ = ["describe_beat", "Scoreboard"]


def _value(fmt_name: str, code: int):
    """Code as a readable value (integers exactly, other formats as float)."""
    fmt = parse_format(fmt_name)
    if isinstance(fmt, IntFormat):
        return int(fmt.to_int(code))
    return float(fmt.decode(code))


def describe_beat(fields: list[dict], codes) -> str:
    """``a=[1, -2] b=[3, 4] last=1``: vector fields are grouped by name."""
    groups: dict[str, list] = {}
    for f, code in zip(fields, codes):
        base = f["name"].split("[", 1)[0]
        groups.setdefault(base, []).append((f["name"] != base, _value(f["format"], code)))
    parts = []
    for base, items in groups.items():
        if items[0][0]:
            parts.append(f"{base}=[{', '.join(str(v) for _, v in items)}]")
        else:
            parts.append(f"{base}={items[0][1]}")
    return " ".join(parts)


class Scoreboard:
    """Compares received beats of each output stream with expected ones, in order.

    Parameters
    ----------
    manifest : dict
    inputs : dict[str, list]
        Input beats (codes) per input stream, for the mismatch report.
    expected : dict[str, list]
        Expected output beats (codes) per output stream.
    sources : dict[str, list]
        Per output stream, for each expected beat, ``[stream, first, last]``: the input beats
        that produced it (shown in a mismatch report).
    """

    MAX_SHOWN_INPUTS = 4

    def __init__(self, manifest, inputs, expected, sources=None):
        self.manifest = manifest
        self.inputs = inputs
        self.expected = expected
        self.sources = sources or {}

    def first_mismatch(self, name: str, received: list) -> str | None:
        """One line describing the first wrong, missing or extra beat of stream ``name``."""
        spec = self.manifest["streams"][name]
        fields = spec["fields"]
        expected = self.expected[name]
        for index, (exp, got) in enumerate(zip(expected, received)):
            if list(exp) != list(got):
                return (f"MISMATCH on stream {name} beat {index}: expected "
                        f"{describe_beat(fields, exp)}, got {describe_beat(fields, got)}; "
                        f"{self._inputs_of(name, index)}")
        if len(received) < len(expected):
            return (f"MISSING beats on stream {name}: got {len(received)} of {len(expected)}; "
                    f"next expected {describe_beat(fields, expected[len(received)])}")
        if len(received) > len(expected):
            return (f"EXTRA beat on stream {name} after {len(expected)} expected: "
                    f"{describe_beat(fields, received[len(expected)])}")
        return None

    def _inputs_of(self, name: str, index: int) -> str:
        srcs = self.sources.get(name)
        if not srcs:
            return "inputs not recorded"
        stream, first, last = srcs[index]
        fields = self.manifest["streams"][stream]["fields"]
        shown = list(range(first, last + 1))
        if len(shown) > self.MAX_SHOWN_INPUTS:
            shown = shown[:2] + shown[-2:]
        text = "; ".join(f"#{i}: {describe_beat(fields, self.inputs[stream][i])}" for i in shown)
        more = "" if last - first + 1 <= self.MAX_SHOWN_INPUTS else " (middle beats not shown)"
        return f"inputs {stream} beats {first}..{last}{more}: {text}"
