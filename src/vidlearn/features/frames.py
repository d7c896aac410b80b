"""Per-frame feature vectors: what feature-sequence models (``feature_rnn``) read instead of pixels.

A :class:`FrameEncoder` maps frames ``(N, H, W, 3) uint8`` to one float32 row per frame: the
per-frame descriptors of the configured families, concatenated in the order given:

- ``deep``: the ImageNet EfficientNet-Lite0 embedding of the frame (1280 values,
  :class:`~vidlearn.features.deep.EffNetEmbedding`'s preprocessing at ``image_size``);
- ``color``, ``shape``: the per-frame descriptors of :mod:`vidlearn.features.color` and
  :mod:`vidlearn.features.shape` (library defaults; what those families pool over time);
- ``motion``: the descriptors of :mod:`vidlearn.features.motion` for the pair (previous frame,
  this frame); the first frame of a video, which has no previous frame, gets zeros.

Rows are defined on the decode grid of a video (its frames at ``decode.fps`` and ``short_side``),
so a clip's rows are taken from the whole video's rows (:func:`encode_video`, or the frame cache
with an encoder): the rows of a clip do not depend on where the clip starts or on its stride.
Column names are ``"<family>.<descriptor>"`` (``deep.effnet_f0000``, ``motion.hof_o00``, ...).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from vidlearn.cache import CachedVideo
from vidlearn.errors import ConfigError
from vidlearn.features.base import check_frames

__all__ = ["FRAME_KINDS", "FrameEncoder", "encode_video", "iter_encoded_frames"]

FRAME_KINDS: tuple[str, ...] = ("deep", "color", "shape", "motion")


class FrameEncoder:
    """Per-frame features of ``kinds`` (see the module docs), one float32 row per frame.

    Args:
        kinds: families in column order, a non-empty subset of ``deep, color, shape, motion``.
        image_size: ``deep``: the EfficientNet input side.
    """

    def __init__(self, kinds: Sequence[str] = ("deep",), *, image_size: int = 224) -> None:
        kinds = list(kinds)
        unknown = [k for k in kinds if k not in FRAME_KINDS]
        if unknown or not kinds or len(set(kinds)) != len(kinds):
            raise ConfigError(f"frame_features.kinds: need distinct names from {', '.join(FRAME_KINDS)}, got {kinds}")
        from vidlearn.features.color import ColorFeatures
        from vidlearn.features.deep import EffNetEmbedding
        from vidlearn.features.motion import MotionFeatures
        from vidlearn.features.shape import ShapeFeatures

        factories = {"deep": lambda: EffNetEmbedding(image_size=image_size), "color": ColorFeatures,
                     "shape": ShapeFeatures, "motion": MotionFeatures}
        self.kinds = kinds
        self.image_size = int(image_size)
        self._parts: dict[str, Any] = {kind: factories[kind]() for kind in kinds}

    @classmethod
    def from_config(cls, cfg: Any) -> "FrameEncoder":
        """The encoder an :class:`~vidlearn.config.ExperimentConfig`'s ``frame_features`` describes."""
        return cls(cfg.frame_features.kinds, image_size=cfg.frame_features.image_size)

    @property
    def columns(self) -> list[str]:
        """``"<family>.<descriptor>"`` for every value of a row."""
        return [f"{kind}.{c}" for kind, part in self._parts.items() for c in part.step_columns()]

    @property
    def dim(self) -> int:
        """Values per row."""
        return len(self.columns)

    def key(self) -> dict[str, Any]:
        """Everything that decides the rows (for cache keys)."""
        return {"frame_features": 1, "kinds": self.kinds, "image_size": self.image_size if "deep" in self.kinds else None}

    def encode(self, frames: np.ndarray, previous: np.ndarray | None = None) -> np.ndarray:
        """Rows ``(N, dim)`` float32 for frames ``(N, H, W, 3) uint8``; ``previous`` is the frame
        shown just before ``frames[0]`` (for ``motion``; None: the first row's motion is zero)."""
        frames = check_frames(frames)
        parts: list[np.ndarray] = []
        for kind, part in self._parts.items():
            if kind != "motion":
                parts.append(part.describe(frames))
            elif previous is not None:  # pairs (previous, frames[0]), (frames[0], frames[1]), ...
                parts.append(part.describe(np.concatenate([np.asarray(previous)[None], frames])))
            else:  # describe gives the N - 1 pairs inside frames
                parts.append(np.concatenate([np.zeros((1, len(part.step_columns()))), part.describe(frames)]))
        out = np.concatenate([np.asarray(p, dtype=np.float32).reshape(len(frames), -1) for p in parts], axis=1)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0)

    def encode_stream(self, frames: Iterator[tuple[float, np.ndarray]], *, batch: int = 32) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """Rows for a stream of ``(seconds, frame)``, in chunks (see :func:`iter_encoded_frames`)."""
        return iter_encoded_frames(frames, self, batch=batch)

    def __repr__(self) -> str:
        return f"FrameEncoder(kinds={self.kinds}, dim={self.dim})"


def iter_encoded_frames(
    frames: Iterator[tuple[float, np.ndarray]], encoder: FrameEncoder, *, batch: int = 32
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Encode a stream of ``(seconds, frame)`` in chunks of ``batch`` frames: yields ``(times (n,),
    rows (n, dim))``; motion rows continue across chunks (each chunk gets the previous frame)."""
    batch = max(1, int(batch))
    previous: np.ndarray | None = None
    times: list[float] = []
    chunk: list[np.ndarray] = []
    for t, frame in frames:
        times.append(float(t))
        chunk.append(frame)
        if len(chunk) >= batch:
            yield np.asarray(times), encoder.encode(np.stack(chunk), previous)
            previous = chunk[-1]
            times, chunk = [], []
    if chunk:
        yield np.asarray(times), encoder.encode(np.stack(chunk), previous)


def encode_video(
    path: str | Path,
    encoder: FrameEncoder,
    *,
    fps: float | None,
    short_side: int | None,
    start: float = 0.0,
    end: float | None = None,
    threads: int = 0,
) -> CachedVideo:
    """The rows of a video's (or ``[start, end)``'s) frames at ``fps`` and ``short_side``, decoded
    in one pass, in memory: a :class:`~vidlearn.cache.CachedVideo` like a feature cache's entry
    (``times`` from ``start``, ``frames`` the ``(N, dim)`` rows, ``at(seconds)``). Raises
    VideoError (naming the file) for a bad video or an empty segment."""
    from vidlearn.errors import VideoError
    from vidlearn.io import iter_frames, probe

    start = float(start or 0.0)
    info = probe(path)
    times, rows = [], []
    stream = iter_frames(path, fps=fps, short_side=short_side, start=start if start > 0 else None, end=end, threads=threads)
    for t, r in iter_encoded_frames(stream, encoder):
        times.append(t)
        rows.append(r)
    if not times:
        raise VideoError(path, "no frames in the requested range" if start or end else "no decodable frames")
    seg_end = info.duration if end is None else min(float(end), info.duration)
    return CachedVideo(path=str(path), start=start, times=np.concatenate(times) - start, frames=np.concatenate(rows),
                       duration=max(seg_end - start, 0.0), key="memory")
