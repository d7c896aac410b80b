"""Colour jitter on frames (..., T, C, H, W) in 0..255: brightness, contrast, saturation and hue (through HSV), one draw per clip."""

from __future__ import annotations

import torch

from vidlearn.transforms.draws import uniform


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
        return tuple(uniform(1 - s, 1 + s, generator) for _ in range(3))  # type: ignore[return-value]

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
            x = shift_hue(x, uniform(-self.hue, self.hue, generator))
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
