"""Family "3d": X3D (Feichtenhofer, "X3D: Expanding Architectures for Efficient Video Recognition",
CVPR 2020), exactly PyTorchVideo 0.1.5's `x3d_xs`, `x3d_s`, `x3d_m`, plus a tiny CPU variant.

Stem: 1x3x3 conv (spatial stride 2) then a depthwise 5x1x1 temporal conv, BN, ReLU. Four stages
of bottlenecks: 1x1x1 expand (BN, ReLU) -> depthwise 3x3x3 (spatial stride 2 in a stage's first
block) -> BN -> squeeze-excite (every other block) -> swish -> 1x1x1 project (BN), with a residual
connection and ReLU. Head: 1x1x1 conv (BN, ReLU), global average pool, 1x1x1 conv to 2048 (ReLU),
dropout, linear classifier. XS, S and M are the same network (3.8 M parameters) run at
4x160x160, 13x160x160 and 16x224x224.

Matched to `pytorchvideo.models.x3d.create_x3d` (hub `pytorchvideo.models.hub.x3d_*`): module
names are the reference's (`blocks.0.conv.conv_t` - which PyTorchVideo gives to the *spatial*
stem conv, `conv_xy` being the temporal one - `blocks.1.res_blocks.0.branch2.norm_b.1.block.0`,
`blocks.5.pool.pre_conv`, `blocks.5.proj` ...), so a hub checkpoint's `model_state` loads with
`load_state_dict(strict=True)` at 400 classes. Two deliberate differences: the model returns
logits (PyTorchVideo 0.1.5's hub X3D applies a softmax at eval; the fixtures record
`head_activation=None`), and the head pools with AdaptiveAvgPool3d(1) where the reference has an
AvgPool3d whose fixed kernel (T, ceil(H/32), ceil(W/32)) is the whole feature map at the clip it
was built for - identical there, and global pooling at every other clip size.
Only standard ops (SE is a mean + 1x1x1 convs + sigmoid, swish is SiLU), so it exports to ONNX.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
from torch import nn

from vidlearn.models.registry import register_model
from vidlearn.models.resnet_ptv import (
    BasicStem,
    Bottleneck,
    ClassifierHead,
    PTVNet,
    ResBlock,
    ResStage,
    init_ptv_weights,
)


def round_width(width: float, multiplier: float, min_width: int = 8, divisor: int = 8) -> int:
    """PyTorchVideo's channel rounding: width * multiplier to a multiple of `divisor` (>= min_width),
    never more than 10 % below the exact value."""
    if not multiplier:
        return int(width)
    scaled = width * multiplier
    out = max(min_width, int(scaled + divisor / 2) // divisor * divisor)
    if out < 0.9 * scaled:
        out += divisor
    return int(out)


def round_repeats(repeats: int, multiplier: float) -> int:
    """Blocks in a stage after depth expansion: ceil(repeats * multiplier)."""
    return int(math.ceil(multiplier * repeats)) if multiplier else repeats


class SqueezeExcite3d(nn.Module):
    """Channel attention (fvcore's `SqueezeExcitation`, `block` = conv, ReLU, conv, sigmoid):
    x * block(mean of x over T, H, W)."""

    def __init__(self, channels: int, reduced: int) -> None:
        super().__init__()
        self.block = nn.Sequential(nn.Conv3d(channels, reduced, 1), nn.ReLU(), nn.Conv3d(reduced, channels, 1), nn.Sigmoid())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.block(x.mean(dim=(2, 3, 4), keepdim=True))


class StemConv(nn.Module):
    """The factorised stem conv: `conv_t` (1x3x3 spatial, despite the name) then `conv_xy`
    (5x1x1 depthwise temporal); the names are PyTorchVideo's, swapped as in its checkpoints."""

    def __init__(self, dim_out: int, temporal_kernel: int = 5) -> None:
        super().__init__()
        self.conv_t = nn.Conv3d(3, dim_out, (1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1), bias=False)
        self.conv_xy = nn.Conv3d(
            dim_out, dim_out, (temporal_kernel, 1, 1), padding=(temporal_kernel // 2, 0, 0), groups=dim_out, bias=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.conv_xy(self.conv_t(x))


class ProjectedPool(nn.Module):
    """X3D's head before the classifier: pre_conv -> pre_norm -> pre_act -> pool -> post_conv -> post_act."""

    def __init__(self, dim_in: int, dim_inner: int, dim_out: int) -> None:
        super().__init__()
        self.pre_conv = nn.Conv3d(dim_in, dim_inner, 1, bias=False)
        self.pre_norm = nn.BatchNorm3d(dim_inner)
        self.pre_act = nn.ReLU()
        self.pool = nn.AdaptiveAvgPool3d(1)
        self.post_conv = nn.Conv3d(dim_inner, dim_out, 1, bias=False)
        self.post_act = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.pool(self.pre_act(self.pre_norm(self.pre_conv(x))))
        return self.post_act(self.post_conv(x))


def x3d_bottleneck(dim_in: int, dim_inner: int, dim_out: int, spatial_stride: int, se_ratio: float) -> Bottleneck:
    """1x1x1 expand -> depthwise 3x3x3 (+ SE when se_ratio > 0) -> swish -> 1x1x1 project."""
    se: nn.Module = SqueezeExcite3d(dim_inner, round_width(dim_inner, se_ratio)) if se_ratio > 0 else nn.Identity()
    return Bottleneck(
        nn.Conv3d(dim_in, dim_inner, 1, bias=False),
        nn.BatchNorm3d(dim_inner),
        nn.ReLU(),
        nn.Conv3d(dim_inner, dim_inner, 3, stride=(1, spatial_stride, spatial_stride), padding=1, groups=dim_inner, bias=False),
        nn.Sequential(nn.BatchNorm3d(dim_inner), se),
        nn.SiLU(),
        nn.Conv3d(dim_inner, dim_out, 1, bias=False),
        nn.BatchNorm3d(dim_out),
    )


def x3d_stage(depth: int, dim_in: int, dim_inner: int, dim_out: int, se_ratio: float) -> ResStage:
    """A stage: spatial stride 2 in the first block; SE in blocks 0, 2, 4, ...; the shortcut gets a
    1x1x1 conv when the block strides or changes width, and a BN only when it changes width."""
    blocks = []
    for i in range(depth):
        cin, stride = (dim_in, 2) if i == 0 else (dim_out, 1)
        shortcut_conv = nn.Conv3d(cin, dim_out, 1, stride=(1, stride, stride), bias=False) if cin != dim_out or stride > 1 else None
        shortcut_norm = nn.BatchNorm3d(dim_out) if cin != dim_out else None
        branch2 = x3d_bottleneck(cin, dim_inner, dim_out, stride, se_ratio if i % 2 == 0 else 0.0)
        blocks.append(ResBlock(branch2, shortcut_conv, shortcut_norm))
    return ResStage(blocks)


class X3D(PTVNet):
    """X3D network: `stem_width`, per-stage `widths` and `depths`, bottleneck `expansion`, a
    `head_dim` embedding; the classifier is `blocks.5.proj` (alias `head`)."""

    head_prefix = "blocks.5.proj"

    def __init__(
        self,
        num_classes: int = 400,
        *,
        stem_width: int = 24,
        widths: Sequence[int] = (24, 48, 96, 192),
        depths: Sequence[int] = (3, 5, 11, 7),
        expansion: float = 2.25,
        head_dim: int = 2048,
        se_ratio: float = 0.0625,
        dropout: float = 0.5,
        zero_init_residual: bool = True,
    ) -> None:
        if len(widths) != 4 or len(depths) != 4 or min(depths) < 1 or min(widths) < 1 or stem_width < 1:
            raise ValueError(f"widths and depths must be four positive numbers, got {list(widths)}, {list(depths)}")
        blocks: list[nn.Module] = [BasicStem(StemConv(stem_width), nn.BatchNorm3d(stem_width), nn.ReLU())]
        dim_in = stem_width
        for width, depth in zip(widths, depths):
            inner = int(expansion * width)
            blocks.append(x3d_stage(depth, dim_in, inner, width, se_ratio))
            dim_in = width
        # the head's inner width is the last stage's bottleneck width (432 for X3D-S)
        blocks.append(ClassifierHead(ProjectedPool(dim_in, inner, head_dim), head_dim, num_classes, dropout))
        super().__init__(blocks, head_dim)
        init_ptv_weights(self, zero_init_residual)


def _x3d_reference(num_classes: int, dropout: float, se: bool, zero_init_residual: bool) -> X3D:
    """create_x3d's defaults: stem 12 -> x2 width, stage widths 12/24/48/96 -> x2, depths 1/2/5/3 -> x2.2."""
    width_factor, depth_factor, stem_in = 2.0, 2.2, 12
    dims = [stem_in]
    for _ in range(3):
        dims.append(round_width(dims[-1], 2.0))
    return X3D(
        num_classes,
        stem_width=round_width(stem_in, width_factor),
        widths=[round_width(d, width_factor) for d in dims],
        depths=[round_repeats(d, depth_factor) for d in (1, 2, 5, 3)],
        se_ratio=0.0625 if se else 0.0,
        dropout=dropout,
        zero_init_residual=zero_init_residual,
    )


@register_model(family="3d", native_clip=(4, 160, 160))
def x3d_xs(*, num_classes: int, dropout: float = 0.5, se: bool = True, zero_init_residual: bool = True) -> nn.Module:
    """X3D-XS, PyTorchVideo-compatible (3.8 M params at 400 classes); 4x160x160 clips."""
    return _x3d_reference(num_classes, dropout, se, zero_init_residual)


@register_model(family="3d", native_clip=(13, 160, 160))
def x3d_s(*, num_classes: int, dropout: float = 0.5, se: bool = True, zero_init_residual: bool = True) -> nn.Module:
    """X3D-S, PyTorchVideo-compatible (3.8 M params at 400 classes); 13x160x160 clips."""
    return _x3d_reference(num_classes, dropout, se, zero_init_residual)


@register_model(family="3d", native_clip=(16, 224, 224))
def x3d_m(*, num_classes: int, dropout: float = 0.5, se: bool = True, zero_init_residual: bool = True) -> nn.Module:
    """X3D-M, PyTorchVideo-compatible (3.8 M params at 400 classes); 16x224x224 clips."""
    return _x3d_reference(num_classes, dropout, se, zero_init_residual)


@register_model(family="3d")
def x3d_tiny(*, num_classes: int, dropout: float = 0.2, se: bool = True, zero_init_residual: bool = False) -> nn.Module:
    """Tiny X3D (widths 16-128, depths 1/2/3/2, 512-d embedding) for CPU training."""
    return X3D(
        num_classes,
        stem_width=16,
        widths=(16, 32, 64, 128),
        depths=(1, 2, 3, 2),
        head_dim=512,
        se_ratio=0.0625 if se else 0.0,
        dropout=dropout,
        zero_init_residual=zero_init_residual,
    )
