"""Wording helpers for command output."""
from __future__ import annotations


def plural(n: int, noun: str, many: str | None = None) -> str:
    """``"1 figure"``, ``"2 figures"``; ``many`` for irregular plurals (``plural(1, "offsets file")``)."""
    return f"{n} {noun if n == 1 else (many or noun + 's')}"
