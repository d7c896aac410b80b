"""Family "transformer": MViTv2-S, the improved multiscale vision transformer (Li et al. 2022, "MViTv2:
Improved Multiscale Vision Transformers for Classification and Detection", arXiv:2112.01526; MViT:
Fan et al. 2021, arXiv:2104.11227).

A 3x7x7 conv (stride 2x4x4) turns the clip into 8x56x56 tokens plus a class token. Sixteen blocks of
pooling attention follow: queries, keys and values are pooled by depthwise 3x3x3 convs (then
LayerNorm), three blocks halve the query resolution and double the width, attention carries
decomposed relative-position terms (t, h, w tables) and a pooled-query residual. The classifier reads
the class token.

Module and parameter names are torchvision 0.28's `models/video/mvit.py` `mvit_v2_s` (`conv_proj`,
`pos_encoding.class_token`, `blocks.N.attn.rel_pos_h`, `blocks.N.attn.pool_q.pool.weight`, ...,
`head.1.weight`), so its Kinetics-400 checkpoint loads with `load_state_dict(strict=True)`; the
relative-position arithmetic (distances, the table interpolation, the order of the sums) is the
reference's. The token grid is read from the patch embedding's output, so other clip sizes run as
well (the relative-position tables are then interpolated, as in the reference's own code); only the
native 16x224x224 clip is what the published weights and the parity fixture cover.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn
from torch.nn import functional as F

from vidlearn.models.base import VideoClassifier, check_dropout
from vidlearn.models.layers import StochasticDepth, mlp
from vidlearn.models.registry import register_model

Thw = tuple[int, int, int]
_EPS = 1e-6  # torchvision's MViT LayerNorm eps


@dataclass(frozen=True)
class BlockSpec:
    """One block of the network (torchvision's MSBlockConfig)."""

    num_heads: int
    dim_in: int
    dim_out: int
    stride_q: Thw
    stride_kv: Thw
    kernel: Thw = (3, 3, 3)


def _mvit_v2_s_blocks() -> list[BlockSpec]:
    heads = [1, 2, 2, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 4, 8, 8]
    dims = [96, 96, 192, 192] + [384] * 11 + [768, 768]  # dims[i] -> dims[i + 1]
    q_down = {1, 3, 14}  # blocks halving the query (and token) resolution
    kv = [8, 4, 4] + [2] * 11 + [1, 1]
    return [
        BlockSpec(heads[i], dims[i], dims[i + 1], (1, 2, 2) if i in q_down else (1, 1, 1), (1, kv[i], kv[i]))
        for i in range(16)
    ]


class Pool(nn.Module):
    """Pool the token grid of (B, heads, 1 + THW, C) (the class token passes through), then normalise."""

    def __init__(self, pool: nn.Module, norm: nn.Module | None) -> None:
        super().__init__()
        self.pool = pool
        self.norm_act = nn.Sequential(norm) if norm is not None else None

    def forward(self, x: torch.Tensor, thw: Thw) -> tuple[torch.Tensor, Thw]:
        squeeze = x.ndim == 3
        if squeeze:
            x = x.unsqueeze(1)
        cls, grid = x[:, :, :1], x[:, :, 1:]
        b, n, length, c = grid.shape
        grid = grid.transpose(2, 3).reshape((b * n, c) + tuple(thw)).contiguous()
        grid = self.pool(grid)
        out_thw: Thw = (grid.shape[2], grid.shape[3], grid.shape[4])
        x = torch.cat((cls, grid.reshape(b, n, c, -1).transpose(2, 3)), dim=2)
        if self.norm_act is not None:
            x = self.norm_act(x)
        return (x.squeeze(1) if squeeze else x), out_thw


def _resize_table(table: torch.Tensor, length: int) -> torch.Tensor:
    """Linearly interpolate a (L, C) relative-position table to `length` rows (as the reference)."""
    if table.shape[0] == length:
        return table
    return F.interpolate(table.permute(1, 0).unsqueeze(0), size=length, mode="linear").squeeze(0).permute(1, 0)


def _distances(q_len: int, k_len: int, device: torch.device) -> torch.Tensor:
    """Integer relative distances (q_len, k_len) between query and key positions on grids of two scales."""
    q_ratio, k_ratio = max(k_len / q_len, 1.0), max(q_len / k_len, 1.0)
    q_pos = torch.arange(q_len, device=device)[:, None] * q_ratio
    k_pos = (torch.arange(k_len, device=device)[None, :] + (1.0 - k_len)) * k_ratio
    return (q_pos - k_pos).long()


def relative_position_logits(
    q: torch.Tensor, q_thw: Thw, k_thw: Thw, rel_h: torch.Tensor, rel_w: torch.Tensor, rel_t: torch.Tensor
) -> torch.Tensor:
    """Decomposed relative-position terms (B, heads, QTHW, KTHW) for queries q (B, heads, 1 + QTHW, C)."""
    (qt, qh, qw), (kt, kh, kw) = q_thw, k_thw
    r_h = _resize_table(rel_h, 2 * max(qh, kh) - 1)[_distances(qh, kh, q.device)]
    r_w = _resize_table(rel_w, 2 * max(qw, kw) - 1)[_distances(qw, kw, q.device)]
    r_t = _resize_table(rel_t, 2 * max(qt, kt) - 1)[_distances(qt, kt, q.device)]
    b, heads, _, c = q.shape
    grid = q[:, :, 1:].reshape(b, heads, qt, qh, qw, c)
    along_h = torch.einsum("bythwc,hkc->bythwk", grid, r_h)
    along_w = torch.einsum("bythwc,wkc->bythwk", grid, r_w)
    per_t = grid.permute(2, 0, 1, 3, 4, 5).reshape(qt, b * heads * qh * qw, c)
    along_t = torch.matmul(per_t, r_t.transpose(1, 2)).transpose(0, 1)
    along_t = along_t.view(b, heads, qh, qw, qt, kt).permute(0, 1, 4, 2, 3, 5)
    rel = (
        along_h[:, :, :, :, :, None, :, None] + along_w[:, :, :, :, :, None, None, :] + along_t[:, :, :, :, :, :, None, None]
    )
    return rel.reshape(b, heads, qt * qh * qw, kt * kh * kw)


class MultiscaleAttention(nn.Module):
    """Pooling attention with relative positions and a pooled-query residual (MViTv2)."""

    def __init__(self, grid: Sequence[int], spec: BlockSpec, dim_out: int, attention_dropout: float) -> None:
        super().__init__()
        self.num_heads = spec.num_heads
        self.head_dim = dim_out // spec.num_heads
        self.dim_out = dim_out
        self.scaler = 1.0 / math.sqrt(self.head_dim)
        self.qkv = nn.Linear(spec.dim_in, 3 * dim_out)
        layers: list[nn.Module] = [nn.Linear(dim_out, dim_out)]
        if attention_dropout > 0.0:
            layers.append(nn.Dropout(attention_dropout))
        self.project = nn.Sequential(*layers)
        padding = tuple(k // 2 for k in spec.kernel)

        def pool(stride: Thw) -> Pool:
            conv = nn.Conv3d(self.head_dim, self.head_dim, spec.kernel, stride, padding, groups=self.head_dim, bias=False)
            return Pool(conv, nn.LayerNorm(self.head_dim, eps=_EPS))

        self.pool_q = pool(spec.stride_q)
        self.pool_k = pool(spec.stride_kv)
        self.pool_v = pool(spec.stride_kv)
        size = max(grid[1:])
        spatial = 2 * max(size // spec.stride_q[1], size // spec.stride_kv[1]) - 1
        self.rel_pos_h = nn.Parameter(torch.zeros(spatial, self.head_dim))
        self.rel_pos_w = nn.Parameter(torch.zeros(spatial, self.head_dim))
        self.rel_pos_t = nn.Parameter(torch.zeros(2 * grid[0] - 1, self.head_dim))
        for table in (self.rel_pos_h, self.rel_pos_w, self.rel_pos_t):
            nn.init.trunc_normal_(table, std=0.02)

    def forward(self, x: torch.Tensor, thw: Thw) -> tuple[torch.Tensor, Thw]:
        b, n, _ = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.num_heads, self.head_dim).transpose(1, 3).unbind(dim=2)
        k, k_thw = self.pool_k(k, thw)
        v = self.pool_v(v, thw)[0]
        q, thw = self.pool_q(q, thw)
        attn = torch.matmul(self.scaler * q, k.transpose(2, 3))
        rel = relative_position_logits(q, thw, k_thw, self.rel_pos_h, self.rel_pos_w, self.rel_pos_t)
        attn = attn + F.pad(rel, (1, 0, 1, 0))  # no relative position for the class token's row and column
        x = torch.matmul(attn.softmax(dim=-1), v)
        x = torch.cat((x[:, :, :1], x[:, :, 1:] + q[:, :, 1:]), dim=2)  # pooled-query residual, not for the class token
        return self.project(x.transpose(1, 2).reshape(b, -1, self.dim_out)), thw


class MultiscaleBlock(nn.Module):
    """norm -> pooling attention (+ pooled skip, projected when the width changes) -> norm -> MLP."""

    def __init__(self, grid: Sequence[int], spec: BlockSpec, attention_dropout: float, drop_path: float) -> None:
        super().__init__()
        self.pool_skip: Pool | None = None
        if math.prod(spec.stride_q) > 1:
            kernel = tuple(s + 1 if s > 1 else s for s in spec.stride_q)
            self.pool_skip = Pool(nn.MaxPool3d(kernel, stride=spec.stride_q, padding=tuple(k // 2 for k in kernel)), None)
        self.norm1 = nn.LayerNorm(spec.dim_in, eps=_EPS)
        self.norm2 = nn.LayerNorm(spec.dim_out, eps=_EPS)
        self.attn = MultiscaleAttention(grid, spec, spec.dim_out, attention_dropout)
        self.mlp = mlp(spec.dim_out, 4 * spec.dim_out, spec.dim_out, attention_dropout)
        self.stochastic_depth = StochasticDepth(drop_path)
        self.project = nn.Linear(spec.dim_in, spec.dim_out) if spec.dim_in != spec.dim_out else None

    def forward(self, x: torch.Tensor, thw: Thw) -> tuple[torch.Tensor, Thw]:
        x_norm = self.norm1(x)
        x_attn, thw_out = self.attn(x_norm, thw)
        x = x if self.project is None else self.project(x_norm)
        x_skip = x if self.pool_skip is None else self.pool_skip(x, thw)[0]
        x = x_skip + self.stochastic_depth(x_attn)
        return x + self.stochastic_depth(self.mlp(self.norm2(x))), thw_out


class ClassToken(nn.Module):
    """Prepends the learned class token (torchvision's `pos_encoding`; MViTv2 has no absolute positions)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.class_token = nn.Parameter(torch.zeros(dim))
        nn.init.trunc_normal_(self.class_token, std=0.02)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat((self.class_token.expand(x.size(0), -1).unsqueeze(1), x), dim=1)


class MViT(VideoClassifier):
    """torchvision-compatible MViTv2; the classifier is `head` (Dropout -> Linear, as the reference)."""

    head_prefix = "head"  # the classifier's state-dict prefix in torchvision's MViT (head.1.weight)

    def __init__(
        self,
        blocks: Sequence[BlockSpec],
        num_classes: int = 400,
        *,
        dropout: float = 0.5,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.2,
        clip: Thw = (16, 224, 224),
    ) -> None:
        super().__init__()
        if not 0.0 <= stochastic_depth_prob <= 1.0:
            raise ValueError(f"stochastic_depth_prob must be in [0, 1], got {stochastic_depth_prob}")
        width = blocks[0].dim_in
        self.conv_proj = nn.Conv3d(3, width, kernel_size=(3, 7, 7), stride=(2, 4, 4), padding=(1, 3, 3))
        grid = [size // stride for size, stride in zip(clip, self.conv_proj.stride)]
        self.pos_encoding = ClassToken(width)
        self.blocks = nn.ModuleList()
        for i, spec in enumerate(blocks):
            drop_path = stochastic_depth_prob * i / (len(blocks) - 1.0)
            self.blocks.append(MultiscaleBlock(grid, spec, attention_dropout, drop_path))
            grid = [size // stride for size, stride in zip(grid, spec.stride_q)]
        self.num_features = blocks[-1].dim_out
        self.norm = nn.LayerNorm(self.num_features, eps=_EPS)
        self.head = nn.Sequential(nn.Dropout(check_dropout(dropout)), nn.Linear(self.num_features, num_classes))
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"MViT takes clips (B, 3, T, H, W), got shape {tuple(x.shape)}")
        x = self.conv_proj(x)
        thw: Thw = (x.shape[2], x.shape[3], x.shape[4])
        x = self.pos_encoding(x.flatten(2).transpose(1, 2))
        for block in self.blocks:
            x, thw = block(x, thw)
        return self.norm(x)[:, 0]


@register_model(family="transformer", native_clip=(16, 224, 224))
def mvit_v2_s(*, num_classes: int, dropout: float = 0.5, stochastic_depth_prob: float = 0.2, attention_dropout: float = 0.0) -> nn.Module:
    """MViTv2-S: multiscale pooling-attention transformer (34.5 M params at 400 classes), torchvision-compatible."""
    return MViT(
        _mvit_v2_s_blocks(), num_classes, dropout=dropout, attention_dropout=attention_dropout, stochastic_depth_prob=stochastic_depth_prob
    )
