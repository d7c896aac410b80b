"""Per-clip transforms on torch tensors: uint8 frames (T, C, H, W) in, float (C, T, H, W) out.

Every random choice (crop box, flip, colour factors) is drawn once per clip from the optional
``torch.Generator``, so all frames of a clip get the same crop/flip/jitter. Spatial transforms
keep the (..., T, C, H, W) layout and work in the 0..255 value range (uint8 or float);
:class:`Normalize` converts to float, scales to 0..1, standardises and moves channels first.
Inputs smaller than the crop are upscaled, never rejected."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np
import torch

from vidlearn.config import TransformConfig
from vidlearn.transforms.augment import (
    RandomErasing,
    RandomGaussianBlur,
    RandomGrayscale,
)
from vidlearn.transforms.color import ColorJitter
from vidlearn.transforms.randaugment import RandAugment
from vidlearn.transforms.spatial import (
    CenterCrop,
    MultiCrop,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    ShortSideResize,
    check_frames,
)

Transform = Callable[[torch.Tensor, "torch.Generator | None"], torch.Tensor]


# Training without random_resized_crop resizes the short side to crop_size * 8 / 7 (112 -> 128)
# and then crops at random, as most video recipes do.
_TRAIN_RESIZE_RATIO = 8 / 7


class Compose:
    """Apply transforms in order, passing the same generator to each."""

    def __init__(self, transforms: Sequence[Transform]) -> None:
        self.transforms = list(transforms)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        check_frames(frames)
        for t in self.transforms:
            frames = t(frames, generator)
        return frames

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(t) for t in self.transforms)
        return f"Compose([\n  {inner}\n])"


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
    :mod:`vidlearn.transforms.augment`). Speed change and temporal jitter belong to the sampler, mixup
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
    fill = tuple(m * 255.0 for m in cfg.mean)  # the mean colour: 0 after normalisation
    steps: list[Transform] = []
    if cfg.randaugment_n > 0:
        steps.append(RandAugment(cfg.randaugment_n, cfg.randaugment_m, cfg.randaugment_ops, fill=fill))
    if cfg.color_jitter > 0 or cfg.hue > 0:
        steps.append(ColorJitter(cfg.color_jitter, hue=cfg.hue))
    if cfg.grayscale_p > 0:
        steps.append(RandomGrayscale(cfg.grayscale_p))
    if cfg.blur_p > 0:
        steps.append(RandomGaussianBlur(cfg.blur_p, sigma=cfg.blur_sigma))
    if cfg.erase_p > 0:
        steps.append(
            RandomErasing(
                cfg.erase_p, scale=cfg.erase_scale, ratio=cfg.erase_ratio, fill=cfg.erase_fill,
                mean=cfg.mean, std=cfg.std, per_frame=cfg.erase_per_frame,
            )
        )
    return steps


def denormalize(video: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised clip (C, T, H, W) -> displayable frames (T, H, W, C) uint8."""
    c = video.shape[0]
    m = torch.tensor(mean[:c], dtype=torch.float32).view(c, 1, 1, 1)
    s = torch.tensor(std[:c], dtype=torch.float32).view(c, 1, 1, 1)
    x = (video.float() * s + m) * 255.0
    return x.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous().numpy()
