"""Family "transformer": TimeSformer (Bertasius, Wang & Torresani, "Is Space-Time Attention All You
Need for Video Understanding?", ICML 2021), divided space-time attention, as a classifier.

Architecture: every frame is cut into 16x16 patches by a Conv2d; a CLS token; learned spatial position
embeddings (CLS + H/16 x W/16) added per frame, then learned time embeddings (one per frame) added to
the patch tokens. Each block: temporal attention (per patch position, over the T frames; LayerNorm
before it, and a "temporal FC" `temporal_dense` after it) added to the patches; spatial attention per
frame over [CLS, its patches] (LayerNorm before), where the CLS token, copied into every frame, is
averaged back over the frames; then a pre-norm exact-GELU MLP; all with residuals. A final LayerNorm;
the CLS token goes to the linear classifier.

Reference matched: Hugging Face transformers 5.23 `TimesformerForVideoClassification`
(`models/timesformer/modeling_timesformer.py`, attention_type "divided_space_time"), whose state-dict
keys the module tree gives exactly (`timesformer.embeddings.cls_token`, `timesformer.encoder.layer.0.
temporal_attention.attention.qkv.weight`, `...temporal_dense.weight`, `classifier.weight`), so an HF
checkpoint loads with `strict=True`. Numerics are the reference's; the layout is not: the patch
tokens stay a (B, T, N, D) tensor beside the CLS token instead of HF's flat patch-major sequence, and
the last block skips the MLP of the patch tokens, which nothing reads (only the CLS token is
classified). The classifier keeps HF's name `classifier` (alias `model.head`). The model takes
(B, 3, T, H, W) (HF takes (B, T, 3, H, W)) at exactly the clip size it was built for: HF's blocks read
the grid from the config too, so another size is a ValueError here rather than silently wrong output.
Attention is torch's `scaled_dot_product_attention`, which exports to ONNX.
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.registry import register_model
from vidlearn.models.videomae import HIDDEN_ACTS, holder

ATTENTION_TYPES = ("divided_space_time",)


class QKVAttention(nn.Module):
    """Multi-head self-attention with one fused qkv projection (HF's TimesformerSelfAttention)."""

    def __init__(self, dim: int, heads: int, qkv_bias: bool) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden_size ({dim}) must be a multiple of num_attention_heads ({heads})")
        self.heads = heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4).unbind(0)
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)


def attention_block(dim: int, heads: int, qkv_bias: bool) -> nn.Module:
    """`attention.qkv` + `output.dense`, as HF's TimeSformerAttention names them."""
    return holder(attention=QKVAttention(dim, heads, qkv_bias), output=holder(dense=nn.Linear(dim, dim)))


def _attend(block: nn.Module, x: torch.Tensor) -> torch.Tensor:
    return block.output.dense(block.attention(x))


class Layer(nn.Module):
    """Divided space-time block on patch tokens (B, T, N, D) and the CLS token (B, 1, D)."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, eps: float, qkv_bias: bool) -> None:
        super().__init__()
        self.attention = attention_block(dim, heads, qkv_bias)
        self.intermediate = holder(dense=nn.Linear(dim, mlp_dim))
        self.output = holder(dense=nn.Linear(mlp_dim, dim))
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)
        self.temporal_layernorm = nn.LayerNorm(dim, eps=eps)
        self.temporal_attention = attention_block(dim, heads, qkv_bias)
        self.temporal_dense = nn.Linear(dim, dim)

    def mlp(self, x: torch.Tensor) -> torch.Tensor:
        return x + self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x))))

    def forward(self, cls: torch.Tensor, patches: torch.Tensor, last: bool = False) -> tuple[torch.Tensor, torch.Tensor]:
        b, t, n, d = patches.shape
        # temporal attention: one sequence of T tokens per patch position, then the temporal FC
        xt = patches.transpose(1, 2).reshape(b * n, t, d)
        xt = self.temporal_dense(_attend(self.temporal_attention, self.temporal_layernorm(xt)))
        patches = patches + xt.view(b, n, t, d).transpose(1, 2)
        # spatial attention: one sequence [CLS, N patches] per frame; CLS averaged back over frames
        xs = torch.cat([cls.expand(b, t, d).reshape(b * t, 1, d), patches.reshape(b * t, n, d)], dim=1)
        xs = _attend(self.attention, self.layernorm_before(xs))
        cls = cls + xs[:, 0].view(b, t, d).mean(1, keepdim=True)
        patches = patches + xs[:, 1:].view(b, t, n, d)
        return self.mlp(cls), (patches if last else self.mlp(patches))


class Embeddings(nn.Module):
    """Per-frame patch embedding, CLS token, spatial and time position embeddings (HF's names)."""

    def __init__(self, dim: int, num_frames: int, image_size: int, patch_size: int) -> None:
        super().__init__()
        patches = (image_size // patch_size) ** 2
        self.patch_embeddings = holder(projection=nn.Conv2d(3, dim, patch_size, patch_size))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dim))
        self.position_embeddings = nn.Parameter(torch.zeros(1, patches + 1, dim))
        self.time_embeddings = nn.Parameter(torch.zeros(1, num_frames, dim))

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b, c, t, h, w = x.shape
        frames = x.transpose(1, 2).reshape(b * t, c, h, w)
        patches = self.patch_embeddings.projection(frames).flatten(2).transpose(1, 2)  # (B*T, N, D)
        patches = patches + self.position_embeddings[:, 1:]
        d = patches.shape[-1]
        patches = patches.view(b, t, -1, d) + self.time_embeddings.view(1, t, 1, d)
        cls = (self.cls_token + self.position_embeddings[:, :1]).expand(b, 1, d)
        return cls, patches


