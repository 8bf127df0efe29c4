"""Argument checks shared by the hardware components' constructors (one wording for all)."""

from __future__ import annotations

__all__ = ["require_choice"]


def require_choice(name: str, value, choices) -> None:
    """Raise ``ValueError`` unless ``value`` is one of ``choices``."""
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(map(str, choices))}, not {value!r}")
