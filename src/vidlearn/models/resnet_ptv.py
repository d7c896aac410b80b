"""Family "3d": PyTorchVideo's ResNet building blocks and the Slow pathway ResNet-50 `slow_r50`.

Slow R50 is the Slow-only network of SlowFast (Feichtenhofer et al., "SlowFast Networks for Video
Recognition", ICCV 2019): a 3D ResNet-50 whose stem and first two stages are purely spatial (1x7x7
stem, 1x1x1 `conv_a`) and whose res4/res5 `conv_a` are temporal 3x1x1 convs, on 8 frames of 224x224.

Matched to PyTorchVideo 0.1.5 (`pytorchvideo.models.hub.slow_r50` -> `models.resnet.create_resnet`):
the module tree repeats the reference's (`blocks.0.conv`, `blocks.1.res_blocks.0.branch2.conv_a`,
`blocks.5.proj`...), so a hub checkpoint's `model_state` loads with `load_state_dict(strict=True)`
when the model is built with 400 classes. Differences that do not change the numbers at the native
clip: the head pools with AdaptiveAvgPool3d(1) where the reference has AvgPool3d((8, 7, 7), stride 1)
(at 8x224x224 that kernel covers the whole 8x7x7 map; other clip sizes get the global average
instead of an error or a misaligned pool), and the model returns logits (the reference also does).

The pieces here (`BasicStem`, `Bottleneck`, `ResBlock`, `ResStage`, `ClassifierHead`, `PTVNet`) are
shared with `x3d.py` and `slowfast.py`; their attribute names are PyTorchVideo's, because those
names are the keys of the published checkpoints.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence

import torch
from torch import nn

from vidlearn.models.base import VideoClassifier, check_dropout
from vidlearn.models.registry import register_model

Triple = tuple[int, int, int]


class BasicStem(nn.Module):
    """conv -> norm -> activation -> (pool); PyTorchVideo's `ResNetBasicStem` names."""

    def __init__(self, conv: nn.Module, norm: nn.Module, activation: nn.Module, pool: nn.Module | None = None) -> None:
        super().__init__()
        self.conv, self.norm, self.activation = conv, norm, activation
        self.pool = pool

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.activation(self.norm(self.conv(x)))
        return x if self.pool is None else self.pool(x)


