"""Training augmentation for video, consistent across the frames of a clip.

Clip augmentations follow :mod:`vidlearn.data.transforms`: they take frames ``(..., T, C, H, W)``
with values in 0..255 (uint8 or float) and an optional ``torch.Generator``, draw every random
choice **once per clip** (so all frames get the same blur, the same erased box, the same
rotation) and return float frames in 0..255, ready for :class:`~vidlearn.data.transforms.Normalize`.
Statistics that an op needs (the mean grey level for contrast, the histogram for equalize, the
range for autocontrast) are taken over the whole clip, so frames do not flicker and an op gives
the same result whatever the order of the frames.

- :class:`RandomGrayscale`, :class:`RandomGaussianBlur` (separable convolution),
  :class:`RandomErasing` (one box through time, or a new box per frame) and
  :class:`RandAugment` (``n`` distinct ops of magnitude ``m`` out of :data:`RANDAUGMENT_OPS`);
- batch level: :class:`MixupCutmix` mixes the clips of a batch (cutmix with one box through
  time) and returns soft targets (label smoothing folded in) for
  :func:`soft_target_cross_entropy`; the training step of
  :class:`~vidlearn.engine.module.VideoModule` uses them for classification;
- :func:`augment_preview`: a picture of clips before (evaluation transform) and after (training
  transform) augmentation, through the real data path (``vidlearn augment-preview``).

Speed change and temporal jitter are sampler options (``transform.speed``,
``transform.temporal_jitter``; see :class:`~vidlearn.data.sampling.RandomClipSampler`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.data.transforms import _rand, _randint, _uniform

__all__ = [
    "RANDAUGMENT_OPS",
    "RandAugment",
    "RandomErasing",
    "RandomGaussianBlur",
    "RandomGrayscale",
    "MixParams",
    "MixupCutmix",
    "PreviewResult",
    "adjust_sharpness",
    "affine",
    "augment_preview",
    "autocontrast",
    "build_mixer",
    "denormalize",
    "equalize",
    "gaussian_blur",
    "grayscale",
    "posterize",
    "soft_target_cross_entropy",
    "solarize",
]

_GREY = (0.299, 0.587, 0.114)


# ---- functional ops on (..., C, H, W) float frames in 0..255 ------------------------------------


def _frames(x: torch.Tensor) -> tuple[torch.Tensor, torch.Size]:
    """(..., C, H, W) -> (N, C, H, W) float and the leading shape."""
    return x.reshape(-1, *x.shape[-3:]).float(), x.shape[:-3]


def _luma(x: torch.Tensor) -> torch.Tensor:
    """(..., 3, H, W) -> (..., 1, H, W) grey level."""
    w = torch.tensor(_GREY, dtype=x.dtype, device=x.device).view(3, 1, 1)
    return (x * w).sum(dim=-3, keepdim=True)


def grayscale(x: torch.Tensor) -> torch.Tensor:
    """Grey frames (the luma in all three channels)."""
    if x.shape[-3] != 3:
        raise ValueError(f"grayscale needs 3 colour channels, got {x.shape[-3]}")
    return _luma(x.float()).expand_as(x).contiguous()


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


def _erase_box(
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
        target = area * _uniform(scale[0], scale[1], generator)
        aspect = math.exp(_uniform(log_lo, log_hi, generator))
        h = round(math.sqrt(target / aspect))
        w = round(math.sqrt(target * aspect))
        if 0 < h < height and 0 < w < width:
            return _randint(height - h, generator), _randint(width - w, generator), h, w
    return None


# ---- clip augmentations -------------------------------------------------------------------------


def _check_p(p: float) -> float:
    if not 0 <= p <= 1:
        raise ValueError(f"p must be in [0, 1], got {p}")
    return float(p)


def _check_range(name: str, r: Sequence[float], low: float = 0.0) -> tuple[float, float]:
    lo, hi = float(r[0]), float(r[1])
    if not (low < lo <= hi):
        raise ValueError(f"{name} must satisfy {low:g} < min <= max, got {(lo, hi)}")
    return lo, hi


class RandomGrayscale:
    """Turn the whole clip grey with probability ``p`` (one draw per clip)."""

    def __init__(self, p: float = 0.1) -> None:
        self.p = _check_p(p)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        return grayscale(frames) if _rand(generator) < self.p else frames

    def __repr__(self) -> str:
        return f"RandomGrayscale(p={self.p})"


class RandomGaussianBlur:
    """With probability ``p``, blur every frame with the same Gaussian, sigma uniform in ``sigma``
    (pixels); one draw per clip."""

    def __init__(self, p: float = 0.5, sigma: tuple[float, float] = (0.1, 2.0)) -> None:
        self.p = _check_p(p)
        self.sigma = _check_range("sigma", sigma)

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        if _rand(generator) >= self.p:
            return frames
        return gaussian_blur(frames, _uniform(*self.sigma, generator))

    def __repr__(self) -> str:
        return f"RandomGaussianBlur(p={self.p}, sigma={self.sigma})"


class RandomErasing:
    """With probability ``p``, erase a random box (area fraction in ``scale``, aspect ratio in
    ``ratio``), the same box in every frame (``per_frame=True``: a new box in every frame).

    ``fill="mean"`` paints the normalisation ``mean`` colour (0 after
    :class:`~vidlearn.data.transforms.Normalize`); ``"random"`` paints Gaussian noise that is
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
        self.p = _check_p(p)
        self.scale = _check_range("scale", scale)
        if self.scale[1] >= 1:
            raise ValueError(f"scale must be below 1, got {scale}")
        self.ratio = _check_range("ratio", ratio)
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
        if _rand(generator) >= self.p:
            return frames
        x = frames.float().clone()
        height, width = x.shape[-2:]
        if not self.per_frame:
            box = _erase_box(height, width, self.scale, self.ratio, generator)
            if box is not None:
                self._paint(x, box, generator)
            return x
        for t in range(x.shape[-4]):
            box = _erase_box(height, width, self.scale, self.ratio, generator)
            if box is not None:
                self._paint(x.select(-4, t), box, generator)
        return x

    def __repr__(self) -> str:
        extra = ", per_frame=True" if self.per_frame else ""
        return f"RandomErasing(p={self.p}, scale={self.scale}, ratio={self.ratio}, fill={self.fill!r}{extra})"


