"""One cached video in memory: its frames (or feature rows) on the decode grid with their times in seconds, and the lookup of the frame shown at a time."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from vidlearn.cache.formats import JpegFrames
from vidlearn.errors import VideoError

_EPS = 1e-4  # seconds: a frame whose time is this close after a request counts as shown then


@dataclass(frozen=True, eq=False)
class CachedVideo:
    """One cached video (or segment).

    Attributes:
        path: the source video file.
        start: where the segment starts in the video (seconds; 0 for a whole video).
        times: (N,) float64 seconds of the cached frames, relative to ``start``.
        frames: (N, H, W, 3) uint8: a read-only memory map (``npy``) or a :class:`JpegFrames`
            view (``jpeg``); index it to get numpy arrays. A feature cache's entries hold
            (N, F) float32 rows here instead.
        duration: seconds the segment lasts (from the probed video duration and the record's end).
    """

    path: str
    start: float
    times: np.ndarray
    frames: Any
    duration: float
    key: str = field(repr=False)

    def __len__(self) -> int:
        return len(self.times)

    @property
    def video_times(self) -> np.ndarray:
        """Times of the cached frames in seconds from the start of the video."""
        return self.times + self.start

    def indices_at(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """For each time (seconds from the start of the VIDEO, as ``read_frames`` takes them),
        the index of the cached frame displayed then; times before the first frame give the first,
        times past the end the last."""
        req = np.asarray(times, dtype=np.float64).reshape(-1) - self.start
        idx = np.searchsorted(self.times, req + _EPS, side="right") - 1
        return np.clip(idx, 0, len(self.times) - 1)

    def at(self, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """The frames (len(times), H, W, 3) uint8 displayed at ``times`` (seconds from the start of
        the video), a fresh array."""
        idx = self.indices_at(times)
        try:
            if isinstance(self.frames, JpegFrames):
                return self.frames[idx]
            return np.asarray(self.frames[idx])  # fancy indexing of a memmap copies only these frames
        except (ValueError, OSError) as exc:
            raise VideoError(self.path, f"its cached frames ({self.key}) are damaged ({exc}); clear the cache") from None


def frame_step(rel: np.ndarray, fps: float | None, native_fps: float) -> float:
    """Seconds one frame lasts: 1/fps, else the median gap of the times, else 1/native fps."""
    if fps:
        return 1.0 / fps
    if len(rel) > 1:
        return float(np.median(np.diff(rel)))
    return 1.0 / native_fps if native_fps > 0 else 0.04
