"""Programmatic test videos for the feature tests: small, seeded, (T, H, W, 3) uint8 RGB."""

from __future__ import annotations

from collections.abc import Callable

import cv2
import numpy as np
import pytest


def _texture(size: int, seed: int = 0) -> np.ndarray:
    """A smooth random RGB texture (blurred noise stretched to the full 0..255 range)."""
    rng = np.random.default_rng(seed)
    tex = cv2.GaussianBlur(rng.integers(0, 256, (size, size, 3), dtype=np.uint8), (0, 0), 2.0)
    return cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)


@pytest.fixture
def translated() -> Callable[..., np.ndarray]:
    """``translated(dx, dy, frames=8, size=64)``: a textured view whose content moves by (dx, dy)
    pixels per frame in image coordinates (dx > 0 right, dy > 0 down)."""

    def make(dx: int, dy: int, frames: int = 8, size: int = 64, seed: int = 0) -> np.ndarray:
        margin = max(abs(dx), abs(dy)) * frames + 4
        big = _texture(size + 2 * margin, seed)
        out = []
        for t in range(frames):
            y0, x0 = margin - dy * t, margin - dx * t  # the window moves against the content
            out.append(big[y0 : y0 + size, x0 : x0 + size])
        return np.ascontiguousarray(np.stack(out))

    return make


@pytest.fixture
def solid() -> Callable[..., np.ndarray]:
    """``solid((r, g, b), frames=8, height=32, width=32)``: a video of one flat colour."""

    def make(rgb: tuple[int, int, int], frames: int = 8, height: int = 32, width: int = 32) -> np.ndarray:
        video = np.empty((frames, height, width, 3), dtype=np.uint8)
        video[...] = np.array(rgb, dtype=np.uint8)
        return video

    return make


@pytest.fixture
def checkerboard() -> Callable[..., np.ndarray]:
    """``checkerboard(frames=4, size=64, square=8)``: a black/white checkerboard video."""

    def make(frames: int = 4, size: int = 64, square: int = 8) -> np.ndarray:
        yy, xx = np.indices((size, size))
        board = (((yy // square) + (xx // square)) % 2 * 255).astype(np.uint8)
        return np.repeat(np.stack([board] * 3, axis=-1)[None], frames, axis=0)

    return make