RANDAUGMENT_OPS: tuple[str, ...] = (
    "brightness", "contrast", "saturation", "sharpness", "posterize", "solarize", "autocontrast",
    "equalize", "rotate", "translate_x", "translate_y", "shear_x", "shear_y", "grayscale", "blur", "erase",
)  # fmt: skip
# ops whose magnitude goes either way (a random sign per clip)
_SIGNED = frozenset({"brightness", "contrast", "saturation", "sharpness", "rotate", "translate_x", "translate_y", "shear_x", "shear_y"})
# the value of each op at magnitude 30 (torchvision's RandAugment ranges where it has the op)
_MAX = {
    "brightness": 0.9,  # factor 1 +- 0.9
    "contrast": 0.9,
    "saturation": 0.9,
    "sharpness": 0.9,
    "posterize": 4.0,  # bits removed: 8 -> 4
    "solarize": 255.0,  # threshold lowered: 255 -> 0
    "rotate": 30.0,  # degrees
    "translate_x": 0.45,  # fraction of the width
    "translate_y": 0.45,  # fraction of the height
    "shear_x": 0.3,  # shear factor
    "shear_y": 0.3,
    "blur": 2.0,  # sigma in pixels
    "erase": 0.4,  # area fraction of a square box
}


class RandAugment:
    """RandAugment for clips: per clip, ``n`` distinct ops drawn from ``ops``, each at magnitude
    ``m`` (0..30, torchvision's scale) with a random sign where the op has a direction, and the
    same parameters for every frame. Geometric ops (rotate, translate, shear) and erase fill
    uncovered pixels with ``fill`` (0..255, one value or one per channel).

    :meth:`plan` draws the ops and their values for a clip; :meth:`apply_op` applies one.
    """

    def __init__(
        self,
        n: int = 2,
        m: int = 9,
        ops: Sequence[str] = RANDAUGMENT_OPS,
        *,
        fill: Sequence[float] | float = 0.0,
        max_magnitude: int = 30,
    ) -> None:
        ops = tuple(ops)
        unknown = sorted(set(ops) - set(RANDAUGMENT_OPS))
        if unknown:
            raise ValueError(f"unknown RandAugment op(s) {unknown}; known: {', '.join(RANDAUGMENT_OPS)}")
        if len(set(ops)) != len(ops) or not ops:
            raise ValueError(f"ops must be distinct and not empty, got {list(ops)}")
        if not (isinstance(n, int) and 0 <= n <= len(ops)):
            raise ValueError(f"n must be a whole number in [0, {len(ops)}], got {n!r}")
        if not 0 <= m <= max_magnitude:
            raise ValueError(f"m must be in [0, {max_magnitude}], got {m}")
        self.n, self.m, self.ops = int(n), m, ops
        self.max_magnitude = max_magnitude
        self.fill = fill

    def magnitude(self, op: str) -> float:
        """The (unsigned) value of ``op`` at this magnitude."""
        frac = self.m / self.max_magnitude
        if op == "posterize":
            return float(8 - round(_MAX[op] * frac))  # bits kept
        if op == "solarize":
            return 255.0 - _MAX[op] * frac  # threshold
        return _MAX.get(op, 0.0) * frac

    def plan(self, generator: torch.Generator | None = None) -> list[tuple[str, float]]:
        """The ``n`` (op, value) pairs of one clip."""
        order = torch.randperm(len(self.ops), generator=generator)[: self.n].tolist()
        out = []
        for i in order:
            op = self.ops[i]
            value = self.magnitude(op)
            if op in _SIGNED and _rand(generator) < 0.5:
                value = -value
            out.append((op, value))
        return out

    def apply_op(self, frames: torch.Tensor, op: str, value: float, generator: torch.Generator | None = None) -> torch.Tensor:
        """``op`` with ``value`` on (..., T, C, H, W) frames in 0..255 -> float."""
        x = frames.float()
        h, w = x.shape[-2:]
        if op == "brightness":
            return (x * (1 + value)).clamp_(0, 255)
        if op == "contrast":
            mean = _luma(x).mean()
            return ((x - mean) * (1 + value) + mean).clamp_(0, 255)
        if op == "saturation":
            grey = _luma(x)
            return ((x - grey) * (1 + value) + grey).clamp_(0, 255)
        if op == "sharpness":
            return adjust_sharpness(x, 1 + value)
        if op == "posterize":
            return posterize(x, int(value))
        if op == "solarize":
            return solarize(x, value)
        if op == "autocontrast":
            return autocontrast(x)
        if op == "equalize":
            return equalize(x)
        if op == "grayscale":
            return grayscale(x)
        if op == "blur":
            return gaussian_blur(x, value)
        if op == "rotate":
            return affine(x, angle=value, fill=self.fill)
        if op == "translate_x":
            return affine(x, translate=(value * w, 0.0), fill=self.fill)
        if op == "translate_y":
            return affine(x, translate=(0.0, value * h), fill=self.fill)
        if op == "shear_x":
            return affine(x, shear=(value, 0.0), fill=self.fill)
        if op == "shear_y":
            return affine(x, shear=(0.0, value), fill=self.fill)
        if op == "erase":
            side = math.sqrt(value * h * w)
            bh, bw = min(h, round(side)), min(w, round(side))
            if bh < 1 or bw < 1:
                return x
            top, left = _randint(h - bh, generator), _randint(w - bw, generator)
            x = x.clone()
            fill = torch.as_tensor(self.fill, dtype=x.dtype).reshape(-1, 1, 1)
            x[..., top : top + bh, left : left + bw] = fill.expand(x.shape[-3], bh, bw)
            return x
        raise ValueError(f"unknown RandAugment op {op!r}")

    def __call__(self, frames: torch.Tensor, generator: torch.Generator | None = None) -> torch.Tensor:
        x = frames.float()
        for op, value in self.plan(generator):
            x = self.apply_op(x, op, value, generator)
        return x

    def __repr__(self) -> str:
        ops = "all" if self.ops == RANDAUGMENT_OPS else list(self.ops)
        return f"RandAugment(n={self.n}, m={self.m}, ops={ops})"


