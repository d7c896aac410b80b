"""How values read on a report page: numbers to 3 decimals, shares as percentages, durations in
s / min / h, missing or non-finite values as '—'. Plain text; escaping is the templates' job."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

__all__ = ["fmt", "format_duration", "mean_std", "num", "pct", "short"]


def fmt(value: Any, digits: int = 3) -> str:
    """A cell's text: floats to `digits` decimals, None / NaN / inf as '—', numpy scalars as
    Python ones, anything else as `str`."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.{digits}f}"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return fmt(value.item(), digits)
        except (TypeError, ValueError):
            pass
    return str(value)


def pct(value: float | None) -> str:
    """0.625 -> '62.5%'."""
    return "—" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


def format_duration(seconds: float) -> str:
    """12.3 s, 4 min 05 s, 2 h 03 min."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        m, r = divmod(int(round(s)), 60)
        return f"{m} min {r:02d} s"
    h, r = divmod(int(round(s)), 3600)
    return f"{h} h {r // 60:02d} min"


def mean_std(entry: Mapping[str, Any] | None) -> str:
    """'0.625 ± 0.125' of a summarize_folds entry ``{"mean", "std", "values"}``."""
    if not entry or entry.get("mean") is None:
        return "—"
    std = entry.get("std")
    return f"{fmt(entry['mean'])} ± {fmt(std)}" if std is not None else fmt(entry["mean"])


def num(value: Any) -> float | None:
    """A finite float, or None (for empty CSV cells and the like)."""
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def short(text: str, n: int) -> str:
    """`text` cut to at most `n` characters, with '…' where it was cut."""
    return text if len(text) <= n else text[: n - 1] + "…"
