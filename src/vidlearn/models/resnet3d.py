"""Family "3d": video ResNets R3D-18, MC3-18 and R(2+1)D-18 (Tran et al. 2018) and their tiny variants.

Module and parameter names are identical to torchvision's `models/video/resnet.py` (stem.0,
layer1.0.conv1.0.weight, layer2.0.downsample.0.weight, fc.weight ...), so a torchvision Kinetics-400
checkpoint loads with `load_torchvision_checkpoint`. The classifier keeps torchvision's name `fc`;
`model.head` is an alias of it (reading and assigning `head` reads and replaces `fc`).
`width` scales every channel count (64 = torchvision's size).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import nn

from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.registry import register_model


class Conv3DSimple(nn.Conv3d):
    """Full 3x3x3 convolution (R3D)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1, padding: int = 1) -> None:
        super().__init__(in_planes, out_planes, kernel_size=(3, 3, 3), stride=stride, padding=padding, bias=False)

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return stride, stride, stride


class Conv2Plus1D(nn.Sequential):
    """(2+1)D: a 1x3x3 spatial conv to `midplanes`, BN, ReLU, then a 3x1x1 temporal conv."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int, stride: int = 1, padding: int = 1) -> None:
        super().__init__(
            nn.Conv3d(in_planes, midplanes, (1, 3, 3), (1, stride, stride), (0, padding, padding), bias=False),
            nn.BatchNorm3d(midplanes),
            nn.ReLU(inplace=True),
            nn.Conv3d(midplanes, out_planes, (3, 1, 1), (stride, 1, 1), (padding, 0, 0), bias=False),
        )

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return stride, stride, stride


class Conv3DNoTemporal(nn.Conv3d):
    """1x3x3 convolution: 2D in a 3D network (MC3's upper layers)."""

    def __init__(self, in_planes: int, out_planes: int, midplanes: int | None = None, stride: int = 1, padding: int = 1) -> None:
        super().__init__(in_planes, out_planes, (1, 3, 3), (1, stride, stride), (0, padding, padding), bias=False)

    @staticmethod
    def get_downsample_stride(stride: int) -> tuple[int, int, int]:
        return 1, stride, stride


ConvBuilder = type[Conv3DSimple] | type[Conv2Plus1D] | type[Conv3DNoTemporal]


class BasicBlock(nn.Module):
    """Two convs with a residual connection (torchvision's BasicBlock, same names)."""

    expansion = 1

    def __init__(
        self, inplanes: int, planes: int, conv_builder: ConvBuilder, stride: int = 1, downsample: nn.Module | None = None
    ) -> None:
        # (2+1)D: as many parameters as the full 3D conv it replaces (torchvision's formula)
        midplanes = (inplanes * planes * 3 * 3 * 3) // (inplanes * 3 * 3 + 3 * planes)
        super().__init__()
        self.conv1 = nn.Sequential(conv_builder(inplanes, planes, midplanes, stride), nn.BatchNorm3d(planes), nn.ReLU(inplace=True))
        self.conv2 = nn.Sequential(conv_builder(planes, planes, midplanes), nn.BatchNorm3d(planes))
        self.relu = nn.ReLU(inplace=True)
        self.downsample = downsample
        self.stride = stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        residual = x if self.downsample is None else self.downsample(x)
        return self.relu(self.conv2(self.conv1(x)) + residual)


class BasicStem(nn.Sequential):
    """R3D/MC3 stem: 3x7x7 conv, spatial stride 2."""

    def __init__(self, width: int = 64) -> None:
        super().__init__(
            nn.Conv3d(3, width, (3, 7, 7), (1, 2, 2), (1, 3, 3), bias=False), nn.BatchNorm3d(width), nn.ReLU(inplace=True)
        )


class R2Plus1dStem(nn.Sequential):
    """R(2+1)D stem: 1x7x7 spatial conv to 45 (at width 64) channels, then a 3x1x1 temporal conv."""

    def __init__(self, width: int = 64) -> None:
        mid = 45 if width == 64 else max(1, round(45 * width / 64))
        super().__init__(
            nn.Conv3d(3, mid, (1, 7, 7), (1, 2, 2), (0, 3, 3), bias=False),
            nn.BatchNorm3d(mid),
            nn.ReLU(inplace=True),
            nn.Conv3d(mid, width, (3, 1, 1), (1, 1, 1), (1, 0, 0), bias=False),
            nn.BatchNorm3d(width),
            nn.ReLU(inplace=True),
        )


class VideoResNet(VideoClassifier):
    """torchvision-compatible video ResNet; the classifier is `fc` (alias `head`)."""

    head_prefix = "fc"

    def __init__(
        self,
        conv_makers: Sequence[ConvBuilder],
        layers: Sequence[int],
        stem: Callable[[int], nn.Module],
        num_classes: int = 400,
        *,
        width: int = 64,
        dropout: float = 0.0,
        zero_init_residual: bool = False,
    ) -> None:
        super().__init__()
        if width < 1 or len(layers) != 4 or min(layers) < 1:
            raise ValueError(f"width must be >= 1 and layers four counts >= 1, got width={width}, layers={list(layers)}")
        self.inplanes = width
        self.stem = stem(width)
        self.layer1 = self._make_layer(conv_makers[0], width, layers[0], stride=1)
        self.layer2 = self._make_layer(conv_makers[1], width * 2, layers[1], stride=2)
        self.layer3 = self._make_layer(conv_makers[2], width * 4, layers[2], stride=2)
        self.layer4 = self._make_layer(conv_makers[3], width * 8, layers[3], stride=2)
        self.avgpool = nn.AdaptiveAvgPool3d((1, 1, 1))
        self.num_features = width * 8
        self.fc = make_head(self.num_features, num_classes, dropout)
        for m in self.modules():
            if isinstance(m, nn.Conv3d):
                nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            elif isinstance(m, nn.BatchNorm3d):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.Linear):
                nn.init.normal_(m.weight, 0, 0.01)
                nn.init.zeros_(m.bias)
        if zero_init_residual:
            for m in self.modules():
                if isinstance(m, BasicBlock):
                    nn.init.zeros_(m.conv2[1].weight)

    def _make_layer(self, conv_builder: ConvBuilder, planes: int, blocks: int, stride: int) -> nn.Sequential:
        downsample = None
        if stride != 1 or self.inplanes != planes:
            downsample = nn.Sequential(
                nn.Conv3d(self.inplanes, planes, 1, stride=conv_builder.get_downsample_stride(stride), bias=False),
                nn.BatchNorm3d(planes),
            )
        layers = [BasicBlock(self.inplanes, planes, conv_builder, stride, downsample)]
        self.inplanes = planes
        layers += [BasicBlock(planes, planes, conv_builder) for _ in range(1, blocks)]
        return nn.Sequential(*layers)

    @property
    def head(self) -> nn.Module:
        """The classifier (torchvision's `fc`); assigning `model.head = ...` replaces `fc`."""
        return self.fc

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__("fc" if name == "head" else name, value)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        x = self.stem(x)
        x = self.layer4(self.layer3(self.layer2(self.layer1(x))))
        return self.avgpool(x).flatten(1)


