"""2D per-frame encoders shared by the frame-pooling and recurrent families: (N, 3, H, W) -> (N, D)."""

from __future__ import annotations

from pathlib import Path
from typing import Self

import torch
from torch import nn

from vidlearn.models.efficientnet_lite import (
    EFFNET_LITE0_PRETRAINED_CFG,
    EfficientNetLite0,
    load_efficientnet_lite0_weights,
)

ENCODERS = ("small", "effnet_lite0")


def conv_bn_relu(cin: int, cout: int, stride: int = 1) -> nn.Sequential:
    """3x3 conv (no bias) -> BatchNorm -> ReLU."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, stride, 1, bias=False), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class SmallFrameCNN(nn.Module):
    """Five conv-bn-relu blocks, each halving the resolution, then global average pooling.

    Channels width * (1, 2, 4, 6, 8): width 32 gives 256-d features and about 0.76 M parameters."""

    def __init__(self, width: int = 32) -> None:
        super().__init__()
        if width < 1:
            raise ValueError(f"width must be >= 1, got {width}")
        chans = [3] + [width * m for m in (1, 2, 4, 6, 8)]
        self.features = nn.Sequential(*(conv_bn_relu(a, b, 2) for a, b in zip(chans[:-1], chans[1:])))
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.num_features = chans[-1]
        for m in self.modules():
            if isinstance(m, nn.Conv2d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) -> (N, D)."""
        return self.pool(self.features(x)).flatten(1)


class EffNetLite0Encoder(EfficientNetLite0):
    """EfficientNet-Lite0 without its ImageNet classifier: (N, 3, H, W) -> pooled (N, 1280)."""

    def __init__(self) -> None:
        super().__init__(num_classes=0, dropout=0.0)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.forward_features(x)


def make_frame_encoder(
    encoder: str = "small", *, pretrained: bool | str | Path = False, width: int = 32
) -> nn.Module:
    """A per-frame encoder with a `num_features` attribute.

    encoder: "small" (from scratch; `width` sets its channels) or "effnet_lite0" (`pretrained`:
    True loads the ImageNet weights of the installed package, a path loads that state_dict file)."""
    if encoder == "small":
        if pretrained:
            raise ValueError("the small frame CNN has no pretrained weights (use encoder='effnet_lite0')")
        return SmallFrameCNN(width)
    if encoder == "effnet_lite0":
        enc = EffNetLite0Encoder()
        if pretrained:
            load_efficientnet_lite0_weights(enc, None if pretrained is True else pretrained)
            enc.pretrained_cfg = dict(EFFNET_LITE0_PRETRAINED_CFG)
        return enc
    raise ValueError(f"unknown frame encoder {encoder!r}; expected one of {ENCODERS}")


def freeze_params(module: nn.Module) -> None:
    """Stop gradients into `module`'s parameters (`FreezableEncoderMixin` also keeps its BatchNorm
    statistics fixed)."""
    for p in module.parameters():
        p.requires_grad_(False)


class FreezableEncoderMixin:
    """For models with `self.encoder` and `self.freeze_encoder`: a frozen encoder stays in eval mode
    (BatchNorm statistics unchanged) even while the rest of the model trains. `pretrained_cfg` is the
    encoder's preprocessing note (mean/std/sizes) when it carries pretrained weights, else None."""

    encoder: nn.Module
    freeze_encoder: bool

    def train(self, mode: bool = True) -> Self:
        super().train(mode)  # type: ignore[misc]
        if self.freeze_encoder:
            self.encoder.eval()
        return self

    @property
    def pretrained_cfg(self) -> dict | None:
        return getattr(self.encoder, "pretrained_cfg", None)
