"""Family "frame": a 2D encoder applied to every frame, then temporal pooling (TSN-style consensus).

(B, 3, T, H, W) -> B*T frames -> encoder -> (B, T, D) -> mean | max | attention over T -> (B, D) -> head;
``meanstd`` concatenates the mean and the standard deviation over T -> (B, 2D): the spread of the
frames' embeddings is a cheap summary of how they change (what the classical features pool too).
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.frame_encoders import (
    FreezableEncoderMixin,
    freeze_params,
    make_frame_encoder,
)
from vidlearn.models.registry import register_model

POOLS = ("mean", "max", "attention", "meanstd")


class TemporalPool(nn.Module):
    """(B, T, D) -> (B, D) by mean, max, or learned attention weights over time (softmax over T);
    ``meanstd``: (B, 2D), the mean then the standard deviation over T. ``out_dim`` is the width."""

    def __init__(self, dim: int, mode: str = "mean") -> None:
        super().__init__()
        if mode not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {mode!r}")
        self.mode = mode
        self.out_dim = 2 * dim if mode == "meanstd" else dim
        if mode == "attention":
            hidden = max(16, dim // 8)
            self.score = nn.Sequential(nn.Linear(dim, hidden), nn.Tanh(), nn.Linear(hidden, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.mode == "mean":
            return x.mean(dim=1)
        if self.mode == "max":
            return x.amax(dim=1)
        if self.mode == "meanstd":  # eps: a finite gradient when every frame is the same
            return torch.cat([x.mean(dim=1), (x.var(dim=1, unbiased=False) + 1e-6).sqrt()], dim=1)
        weights = torch.softmax(self.score(x), dim=1)  # (B, T, 1)
        return (weights * x).sum(dim=1)


class FrameModel(FreezableEncoderMixin, VideoClassifier):
    """Per-frame 2D encoder + temporal pooling + classifier."""

    def __init__(
        self, encoder: nn.Module, num_classes: int, *, pool: str = "mean", dropout: float = 0.0, freeze_encoder: bool = False
    ) -> None:
        super().__init__()
        self.encoder = encoder
        self.frame_dim = int(encoder.num_features)
        self.pool = TemporalPool(self.frame_dim, pool)
        self.num_features = self.pool.out_dim
        self.head = make_head(self.num_features, num_classes, dropout)
        self.freeze_encoder = freeze_encoder
        if freeze_encoder:
            freeze_params(encoder)
            encoder.eval()

    def forward_frames(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> per-frame embeddings (B, T, D)."""
        _, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(-1, c, h, w)
        return self.encoder(frames).reshape(-1, t, self.frame_dim)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.pool(self.forward_frames(x))


@register_model(family="frame")
def frame_cnn_small(*, num_classes: int, dropout: float = 0.0, pool: str = "mean", width: int = 32) -> nn.Module:
    """Small from-scratch 2D CNN (5 conv-bn-relu blocks, ~0.76 M params) per frame + temporal pooling."""
    return FrameModel(make_frame_encoder("small", width=width), num_classes, pool=pool, dropout=dropout)


@register_model(family="frame")
def frame_effnet_lite0(
    *,
    num_classes: int,
    dropout: float = 0.2,
    pool: str = "mean",
    pretrained: bool | str | Path = False,
    freeze: bool = False,
) -> nn.Module:
    """EfficientNet-Lite0 per frame (1280-d; ImageNet weights with pretrained=True) + temporal pooling.

    Inputs for the pretrained weights: RGB in [0, 1] normalised with mean = std = 0.5 (see
    `EFFNET_LITE0_MEAN`/`EFFNET_LITE0_STD`), ideally 224 px crops."""
    encoder = make_frame_encoder("effnet_lite0", pretrained=pretrained)
    return FrameModel(encoder, num_classes, pool=pool, dropout=dropout, freeze_encoder=freeze)
