"""Family "3d": SlowFast R50 (Feichtenhofer, Fan, Malik, He, "SlowFast Networks for Video
Recognition", ICCV 2019), exactly PyTorchVideo 0.1.5's `slowfast_r50` (8x8 on 32-frame input).

Two ResNet-50 pathways over the same clip: Slow sees every alpha-th frame (alpha = 4) with full
width (64 -> 2048 channels); Fast sees all frames with 1/8 of the width (8 -> 256) and temporal
3x1x1 convs in every stage. After the stem and each of res2-res4 a lateral connection (7x1x1
conv, temporal stride alpha, 2x channels, BN, ReLU) carries Fast into Slow by concatenation.
Both pathways are globally pooled and concatenated (2048 + 256 = 2304 features) before the
dropout + linear classifier.

The model takes ONE clip (B, 3, T, H, W) with T a multiple of alpha (32 natively) and builds the
Slow input itself with PyTorchVideo's PackPathway rule,
`x.index_select(2, torch.linspace(0, T - 1, T // alpha).long())` (frames 0, 4, 8, 13, 17, 22,
26, 31 of 32: evenly spread, not a plain stride), so it is a drop-in for the zoo's other models.

Matched to `pytorchvideo.models.slowfast.create_slowfast` (hub `slowfast_r50`): module names are
the reference's (`blocks.0.multipathway_blocks.1.conv`, `blocks.1.multipathway_fusion.
conv_fast_to_slow`, `blocks.6.proj` ...), so a hub checkpoint's `model_state` loads with
`load_state_dict(strict=True)` at 400 classes. The pathway pools are AdaptiveAvgPool3d(1) where
the reference has AvgPool3d((8, 7, 7)) / ((32, 7, 7)): the whole feature maps at 32x224x224, and
global pooling at other clip sizes.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from vidlearn.models.registry import register_model
from vidlearn.models.resnet_ptv import (
    ClassifierHead,
    PTVNet,
    init_ptv_weights,
    resnet_stage,
    resnet_stem,
)


def pack_pathway_indices(num_frames: int, alpha: int) -> torch.Tensor:
    """The frames the Slow pathway sees: PyTorchVideo's PackPathway rule (int64 indices)."""
    return torch.linspace(0, num_frames - 1, num_frames // alpha, device="cpu").long()  # on the CPU even under a meta default


class FuseFastToSlow(nn.Module):
    """Lateral connection: concat(slow, ReLU(BN(conv_fast_to_slow(fast)))) on channels."""

    def __init__(self, dim_fast: int, fusion_ratio: int, kernel_t: int, alpha: int) -> None:
        super().__init__()
        self.conv_fast_to_slow = nn.Conv3d(
            dim_fast, dim_fast * fusion_ratio, (kernel_t, 1, 1), stride=(alpha, 1, 1), padding=(kernel_t // 2, 0, 0), bias=False
        )
        self.norm = nn.BatchNorm3d(dim_fast * fusion_ratio)
        self.activation = nn.ReLU()

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        slow, fast = x
        fuse = self.activation(self.norm(self.conv_fast_to_slow(fast)))
        return [torch.cat([slow, fuse], 1), fast]


class TwoPathwayBlock(nn.Module):
    """One stage on both pathways (`multipathway_blocks` = [slow, fast]) then `multipathway_fusion`."""

    def __init__(self, slow: nn.Module, fast: nn.Module, fusion: nn.Module) -> None:
        super().__init__()
        self.multipathway_blocks = nn.ModuleList([slow, fast])
        self.multipathway_fusion = fusion

    def forward(self, x: list[torch.Tensor]) -> list[torch.Tensor]:
        out = [block(xi) for block, xi in zip(self.multipathway_blocks, x)]
        return self.multipathway_fusion(out)


class PoolConcat(nn.Module):
    """Global average pool of each pathway, concatenated on channels: (B, C_slow + C_fast, 1, 1, 1)."""

    def __init__(self) -> None:
        super().__init__()
        self.pool = nn.ModuleList([nn.AdaptiveAvgPool3d(1), nn.AdaptiveAvgPool3d(1)])

    def forward(self, x: list[torch.Tensor]) -> torch.Tensor:
        return torch.cat([pool(xi) for pool, xi in zip(self.pool, x)], 1)


class SlowFast(PTVNet):
    """SlowFast ResNet; `alpha` frame-rate ratio, `beta_inv` Fast's channel reduction; the
    classifier is `blocks.6.proj` (alias `head`)."""

    head_prefix = "blocks.6.proj"

    def __init__(
        self,
        num_classes: int = 400,
        *,
        depths: Sequence[int] = (3, 4, 6, 3),
        width: int = 64,
        alpha: int = 4,
        beta_inv: int = 8,
        fusion_ratio: int = 2,
        fusion_kernel: int = 7,
        dropout: float = 0.5,
        zero_init_residual: bool = True,
    ) -> None:
        if len(depths) != 4 or min(depths) < 1 or width < 1 or alpha < 1 or beta_inv < 1 or width % beta_inv:
            raise ValueError(
                f"depths must be four counts >= 1 and width a positive multiple of beta_inv, got "
                f"{list(depths)}, width={width}, beta_inv={beta_inv}"
            )
        def fusion(dim_slow: int) -> FuseFastToSlow:
            return FuseFastToSlow(dim_slow // beta_inv, fusion_ratio, fusion_kernel, alpha)

        blocks: list[nn.Module] = [
            TwoPathwayBlock(resnet_stem(width, (1, 7, 7)), resnet_stem(width // beta_inv, (5, 7, 7)), fusion(width))
        ]
        dim_in, dim_out = width, width * 4
        for i, depth in enumerate(depths):
            slow_in = dim_in + dim_in * fusion_ratio // beta_inv  # Slow also carries the fused Fast channels
            stride = 1 if i == 0 else 2
            slow = resnet_stage(depth, slow_in, dim_out // 4, dim_out, 1 if i < 2 else 3, stride)
            fast = resnet_stage(depth, dim_in // beta_inv, dim_out // 4 // beta_inv, dim_out // beta_inv, 3, stride)
            blocks.append(TwoPathwayBlock(slow, fast, fusion(dim_out) if i < 3 else nn.Identity()))
            dim_in, dim_out = dim_out, dim_out * 2
        features = dim_in + dim_in // beta_inv
        blocks += [PoolConcat(), ClassifierHead(None, features, num_classes, dropout)]
        super().__init__(blocks, features)
        self.alpha = alpha
        init_ptv_weights(self, zero_init_residual)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        self.check_input(x)
        t = x.shape[2]
        if t < self.alpha or t % self.alpha:
            raise ValueError(
                f"SlowFast takes clips whose length is a multiple of alpha={self.alpha} (32 natively), got T={t}"
            )
        # the indices are constants of an exported graph: ONNX's linspace, recomputed in
        # onnxruntime, gives frame 30 where torch gives 31 (T = 32)
        frames = torch.tensor(pack_pathway_indices(int(t), self.alpha).tolist(), device=x.device)
        slow = x.index_select(2, frames)
        y: list[torch.Tensor] | torch.Tensor = [slow, x]
        for block in self.blocks[:-1]:
            y = block(y)
        return y.flatten(1)


@register_model(family="3d", native_clip=(32, 224, 224))
def slowfast_r50(*, num_classes: int, dropout: float = 0.5, width: int = 64, zero_init_residual: bool = True) -> nn.Module:
    """SlowFast R50 (8x8, alpha 4), PyTorchVideo-compatible (34.6 M params); one 32x224x224 clip in.
    `width` scales the Slow channels (64 = the reference; Fast has width / 8, so a multiple of 8)."""
    return SlowFast(num_classes, width=width, dropout=dropout, zero_init_residual=zero_init_residual)
