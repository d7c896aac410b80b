"""RandAugment for video: `n` distinct ops of magnitude `m` out of RANDAUGMENT_OPS, drawn once per clip."""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from vidlearn.transforms.draws import rand, randint
from vidlearn.transforms.functional import (
    adjust_sharpness,
    affine,
    autocontrast,
    equalize,
    gaussian_blur,
    grayscale,
    luma,
    posterize,
    solarize,
)

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
            if op in _SIGNED and rand(generator) < 0.5:
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
            mean = luma(x).mean()
            return ((x - mean) * (1 + value) + mean).clamp_(0, 255)
        if op == "saturation":
            grey = luma(x)
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
            top, left = randint(h - bh, generator), randint(w - bw, generator)
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
