"""Family "3d": C3D (Tran et al. 2015): eight 3x3x3 convs in five stages, then two fully connected layers.

Unlike the original (which flattens a 512x1x4x4 map into fc6 and so only takes 16x112x112 clips),
the last stage is average-pooled globally, so any clip size works; pooling uses ceil mode so that
short clips (T >= 1) pass too. `width` scales the conv channels (64 = original), `fc_dim` the
fully connected layers (4096 = original).
"""

from __future__ import annotations

import torch
from torch import nn

from vidlearn.models.base import VideoClassifier, check_dropout
from vidlearn.models.registry import register_model


def _conv(cin: int, cout: int) -> list[nn.Module]:
    return [nn.Conv3d(cin, cout, 3, padding=1), nn.ReLU(inplace=True)]


def _pool(kernel: tuple[int, int, int]) -> nn.MaxPool3d:
    return nn.MaxPool3d(kernel, kernel, ceil_mode=True)


class C3D(VideoClassifier):
    """C3D with a global-average-pooled conv5 and fc6/fc7 (ReLU + dropout) as the embedding."""

    def __init__(self, num_classes: int, *, width: int = 64, fc_dim: int = 4096, dropout: float = 0.5, batch_norm: bool = False) -> None:
        super().__init__()
        if width < 1 or fc_dim < 1:
            raise ValueError(f"width and fc_dim must be >= 1, got {width}, {fc_dim}")
        w = width
        chans = [(3, w), (w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w), (4 * w, 8 * w), (8 * w, 8 * w), (8 * w, 8 * w), (8 * w, 8 * w)]
        pool_after = {0: (1, 2, 2), 1: (2, 2, 2), 3: (2, 2, 2), 5: (2, 2, 2)}
        layers: list[nn.Module] = []
        for i, (cin, cout) in enumerate(chans):
            conv = _conv(cin, cout)
            if batch_norm:
                conv = [nn.Conv3d(cin, cout, 3, padding=1, bias=False), nn.BatchNorm3d(cout), nn.ReLU(inplace=True)]
            layers += conv
            if i in pool_after:
                layers.append(_pool(pool_after[i]))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool3d(1)
        p = check_dropout(dropout)
        self.fc = nn.Sequential(
            nn.Linear(8 * w, fc_dim), nn.ReLU(inplace=True), nn.Dropout(p),
            nn.Linear(fc_dim, fc_dim), nn.ReLU(inplace=True), nn.Dropout(p),
        )  # fmt: skip
        self.num_features = fc_dim
        self.head = nn.Linear(fc_dim, num_classes)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):  # fc6/fc7 keep the activation scale; the head starts small
                nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
                nn.init.zeros_(m.bias)
        nn.init.normal_(self.head.weight, 0, 0.01)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(self.pool(self.features(x)).flatten(1))


@register_model(family="3d")
def c3d(*, num_classes: int, dropout: float = 0.5, width: int = 64, fc_dim: int = 4096, batch_norm: bool = False) -> nn.Module:
    """C3D (8 conv3d layers, fc6/fc7 of 4096) with global pooling before fc6."""
    return C3D(num_classes, width=width, fc_dim=fc_dim, dropout=dropout, batch_norm=batch_norm)


@register_model(family="3d")
def c3d_small(*, num_classes: int, dropout: float = 0.3, width: int = 16, fc_dim: int = 256, batch_norm: bool = True) -> nn.Module:
    """C3D at a quarter of the width with BatchNorm and 256-d fc layers, trainable on a CPU."""
    return C3D(num_classes, width=width, fc_dim=fc_dim, dropout=dropout, batch_norm=batch_norm)
