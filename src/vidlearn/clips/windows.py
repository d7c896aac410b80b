"""Training windows for temporal localisation: untrimmed, annotated videos -> window records.

Windows of the model's clip length are laid on a regular grid over each video (``stride``
seconds apart). A window takes the label of the action that covers at least ``min_cover`` of it
(or at least ``min_cover`` of a segment shorter than the window); a window that no action
covers more than ``1 - min_cover`` of is background; windows in between (half in, half out) are
left out, so the classes stay clean. Background windows are then drawn (seeded) so that there
are ``background_ratio`` of them per action window, or all of them when there are fewer.

Each window is a :class:`~vidlearn.data.records.VideoRecord` of the video with ``start``/``end``
and ``meta["window"] = True``: the clip reader caches or encodes the whole video once and samples
the window's seconds from it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from vidlearn.config import DecodeConfig, SamplingConfig
from vidlearn.data.annotations import AnnotatedVideo
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError

__all__ = ["WindowPlan", "window_frames", "window_records", "window_seconds"]


def window_frames(sampling: SamplingConfig) -> int:
    """The decoded frames one clip (and one timeline window) spans: ``(num_frames - 1) * stride + 1``."""
    return (sampling.num_frames - 1) * max(1, sampling.stride) + 1


def window_seconds(sampling: SamplingConfig, decode: DecodeConfig) -> float:
    """The seconds one clip (and one timeline window) spans: :func:`window_frames` at ``decode.fps``."""
    if decode.fps is None:
        raise ConfigError("decode.fps: localization needs a fixed decode rate (windows are measured in seconds)")
    return window_frames(sampling) / float(decode.fps)


@dataclass(frozen=True)
class WindowPlan:
    """The windows of some videos: ``records`` and how many of each class there were."""

    records: list[VideoRecord]
    counts: dict[str, int]
    background_available: int

    def describe(self) -> str:
        """One line: windows per class, and the background drawn of those available."""
        parts = ", ".join(f"{c} {n}" for c, n in sorted(self.counts.items()))
        return f"{len(self.records)} windows ({parts}; background drawn from {self.background_available})"


def window_records(
    videos: Sequence[AnnotatedVideo],
    *,
    window: float,
    stride: float | None = None,
    background: str = "background",
    background_ratio: float = 1.0,
    min_cover: float = 0.6,
    seed: int = 0,
) -> WindowPlan:
    """Window records of ``videos`` (see the module docstring). ``stride`` defaults to a quarter window."""
    if not window > 0:
        raise ConfigError(f"window length must be positive, got {window!r}")
    if not 0.5 <= min_cover <= 1.0:
        raise ConfigError(f"min_cover must be in [0.5, 1], got {min_cover!r}")
    if background_ratio < 0:
        raise ConfigError(f"background ratio must be >= 0, got {background_ratio!r}")
    step = float(stride) if stride else window / 4
    if not step > 0:
        raise ConfigError(f"window stride must be positive, got {stride!r}")
    actions: list[VideoRecord] = []
    backs: list[VideoRecord] = []
    for v in videos:
        if any(s.label == background for s in v.segments):
            raise ConfigError(f"{v.path}: the label '{background}' is the background class; name the action otherwise")
        length = max(v.duration, window)
        starts = np.arange(0.0, max(length - window, 0.0) + 1e-9, step)
        for t0 in starts:
            t1 = t0 + window
            best, cover = None, 0.0
            total = 0.0
            for s in v.segments:
                inter = max(0.0, min(t1, s.end) - max(t0, s.start))
                total += inter
                frac = max(inter / window, inter / (s.end - s.start))
                if frac > cover:
                    best, cover = s.label, frac
            start, end = round(float(t0), 6), round(float(min(t1, v.duration)) if v.duration > 0 else float(t1), 6)
            if best is not None and cover >= min_cover:
                actions.append(VideoRecord(v.path, best, v.group, start, end, meta={"window": True}))
            elif total / window <= 1.0 - min_cover:
                backs.append(VideoRecord(v.path, background, v.group, start, end, meta={"window": True}))
    available = len(backs)
    want = round(background_ratio * len(actions)) if actions else available
    if want < available:
        rng = np.random.default_rng(seed)
        keep = np.sort(rng.choice(available, size=want, replace=False))
        backs = [backs[i] for i in keep]
    records = actions + backs
    counts: dict[str, int] = {}
    for r in records:
        counts[str(r.target)] = counts.get(str(r.target), 0) + 1
    return WindowPlan(records, counts, available)
