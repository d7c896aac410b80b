"""Clip transforms: uint8 frames (T, C, H, W) in, float (C, T, H, W) out, every random choice drawn
once per clip. Leaves: `draws` (random draws), `functional` (appearance ops), `spatial` (resize,
crop, flip), `color` (jitter); clip augmentations: `augment`, `randaugment`; batch mixing:
`mixup`; one composer, `compose.build_transform(cfg.transform, train=...)`, imports them.

    from vidlearn.transforms import build_transform, frames_to_tensor
    transform = build_transform(cfg.transform, train=True)
    clip = transform(frames_to_tensor(frames), generator)   # (C, T, H, W) float
"""

from vidlearn.transforms.augment import (
    RandomErasing,
    RandomGaussianBlur,
    RandomGrayscale,
)
from vidlearn.transforms.color import ColorJitter, shift_hue
from vidlearn.transforms.compose import (
    Compose,
    Normalize,
    Transform,
    build_transform,
    denormalize,
    frames_to_tensor,
)
from vidlearn.transforms.functional import (
    adjust_sharpness,
    affine,
    autocontrast,
    equalize,
    gaussian_blur,
    grayscale,
    posterize,
    solarize,
)
from vidlearn.transforms.mixup import (
    MixParams,
    MixupCutmix,
    build_mixer,
    soft_target_cross_entropy,
)
from vidlearn.transforms.randaugment import RANDAUGMENT_OPS, RandAugment
from vidlearn.transforms.spatial import (
    CenterCrop,
    MultiCrop,
    RandomCrop,
    RandomHorizontalFlip,
    RandomResizedCrop,
    Resize,
    ShortSideResize,
    ThreeCrop,
)

__all__ = [
    "RANDAUGMENT_OPS",
    "CenterCrop",
    "ColorJitter",
    "Compose",
    "MixParams",
    "MixupCutmix",
    "MultiCrop",
    "Normalize",
    "RandAugment",
    "RandomCrop",
    "RandomErasing",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "RandomHorizontalFlip",
    "RandomResizedCrop",
    "Resize",
    "ShortSideResize",
    "ThreeCrop",
    "Transform",
    "adjust_sharpness",
    "affine",
    "autocontrast",
    "build_mixer",
    "build_transform",
    "denormalize",
    "equalize",
    "frames_to_tensor",
    "gaussian_blur",
    "grayscale",
    "posterize",
    "shift_hue",
    "soft_target_cross_entropy",
    "solarize",
]
