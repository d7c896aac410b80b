"""Random draws for the clip transforms: one value per clip from an optional `torch.Generator`, and argument checks shared by the random transforms."""

from __future__ import annotations

from collections.abc import Sequence

import torch


def rand(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator))


def uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * rand(generator)


def randint(high: int, generator: torch.Generator | None) -> int:
    """A whole number in [0, high]."""
    return int(torch.randint(0, high + 1, (), generator=generator)) if high > 0 else 0


def check_p(p: float) -> float:
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return float(p)


def check_range(name: str, r: Sequence[float], low: float = 0.0) -> tuple[float, float]:
    lo, hi = float(r[0]), float(r[1])
    if not (low < lo <= hi):
        raise ValueError(f"{name} must satisfy {low:g} < min <= max, got {(lo, hi)}")
    return lo, hi
