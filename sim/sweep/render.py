"""What reports are made of: Markdown tables and Matplotlib plots (PNG, no display), built from
the figures of a sweep (:class:`sim.sweep.engine.Results`, read from the results database)."""

from __future__ import annotations

from pathlib import Path

__all__ = ["number_text", "markdown_table", "ratio", "new_plot", "save_plot"]


def number_text(value, digits: int) -> str:
    """A table cell: ``-`` for a missing figure, floats with ``digits`` decimals."""
    if value is None:
        return "-"
    return f"{value:.{digits}f}" if isinstance(value, float) else str(value)


def ratio(value, base) -> float | None:
    """``value / base``, or None when either is missing or ``base`` is zero."""
    if value is None or base is None or base == 0:
        return None
    return value / base


def markdown_table(header: list[str], rows: list[list], *, align: str | None = None) -> str:
    """A Markdown table: ``header`` cells, then one line per row (cells already text);
    ``align`` gives one character per column (``l`` or ``r``; default: the first column left,
    the others right)."""
    align = align or "l" + "r" * (len(header) - 1)
    rule = "|" + "|".join("---:" if a == "r" else "---" for a in align) + "|"
    lines = ["| " + " | ".join(header) + " |", rule]
    lines += ["| " + " | ".join(str(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def new_plot(*args, **kwargs):
    """``matplotlib.pyplot.subplots(*args, **kwargs)`` (a figure and its axes) on the Agg
    backend: files only, no display needed."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    return plt.subplots(*args, **kwargs)


def save_plot(fig, path: Path) -> None:
    """Lay ``fig`` out tightly, write it to ``path`` (PNG, 120 dpi) and close it."""
    import matplotlib.pyplot as plt
    fig.tight_layout()
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
