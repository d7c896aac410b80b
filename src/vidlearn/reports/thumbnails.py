"""Small pictures of videos for reports, scaled in FFmpeg: the middle frame (a still, JPEG) and a
moving thumbnail (a few frames spread over the video, as an animated WebP that loops): one frame
cannot show an action, a few can."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np

__all__ = ["MOVING_FRAMES", "animated_thumbnail", "frame_times", "middle_frame", "strip_frames", "thumbnail_jpeg"]

MOVING_FRAMES = 6  # frames of a moving thumbnail (each one a seek and a decode)


def frame_times(path: str | Path, n: int, *, start: float | None = None, end: float | None = None) -> np.ndarray:
    """`n` times (seconds from the first frame) at the middles of `n` equal parts of the video,
    or of its [start, end] segment; n = 1 is the middle. Raises VideoError for an unreadable file."""
    from vidlearn.io import probe

    duration = max(0.0, float(probe(path).duration or 0.0))
    lo = max(0.0, start or 0.0)
    hi = duration if end is None else min(float(end), duration) if duration > 0 else float(end)
    span = max(0.0, hi - lo)
    return lo + (np.arange(n) + 0.5) * span / max(1, n)


def strip_frames(path: str | Path, n: int = MOVING_FRAMES, *, start: float | None = None, end: float | None = None, short_side: int = 96) -> np.ndarray:
    """`n` frames spread over the video (see `frame_times`), (n, H, W, 3) uint8 with the shorter
    side `short_side`. Raises VideoError for a file that cannot be read."""
    from vidlearn.io import read_frames

    return read_frames(path, frame_times(path, n, start=start, end=end), short_side=short_side)


def middle_frame(path: str | Path, *, start: float | None = None, end: float | None = None, short_side: int = 96) -> np.ndarray:
    """The frame shown halfway through the video (or through the [start, end] segment, in
    seconds from the first frame), as an (H, W, 3) uint8 array with the shorter side `short_side`.
    Raises VideoError for a file that cannot be read."""
    return strip_frames(path, 1, start=start, end=end, short_side=short_side)[0]


def thumbnail_jpeg(path: str | Path, *, start: float | None = None, end: float | None = None, short_side: int = 96, quality: int = 82) -> bytes:
    """`middle_frame` encoded as JPEG."""
    from PIL import Image

    frame = middle_frame(path, start=start, end=end, short_side=short_side)
    buf = io.BytesIO()
    Image.fromarray(frame).save(buf, format="JPEG", quality=quality)
    return buf.getvalue()


def animated_thumbnail(
    path: str | Path,
    *,
    start: float | None = None,
    end: float | None = None,
    frames: int = MOVING_FRAMES,
    short_side: int = 96,
    fps: float = 3.0,
    quality: int = 75,
) -> bytes:
    """A moving thumbnail: `frames` frames spread over the video (or segment) as an animated,
    looping WebP at `fps` frames a second (every browser plays it in an <img>, no script)."""
    from PIL import Image

    images = [Image.fromarray(f) for f in strip_frames(path, frames, start=start, end=end, short_side=short_side)]
    buf = io.BytesIO()
    images[0].save(buf, format="WEBP", save_all=True, append_images=images[1:], duration=max(20, round(1000 / fps)),
                   loop=0, quality=quality, method=4)
    return buf.getvalue()
