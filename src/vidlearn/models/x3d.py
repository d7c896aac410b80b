"""Family "3d": X3D-style efficient networks (Feichtenhofer 2020).

Stem: 1x3x3 conv (spatial stride 2) + depthwise 5x1x1 temporal conv. Four stages of bottlenecks:
1x1x1 expand (ReLU) -> depthwise 3x3x3 (spatial stride 2 in a stage's first block) -> optional
squeeze-excite (every other block) -> SiLU (swish) -> 1x1x1 project, with a residual connection.
Head: 1x1x1 conv, global average pool, 1x1x1 "fc" conv to `fc_dim` (the embedding), ReLU.
Only standard ops (SE is AdaptiveAvgPool3d + 1x1x1 convs + sigmoid), so it exports to ONNX.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.registry import register_model


def _round8(x: float) -> int:
    return max(8, int(x + 4) // 8 * 8)


class SqueezeExcite3d(nn.Module):
    """Channel attention: global pool -> 1x1x1 conv (reduce) -> ReLU -> 1x1x1 conv -> sigmoid -> scale."""

    def __init__(self, channels: int, ratio: float = 0.0625) -> None:
        super().__init__()
        reduced = _round8(channels * ratio)
        self.gate = nn.Sequential(
            nn.AdaptiveAvgPool3d(1),
            nn.Conv3d(channels, reduced, 1),
            nn.ReLU(inplace=True),
            nn.Conv3d(reduced, channels, 1),
            nn.Sigmoid(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.gate(x)


class X3DBlock(nn.Module):
    """Bottleneck: 1x1x1 expand -> depthwise 3x3x3 -> (SE) -> SiLU -> 1x1x1 project, plus residual."""

    def __init__(self, cin: int, inner: int, cout: int, stride: int, se: bool) -> None:
        super().__init__()
        self.conv_a = nn.Sequential(nn.Conv3d(cin, inner, 1, bias=False), nn.BatchNorm3d(inner), nn.ReLU(inplace=True))
        self.conv_b = nn.Sequential(
            nn.Conv3d(inner, inner, 3, (1, stride, stride), 1, groups=inner, bias=False), nn.BatchNorm3d(inner)
        )
        self.se = SqueezeExcite3d(inner) if se else nn.Identity()
        self.act = nn.SiLU(inplace=True)
        self.conv_c = nn.Sequential(nn.Conv3d(inner, cout, 1, bias=False), nn.BatchNorm3d(cout))
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or cin != cout:
            self.shortcut = nn.Sequential(
                nn.Conv3d(cin, cout, 1, (1, stride, stride), bias=False), nn.BatchNorm3d(cout)
            )
        self.relu = nn.ReLU(inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.conv_c(self.act(self.se(self.conv_b(self.conv_a(x)))))
        return self.relu(out + self.shortcut(x))


class X3D(VideoClassifier):
    """X3D-style network; `widths`/`depths` per stage, `expansion` the bottleneck factor."""

    def __init__(
        self,
        num_classes: int,
        *,
        widths: Sequence[int] = (24, 48, 96, 192),
        depths: Sequence[int] = (3, 5, 11, 7),
        expansion: float = 2.25,
        head_dim: int = 432,
        fc_dim: int = 2048,
        se: bool = True,
        dropout: float = 0.5,
        zero_init_residual: bool = True,
    ) -> None:
        super().__init__()
        if len(widths) != 4 or len(depths) != 4 or min(depths) < 1 or min(widths) < 1:
            raise ValueError(f"widths and depths must be four positive numbers, got {widths}, {depths}")
        w0 = widths[0]
        self.stem = nn.Sequential(
            nn.Conv3d(3, w0, (1, 3, 3), (1, 2, 2), (0, 1, 1), bias=False),
            nn.Conv3d(w0, w0, (5, 1, 1), 1, (2, 0, 0), groups=w0, bias=False),
            nn.BatchNorm3d(w0),
            nn.ReLU(inplace=True),
        )
        stages = []
        cin = w0
        for width, depth in zip(widths, depths):
            inner = int(width * expansion)
            blocks = [X3DBlock(cin if i == 0 else width, inner, width, 2 if i == 0 else 1, se and i % 2 == 0) for i in range(depth)]
            stages.append(nn.Sequential(*blocks))
            cin = width
        self.stages = nn.Sequential(*stages)
        self.conv5 = nn.Sequential(nn.Conv3d(cin, head_dim, 1, bias=False), nn.BatchNorm3d(head_dim), nn.ReLU(inplace=True))
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.fc_conv = nn.Sequential(nn.Conv3d(head_dim, fc_dim, 1, bias=False), nn.ReLU(inplace=True))
        self.num_features = fc_dim
        self.head = make_head(fc_dim, num_classes, dropout)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        if zero_init_residual:  # residual branches start as identity (helps deep stacks, slows shallow ones)
            for m in self.modules():
                if isinstance(m, X3DBlock):
                    nn.init.zeros_(m.conv_c[1].weight)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.conv5(self.stages(self.stem(x)))
        return self.fc_conv(self.pool(x)).flatten(1)


@register_model(family="3d")
def x3d_s(*, num_classes: int, dropout: float = 0.5, se: bool = True, zero_init_residual: bool = True) -> nn.Module:
    """X3D-S-sized network (widths 24-192, depths 3/5/11/7, ~3.8 M params); designed for 13x160x160 clips."""
    return X3D(num_classes, se=se, dropout=dropout, zero_init_residual=zero_init_residual)


@register_model(family="3d")
def x3d_tiny(*, num_classes: int, dropout: float = 0.2, se: bool = True, zero_init_residual: bool = False) -> nn.Module:
    """Tiny X3D (widths 16-128, depths 1/2/3/2, 512-d embedding) for CPU training."""
    return X3D(
        num_classes,
        widths=(16, 32, 64, 128),
        depths=(1, 2, 3, 2),
        head_dim=288,
        fc_dim=512,
        se=se,
        dropout=dropout,
        zero_init_residual=zero_init_residual,
    )