# ---- batch level: mixup and cutmix --------------------------------------------------------------


@dataclass(frozen=True)
class MixParams:
    """How one batch is mixed: sample ``i`` is combined with sample ``perm[i]``; ``lam`` is the
    weight of sample ``i`` (its pixels' share, and its target's); ``box`` (top, left, h, w) is
    the region cutmix pastes from the partner, the same in every frame."""

    mode: Literal["none", "mixup", "cutmix"]
    lam: float
    perm: torch.Tensor
    box: tuple[int, int, int, int] | None = None


class MixupCutmix:
    """Mixup and cutmix for batches of clips ``(B, C, T, H, W)`` with class-index targets.

    Per batch, with probability ``prob`` it mixes: cutmix (when only ``cutmix_alpha`` > 0, or
    with probability ``switch_prob`` when both are on) or mixup, with ``lam ~ Beta(alpha, alpha)``
    and a random pairing of the batch. The soft targets are ``lam * y_i + (1 - lam) * y_perm[i]``
    of label-smoothed one-hots (``(1 - eps) * onehot + eps / K``); every row sums to 1. For cutmix
    ``lam`` is the share of the frame that is not pasted over (after the box is cut at the edges).
    Random draws come from a ``numpy.random.Generator`` (Beta draws).
    """

    def __init__(
        self,
        *,
        mixup_alpha: float = 0.0,
        cutmix_alpha: float = 0.0,
        prob: float = 1.0,
        switch_prob: float = 0.5,
        label_smoothing: float = 0.0,
    ) -> None:
        if mixup_alpha < 0 or cutmix_alpha < 0:
            raise ValueError(f"alphas must be >= 0, got mixup {mixup_alpha}, cutmix {cutmix_alpha}")
        if mixup_alpha == 0 and cutmix_alpha == 0:
            raise ValueError("MixupCutmix needs mixup_alpha > 0 or cutmix_alpha > 0")
        if not 0 <= label_smoothing < 1:
            raise ValueError(f"label_smoothing must be in [0, 1), got {label_smoothing}")
        self.mixup_alpha = float(mixup_alpha)
        self.cutmix_alpha = float(cutmix_alpha)
        self.prob = _check_p(prob)
        self.switch_prob = _check_p(switch_prob)
        self.label_smoothing = float(label_smoothing)

    def draw(self, batch_size: int, height: int, width: int, rng: np.random.Generator) -> MixParams:
        """The mixing of one batch."""
        identity = torch.arange(batch_size)
        if rng.random() >= self.prob:
            return MixParams("none", 1.0, identity)
        use_cutmix = self.cutmix_alpha > 0 and (self.mixup_alpha == 0 or rng.random() < self.switch_prob)
        perm = torch.from_numpy(rng.permutation(batch_size)).long()
        if not use_cutmix:
            return MixParams("mixup", float(rng.beta(self.mixup_alpha, self.mixup_alpha)), perm)
        lam = float(rng.beta(self.cutmix_alpha, self.cutmix_alpha))
        cut = math.sqrt(1.0 - lam)
        ch, cw = int(height * cut), int(width * cut)
        cy, cx = int(rng.integers(0, height)), int(rng.integers(0, width))
        top, bottom = max(cy - ch // 2, 0), min(cy + ch // 2, height)
        left, right = max(cx - cw // 2, 0), min(cx + cw // 2, width)
        box = (top, left, bottom - top, right - left)
        lam = 1.0 - box[2] * box[3] / float(height * width)
        return MixParams("cutmix", lam, perm, box)

    def mix_inputs(self, video: torch.Tensor, params: MixParams) -> torch.Tensor:
        """The mixed batch (B, ..., H, W); cutmix pastes the same box in every frame."""
        if params.mode == "none":
            return video
        perm = params.perm.to(video.device)
        if params.mode == "mixup":
            return video * params.lam + video[perm] * (1.0 - params.lam)
        top, left, h, w = params.box  # type: ignore[misc]
        out = video.clone()
        out[..., top : top + h, left : left + w] = video[perm][..., top : top + h, left : left + w]
        return out

    def soft_targets(self, target: torch.Tensor, params: MixParams, num_classes: int) -> torch.Tensor:
        """(B, num_classes) float targets, each row summing to 1."""
        y = target.long().reshape(-1)
        eps = self.label_smoothing
        onehot = F.one_hot(y, num_classes).float() * (1.0 - eps) + eps / num_classes
        if params.mode == "none":
            return onehot
        return onehot * params.lam + onehot[params.perm.to(onehot.device)] * (1.0 - params.lam)

    def __call__(
        self, video: torch.Tensor, target: torch.Tensor, num_classes: int, rng: np.random.Generator
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """(mixed video, soft targets) of a batch."""
        params = self.draw(video.shape[0], video.shape[-2], video.shape[-1], rng)
        return self.mix_inputs(video, params), self.soft_targets(target, params, num_classes)

    def __repr__(self) -> str:
        return (
            f"MixupCutmix(mixup_alpha={self.mixup_alpha}, cutmix_alpha={self.cutmix_alpha}, prob={self.prob}, "
            f"switch_prob={self.switch_prob}, label_smoothing={self.label_smoothing})"
        )


def build_mixer(cfg, *, label_smoothing: float = 0.0) -> MixupCutmix | None:
    """The batch mixer of a :class:`~vidlearn.config.TransformConfig` (None when both alphas are 0)."""
    if cfg.mixup_alpha <= 0 and cfg.cutmix_alpha <= 0:
        return None
    return MixupCutmix(
        mixup_alpha=cfg.mixup_alpha,
        cutmix_alpha=cfg.cutmix_alpha,
        prob=cfg.mix_prob,
        switch_prob=cfg.mix_switch_prob,
        label_smoothing=label_smoothing,
    )


def soft_target_cross_entropy(
    logits: torch.Tensor, soft: torch.Tensor, weight: torch.Tensor | None = None
) -> torch.Tensor:
    """Mean over the batch of ``-sum_k w_k * soft_k * log_softmax(logits)_k`` (``w`` = 1 without
    class weights): cross-entropy with probability targets."""
    logp = F.log_softmax(logits.float(), dim=-1)
    per_class = -soft.to(logp.dtype) * logp
    if weight is not None:
        per_class = per_class * weight.to(logp.dtype)
    return per_class.sum(-1).mean()


# ---- preview ------------------------------------------------------------------------------------


def denormalize(video: torch.Tensor, mean: Sequence[float], std: Sequence[float]) -> np.ndarray:
    """A normalised clip (C, T, H, W) -> displayable frames (T, H, W, C) uint8."""
    c = video.shape[0]
    m = torch.tensor(mean[:c], dtype=torch.float32).view(c, 1, 1, 1)
    s = torch.tensor(std[:c], dtype=torch.float32).view(c, 1, 1, 1)
    x = (video.float() * s + m) * 255.0
    return x.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).contiguous().numpy()


@dataclass
class PreviewResult:
    """What :func:`augment_preview` wrote."""

    path: Path
    clips: int
    frames: int
    skipped: list[tuple[str, str]]


def _interleave_classes(records: list) -> list:
    """The records with the classes taken in turn (so the first few clips show several classes)."""
    by_class: dict[str, list] = {}
    for r in records:
        by_class.setdefault(str(r.target), []).append(r)
    queues = list(by_class.values())
    out: list = []
    for i in range(max(len(q) for q in queues) if queues else 0):
        out += [q[i] for q in queues if i < len(q)]
    return out


def augment_preview(
    data: str | Path,
    cfg,
    out: str | Path,
    *,
    clips: int = 4,
    gif: bool | None = None,
    seed: int = 0,
    max_frames: int = 8,
    gif_fps: float | None = None,
) -> PreviewResult:
    """Show what the model sees: ``clips`` videos of ``data``, each BEFORE augmentation (the
    evaluation sampler and transform: the centre clip, resized and centre-cropped) and AFTER
    (the training sampler and transform of ``cfg``: temporal jitter, speed change, crop, flip,
    colour, RandAugment, blur, erasing...), de-normalised for display. Frames come through the
    real data path (:func:`vidlearn.io.read_frames` at the samplers' seconds).

    PNG (default): two rows per clip ("<class> before", "<class> after"), up to ``max_frames``
    frames each. GIF (``gif=True`` or a ``.gif`` path): one row per clip with the before and after
    frames side by side, animated over the clip's frames at ``gif_fps`` (default ``cfg.decode.fps``).
    Mixup/cutmix mix whole batches in the training step and are not shown. Unreadable videos
    are skipped (and listed in the result).
    """
    from PIL import Image

    from vidlearn import io as vio
    from vidlearn.data.preview import clip_grid, save_image
    from vidlearn.data.sampling import build_test_sampler, build_train_sampler, record_span
    from vidlearn.data.sources import load_records
    from vidlearn.data.transforms import build_transform, frames_to_tensor
    from vidlearn.errors import ConfigError, DataSourceError, VidlearnError
    from vidlearn.fsutil import atomic_open

    out = Path(out)
    is_gif = out.suffix.lower() == ".gif"
    if gif is None:
        gif = is_gif
    if gif and not is_gif:
        raise ConfigError(f"{out}: an animated preview is a GIF; give the output a .gif suffix")
    if not gif and out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ConfigError(f"{out}: the preview grid is written as .png or .jpg (or .gif with --gif)")
    if clips < 1:
        raise ConfigError(f"clips must be at least 1, got {clips}")

    records = load_records(data, task=cfg.task.kind, labelled=False)
    eval_sampler = build_test_sampler(cfg.override({"sampling.test_views": 1}))
    train_sampler = build_train_sampler(cfg)
    eval_tf = build_transform(cfg.transform, train=False, crops=1)
    train_tf = build_transform(cfg.transform, train=True)
    mean, std = cfg.transform.mean, cfg.transform.std

    pairs: list[tuple[str, np.ndarray, np.ndarray]] = []
    skipped: list[tuple[str, str]] = []
    for k, record in enumerate(_interleave_classes(records)):
        if len(pairs) >= clips:
            break
        try:
            duration = vio.probe(record.path).duration
            start, span = record_span(record, duration)
            rng = np.random.default_rng([seed, k])
            gen = torch.Generator().manual_seed(seed * 1_000_003 + k)
            times_eval = np.asarray(eval_sampler(span, None, start=start)[0])
            times_train = np.asarray(train_sampler(span, rng, start=start))
            frames = vio.read_frames(
                record.path, np.concatenate([times_eval, times_train]), short_side=cfg.decode.short_side
            )
        except (VidlearnError, ValueError) as exc:
            skipped.append((str(record.path), getattr(exc, "reason", str(exc))))
            continue
        before = eval_tf(frames_to_tensor(frames[: len(times_eval)]), None)
        after = train_tf(frames_to_tensor(frames[len(times_eval) :]), gen)
        label = record.name if record.target is None else str(record.target)
        pairs.append((label, denormalize(before, mean, std), denormalize(after, mean, std)))
    if not pairs:
        raise DataSourceError(data, [f"no readable video to preview ({len(skipped)} skipped)"] + [f"{p}: {r}" for p, r in skipped[:5]])

    if not gif:
        rows, labels = [], []
        for label, before, after in pairs:
            rows += [before, after]
            labels += [f"{label[:7]} before", f"{label[:7]} after"]
        save_image(clip_grid(rows, labels, max_frames=max_frames), out)
        n_frames = min(max_frames, max(len(r) for r in rows))
    else:
        n_frames = max(max(len(b), len(a)) for _, b, a in pairs)
        images = []
        for t in range(n_frames):
            row_clips = [np.stack([b[min(t, len(b) - 1)], a[min(t, len(a) - 1)]]) for _, b, a in pairs]
            images.append(clip_grid(row_clips, [label for label, _, _ in pairs], max_frames=2))
        duration_ms = max(20, round(1000.0 / (gif_fps or cfg.decode.fps)))
        palette = [im.convert("P", palette=Image.Palette.ADAPTIVE) for im in images]
        with atomic_open(out, "wb") as fh:
            palette[0].save(fh, format="GIF", save_all=True, append_images=palette[1:], duration=duration_ms, loop=0)
    return PreviewResult(out, len(pairs), n_frames, skipped)