_R3D = [Conv3DSimple] * 4
_MC3 = [Conv3DSimple] + [Conv3DNoTemporal] * 3
_R2P1D = [Conv2Plus1D] * 4


@register_model(family="3d", native_clip=(16, 112, 112))  # torchvision's published GFLOPS are at 16x112x112
def r3d_18(*, num_classes: int, dropout: float = 0.0, width: int = 64, zero_init_residual: bool = False) -> nn.Module:
    """R3D-18: 3D ResNet-18 (3x3x3 convs), torchvision-compatible (33.4 M params at 400 classes)."""
    return VideoResNet(_R3D, [2, 2, 2, 2], BasicStem, num_classes, width=width, dropout=dropout, zero_init_residual=zero_init_residual)


@register_model(family="3d", native_clip=(16, 112, 112))  # torchvision's published GFLOPS are at 16x112x112
def mc3_18(*, num_classes: int, dropout: float = 0.0, width: int = 64, zero_init_residual: bool = False) -> nn.Module:
    """MC3-18: 3D convs in the stem and layer1, 2D (1x3x3) convs above; torchvision-compatible."""
    return VideoResNet(_MC3, [2, 2, 2, 2], BasicStem, num_classes, width=width, dropout=dropout, zero_init_residual=zero_init_residual)


@register_model(family="3d", native_clip=(16, 112, 112))  # torchvision's published GFLOPS are at 16x112x112
def r2plus1d_18(*, num_classes: int, dropout: float = 0.0, width: int = 64, zero_init_residual: bool = False) -> nn.Module:
    """R(2+1)D-18: every 3D conv factorised into spatial 1x3x3 + temporal 3x1x1; torchvision-compatible."""
    return VideoResNet(
        _R2P1D, [2, 2, 2, 2], R2Plus1dStem, num_classes, width=width, dropout=dropout, zero_init_residual=zero_init_residual
    )


@register_model(family="3d")
def r3d_tiny(*, num_classes: int, dropout: float = 0.0, width: int = 16, zero_init_residual: bool = False) -> nn.Module:
    """Tiny R3D (one block per stage, 16 base channels) that trains from scratch on a CPU."""
    return VideoResNet(_R3D, [1, 1, 1, 1], BasicStem, num_classes, width=width, dropout=dropout, zero_init_residual=zero_init_residual)


@register_model(family="3d")
def r2plus1d_tiny(*, num_classes: int, dropout: float = 0.0, width: int = 16, zero_init_residual: bool = False) -> nn.Module:
    """Tiny R(2+1)D (one block per stage, 16 base channels): the project's default, CPU-trainable model."""
    return VideoResNet(
        _R2P1D, [1, 1, 1, 1], R2Plus1dStem, num_classes, width=width, dropout=dropout, zero_init_residual=zero_init_residual
    )
