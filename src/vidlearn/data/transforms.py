"""Per-clip transforms on torch tensors: uint8 frames (T, C, H, W) in, float (C, T, H, W) out.

Every random choice (crop box, flip, colour factors) is drawn once per clip from the optional
``torch.Generator``, so all frames of a clip get the same crop/flip/jitter. Spatial transforms
keep the (..., T, C, H, W) layout and work in the 0..255 value range (uint8 or float);
:class:`Normalize` converts to float, scales to 0..1, standardises and moves channels first.
Inputs smaller than the crop are upscaled, never rejected.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.config import TransformConfig

__all__ = [
    "Transform",
    "Compose",
    "ShortSideResize",
    "Resize",
    "RandomResizedCrop",
    "RandomCrop",
    "CenterCrop",
    "MultiCrop",
    "ThreeCrop",
    "RandomHorizontalFlip",
    "ColorJitter",
    "Normalize",
    "shift_hue",
    "frames_to_tensor",
    "build_transform",
]

Transform = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]
Size = int | tuple[int, int]

# Training without random_resized_crop resizes the short side to crop_size * 8 / 7 (112 -> 128)
# and then crops at random, as most video recipes do.
_TRAIN_RESIZE_RATIO = 8 / 7


def _pair(size: Size) -> tuple[int, int]:
    h, w = (size, size) if isinstance(size, int) else (int(size[0]), int(size[1]))
    if h < 1 or w < 1:
        raise ValueError(f"size must be positive, got {size!r}")
    return h, w


def _check_frames(frames: torch.Tensor) -> None:
    if not isinstance(frames, torch.Tensor) or frames.ndim < 4:
        shape = tuple(frames.shape) if isinstance(frames, torch.Tensor) else type(frames).__name__
        raise ValueError(f"expected frames as a tensor (T, C, H, W), got {shape}")


def _rand(generator: torch.Generator | None) -> float:
    return float(torch.rand((), generator=generator))


def _uniform(lo: float, hi: float, generator: torch.Generator | None) -> float:
    return lo + (hi - lo) * _rand(generator)


def _randint(high: int, generator: torch.Generator | None) -> int:
    """A whole number in [0, high]."""
    return int(torch.randint(0, high + 1, (), generator=generator)) if high > 0 else 0


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


class Compose:
    """Apply transforms in order, passing the same generator to each."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        _check_frames(frames)
        for t in self.transforms:
            frames = t(frames, generator)
        return frames

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n])"


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
            target = area * _uniform(*self.scale, generator)
            aspect = math.exp(_uniform(log_lo, log_hi, generator))
            w = round(math.sqrt(target * aspect))
            h = round(math.sqrt(target / aspect))
            if 0 < w <= width and 0 < h <= height:
                return _randint(height - h, generator), _randint(width - w, generator), h, w
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
        top = _randint(frames.shape[-2] - h, generator)
        left = _randint(frames.shape[-1] - w, generator)
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
        return frames.flip(-1) if _rand(generator) < self.p else frames

    def __repr__(self) -> str:
        return f"RandomHorizontalFlip(p={self.p})"


