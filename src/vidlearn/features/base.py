"""What every feature extractor is, plus small helpers shared by the classical families.

A feature extractor maps frames ``(T, H, W, 3) uint8 RGB`` to a 1-D float32 vector whose entries
are named by ``.columns``. The names depend only on the extractor's parameters, never on the video,
so vectors from videos of any size and length line up in one table.

Angle convention (used by every orientation histogram in this package): angles are in degrees in
``[0, 360)``, measured counter-clockwise *on screen*: 0 deg points right (+x), 90 deg points up. Image
rows grow downward, so a vector ``(dx, dy)`` in image coordinates has angle ``atan2(-dy, dx)``.
Histogram bin 0 is centred on 0 deg (it covers ``[-w/2, w/2)`` with ``w = span / bins``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import cv2
import numpy as np

from vidlearn.features.pooling import TemporalPooling

__all__ = [
    "FeatureExtractor",
    "PooledExtractor",
    "check_frames",
    "orientation_histogram",
    "to_gray",
]


@runtime_checkable
class FeatureExtractor(Protocol):
    """A named family of features over a clip of RGB frames."""

    name: str

    @property
    def columns(self) -> list[str]:
        """Column names of the output vector; depends only on the extractor's parameters."""
        ...

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Features of ``frames`` ``(T, H, W, 3) uint8`` as float32 ``(len(columns),)``."""
        ...


def check_frames(frames: np.ndarray) -> np.ndarray:
    """Return ``frames`` as a ``(T, H, W, 3) uint8`` array with T >= 1, or raise ``ValueError``."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3:
        raise ValueError(f"features expect frames shaped (T, H, W, 3) RGB, got shape {arr.shape}")
    if arr.dtype != np.uint8:
        raise ValueError(f"features expect uint8 frames, got dtype {arr.dtype}")
    if arr.shape[0] < 1 or arr.shape[1] < 1 or arr.shape[2] < 1:
        raise ValueError(f"features need at least one non-empty frame, got shape {arr.shape}")
    return arr


def to_gray(frame: np.ndarray) -> np.ndarray:
    """One RGB ``(H, W, 3) uint8`` frame to grayscale ``(H, W) uint8`` (ITU-R BT.601 weights)."""
    return cv2.cvtColor(np.ascontiguousarray(frame), cv2.COLOR_RGB2GRAY)


def orientation_histogram(
    dx: np.ndarray,
    dy: np.ndarray,
    bins: int,
    *,
    signed: bool = True,
    mask: np.ndarray | None = None,
    normalize: bool = True,
    eps: float = 1e-6,
) -> np.ndarray:
    """Magnitude-weighted histogram of the orientations of vectors ``(dx, dy)`` (image coordinates).

    Angles follow the package convention (0 deg right, 90 deg up, bin 0 centred on 0 deg). With
    ``signed=False`` opposite directions are merged (span 180 deg instead of 360). Only entries where
    ``mask`` is true count. With ``normalize`` the histogram sums to 1, or is all zeros when the
    total weight is below ``eps``.
    """
    dx32 = np.ascontiguousarray(dx, dtype=np.float32)
    ndy32 = np.ascontiguousarray(-np.asarray(dy, dtype=np.float32))
    magnitude, angle = cv2.cartToPolar(dx32, ndy32, angleInDegrees=True)
    if mask is not None:
        magnitude = magnitude[mask]
        angle = angle[mask]
    angle = angle.ravel()
    if not signed:
        angle = np.where(angle >= 180.0, angle - 180.0, angle)
    width = (360.0 if signed else 180.0) / bins
    index = ((angle + width / 2.0) * (1.0 / width)).astype(np.intp)  # angle >= 0: truncation == floor
    index[index >= bins] -= bins  # the last half bin wraps to bin 0 (and an angle of exactly 360)
    hist = np.bincount(index, weights=magnitude.ravel(), minlength=bins)[:bins].astype(np.float64)
    if normalize:
        total = hist.sum()
        hist = hist / total if total > eps else np.zeros(bins, dtype=np.float64)
    return hist


class PooledExtractor(ABC):
    """Base for families that compute a descriptor per time step and pool it over time.

    Subclasses set ``name`` and implement :meth:`step_columns` and :meth:`describe`; columns are
    ``"<name>.<descriptor>.<pool>"`` (see :mod:`vidlearn.features.pooling`).
    """

    name: str = ""

    def __init__(self, *, stats: Sequence[str] = ("mean", "std"), pyramid: Sequence[int] = (1, 2)) -> None:
        self.pooling = TemporalPooling(stats=stats, pyramid=pyramid)

    @abstractmethod
    def step_columns(self) -> list[str]:
        """Names of the per-step descriptor values (without family prefix or pool suffix)."""

    @abstractmethod
    def describe(self, frames: np.ndarray) -> np.ndarray:
        """Per-step descriptors ``(N, len(step_columns()))`` of checked frames (N may be 0)."""

    @property
    def columns(self) -> list[str]:
        """Pooled column names ``"<family>.<descriptor>.<pool>"``."""
        return self.pooling.columns([f"{self.name}.{c}" for c in self.step_columns()])

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        """Pooled float32 feature vector of ``frames`` ``(T, H, W, 3) uint8``."""
        frames = check_frames(frames)
        steps = self.describe(frames)
        return self.pooling(steps)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(name={self.name!r}, columns={len(self.columns)})"
