"""Family "transformer": Swin3D-T, the video Swin transformer (Liu et al. 2022, "Video Swin
Transformer", arXiv:2106.13230; Swin: Liu et al. 2021, arXiv:2103.14030).

2x4x4 patches (96 channels, LayerNorm) feed four stages (depths 2, 2, 6, 2; 3, 6, 12, 24 heads) of
self-attention inside local 8x7x7 windows, every second block with windows shifted by (4, 3, 3)
(a cyclic roll plus a mask keeping tokens of different regions apart), and a learned
relative-position bias per head. Patch merging (2x2 spatial neighbours -> LayerNorm -> Linear)
halves the grid and doubles the width between stages; the classifier reads the average token.

Module and parameter names are torchvision 0.28's `models/video/swin_transformer.py` `swin3d_t`
(`patch_embed.proj`, `features.S.B.attn.relative_position_bias_table`, `features.1.reduction`, ...,
`head.weight`), including the persistent `relative_position_index` buffer, which a checkpoint
carries and which is used as loaded (as the reference does). Padding to whole windows, shrinking a
window (and dropping its shift) along an axis no longer than it, taking the first `vol` rows and
columns of the position index for a shrunk window, and the -100 mask are the reference's, so any
clip size runs exactly as the reference runs it.

`dropout` is the zoo's dropout before the classifier (`head` becomes Dropout -> Linear when > 0);
torchvision's own `dropout` (inside the blocks) is `block_dropout` here.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn
from torch.nn import functional as F

from vidlearn.models.base import VideoClassifier, check_dropout, make_head
from vidlearn.models.layers import StochasticDepth, mlp
from vidlearn.models.registry import register_model

Thw = tuple[int, int, int]


def _pad_to(sizes: Sequence[int], multiple: Sequence[int]) -> Thw:
    t, h, w = ((m - s % m) % m for s, m in zip(sizes, multiple))
    return t, h, w


def _region_labels(padded: Thw, window: Thw, shift: Thw, device: torch.device) -> torch.Tensor:
    """Which of the (up to) 27 shifted regions each padded grid position belongs to, (T, H, W).
    The reference fills slices [0, -w), [-w, -s), [-s, None) with 0, 1, 2 in that order, so an axis
    with no shift ends up all 2: constant, as here."""
    labels = []
    for size, w, s in zip(padded, window, shift):
        pos = torch.arange(size, device=device)
        labels.append((pos >= size - w).long() + (pos >= size - s).long() if s > 0 else torch.zeros_like(pos))
    return labels[0][:, None, None] * 9 + labels[1][None, :, None] * 3 + labels[2][None, None, :]


def shift_mask(padded: Thw, window: Thw, shift: Thw, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(num_windows, vol, vol) additive mask: -100 between tokens of different regions, else 0."""
    t, h, w = padded
    wt, wh, ww = window
    labels = _region_labels(padded, window, shift, device)
    labels = labels.view(t // wt, wt, h // wh, wh, w // ww, ww).permute(0, 2, 4, 1, 3, 5).reshape(-1, wt * wh * ww)
    differ = labels.unsqueeze(1) != labels.unsqueeze(2)
    zero = torch.zeros((), dtype=dtype, device=device)
    return torch.where(differ, zero - 100.0, zero)


class WindowAttention3d(nn.Module):
    """Multi-head self-attention in (shifted) 3D windows with a relative-position bias table."""

    def __init__(self, dim: int, window: Thw, shift: Thw, num_heads: int, attention_dropout: float = 0.0, dropout: float = 0.0) -> None:
        super().__init__()
        self.window, self.shift, self.num_heads = tuple(window), tuple(shift), num_heads
        self.attention_dropout, self.dropout = attention_dropout, dropout
        self.qkv = nn.Linear(dim, dim * 3)
        self.proj = nn.Linear(dim, dim)
        wt, wh, ww = window
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * wt - 1) * (2 * wh - 1) * (2 * ww - 1), num_heads))
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)
        self.register_buffer("relative_position_index", self._position_index(window))

    @staticmethod
    def _position_index(window: Thw) -> torch.Tensor:
        """(vol, vol) index into the bias table of every pair of positions in a window."""
        wt, wh, ww = window
        coords = torch.stack(torch.meshgrid(torch.arange(wt), torch.arange(wh), torch.arange(ww), indexing="ij")).flatten(1)
        rel = (coords[:, :, None] - coords[:, None, :]).permute(1, 2, 0)
        rel = rel + torch.tensor([wt - 1, wh - 1, ww - 1])
        return rel[..., 0] * (2 * wh - 1) * (2 * ww - 1) + rel[..., 1] * (2 * ww - 1) + rel[..., 2]

    def _fit(self, size: Thw) -> tuple[Thw, Thw]:
        """The reference's rule: along an axis no longer than the window, the window is the axis, unshifted."""
        window = tuple(s if s <= w else w for s, w in zip(size, self.window))
        shift = tuple(0 if s <= w else sh for s, w, sh in zip(size, self.window, self.shift))
        return window, shift  # type: ignore[return-value]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, t, h, w, c = x.shape
        window, shift = self._fit((t, h, w))
        wt, wh, ww = window
        vol, heads = wt * wh * ww, self.num_heads
        bias = self.relative_position_bias_table[self.relative_position_index[:vol, :vol].flatten()]
        bias = bias.view(vol, vol, -1).permute(2, 0, 1).contiguous().unsqueeze(0)

        pt, ph, pw = _pad_to((t, h, w), window)
        x = F.pad(x, (0, 0, 0, pw, 0, ph, 0, pt))
        padded: Thw = (t + pt, h + ph, w + pw)
        shifted = sum(shift) > 0
        if shifted:
            x = torch.roll(x, shifts=(-shift[0], -shift[1], -shift[2]), dims=(1, 2, 3))
        nt, nh, nw = padded[0] // wt, padded[1] // wh, padded[2] // ww
        n_windows = nt * nh * nw
        x = x.view(b, nt, wt, nh, wh, nw, ww, c).permute(0, 1, 3, 5, 2, 4, 6, 7).reshape(b * n_windows, vol, c)

        qkv = F.linear(x, self.qkv.weight, self.qkv.bias)
        q, k, v = qkv.reshape(x.size(0), vol, 3, heads, c // heads).permute(2, 0, 3, 1, 4)
        q = q * (c // heads) ** -0.5
        attn = q.matmul(k.transpose(-2, -1)) + bias
        if shifted:
            mask = shift_mask(padded, window, shift, attn.dtype, attn.device)
            attn = attn.view(x.size(0) // n_windows, n_windows, heads, vol, vol) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, heads, vol, vol)
        attn = F.dropout(F.softmax(attn, dim=-1), p=self.attention_dropout, training=self.training)
        x = attn.matmul(v).transpose(1, 2).reshape(x.size(0), vol, c)
        x = F.dropout(F.linear(x, self.proj.weight, self.proj.bias), p=self.dropout, training=self.training)

        x = x.view(b, nt, nh, nw, wt, wh, ww, c).permute(0, 1, 4, 2, 5, 3, 6, 7).reshape(b, *padded, c)
        if shifted:
            x = torch.roll(x, shifts=shift, dims=(1, 2, 3))
        return x[:, :t, :h, :w, :].contiguous()


class SwinBlock3d(nn.Module):
    """x + drop_path(attn(norm1(x))), then x + drop_path(mlp(norm2(x)))."""

    def __init__(self, dim: int, num_heads: int, window: Thw, shift: Thw, *, dropout: float, attention_dropout: float, drop_path: float) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=1e-5)
        self.attn = WindowAttention3d(dim, window, shift, num_heads, attention_dropout=attention_dropout, dropout=dropout)
        self.stochastic_depth = StochasticDepth(drop_path)
        self.norm2 = nn.LayerNorm(dim, eps=1e-5)
        self.mlp = mlp(dim, 4 * dim, dim, dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.stochastic_depth(self.attn(self.norm1(x)))
        return x + self.stochastic_depth(self.mlp(self.norm2(x)))


class PatchMerging(nn.Module):
    """(B, T, H, W, C) -> (B, T, H/2, W/2, 2C): concatenate 2x2 spatial neighbours, LayerNorm, Linear."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.reduction = nn.Linear(4 * dim, 2 * dim, bias=False)
        self.norm = nn.LayerNorm(4 * dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-3], x.shape[-2]
        x = F.pad(x, (0, 0, 0, w % 2, 0, h % 2))
        x = torch.cat([x[..., 0::2, 0::2, :], x[..., 1::2, 0::2, :], x[..., 0::2, 1::2, :], x[..., 1::2, 1::2, :]], -1)
        return self.reduction(self.norm(x))


class PatchEmbed3d(nn.Module):
    """Pad the clip to whole patches, Conv3d with stride = kernel = patch, channels last, LayerNorm."""

    def __init__(self, patch: Thw, dim: int) -> None:
        super().__init__()
        self.patch = tuple(patch)
        self.proj = nn.Conv3d(3, dim, kernel_size=self.patch, stride=self.patch)
        self.norm = nn.LayerNorm(dim, eps=1e-5)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        pt, ph, pw = _pad_to(x.shape[-3:], self.patch)
        x = self.proj(F.pad(x, (0, pw, 0, ph, 0, pt)))
        return self.norm(x.permute(0, 2, 3, 4, 1))


class SwinTransformer3d(VideoClassifier):
    """torchvision-compatible video Swin transformer; the classifier is `head`."""

    head_prefix = "head"  # the classifier's state-dict prefix in torchvision's SwinTransformer3d

    def __init__(
        self,
        patch: Thw,
        dim: int,
        depths: Sequence[int],
        num_heads: Sequence[int],
        window: Thw,
        num_classes: int = 400,
        *,
        dropout: float = 0.0,
        block_dropout: float = 0.0,
        attention_dropout: float = 0.0,
        stochastic_depth_prob: float = 0.1,
    ) -> None:
        super().__init__()
        if not 0.0 <= stochastic_depth_prob <= 1.0:
            raise ValueError(f"stochastic_depth_prob must be in [0, 1], got {stochastic_depth_prob}")
        check_dropout(block_dropout)
        check_dropout(attention_dropout)
        self.patch_embed = PatchEmbed3d(patch, dim)
        self.pos_drop = nn.Dropout(p=block_dropout)
        layers: list[nn.Module] = []
        total, block_id = sum(depths), 0
        for stage, depth in enumerate(depths):
            width = dim * 2**stage
            blocks = []
            for i in range(depth):
                shift = (0, 0, 0) if i % 2 == 0 else tuple(w // 2 for w in window)
                drop_path = stochastic_depth_prob * float(block_id) / (total - 1)
                blocks.append(
                    SwinBlock3d(width, num_heads[stage], window, shift, dropout=block_dropout, attention_dropout=attention_dropout, drop_path=drop_path)
                )
                block_id += 1
            layers.append(nn.Sequential(*blocks))
            if stage < len(depths) - 1:
                layers.append(PatchMerging(width))
        self.features = nn.Sequential(*layers)
        self.num_features = dim * 2 ** (len(depths) - 1)
        self.norm = nn.LayerNorm(self.num_features, eps=1e-5)
        self.head = make_head(self.num_features, num_classes, dropout)
        for m in self.modules():
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[1] != 3:
            raise ValueError(f"Swin3D takes clips (B, 3, T, H, W), got shape {tuple(x.shape)}")
        x = self.features(self.pos_drop(self.patch_embed(x)))
        return F.adaptive_avg_pool3d(self.norm(x).permute(0, 4, 1, 2, 3), 1).flatten(1)


@register_model(family="transformer", native_clip=(16, 224, 224))
def swin3d_t(
    *,
    num_classes: int,
    dropout: float = 0.0,
    stochastic_depth_prob: float = 0.1,
    block_dropout: float = 0.0,
    attention_dropout: float = 0.0,
) -> nn.Module:
    """Swin3D-T: shifted-window video transformer (28.2 M params at 400 classes), torchvision-compatible."""
    return SwinTransformer3d(
        (2, 4, 4),
        96,
        [2, 2, 6, 2],
        [3, 6, 12, 24],
        (8, 7, 7),
        num_classes,
        dropout=dropout,
        block_dropout=block_dropout,
        attention_dropout=attention_dropout,
        stochastic_depth_prob=stochastic_depth_prob,
    )
