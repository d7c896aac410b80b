"""Family "transformer": a small video ViT with divided space-time attention (TimeSformer style).

Tubelet embedding (Conv3d, kernel = stride = (tubelet, patch, patch)); learned positional embeddings
for time and for space, added separately (sized from `num_frames` and `img_size`: the model takes
exactly that clip size and raises ValueError otherwise); blocks of temporal attention, then spatial
attention (the CLS token joins every frame's spatial attention and is averaged back), then an MLP;
CLS-token or mean pooling. Attention is written with plain matmuls, so it exports to ONNX.
"""

from __future__ import annotations

import torch
from torch import nn

from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.registry import register_model

POOLS = ("cls", "mean")


class Attention(nn.Module):
    """Multi-head self-attention over (N, L, D)."""

    def __init__(self, dim: int, heads: int) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"dim ({dim}) must be divisible by heads ({heads})")
        self.heads = heads
        self.scale = (dim // heads) ** -0.5
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        _, length, dim = x.shape
        qkv = self.qkv(x).reshape(-1, length, 3, self.heads, dim // self.heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]  # (N, heads, L, head_dim)
        attn = torch.softmax((q * self.scale) @ k.transpose(-2, -1), dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(-1, length, dim))


class Mlp(nn.Sequential):
    """Linear -> GELU -> Linear."""

    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__(nn.Linear(dim, hidden), nn.GELU(), nn.Linear(hidden, dim))


class DividedSpaceTimeBlock(nn.Module):
    """Pre-norm block: temporal attention (per patch position), spatial attention (per frame), MLP."""

    def __init__(self, dim: int, heads: int, mlp_ratio: float, frames: int, patches: int, cls: bool) -> None:
        super().__init__()
        self.frames, self.patches, self.cls = frames, patches, cls
        self.norm_t = nn.LayerNorm(dim)
        self.attn_t = Attention(dim, heads)
        self.norm_s = nn.LayerNorm(dim)
        self.attn_s = Attention(dim, heads)
        self.norm_mlp = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        t, n, d = self.frames, self.patches, x.shape[-1]
        cls, tokens = (x[:, :1], x[:, 1:]) if self.cls else (None, x)
        # temporal attention: one sequence of T tokens per patch position
        xt = tokens.reshape(-1, t, n, d).transpose(1, 2).reshape(-1, t, d)
        xt = xt + self.attn_t(self.norm_t(xt))
        tokens = xt.reshape(-1, n, t, d).transpose(1, 2).reshape(-1, n, d)  # (B*T, N, D)
        # spatial attention: one sequence of N tokens (+ CLS) per frame
        if cls is not None:
            tokens = torch.cat([cls.expand(-1, t, -1).reshape(-1, 1, d), tokens], dim=1)
        tokens = tokens + self.attn_s(self.norm_s(tokens))
        if cls is not None:
            cls = tokens[:, :1].reshape(-1, t, d).mean(dim=1, keepdim=True)
            tokens = tokens[:, 1:]
        x = tokens.reshape(-1, t * n, d)
        if cls is not None:
            x = torch.cat([cls, x], dim=1)
        return x + self.mlp(self.norm_mlp(x))


class VideoViT(VideoClassifier):
    """Tubelet-embedding video transformer with divided space-time attention."""

    def __init__(
        self,
        num_classes: int,
        *,
        num_frames: int = 16,
        img_size: int = 112,
        patch_size: int = 16,
        tubelet: int = 2,
        dim: int = 192,
        depth: int = 4,
        heads: int = 3,
        mlp_ratio: float = 4.0,
        pool: str = "cls",
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        if pool not in POOLS:
            raise ValueError(f"pool must be one of {POOLS}, got {pool!r}")
        if num_frames % tubelet or img_size % patch_size:
            raise ValueError(
                f"num_frames ({num_frames}) must be a multiple of tubelet ({tubelet}) and "
                f"img_size ({img_size}) a multiple of patch_size ({patch_size})"
            )
        if depth < 1:
            raise ValueError(f"depth must be >= 1, got {depth}")
        self.input_size = (num_frames, img_size, img_size)
        self.grid = (num_frames // tubelet, img_size // patch_size, img_size // patch_size)
        t, n = self.grid[0], self.grid[1] * self.grid[2]
        self.patch_embed = nn.Conv3d(3, dim, (tubelet, patch_size, patch_size), (tubelet, patch_size, patch_size))
        self.pos_time = nn.Parameter(torch.zeros(1, t, 1, dim))
        self.pos_space = nn.Parameter(torch.zeros(1, 1, n, dim))
        self.pool = pool
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim)) if pool == "cls" else None
        self.blocks = nn.Sequential(*(DividedSpaceTimeBlock(dim, heads, mlp_ratio, t, n, pool == "cls") for _ in range(depth)))
        self.norm = nn.LayerNorm(dim)
        self.num_features = dim
        self.head = make_head(dim, num_classes, dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        for p in (self.pos_time, self.pos_space, self.cls_token):
            if p is not None:
                nn.init.trunc_normal_(p, std=0.02)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if tuple(x.shape[1:]) != (3, *self.input_size):
            t, s, _ = self.input_size
            raise ValueError(
                f"this video transformer was built for clips of 3x{t}x{s}x{s} (C x num_frames x img_size x img_size), "
                f"got {'x'.join(str(v) for v in x.shape[1:])}; build it with num_frames/img_size matching the clip"
            )
        t, n, d = self.grid[0], self.grid[1] * self.grid[2], self.num_features
        tokens = self.patch_embed(x).flatten(2).transpose(1, 2)  # (B, T'*N, D), time-major
        tokens = (tokens.reshape(-1, t, n, d) + self.pos_time + self.pos_space).reshape(-1, t * n, d)
        if self.cls_token is not None:
            tokens = torch.cat([self.cls_token.expand(tokens.shape[0], -1, -1), tokens], dim=1)
        tokens = self.norm(self.blocks(tokens))
        return tokens[:, 0] if self.cls_token is not None else tokens.mean(dim=1)


@register_model(family="transformer")
def vit_tiny_video(
    *,
    num_classes: int,
    dropout: float = 0.0,
    num_frames: int = 16,
    img_size: int = 112,
    patch_size: int = 16,
    tubelet: int = 2,
    dim: int = 192,
    depth: int = 4,
    heads: int = 3,
    mlp_ratio: float = 4.0,
    pool: str = "cls",
) -> nn.Module:
    """Small video ViT (dim 192, 4 divided space-time blocks) for clips of exactly num_frames x img_size^2."""
    return VideoViT(
        num_classes,
        num_frames=num_frames,
        img_size=img_size,
        patch_size=patch_size,
        tubelet=tubelet,
        dim=dim,
        depth=depth,
        heads=heads,
        mlp_ratio=mlp_ratio,
        pool=pool,
        dropout=dropout,
    )
