"""Time budgets: ``10m``, ``2h``, ``90s``, ``1h30m`` or plain seconds, and the default budget."""

from __future__ import annotations

import re

from vidlearn.errors import ConfigError

__all__ = ["DEFAULT_BUDGET_S", "format_seconds", "parse_budget", "process_started"]

DEFAULT_BUDGET_S = 600.0
"""With no ``--budget``: 10 minutes on a CPU-only machine (what the measured Weizmann plan needs);
the planner gives a GPU machine the same wall time (it simply fits more steps into it)."""

_PART = re.compile(r"(\d+(?:\.\d+)?)\s*(h|m|s)?", re.IGNORECASE)
_UNIT = {"h": 3600.0, "m": 60.0, "s": 1.0, None: 1.0}


def parse_budget(text: str | float | int, *, option: str = "--budget") -> float:
    """Seconds from ``10m``, ``2h``, ``1h30m``, ``90s`` or ``600``; a ConfigError names `option`."""
    if isinstance(text, (int, float)):
        seconds = float(text)
    else:
        s = str(text).strip().replace(" ", "")
        pos, seconds, parts = 0, 0.0, 0
        while pos < len(s):
            m = _PART.match(s, pos)
            if not m or m.end() == pos:
                raise ConfigError(f"{option}: {text!r} is not a duration (use e.g. 90s, 10m, 2h or 1h30m)")
            seconds += float(m.group(1)) * _UNIT[m.group(2).lower() if m.group(2) else None]
            pos, parts = m.end(), parts + 1
        if parts == 0:
            raise ConfigError(f"{option}: {text!r} is not a duration (use e.g. 90s, 10m, 2h or 1h30m)")
    if not (10.0 <= seconds <= 30 * 86400.0):
        raise ConfigError(f"{option}: {text!r} must be between 10 s and 30 days")
    return seconds


def format_seconds(seconds: float) -> str:
    """``9 min 40 s``, ``52 s``, ``2 h 05 min``."""
    s = int(round(seconds))
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60} s"
    return f"{s} s"


def process_started() -> float:
    """When this process started (a `time.time()` value; Linux: from /proc), so that a budget
    counts the interpreter's start and the imports too; elsewhere: now."""
    import time

    try:
        with open("/proc/self/stat") as f:
            ticks = int(f.read().rsplit(")", 1)[1].split()[19])  # field 22: start time in clock ticks after boot
        with open("/proc/stat") as f:
            boot = next(int(line.split()[1]) for line in f if line.startswith("btime"))
        import os

        started = boot + ticks / os.sysconf("SC_CLK_TCK")
        now = time.time()
        return started if 0 <= now - started < 86400 else now
    except (OSError, ValueError, IndexError, StopIteration):
        return time.time()
