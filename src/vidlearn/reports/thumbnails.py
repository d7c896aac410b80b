"""Small pictures of videos for reports: the middle frame, scaled in FFmpeg, as JPEG bytes."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

__all__ = ["middle_frame", "thumbnail_jpeg"]


def middle_frame(path: str | Path, *, start: float | None = None, end: float | None = None, short_side: int = 96) -> np.ndarray:
    """The frame shown halfway through the video (or through the [start, end] segment, in
    seconds from the first frame), as an (H, W, 3) uint8 array with the shorter side `short_side`.
    Raises VideoError for a file that cannot be read."""
    from vidlearn.io import probe, read_frames

    duration = max(0.0, float(probe(path).duration or 0.0))
    lo = max(0.0, start or 0.0)
    hi = duration if end is None else min(float(end), duration) if duration > 0 else float(end)
    t = lo + max(0.0, hi - lo) / 2.0
    return read_frames(path, [t], short_side=short_side)[0]


def thumbnail_jpeg(path: str | Path, *, start: float | None = None, end: float | None = None, short_side: int = 96, quality: int = 82) -> bytes:
    """`middle_frame` encoded as JPEG."""
    from PIL import Image

    frame = middle_frame(path, start=start, end=end, short_side=short_side)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()
