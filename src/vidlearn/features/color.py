"""Colour features: per-frame HSV and RGB histograms and RGB colour moments, pooled over time.

Per-frame descriptors (``bins`` = 8 by default; two-digit bin index ``kk``):

- ``hsv_hKK``, ``hsv_sKK``, ``hsv_vKK``: histogram of OpenCV HSV channels, each normalised to sum 1.
  Hue is in OpenCV units ``[0, 180)`` (degrees / 2); bin k covers ``[k*180/bins, (k+1)*180/bins)``, so
  pure red (H=0) falls in bin 0 and pure green (H=60) in bin ``floor(60*bins/180)``. Unsaturated
  pixels (grey, black, white) have H=0. S and V bins split ``[0, 256)`` evenly.
- ``rgb_rKK``, ``rgb_gKK``, ``rgb_bKK``: histogram of each RGB channel over ``[0, 256)``, sum 1.
- ``rgb_r_mean``, ``rgb_r_std``, ``rgb_r_skew`` (and ``g``, ``b``): colour moments of each channel
  scaled to ``[0, 1]`` (population std; skewness = 3rd standardised moment, 0 for a flat channel).

Columns are ``color.<descriptor>.<pool>``, e.g. ``color.hsv_h03.mean``, ``color.hsv_h03.pyr2_1``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vidlearn.errors import ConfigError
from vidlearn.features.base import PooledExtractor

__all__ = ["ColorFeatures"]

_SPACES = ("hsv", "rgb")
_LEVELS = np.arange(256, dtype=np.float64) / 255.0


class ColorFeatures(PooledExtractor):
    """HSV/RGB histograms and RGB moments per frame, pooled over time.

    Args:
        bins: histogram bins per channel (same for every channel of every space).
        spaces: which histograms to compute, any of ``"hsv"``, ``"rgb"`` (in that column order).
        moments: add mean, std and skewness of each RGB channel.
        stats, pyramid: temporal pooling (see :class:`~vidlearn.features.pooling.TemporalPooling`).
    """

    name = "color"

    def __init__(
        self,
        *,
        bins: int = 8,
        spaces: Sequence[str] = _SPACES,
        moments: bool = True,
        stats: Sequence[str] = ("mean", "std"),
        pyramid: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__(stats=tuple(stats), pyramid=tuple(pyramid))
        if not 1 <= int(bins) <= 180:
            raise ConfigError(f"features.bins: must be between 1 and 180, got {bins}")
        unknown = [s for s in spaces if s not in _SPACES]
        if unknown:
            raise ConfigError(f"features.spaces: unknown colour space {unknown[0]!r}; choose from hsv, rgb")
        if not spaces and not moments:
            raise ConfigError("features.spaces/moments: colour features need a histogram space or moments")
        self.bins = int(bins)
        self.spaces = tuple(s for s in _SPACES if s in spaces)
        self.moments = bool(moments)
        # lookup tables from a full-resolution histogram (256 or 180 levels) to `bins` groups
        self._group256 = (np.arange(256) * self.bins) // 256
        self._group180 = (np.arange(180) * self.bins) // 180

    def step_columns(self) -> list[str]:
        cols: list[str] = []
        for space in self.spaces:
            for ch in space:
                cols.extend(f"{space}_{ch}{k:02d}" for k in range(self.bins))
        if self.moments:
            for ch in "rgb":
                cols.extend(f"rgb_{ch}_{m}" for m in ("mean", "std", "skew"))
        return cols

    def describe(self, frames: np.ndarray) -> np.ndarray:
        t = frames.shape[0]
        pixels = float(frames.shape[1] * frames.shape[2])
        need_rgb = "rgb" in self.spaces or self.moments
        hsv_full = np.zeros((t, 3, 256), dtype=np.float64)  # hue uses the first 180 levels
        rgb_full = np.zeros((t, 3, 256), dtype=np.float64)
        for i in range(t):
            frame = np.ascontiguousarray(frames[i])
            if "hsv" in self.spaces:
                hsv = cv2.cvtColor(frame, cv2.COLOR_RGB2HSV)
                hsv_full[i, 0, :180] = cv2.calcHist([hsv], [0], None, [180], [0, 180]).ravel()
                hsv_full[i, 1] = cv2.calcHist([hsv], [1], None, [256], [0, 256]).ravel()
                hsv_full[i, 2] = cv2.calcHist([hsv], [2], None, [256], [0, 256]).ravel()
            if need_rgb:
                for c in range(3):
                    rgb_full[i, c] = cv2.calcHist([frame], [c], None, [256], [0, 256]).ravel()
        hsv_full /= pixels
        rgb_full /= pixels
        parts: list[np.ndarray] = []
        if "hsv" in self.spaces:
            parts.append(self._group(hsv_full[:, 0, :180], self._group180))
            parts.append(self._group(hsv_full[:, 1], self._group256))
            parts.append(self._group(hsv_full[:, 2], self._group256))
        if "rgb" in self.spaces:
            for c in range(3):
                parts.append(self._group(rgb_full[:, c], self._group256))
        if self.moments:
            parts.append(_moments(rgb_full))
        return np.concatenate(parts, axis=1)

    def _group(self, full: np.ndarray, group: np.ndarray) -> np.ndarray:
        """Sum a ``(T, levels)`` histogram into ``(T, bins)`` using the level->bin lookup ``group``."""
        out = np.zeros((full.shape[0], self.bins), dtype=np.float64)
        np.add.at(out, (slice(None), group), full)
        return out


def _moments(prob: np.ndarray) -> np.ndarray:
    """Mean, std, skewness per channel from normalised 256-level histograms ``(T, 3, 256)``.

    Returns ``(T, 9)`` ordered ``r_mean, r_std, r_skew, g_mean, ...`` on the ``[0, 1]`` scale.
    """
    mean = prob @ _LEVELS  # (T, 3)
    centred = _LEVELS[None, None, :] - mean[..., None]
    var = np.einsum("tcl,tcl->tc", prob, centred**2)
    third = np.einsum("tcl,tcl->tc", prob, centred**3)
    std = np.sqrt(np.maximum(var, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        skew = np.where(std > 1e-6, third / np.maximum(std, 1e-12) ** 3, 0.0)
    return np.stack([mean, std, skew], axis=-1).reshape(prob.shape[0], 9)
