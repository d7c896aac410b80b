"""Bad videos reported, not fatal: a JSON-lines skip log that DataLoader workers append to and the main process reads back, and the one-line summary of what was skipped."""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any


def skip_summary(skipped: Sequence[tuple[str, str]], total: int) -> str:
    """"N of M videos skipped: path: reason; path: reason" (or "0 of M videos skipped")."""
    head = f"{len(skipped)} of {total} video{'s' if total != 1 else ''} skipped"
    if not skipped:
        return head
    return head + ": " + "; ".join(f"{path}: {reason}" for path, reason in skipped)


def read_skip_log(path: str | Path, *, dataset: str | None = None) -> list[dict[str, Any]]:
    """The entries of a JSON-lines skip log (those of one dataset when ``dataset`` is its token);
    a missing file is an empty log and an unreadable line is ignored."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: the others still count
        if isinstance(entry, dict) and (dataset is None or entry.get("dataset") == dataset):
            out.append(entry)
    return out


def append_skip_line(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line with a single O_APPEND write (whole lines even with many writers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def remove_private_log(path: Path, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # never from a forked worker's copy
        try:
            path.unlink()
        except OSError:
            pass
