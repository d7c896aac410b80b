"""The one record type that every dataset source yields."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

__all__ = ["LABEL_SEPARATOR", "VideoRecord", "join_labels", "parse_number", "split_labels"]

LABEL_SEPARATOR = "|"  # a multi-label target is its labels joined by this, sorted: "jump|wave"


def split_labels(target: str | float | None) -> list[str]:
    """The labels of a multi-label target (``"jump|wave"`` -> ``["jump", "wave"]``; ``""``: none)."""
    if not isinstance(target, str):
        return []
    return [t for t in (part.strip() for part in target.split(LABEL_SEPARATOR)) if t]


def join_labels(labels: Any) -> str:
    """The one spelling of a set of labels: sorted, without repeats, joined by ``|`` (none: ``""``)."""
    return LABEL_SEPARATOR.join(sorted({str(label).strip() for label in labels if str(label).strip()}))


def parse_number(text: str) -> float | None:
    """A finite number from a manifest or annotations cell, or None (not a number, nan, inf)."""
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class VideoRecord:
    """One video (or one segment of a video) with its target.

    Attributes:
        path: the video file (absolute or relative to the working directory).
        target: class name (str) for classification, a number for regression, the labels joined
            by ``|`` for multilabel (``"jump|wave"``, see :func:`join_labels`), None if unlabelled.
        group: grouping key for group-aware splits (actor, patient, session ...), or None.
        start: optional start of the segment in seconds (None: the beginning).
        end: optional end of the segment in seconds (None: the end of the video).
        meta: extra columns from the source, kept for reports.
    """

    path: Path
    target: str | float | None = None
    group: str | None = None
    start: float | None = None
    end: float | None = None
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def with_target(self, target: str | float | None) -> "VideoRecord":
        """A copy with another target."""
        return replace(self, target=target)

    @property
    def name(self) -> str:
        """A short display name: the file name, with the segment when there is one."""
        seg = ""
        if self.start is not None or self.end is not None:
            seg = f"[{self.start or 0:g}-{'' if self.end is None else f'{self.end:g}'}]"
        return f"{Path(self.path).name}{seg}"
