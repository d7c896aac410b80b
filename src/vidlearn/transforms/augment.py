"""Clip augmentations, consistent across the frames of a clip: they take frames (..., T, C, H, W) in
0..255 and an optional `torch.Generator`, draw every random choice once per clip (the same blur,
the same erased box for every frame) and return float frames in 0..255. Speed change and temporal
jitter are sampler options (see `vidlearn.data.sampling`); RandAugment is `randaugment`, batch
mixing `mixup`."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal

import torch

from vidlearn.transforms.draws import check_p, check_range, rand, uniform
from vidlearn.transforms.functional import erase_box, gaussian_blur, grayscale


class RandomGrayscale:
    """Turn the whole clip grey with probability ``p`` (one draw per clip)."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = check_p(p)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return grayscale(frames) if rand(generator) < self.p else frames

    def __repr__(self) -> str:
        return f"RandomGrayscale(p={self.p})"


class RandomGaussianBlur:
    """With probability ``p``, blur every frame with the same Gaussian, sigma uniform in ``sigma``
    (pixels); one draw per clip."""

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (0.1, 2.0)) -> None:
        self.p = check_p(p)
        self.sigma = check_range("sigma", sigma)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if rand(generator) >= self.p:
            return frames
        return gaussian_blur(frames, uniform(*self.sigma, generator))

    def __repr__(self) -> str:
        return f"RandomGaussianBlur(p={self.p}, sigma={self.sigma})"


class RandomErasing:
    """With probability ``p``, erase a random box (area fraction in ``scale``, aspect ratio in
    ``ratio``), the same box in every frame (``per_frame=True``: a new box in every frame).

    ``fill="mean"`` paints the normalisation ``mean`` colour (0 after
    :class:`~vidlearn.transforms.compose.Normalize`); ``"random"`` paints Gaussian noise that is
    N(0, 1) after normalisation (the same noise in every frame unless ``per_frame``).
    Works in 0..255 like the other clip transforms; ``mean``/``std`` are on the 0..1 scale.
    """

    def __init__(
        self,
        p: float = 0.25,
        *,
        scale: tuple[float, float] = (0.02, 0.33),
        ratio: tuple[float, float] = (0.3, 3.3),
        fill: Literal["mean", "random"] = "mean",
        mean: Sequence[float] = (0.45, 0.45, 0.45),
        std: Sequence[float] = (0.225, 0.225, 0.225),
        per_frame: bool = False,
    ) -> None:
        self.p = check_p(p)
        self.scale = check_range("scale", scale)
        if self.scale[1] >= 1:
            raise ValueError(f"scale must be below 1, got {scale}")
        self.ratio = check_range("ratio", ratio)
        if fill not in ("mean", "random"):
            raise ValueError(f"fill must be 'mean' or 'random', got {fill!r}")
        self.fill = fill
        self.mean = tuple(float(m) * 255.0 for m in mean)
        self.std = tuple(float(s) * 255.0 for s in std)
        self.per_frame = bool(per_frame)

    def _paint(self, x: torch.Tensor, box: tuple[int, int, int, int], generator: torch.Generator | None) -> None:
        top, left, h, w = box
        c = x.shape[-3]
        mean = torch.tensor(self.mean[:c], dtype=x.dtype).view(c, 1, 1)
        if self.fill == "mean":
            value = mean.expand(c, h, w)
        else:
            std = torch.tensor(self.std[:c], dtype=x.dtype).view(c, 1, 1)
            value = mean + std * torch.randn((c, h, w), generator=generator, dtype=x.dtype)
        x[..., top : top + h, left : left + w] = value

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if rand(generator) >= self.p:
            return frames
        x = frames.float().clone()
        height, width = x.shape[-2:]
        if not self.per_frame:
            box = erase_box(height, width, self.scale, self.ratio, generator)
            if box is not None:
                self._paint(x, box, generator)
            return x
        for t in range(x.shape[-4]):
            box = erase_box(height, width, self.scale, self.ratio, generator)
            if box is not None:
                self._paint(x.select(-4, t), box, generator)
        return x

    def __repr__(self) -> str:
        extra = ", per_frame=True" if self.per_frame else ""
        return f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, fill={self.fill!r}{extra})"
