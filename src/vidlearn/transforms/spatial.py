"""Spatial transforms on frames (..., T, C, H, W) in 0..255: resizes, crops (random, centre, multi-crop) and the horizontal flip; one random choice per clip. Inputs smaller than the crop are upscaled, never rejected."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.transforms.draws import rand, randint, uniform

Size = int | tuple[int, int]


def _pair(size: Size) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


def check_frames(frames: torch.Tensor) -> None:
    if not isinstance(frames, torch.Tensor) or frames.ndim < 4:
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"expected frames as a tensor (T, C, H, W), got {shape}")


def _resize(frames: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Bilinear (antialiased) resize of (..., C, H, W) to (h, w), float in the same value range."""
    if frames.shape[-2:] == (h, w):
        return frames
    lead = frames.shape[:-3]
    x = frames.reshape(-1, *frames.shape[-3:]).float()
    x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
    return x.reshape(*lead, *x.shape[-3:])


def _at_least(frames: torch.Tensor, h: int, w: int) -> torch.Tensor:
    """Upscale (keeping the aspect ratio) so that the frames are at least h x w."""
    fh, fw = frames.shape[-2:]
    if fh >= h and fw >= w:
        return frames
    scale = max(h / fh, w / fw)
    return _resize(frames, max(h, math.ceil(fh * scale)), max(w, math.ceil(fw * scale)))


class ShortSideResize:
    """Resize so the shorter side is ``size`` pixels, keeping the aspect ratio."""

    def __init__(self, size: int) -> None:
        self.size = _pair(size)[0]

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h, w = frames.shape[-2:]
        if h <= w:
            return _resize(frames, self.size, max(1, round(w * self.size / h)))
        return _resize(frames, max(1, round(h * self.size / w)), self.size)

    def __repr__(self) -> str:
        return f"ShortSideResize({self.size})"


class Resize:
    """Resize to exactly ``size`` (int: square, or (h, w))."""

    def __init__(self, size: Size) -> None:
        self.size = _pair(size)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return _resize(frames, *self.size)

    def __repr__(self) -> str:
        return f"Resize({self.size})"


class RandomResizedCrop:
    """A random box (area fraction in ``scale``, aspect ratio in ``ratio``), the same for every
    frame, resized to ``size`` (Inception-style, as torchvision's)."""

    def __init__(
        self, size: Size, scale: tuple[float, float] = (0.08, 1.0), ratio: tuple[float, float] = (3 / 4, 4 / 3)
    ) -> None:
        if not (0 < scale[0] <= scale[1] <= 1):
            raise ValueError(f"scale must satisfy 0 < min <= max <= 1, got {scale}")
        if not (0 < ratio[0] <= ratio[1]):
            raise ValueError(f"ratio must satisfy 0 < min <= max, got {ratio}")
        self.size = _pair(size)
        self.scale = (float(scale[0]), float(scale[1]))
        self.ratio = (float(ratio[0]), float(ratio[1]))

    def box(self, height: int, width: int, generator: torch.Generator | None = None) -> tuple[int, int, int, int]:
        """(top, left, h, w) of a random box inside a height x width frame."""
        area = height * width
        log_lo, log_hi = math.log(self.ratio[0]), math.log(self.ratio[1])
        for _ in range(10):
            target = area * uniform(*self.scale, generator)
            aspect = math.exp(uniform(log_lo, log_hi, generator))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                return randint(height - h, generator), randint(width - w, generator), h, w
        # fallback: the largest centred box with the aspect ratio clamped to the allowed range
        in_ratio = width / height
        if in_ratio < self.ratio[0]:
            w, h = width, round(width / self.ratio[0])
        elif in_ratio > self.ratio[1]:
            h, w = height, round(height * self.ratio[1])
        else:
            h, w = height, width
        h, w = max(1, min(h, height)), max(1, min(w, width))
        return (height - h) // 2, (width - w) // 2, h, w

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        top, left, h, w = self.box(*frames.shape[-2:], generator)
        return _resize(frames[..., top : top + h, left : left + w], *self.size)

    def __repr__(self) -> str:
        return f"RandomResizedCrop({self.size}, scale={self.scale}, ratio=({self.ratio[0]:.3g}, {self.ratio[1]:.3g}))"


class RandomCrop:
    """A random ``size`` crop at the same place in every frame (upscaling first if too small)."""

    def __init__(self, size: Size) -> None:
        self.size = _pair(size)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h, w = self.size
        frames = _at_least(frames, h, w)
        top = randint(frames.shape[-2] - h, generator)
        left = randint(frames.shape[-1] - w, generator)
        return frames[..., top : top + h, left : left + w]

    def __repr__(self) -> str:
        return f"RandomCrop({self.size})"


class CenterCrop:
    """The central ``size`` crop (upscaling first if the frames are smaller)."""

    def __init__(self, size: Size) -> None:
        self.size = _pair(size)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        h, w = self.size
        frames = _at_least(frames, h, w)
        top = (frames.shape[-2] - h) // 2
        left = (frames.shape[-1] - w) // 2
        return frames[..., top : top + h, left : left + w]

    def __repr__(self) -> str:
        return f"CenterCrop({self.size})"


class MultiCrop:
    """``n`` square crops evenly spaced along the long side (centred on the short side), stacked
    on a new first axis: (T, C, H, W) -> (n, T, C, size, size). n=3 gives left/centre/right
    (landscape) or top/centre/bottom (portrait); n=1 the centre."""

    def __init__(self, size: int, n: int = 3) -> None:
        if n < 1:
            raise ValueError(f"n must be >= 1, got {n}")
        self.size = _pair(size)[0]
        self.n = int(n)

    def offsets(self, height: int, width: int) -> list[tuple[int, int]]:
        """(top, left) of every crop in a frame at least ``size`` on each side."""
        s = self.size
        if width >= height:
            lefts = np.linspace(0, width - s, self.n) if self.n > 1 else [(width - s) / 2]
            return [((height - s) // 2, int(round(x))) for x in lefts]
        tops = np.linspace(0, height - s, self.n) if self.n > 1 else [(height - s) / 2]
        return [(int(round(y)), (width - s) // 2) for y in tops]

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        s = self.size
        frames = _at_least(frames, s, s)
        crops = [frames[..., t : t + s, l : l + s] for t, l in self.offsets(*frames.shape[-2:])]
        return torch.stack(crops)

    def __repr__(self) -> str:
        return f"MultiCrop({self.size}, n={self.n})"


class ThreeCrop(MultiCrop):
    """Left/centre/right (or top/centre/bottom) crops for multi-view testing: (3, T, C, s, s)."""

    def __init__(self, size: int) -> None:
        super().__init__(size, 3)

    def __repr__(self) -> str:
        return f"ThreeCrop({self.size})"


class RandomHorizontalFlip:
    """Mirror the whole clip left-right with probability ``p`` (one draw per clip)."""

    def __init__(self, p: float = 0.5) -> None:
        if not 0 <= p <= 1:
            raise ValueError(f"p must be in [0, 1], got {p}")
        self.p = float(p)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return frames.flip(-1) if rand(generator) < self.p else frames

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"
