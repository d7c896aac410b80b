"""Functional appearance ops on float frames (..., C, H, W) in 0..255, deterministic given their arguments: grayscale, Gaussian blur, sharpness, posterize, solarize, autocontrast, equalize, affine warps and the erased box of random erasing. Statistics an op needs are taken over the whole clip, so frames do not flicker."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F

from vidlearn.transforms.draws import randint, uniform

_GREY = (0.299, 0.587, 0.114)


def _frames(x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """(..., C, H, W) -> (N, C, H, W) float and the leading shape."""
    return x.reshape(-1, *x.shape[-3:]).float(), x.shape[:-3]


def luma(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W) grey level."""
    w = torch.tensor(_GREY, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x * w).sum(dim=-3, keepdim=True)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Grey frames (the luma in all three channels)."""
    if x.shape[-3] != 3:
        raise ValueError(f"grayscale needs 3 colour channels, got {x.shape[-3]}")
    return luma(x.float()).expand_as(x).contiguous()


def _gaussian_kernel(sigma: float, radius: int) -> torch.Tensor:
    k = torch.arange(-radius, radius + 1, dtype=torch.float32)
    k = torch.exp(-0.5 * (k / sigma) ** 2)
    return k / k.sum()


def gaussian_blur(x: torch.Tensor, sigma: float) -> torch.Tensor:
    """Gaussian blur of (..., C, H, W) frames: a separable (row, then column) convolution with a
    kernel of radius ceil(3 sigma), reflecting at the borders; every frame the same."""
    if sigma <= 0:
        return x.float()
    flat, lead = _frames(x)
    n, c, h, w = flat.shape
    radius = min(math.ceil(3 * sigma), h - 1, w - 1)
    if radius < 1:
        return flat.reshape(*lead, c, h, w)
    k = _gaussian_kernel(sigma, radius).to(flat.device)
    y = flat.reshape(n * c, 1, h, w)
    y = F.conv2d(F.pad(y, (radius, radius, 0, 0), mode="reflect"), k.view(1, 1, 1, -1))
    y = F.conv2d(F.pad(y, (0, 0, radius, radius), mode="reflect"), k.view(1, 1, -1, 1))
    return y.reshape(*lead, c, h, w)


def adjust_sharpness(x: torch.Tensor, factor: float) -> torch.Tensor:
    """Blend with a smoothed copy (PIL's 3x3 smoothing kernel; borders kept): factor 0 smooths,
    1 is the original, > 1 sharpens."""
    flat, lead = _frames(x)
    n, c, h, w = flat.shape
    if h < 3 or w < 3:
        return flat.reshape(*lead, c, h, w)
    kernel = torch.ones(3, 3, dtype=flat.dtype, device=flat.device)
    kernel[1, 1] = 5.0
    kernel = (kernel / kernel.sum()).view(1, 1, 3, 3)
    smooth = F.conv2d(flat.reshape(n * c, 1, h, w), kernel).reshape(n, c, h - 2, w - 2)
    blurred = flat.clone()
    blurred[..., 1:-1, 1:-1] = smooth
    out = blurred + factor * (flat - blurred)
    return out.clamp_(0.0, 255.0).reshape(*lead, c, h, w)


def posterize(x: torch.Tensor, bits: int) -> torch.Tensor:
    """Keep the ``bits`` most significant bits of every value (1..8)."""
    if not 1 <= bits <= 8:
        raise ValueError(f"bits must be in 1..8, got {bits}")
    q = float(2 ** (8 - bits))
    return torch.floor(x.float().clamp(0, 255) / q) * q


def solarize(x: torch.Tensor, threshold: float) -> torch.Tensor:
    """Invert the values at or above ``threshold``."""
    x = x.float()
    return torch.where(x >= threshold, 255.0 - x, x)


def autocontrast(x: torch.Tensor) -> torch.Tensor:
    """Stretch every channel to 0..255, with the channel's minimum and maximum over the whole clip."""
    x = x.float()
    dims = [d for d in range(x.ndim) if d != x.ndim - 3]
    lo = x.amin(dim=dims, keepdim=True)
    hi = x.amax(dim=dims, keepdim=True)
    scale = torch.where(hi > lo, 255.0 / (hi - lo).clamp_min(1e-6), torch.ones_like(hi))
    lo = torch.where(hi > lo, lo, torch.zeros_like(lo))
    return ((x - lo) * scale).clamp_(0.0, 255.0)


def equalize(x: torch.Tensor) -> torch.Tensor:
    """Histogram equalisation of every channel, with one histogram over the whole clip."""
    v = x.float().clamp(0, 255).round().to(torch.int64)
    out = torch.empty_like(v)
    for ch in range(v.shape[-3]):
        values = v.select(-3, ch)
        hist = torch.bincount(values.reshape(-1), minlength=256)
        nonzero = hist[hist != 0]
        step = int(nonzero[:-1].sum()) // 255
        if step == 0:
            out.select(-3, ch).copy_(values)
            continue
        lut = (torch.cumsum(hist, 0) + step // 2) // step
        lut = torch.cat([lut.new_zeros(1), lut[:-1]]).clamp_(0, 255)
        out.select(-3, ch).copy_(lut[values])
    return out.float()


def affine(
    x: torch.Tensor,
    *,
    angle: float = 0.0,
    translate: tuple[float, float] = (0.0, 0.0),
    shear: tuple[float, float] = (0.0, 0.0),
    fill: Sequence[float] | float = 0.0,
) -> torch.Tensor:
    """The same affine warp of every frame of (..., C, H, W), about the frame centre:
    rotation by ``angle`` degrees (counter-clockwise on screen), shear factors (x, y) and a
    translation in pixels (x right, y down), bilinear; uncovered pixels get ``fill`` (a value or
    one per channel, 0..255)."""
    flat, lead = _frames(x)
    n, c, h, w = flat.shape
    a = math.radians(angle)
    rot = torch.tensor([[math.cos(a), math.sin(a)], [-math.sin(a), math.cos(a)]], dtype=torch.float64)
    sh = torch.tensor([[1.0, shear[0]], [shear[1], 1.0]], dtype=torch.float64)
    fwd = rot @ sh  # output = fwd @ input + t, in pixel units about the centre (y down)
    inv = torch.linalg.inv(fwd)
    t = torch.tensor(translate, dtype=torch.float64)
    off = -(inv @ t)
    # pixel units -> normalised grid units (align_corners=False: x_norm = x_pix * 2 / w)
    sx, sy = w / 2.0, h / 2.0
    theta = torch.tensor(
        [
            [inv[0, 0], inv[0, 1] * sy / sx, off[0] / sx],
            [inv[1, 0] * sx / sy, inv[1, 1], off[1] / sy],
        ],
        dtype=flat.dtype,
        device=flat.device,
    )
    grid = F.affine_grid(theta.expand(n, 2, 3), [n, c, h, w], align_corners=False)
    fill_t = torch.as_tensor(fill, dtype=flat.dtype, device=flat.device).reshape(-1, 1, 1)
    if fill_t.numel() not in (1, c):
        raise ValueError(f"fill needs 1 or {c} values, got {fill_t.numel()}")
    out = F.grid_sample(flat - fill_t, grid, mode="bilinear", padding_mode="zeros", align_corners=False) + fill_t
    return out.clamp_(0.0, 255.0).reshape(*lead, c, h, w)


def erase_box(
    height: int,
    width: int,
    scale: tuple[float, float],
    ratio: tuple[float, float],
    generator: torch.Generator | None,
    attempts: int = 10,
) -> tuple[int, int, int, int] | None:
    """(top, left, h, w) of a random box with an area fraction in ``scale`` and an aspect ratio
    (w / h) in ``ratio`` (log-uniform), or None when no box fits."""
    area = height * width
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(attempts):
        target = area * uniform(scale[0], scale[1], generator)
        aspect = math.exp(uniform(log_lo, log_hi, generator))
        h = round(math.sqrt(target / aspect))
        w = round(math.sqrt(target * aspect))
        if 0 < h < height and 0 < w < width:
            return randint(height - h, generator), randint(width - w, generator), h, w
    return None