def resnet_stem(dim_out: int, kernel: Triple) -> BasicStem:
    """ResNet stem: `kernel` conv (spatial stride 2, 'same' padding), BN, ReLU, 1x3x3 max pool (stride 2)."""
    conv = nn.Conv3d(3, dim_out, kernel, stride=(1, 2, 2), padding=tuple(k // 2 for k in kernel), bias=False)
    pool = nn.MaxPool3d((1, 3, 3), stride=(1, 2, 2), padding=(0, 1, 1))
    return BasicStem(conv, nn.BatchNorm3d(dim_out), nn.ReLU(), pool)


class Bottleneck(nn.Module):
    """conv_a -> norm_a -> act_a -> conv_b -> norm_b -> act_b -> conv_c -> norm_c (no final activation)."""

    def __init__(
        self,
        conv_a: nn.Module,
        norm_a: nn.Module,
        act_a: nn.Module,
        conv_b: nn.Module,
        norm_b: nn.Module,
        act_b: nn.Module,
        conv_c: nn.Module,
        norm_c: nn.BatchNorm3d,
    ) -> None:
        super().__init__()
        self.conv_a, self.norm_a, self.act_a = conv_a, norm_a, act_a
        self.conv_b, self.norm_b, self.act_b = conv_b, norm_b, act_b
        self.conv_c, self.norm_c = conv_c, norm_c

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.act_a(self.norm_a(self.conv_a(x)))
        x = self.act_b(self.norm_b(self.conv_b(x)))
        return self.norm_c(self.conv_c(x))


def resnet_bottleneck(dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, spatial_stride: int) -> Bottleneck:
    """ResNet bottleneck: `temporal_kernel`x1x1 conv_a, 1x3x3 conv_b (carrying the spatial stride), 1x1x1 conv_c."""
    t = temporal_kernel
    return Bottleneck(
        nn.Conv3d(dim_in, dim_inner, (t, 1, 1), padding=(t // 2, 0, 0), bias=False),
        nn.BatchNorm3d(dim_inner),
        nn.ReLU(),
        nn.Conv3d(dim_inner, dim_inner, (1, 3, 3), stride=(1, spatial_stride, spatial_stride), padding=(0, 1, 1), bias=False),
        nn.BatchNorm3d(dim_inner),
        nn.ReLU(),
        nn.Conv3d(dim_inner, dim_out, 1, bias=False),
        nn.BatchNorm3d(dim_out),
    )


class ResBlock(nn.Module):
    """activation(shortcut(x) + branch2(x)); the shortcut is `branch1_conv` (+ `branch1_norm`) or identity."""

    def __init__(
        self, branch2: nn.Module, branch1_conv: nn.Module | None = None, branch1_norm: nn.Module | None = None
    ) -> None:
        super().__init__()
        self.branch1_conv = branch1_conv
        self.branch1_norm = branch1_norm
        self.branch2 = branch2
        self.activation = nn.ReLU()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        shortcut = x
        if self.branch1_conv is not None:
            shortcut = self.branch1_conv(x)
            if self.branch1_norm is not None:
                shortcut = self.branch1_norm(shortcut)
        return self.activation(shortcut + self.branch2(x))


class ResStage(nn.Module):
    """A sequence of residual blocks, held as `res_blocks`."""

    def __init__(self, res_blocks: Sequence[nn.Module]) -> None:
        super().__init__()
        self.res_blocks = nn.ModuleList(res_blocks)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        for block in self.res_blocks:
            x = block(x)
        return x


def resnet_stage(depth: int, dim_in: int, dim_inner: int, dim_out: int, temporal_kernel: int, spatial_stride: int) -> ResStage:
    """A ResNet stage: the first block changes width/resolution (1x1x1 projection shortcut + BN)."""
    blocks = []
    for i in range(depth):
        cin, stride = (dim_in, spatial_stride) if i == 0 else (dim_out, 1)
        shortcut_conv = shortcut_norm = None
        if cin != dim_out or stride != 1:
            shortcut_conv = nn.Conv3d(cin, dim_out, 1, stride=(1, stride, stride), bias=False)
            shortcut_norm = nn.BatchNorm3d(dim_out)
        branch2 = resnet_bottleneck(cin, dim_inner, dim_out, temporal_kernel, stride)
        blocks.append(ResBlock(branch2, shortcut_conv, shortcut_norm))
    return ResStage(blocks)


class ClassifierHead(nn.Module):
    """The reference's `ResNetBasicHead`: (pool) -> dropout -> proj. Only `pool` belongs to the
    embedding (`PTVNet.forward_features`); dropout + proj are the classifier (`PTVNet.head`)."""

    def __init__(self, pool: nn.Module | None, in_features: int, num_classes: int, dropout: float) -> None:
        super().__init__()
        self.pool = pool
        self.dropout: nn.Module = nn.Dropout(dropout) if check_dropout(dropout) > 0 else nn.Identity()
        self.proj: nn.Module = nn.Linear(in_features, num_classes)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if self.pool is not None:
            x = self.pool(x)
        return self.proj(self.dropout(x.flatten(1)))


class PTVNet(VideoClassifier):
    """A PyTorchVideo `Net`: `blocks` run in order, the last one a `ClassifierHead`.

    `model.head` is the classifier: `Sequential(dropout, proj)` (names kept, so `head[0]` is the
    dropout), or `proj` alone when there is no dropout. Assigning `model.head = module` drops the
    dropout and puts `module` at `blocks.<last>.proj`, so a plain `nn.Linear` head keeps the
    reference's key names (`head_prefix`)."""

    head_prefix: str = ""

    def __init__(self, blocks: Sequence[nn.Module], num_features: int) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(blocks)
        self.num_features = num_features
        if not isinstance(self.blocks[-1], ClassifierHead):
            raise TypeError("the last block of a PTVNet must be a ClassifierHead")

    @property
    def head(self) -> nn.Module:
        """The classifier (the reference's `blocks.<last>.dropout` + `.proj`)."""
        last = self.blocks[-1]
        if isinstance(last.dropout, nn.Identity):
            return last.proj
        return nn.Sequential(OrderedDict(dropout=last.dropout, proj=last.proj))

    def __setattr__(self, name: str, value: object) -> None:
        if name == "head":
            if not isinstance(value, nn.Module):
                raise TypeError(f"model.head must be an nn.Module, got {type(value).__name__}")
            last = self.blocks[-1]
            last.dropout = nn.Identity()
            last.proj = value
            return
        super().__setattr__(name, value)

    def check_input(self, x: torch.Tensor) -> None:
        """Raise ValueError unless `x` is a (B, 3, T, H, W) clip."""
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"{type(self).__name__} takes clips (B, 3, T, H, W), got shape {tuple(x.shape)}")

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        for block in self.blocks[:-1]:
            x = block(x)
        pool = self.blocks[-1].pool
        return (x if pool is None else pool(x)).flatten(1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        last = self.blocks[-1]
        return last.proj(last.dropout(self.forward_features(x)))


def init_ptv_weights(model: nn.Module, zero_init_residual: bool = True) -> None:
    """The reference's initialisation (`init_net_weights`): convs Kaiming-normal (fan_out), BN
    weight 1 / bias 0 (the last BN of each bottleneck 0 when `zero_init_residual`), linear N(0, 0.01)."""
    for m in model.modules():
        if isinstance(m, nn.Conv3d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.BatchNorm3d):
            nn.init.ones_(m.weight)
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0.0, 0.01)
            nn.init.zeros_(m.bias)
    if zero_init_residual:
        for m in model.modules():
            if isinstance(m, Bottleneck):
                nn.init.zeros_(m.norm_c.weight)


class SlowResNet(PTVNet):
    """Slow-only 3D ResNet-50 (PyTorchVideo `create_resnet` with the `slow_r50` hub settings)."""

    head_prefix = "blocks.5.proj"

    def __init__(
        self,
        num_classes: int = 400,
        *,
        depths: Sequence[int] = (3, 4, 6, 3),
        width: int = 64,
        dropout: float = 0.5,
        zero_init_residual: bool = True,
    ) -> None:
        if len(depths) != 4 or min(depths) < 1 or width < 1:
            raise ValueError(f"depths must be four counts >= 1 and width >= 1, got {list(depths)}, {width}")
        blocks: list[nn.Module] = [resnet_stem(width, (1, 7, 7))]
        dim_in, dim_out = width, width * 4
        for i, depth in enumerate(depths):
            temporal = 1 if i < 2 else 3  # res2/res3 purely spatial, res4/res5 3x1x1 conv_a
            blocks.append(resnet_stage(depth, dim_in, dim_out // 4, dim_out, temporal, 1 if i == 0 else 2))
            dim_in, dim_out = dim_out, dim_out * 2
        blocks.append(ClassifierHead(nn.AdaptiveAvgPool3d(1), dim_in, num_classes, dropout))
        super().__init__(blocks, dim_in)
        init_ptv_weights(self, zero_init_residual)


@register_model(family="3d", native_clip=(8, 224, 224))
def slow_r50(*, num_classes: int, dropout: float = 0.5, width: int = 64, zero_init_residual: bool = True) -> nn.Module:
    """Slow R50 (8x8), PyTorchVideo-compatible (32.5 M params at 400 classes); 8x224x224 clips.
    `width` scales every channel count (64 = the reference)."""
    return SlowResNet(num_classes, width=width, dropout=dropout, zero_init_residual=zero_init_residual)