class ColorJitter:
    """Brightness, contrast and saturation each scaled by a factor in [1 - s, 1 + s], drawn once
    per clip; contrast blends towards the clip's mean grey level so frames do not flicker. With
    ``hue`` > 0 the hue also turns by a fraction of a full turn in [-hue, hue] (HSV), the same
    for every frame."""

    _GREY = (0.299, 0.587, 0.114)

    def __init__(self, strength: float, hue: float = 0.0) -> None:
        if not 0 <= strength <= 1:
            raise ValueError(f"strength must be in [0, 1], got {strength}")
        if not 0 <= hue <= 0.5:
            raise ValueError(f"hue must be in [0, 0.5], got {hue}")
        self.strength = float(strength)
        self.hue = float(hue)

    def factors(self, generator: torch.Generator | None = None) -> tuple[float, float, float]:
        """(brightness, contrast, saturation) factors for one clip."""
        s = self.strength
        return tuple(_uniform(1 - s, 1 + s, generator) for _ in range(3))  # type: ignore[return-value]

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if self.strength == 0 and self.hue == 0:
            return frames
        if frames.shape[-3] != 3:
            raise ValueError(f"ColorJitter needs 3 colour channels, got {frames.shape[-3]}")
        x = frames.float()
        if self.strength > 0:
            brightness, contrast, saturation = self.factors(generator)
            x = x * brightness
            weights = torch.tensor(self._GREY, dtype=x.dtype).view(3, 1, 1)
            grey = (x * weights).sum(dim=-3, keepdim=True)
            x = (x - grey.mean()) * contrast + grey.mean()
            grey = (x * weights).sum(dim=-3, keepdim=True)
            x = (x - grey) * saturation + grey
            x = x.clamp_(0.0, 255.0)
        if self.hue > 0:
            x = shift_hue(x, _uniform(-self.hue, self.hue, generator))
        return x

    def __repr__(self) -> str:
        return f"ColorJitter({self.strength})" if self.hue == 0 else f"ColorJitter({self.strength}, hue={self.hue})"


def _rgb_to_hsv(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) RGB in [0, 1] -> HSV in [0, 1] (hue as a fraction of a turn)."""
    r, g, b = x.unbind(-3)
    maxc, minc = x.amax(-3), x.amin(-3)
    delta = maxc - minc
    s = torch.where(maxc > 0, delta / maxc.clamp_min(1e-12), torch.zeros_like(maxc))
    d = delta.clamp_min(1e-12)
    rc, gc, bc = (maxc - r) / d, (maxc - g) / d, (maxc - b) / d
    h = torch.where(maxc == r, bc - gc, torch.where(maxc == g, 2.0 + rc - bc, 4.0 + gc - rc))
    h = torch.where(delta > 0, torch.remainder(h / 6.0, 1.0), torch.zeros_like(h))
    return torch.stack((h, s, maxc), dim=-3)


def _hsv_to_rgb(x: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`_rgb_to_hsv`."""
    h, s, v = x.unbind(-3)
    h6 = torch.remainder(h, 1.0) * 6.0
    i = torch.floor(h6)
    f = h6 - i
    i = i.long() % 6
    p, q, t = v * (1 - s), v * (1 - s * f), v * (1 - s * (1 - f))
    table = (
        (v, q, p, p, t, v),  # red for sectors 0..5
        (t, v, v, q, p, p),  # green
        (p, p, t, v, v, q),  # blue
    )
    out = []
    for row in table:
        c = torch.zeros_like(v)
        for k, value in enumerate(row):
            c = torch.where(i == k, value, c)
        out.append(c)
    return torch.stack(out, dim=-3)


def shift_hue(frames: torch.Tensor, shift: float) -> torch.Tensor:
    """Turn the hue of (..., 3, H, W) frames (0..255 values) by ``shift`` of a full turn."""
    if shift == 0:
        return frames.float()
    hsv = _rgb_to_hsv(frames.float() / 255.0)
    h, s, v = hsv.unbind(-3)
    rgb = _hsv_to_rgb(torch.stack((torch.remainder(h + shift, 1.0), s, v), dim=-3))
    return (rgb * 255.0).clamp_(0.0, 255.0)


class Normalize:
    """0..255 values -> float32 ``(x / 255 - mean) / std`` per channel, and (..., T, C, H, W) ->
    (..., C, T, H, W). ``mean`` and ``std`` are on the 0..1 scale."""

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        if len(mean) != len(std):
            raise ValueError(f"mean and std need the same length, got {len(mean)} and {len(std)}")
        if any(s <= 0 for s in std):
            raise ValueError(f"std must be positive, got {tuple(std)}")
        self.mean = tuple(float(m) for m in mean)
        self.std = tuple(float(s) for s in std)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if frames.shape[-3] != len(self.mean):
            raise ValueError(f"Normalize has {len(self.mean)} channel statistics, frames have {frames.shape[-3]}")
        mean = torch.tensor(self.mean, dtype=torch.float32).view(-1, 1, 1) * 255.0
        scale = 1.0 / (torch.tensor(self.std, dtype=torch.float32).view(-1, 1, 1) * 255.0)
        x = (frames.to(torch.float32) - mean) * scale
        return x.transpose(-4, -3).contiguous()

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


