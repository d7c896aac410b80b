"""Motion features: dense optical flow (HOF, magnitude, MBH) and frame-difference energy, pooled.

Every descriptor is computed for each pair of consecutive frames (T-1 pairs; a 1-frame video has
none and gets all zeros). Per-pair descriptors:

- ``hof_oKK``: histogram of flow orientation weighted by flow magnitude, ``hof_bins`` bins over
  0..360 deg, normalised to sum 1 (all zeros when nothing moves). Angles are *on screen*: bin 0 is
  centred on 0 deg = motion to the right (+x), 90 deg = motion up (towards row 0), 180 deg = left,
  270 deg = down; i.e. ``angle = atan2(-flow_y, flow_x)`` because image rows grow downward.
- ``flow_mag_mean``, ``flow_mag_p90``: mean and 90th percentile of the flow magnitude, in pixels per
  frame *of the input frames* (flow computed at reduced resolution is scaled back up);
  ``flow_moving_frac``: fraction of pixels moving more than ``moving_threshold`` px per frame.
- ``mbhx_oKK``, ``mbhy_oKK``: motion-boundary histograms: orientation histograms (same angle
  convention, ``mbh_bins`` over 0..360 deg) of the spatial gradient (Sobel) of the flow's x and y
  components, weighted by gradient magnitude, normalised to sum 1 (zeros where the flow is uniform);
  ``mbhx_mag``, ``mbhy_mag``: mean magnitude of that gradient (px/frame per input pixel), which
  tells how much motion boundary there is (a normalised histogram of almost nothing is noise).
- ``energy_mean``: mean absolute grayscale difference between the two frames, scaled to [0, 1];
  ``energy_frac``: fraction of pixels whose absolute difference exceeds ``diff_threshold`` grey levels.
  Both are computed at the input resolution.

Optical flow (``flow="dis"``: OpenCV DIS, preset FAST; ``"farneback"``: OpenCV Farneback;
``"none"``: only the energy columns) runs on grayscale frames downscaled so that their short side
is at most ``flow_short_side`` pixels (default 120, e.g. 320x240 -> 160x120; ``None`` keeps the
input size). Flow vectors shorter than ``min_flow`` px/frame are treated as noise and set to 0
before any descriptor is computed, so a still video gives exactly zero flow features.

Columns are ``motion.<descriptor>.<pool>``, e.g. ``motion.hof_o00.mean``.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from vidlearn.errors import ConfigError
from vidlearn.features.base import PooledExtractor, orientation_histogram, to_gray

__all__ = ["FLOW_METHODS", "MotionFeatures", "optical_flow"]

FLOW_METHODS: tuple[str, ...] = ("dis", "farneback", "none")
_DIS_MIN_SHORT, _DIS_MIN_LONG = 8, 12  # smallest frame OpenCV's DIS (preset FAST) accepts


def optical_flow(prev: np.ndarray, nxt: np.ndarray, method: str = "dis") -> np.ndarray:
    """Dense flow ``(H, W, 2)`` float32 (x, y in pixels, image coordinates) between two gray frames.

    OpenCV's DIS refuses frames under 8 px on a side or under 12 px on both; those use Farneback.
    """
    prev = np.ascontiguousarray(prev)
    nxt = np.ascontiguousarray(nxt)
    if method == "dis" and (min(prev.shape[:2]) < _DIS_MIN_SHORT or max(prev.shape[:2]) < _DIS_MIN_LONG):
        method = "farneback"
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_FAST)
        return dis.calc(prev, nxt, None)
    if method == "farneback":
        return cv2.calcOpticalFlowFarneback(prev, nxt, None, 0.5, 3, 15, 3, 5, 1.2, 0)
    raise ConfigError(f"features.flow: unknown optical-flow method {method!r}; choose from dis, farneback")


class MotionFeatures(PooledExtractor):
    """HOF, flow magnitude, MBH and frame-difference energy per frame pair, pooled over time.

    Args:
        flow: ``"dis"`` (default, fast), ``"farneback"`` or ``"none"`` (energy columns only).
        flow_short_side: flow is computed on frames downscaled to this short side (px); ``None``
            or 0 uses the input resolution. Never upscales.
        hof_bins: bins of the flow-orientation histogram (0..360 deg, bin 0 centred on 0 deg).
        mbh_bins: bins of each motion-boundary histogram.
        min_flow: flow shorter than this (px/frame, input resolution) is set to zero.
        moving_threshold: a pixel "moves" when its flow is longer than this (px/frame).
        diff_threshold: grey-level difference above which a pixel counts in ``energy_frac``.
        stats, pyramid: temporal pooling (see :class:`~vidlearn.features.pooling.TemporalPooling`).
    """

    name = "motion"

    def __init__(
        self,
        *,
        flow: str = "dis",
        flow_short_side: int | None = 120,
        hof_bins: int = 8,
        mbh_bins: int = 8,
        min_flow: float = 0.1,
        moving_threshold: float = 1.0,
        diff_threshold: float = 15.0,
        stats: Sequence[str] = ("mean", "std"),
        pyramid: Sequence[int] = (1, 2),
    ) -> None:
        super().__init__(stats=tuple(stats), pyramid=tuple(pyramid))
        if flow not in FLOW_METHODS:
            raise ConfigError(
                f"features.flow: unknown optical-flow method {flow!r}; choose from {', '.join(FLOW_METHODS)}"
            )
        if flow_short_side is not None and int(flow_short_side) < 0:
            raise ConfigError(f"features.flow_short_side: must be positive or None, got {flow_short_side}")
        if int(hof_bins) < 1 or int(mbh_bins) < 1:
            raise ConfigError(f"features.hof_bins/mbh_bins: must be >= 1, got {hof_bins}, {mbh_bins}")
        if min_flow < 0 or moving_threshold < 0 or diff_threshold < 0:
            raise ConfigError("features.min_flow/moving_threshold/diff_threshold: must be >= 0")
        self.flow = flow
        self.flow_short_side = int(flow_short_side) if flow_short_side else None
        self.hof_bins = int(hof_bins)
        self.mbh_bins = int(mbh_bins)
        self.min_flow = float(min_flow)
        self.moving_threshold = float(moving_threshold)
        self.diff_threshold = float(diff_threshold)

    def step_columns(self) -> list[str]:
        cols: list[str] = []
        if self.flow != "none":
            cols.extend(f"hof_o{k:02d}" for k in range(self.hof_bins))
            cols.extend(["flow_mag_mean", "flow_mag_p90", "flow_moving_frac"])
            for comp in ("mbhx", "mbhy"):
                cols.extend(f"{comp}_o{k:02d}" for k in range(self.mbh_bins))
                cols.append(f"{comp}_mag")
        cols.extend(["energy_mean", "energy_frac"])
        return cols

    def flow_size(self, height: int, width: int) -> tuple[int, int]:
        """``(height, width)`` at which flow is computed for input frames of that size."""
        short = min(height, width)
        if not self.flow_short_side or short <= self.flow_short_side:
            return height, width
        scale = self.flow_short_side / short
        return max(1, round(height * scale)), max(1, round(width * scale))

    def describe(self, frames: np.ndarray) -> np.ndarray:
        t, height, width = frames.shape[:3]
        n_cols = len(self.step_columns())
        if t < 2:
            return np.zeros((0, n_cols), dtype=np.float64)
        grays = [to_gray(frame) for frame in frames]
        fh, fw = self.flow_size(height, width)
        if (fh, fw) != (height, width):
            small = [cv2.resize(g, (fw, fh), interpolation=cv2.INTER_AREA) for g in grays]
        else:
            small = grays
        sx, sy = width / fw, height / fh
        out = np.zeros((t - 1, n_cols), dtype=np.float64)
        for i in range(t - 1):
            row: list[np.ndarray] = []
            if self.flow != "none":
                flow = optical_flow(small[i], small[i + 1], self.flow)
                row.append(self._flow_descriptors(flow, sx, sy))
            row.append(self._energy(grays[i], grays[i + 1]))
            out[i] = np.concatenate(row)
        return out

    def _flow_descriptors(self, flow: np.ndarray, sx: float, sy: float) -> np.ndarray:
        fx = np.ascontiguousarray(flow[..., 0]) * np.float32(sx)
        fy = np.ascontiguousarray(flow[..., 1]) * np.float32(sy)
        magnitude = cv2.magnitude(fx, fy)
        still = magnitude < self.min_flow
        fx[still] = 0.0
        fy[still] = 0.0
        magnitude[still] = 0.0
        hof = orientation_histogram(fx, fy, self.hof_bins, signed=True)
        flat = magnitude.ravel()
        k = int(0.9 * (flat.size - 1))
        # sums in float64: numpy's float32 sums vary in the last bit with memory alignment
        summary = np.array(
            [
                float(flat.mean(dtype=np.float64)),
                float(np.partition(flat, k)[k]),
                float((flat > self.moving_threshold).mean()),
            ]
        )
        mbh = []
        for comp in (fx, fy):
            # Sobel (3x3) is 8x the derivative; divide also by the downscale so it is per input pixel
            gx = cv2.Sobel(comp, cv2.CV_32F, 1, 0, ksize=3, scale=1.0 / (8.0 * sx))
            gy = cv2.Sobel(comp, cv2.CV_32F, 0, 1, ksize=3, scale=1.0 / (8.0 * sy))
            mbh.append(orientation_histogram(gx, gy, self.mbh_bins, signed=True))
            mbh.append(np.array([float(cv2.magnitude(gx, gy).mean(dtype=np.float64))]))
        return np.concatenate([hof, summary, *mbh])

    def _energy(self, prev: np.ndarray, nxt: np.ndarray) -> np.ndarray:
        diff = cv2.absdiff(prev, nxt)
        return np.array([float(diff.mean()) / 255.0, float((diff > self.diff_threshold).mean())])
