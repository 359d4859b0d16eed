"""How the console writes figures the services answer: shared by its pages. Pure."""

from __future__ import annotations


def percent(rate: object) -> str:
    """A rate as a percentage with one decimal; ``—`` when there is none (null, or not
    a number)."""
    if isinstance(rate, bool) or not isinstance(rate, int | float):
        return "—"
    return f"{rate * 100:.1f}%"