class TimeSformer(VideoClassifier):
    """TimeSformer classifier with HF's module names; the classifier is `classifier` (alias `head`)."""

    head_prefix = "classifier"

    def __init__(
        self,
        num_classes: int,
        *,
        dropout: float = 0.0,
        image_size: int = 224,
        patch_size: int = 16,
        num_frames: int = 8,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        layer_norm_eps: float = 1e-6,
        qkv_bias: bool = True,
        attention_type: str = "divided_space_time",
        hidden_act: str = "gelu",
    ) -> None:
        super().__init__()
        if attention_type not in ATTENTION_TYPES:
            raise ValueError(f"attention_type must be one of {ATTENTION_TYPES}, got {attention_type!r}")
        if hidden_act not in HIDDEN_ACTS:
            raise ValueError(f"hidden_act must be one of {HIDDEN_ACTS}, got {hidden_act!r}")
        if image_size % patch_size or num_frames < 1 or num_hidden_layers < 1:
            raise ValueError(
                f"image_size ({image_size}) must be a multiple of patch_size ({patch_size}), "
                f"num_frames ({num_frames}) and num_hidden_layers ({num_hidden_layers}) >= 1"
            )
        self.input_size = (num_frames, image_size, image_size)
        layers = [
            Layer(hidden_size, num_attention_heads, intermediate_size, layer_norm_eps, qkv_bias) for _ in range(num_hidden_layers)
        ]
        self.timesformer = holder(
            embeddings=Embeddings(hidden_size, num_frames, image_size, patch_size),
            encoder=holder(layer=nn.ModuleList(layers)),
            layernorm=nn.LayerNorm(hidden_size, eps=layer_norm_eps),
        )
        self.num_features = hidden_size
        self.classifier = make_head(hidden_size, num_classes, dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        """HF's `_init_weights`: truncated normal(0.02) weights and CLS/position embeddings, zero biases."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv2d)):
                nn.init.trunc_normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)
        emb = self.timesformer.embeddings
        nn.init.trunc_normal_(emb.cls_token, std=0.02)
        nn.init.trunc_normal_(emb.position_embeddings, std=0.02)

    @property
    def head(self) -> nn.Module:
        """The classifier (HF's `classifier`); assigning `model.head = ...` replaces `classifier`."""
        return self.classifier

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__("classifier" if name == "head" else name, value)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, hidden_size): the final LayerNorm of the CLS token."""
        if tuple(x.shape[1:]) != (3, *self.input_size):
            t, s, _ = self.input_size
            raise ValueError(
                f"TimeSformer was built for clips of 3x{t}x{s}x{s} (C x num_frames x image_size x image_size), "
                f"got {'x'.join(str(v) for v in x.shape[1:])}"
            )
        cls, patches = self.timesformer.embeddings(x)
        layers = self.timesformer.encoder.layer
        for i, layer in enumerate(layers):
            cls, patches = layer(cls, patches, last=i == len(layers) - 1)
        return self.timesformer.layernorm(cls[:, 0])


@register_model(family="transformer", native_clip=(8, 224, 224))
def timesformer_base(
    *,
    num_classes: int,
    dropout: float = 0.0,
    image_size: int = 224,
    patch_size: int = 16,
    num_frames: int = 8,
    hidden_size: int = 768,
    num_hidden_layers: int = 12,
    num_attention_heads: int = 12,
    intermediate_size: int = 3072,
    layer_norm_eps: float = 1e-6,
    qkv_bias: bool = True,
    attention_type: str = "divided_space_time",
    hidden_act: str = "gelu",
) -> nn.Module:
    """TimeSformer-Base, divided space-time (121.6 M params at 400 classes), HF-compatible; 8x224x224 clips."""
    return TimeSformer(
        num_classes,
        dropout=dropout,
        image_size=image_size,
        patch_size=patch_size,
        num_frames=num_frames,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        layer_norm_eps=layer_norm_eps,
        qkv_bias=qkv_bias,
        attention_type=attention_type,
        hidden_act=hidden_act,
    )
