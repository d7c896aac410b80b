"""Shape features: HOG, edge density, edge-orientation histogram and Hu moments, pooled over time.

Per-frame descriptors, all computed on the grayscale frame (BT.601):

- ``hog_bY_X_cY_X_oKK``: HOG (scikit-image ``hog``, L2-Hys block normalisation) of the frame resized
  to ``hog_size`` x ``hog_size`` (INTER_AREA; aspect ratio is not kept), so the length does not
  depend on the frame size. ``b<row>_<col>`` is the block, ``c<row>_<col>`` the cell inside the
  block, ``oKK`` the unsigned orientation bin. Defaults (64 px, 16 px cells, 2x2 blocks, 9
  orientations) give 3*3*2*2*9 = 324 values. (scikit-image is used because OpenCV 5 no longer
  ships ``cv2.HOGDescriptor`` in its main modules; at 64x64 it takes ~0.4 ms a frame.)
- ``edge_density``: fraction of pixels marked by Canny (``canny_low``, ``canny_high``); 0 for a
  flat frame.
- ``edge_oKK``: histogram of the Sobel gradient orientation at Canny edge pixels, weighted by
  gradient magnitude, unsigned (0..180 deg; bin 0 centred on 0 deg = horizontal gradient, i.e. a
  vertical edge; 90 deg = vertical gradient), normalised to sum 1 (all zeros without edges).
- ``hu1`` .. ``hu7`` (``hu_moments=True``): Hu moments of the foreground, the pixels brighter than
  the Otsu threshold, log-scaled as ``-sign(h) * log10(|h|)``; moments with ``|h| < 1e-15``
  (floating-point noise, e.g. the odd moments of a symmetric shape) are 0.

Columns are ``shape.<descriptor>.<pool>``, e.g. ``shape.edge_density.mean``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np
from skimage.feature import hog

from vidlearn.errors import ConfigError
from vidlearn.features.base import PooledExtractor, orientation_histogram, to_gray

__all__ = ["ShapeFeatures"]

_HU_ZERO = 1e-15  # |Hu moment| below this is floating-point noise (e.g. hu3 of a rectangle): taken as 0


class ShapeFeatures(PooledExtractor):
    """HOG, edge density, edge orientations and Hu moments per frame, pooled over time.

    Args:
        hog_size: side (px) of the square the frame is resized to for HOG; 0 disables HOG.
        hog_cell: HOG cell side in pixels (must divide into ``hog_size`` at least ``hog_block`` times).
        hog_block: HOG block side in cells.
        hog_orientations: HOG orientation bins (unsigned, 0..180 deg).
        edge_bins: bins of the edge-orientation histogram (0..180 deg).
        canny_low, canny_high: Canny hysteresis thresholds (grey levels).
        hu_moments: add the 7 log-scaled Hu moments of the Otsu foreground.
        stats, pyramid: temporal pooling (see :class:`~vidlearn.features.pooling.TemporalPooling`).
    """

    name = "shape"

    def __init__(
        self,
        *,
        hog_size: int = 64,
        hog_cell: int = 16,
        hog_block: int = 2,
        hog_orientations: int = 9,
        edge_bins: int = 8,
        canny_low: float = 50.0,
        canny_high: float = 150.0,
        hu_moments: bool = True,
        stats: Sequence[str] = ("mean", "std"),
        pyramid: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__(stats=tuple(stats), pyramid=tuple(pyramid))
        self.hog_size = int(hog_size)
        self.hog_cell = int(hog_cell)
        self.hog_block = int(hog_block)
        self.hog_orientations = int(hog_orientations)
        if self.hog_size:
            if self.hog_cell < 1 or self.hog_block < 1 or self.hog_orientations < 1:
                raise ConfigError("features.hog_cell/hog_block/hog_orientations: must be >= 1")
            if self.hog_size // self.hog_cell < self.hog_block:
                raise ConfigError(
                    f"features.hog_size: {self.hog_size} px holds {self.hog_size // self.hog_cell} cells of "
                    f"{self.hog_cell} px, fewer than one block of {self.hog_block}"
                )
        if int(edge_bins) < 1:
            raise ConfigError(f"features.edge_bins: must be >= 1, got {edge_bins}")
        if not 0 <= canny_low <= canny_high:
            raise ConfigError(f"features.canny_low/canny_high: need 0 <= low <= high, got {canny_low}, {canny_high}")
        self.edge_bins = int(edge_bins)
        self.canny_low = float(canny_low)
        self.canny_high = float(canny_high)
        self.hu_moments = bool(hu_moments)

    @property
    def _blocks(self) -> int:
        return self.hog_size // self.hog_cell - self.hog_block + 1

    def step_columns(self) -> list[str]:
        cols: list[str] = []
        if self.hog_size:
            nb, cb = self._blocks, self.hog_block
            cols.extend(
                f"hog_b{by}_{bx}_c{cy}_{cx}_o{o:02d}"
                for by in range(nb)
                for bx in range(nb)
                for cy in range(cb)
                for cx in range(cb)
                for o in range(self.hog_orientations)
            )
        cols.append("edge_density")
        cols.extend(f"edge_o{k:02d}" for k in range(self.edge_bins))
        if self.hu_moments:
            cols.extend(f"hu{k}" for k in range(1, 8))
        return cols

    def describe(self, frames: np.ndarray) -> np.ndarray:
        rows = [self._describe_frame(to_gray(frame)) for frame in frames]
        return np.stack(rows, axis=0)

    def _describe_frame(self, gray: np.ndarray) -> np.ndarray:
        parts: list[np.ndarray] = []
        if self.hog_size:
            small = cv2.resize(gray, (self.hog_size, self.hog_size), interpolation=cv2.INTER_AREA)
            parts.append(
                hog(
                    small,
                    orientations=self.hog_orientations,
                    pixels_per_cell=(self.hog_cell, self.hog_cell),
                    cells_per_block=(self.hog_block, self.hog_block),
                    block_norm="L2-Hys",
                    feature_vector=True,
                ).astype(np.float64)
            )
        edges = cv2.Canny(gray, self.canny_low, self.canny_high) > 0
        parts.append(np.array([edges.mean()]))
        gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
        gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
        parts.append(orientation_histogram(gx, gy, self.edge_bins, signed=False, mask=edges))
        if self.hu_moments:
            parts.append(_log_hu(gray))
        return np.concatenate(parts)


def _log_hu(gray: np.ndarray) -> np.ndarray:
    """Log-scaled Hu moments of the Otsu foreground (pixels brighter than the threshold)."""
    _, mask = cv2.threshold(gray, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    hu = cv2.HuMoments(cv2.moments(mask, binaryImage=True)).ravel()
    out = np.zeros(7, dtype=np.float64)
    nonzero = np.abs(hu) > _HU_ZERO
    out[nonzero] = -np.sign(hu[nonzero]) * np.log10(np.abs(hu[nonzero]))
    return out