def frames_to_tensor(frames: np.ndarray) -> torch.Tensor:
    """Decoded frames (T, H, W, C) uint8 numpy -> (T, C, H, W) uint8 tensor (no copy when possible)."""
    if frames.ndim != 4:
        raise ValueError(f"expected frames (T, H, W, C), got shape {frames.shape}")
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2)


def build_transform(cfg: TransformConfig, *, train: bool, crops: int = 1) -> Compose:
    """The clip transform of ``cfg``: ``(frames uint8 (T, C, H, W), generator=None)`` -> float.

    Training: random-resized crop (or short-side resize to crop_size * 8/7 and a random crop),
    horizontal flip, then the augmentations that are switched on, in this order: RandAugment
    (``randaugment_n`` > 0), colour jitter (``color_jitter`` / ``hue`` > 0), grayscale
    (``grayscale_p``), Gaussian blur (``blur_p``), random erasing (``erase_p``); then
    normalisation -> (C, T, H, W). Every random choice is drawn once per clip (see
    :mod:`vidlearn.data.augment`). Speed change and temporal jitter belong to the sampler, mixup
    and cutmix to the training step (they mix whole batches).
    Evaluation: short-side resize to crop_size, centre crop -> (C, T, H, W); with ``crops`` > 1,
    that many crops along the long side -> (crops, C, T, H, W).
    """
    size = cfg.crop_size
    norm = Normalize(cfg.mean, cfg.std)
    if not isinstance(crops, int) or crops < 1:
        raise ValueError(f"crops must be a whole number >= 1, got {crops!r}")
    if train:
        if crops != 1:
            raise ValueError("multi-crop is an evaluation transform; use crops=1 with train=True")
        steps: list[Transform] = []
        if cfg.random_resized_crop:
            steps.append(RandomResizedCrop(size, scale=cfg.scale))
        else:
            steps += [ShortSideResize(round(size * _TRAIN_RESIZE_RATIO)), RandomCrop(size)]
        if cfg.hflip:
            steps.append(RandomHorizontalFlip(0.5))
        steps += _augmentations(cfg)
        return Compose([*steps, norm])
    crop: Transform = CenterCrop(size) if crops == 1 else MultiCrop(size, crops)
    return Compose([ShortSideResize(size), crop, norm])


def _augmentations(cfg: TransformConfig) -> list[Transform]:
    """The optional appearance augmentations of ``cfg`` (none with the defaults)."""
    from vidlearn.data import augment  # augment builds on this module's helpers

    fill = tuple(m * 255.0 for m in cfg.mean)  # the mean colour: 0 after normalisation
    steps: list[Transform] = []
    if cfg.randaugment_n > 0:
        steps.append(augment.RandAugment(cfg.randaugment_n, cfg.randaugment_m, cfg.randaugment_ops, fill=fill))
    if cfg.color_jitter > 0 or cfg.hue > 0:
        steps.append(ColorJitter(cfg.color_jitter, hue=cfg.hue))
    if cfg.grayscale_p > 0:
        steps.append(augment.RandomGrayscale(cfg.grayscale_p))
    if cfg.blur_p > 0:
        steps.append(augment.RandomGaussianBlur(cfg.blur_p, sigma=cfg.blur_sigma))
    if cfg.erase_p > 0:
        steps.append(
            augment.RandomErasing(
                cfg.erase_p, scale=cfg.erase_scale, ratio=cfg.erase_ratio, fill=cfg.erase_fill,
                mean=cfg.mean, std=cfg.std, per_frame=cfg.erase_per_frame,
            )
        )
    return steps
