"""Family "transformer": VideoMAE's video ViT (Tong et al., "VideoMAE: Masked Autoencoders are
Data-Efficient Learners for Self-Supervised Video Pre-Training", NeurIPS 2022), as a classifier.

Architecture: tubelet embedding (Conv3d, kernel = stride = tubelet x patch x patch) of the whole clip
into T/2 x H/16 x W/16 tokens (time-major), plus a FIXED sinusoidal position table over the flat token
index (Vaswani et al.'s formula; no CLS token); pre-norm ViT blocks (query and value projections have a
bias, the key projection has none; exact-erf GELU MLP); mean pooling of all tokens then `fc_norm`
(LayerNorm with torch's default eps 1e-5, not the config's), or, with `use_mean_pooling=False`, a final
LayerNorm and the first token; a linear classifier.

Reference matched: Hugging Face transformers 5.23 `VideoMAEForVideoClassification`
(`models/videomae/modeling_videomae.py`). The module tree gives exactly its state-dict keys
(`videomae.embeddings.patch_embeddings.projection.weight`, `videomae.encoder.layer.0.attention.
attention.query.bias`, ..., `fc_norm.weight`, `classifier.weight`); the sinusoidal table is a
non-persistent buffer, as in HF it is no parameter. Checkpoints saved by transformers < 5 (the published
MCG-NJU ones) name the q/v biases `attention.attention.q_bias`/`v_bias`: they are renamed on load, as
transformers' own conversion mapping does, so both load with `strict=True`. The classifier keeps HF's
name `classifier`; `model.head` is an alias of it. The model takes (B, 3, T, H, W) like every zoo model
(HF takes (B, T, 3, H, W)) and only the clip size it was built for (ValueError otherwise, as HF).
Attention is torch's `scaled_dot_product_attention` (what HF uses by default), which exports to ONNX.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.registry import register_model

HIDDEN_ACTS = ("gelu",)  # HF's ACT2FN["gelu"] is exact (erf) GELU


def sinusoid_table(positions: int, dim: int) -> torch.Tensor:
    """(1, positions, dim) float32: sin on even, cos on odd channels of pos / 10000^(2*(j//2)/dim),
    computed in float64 like the reference's numpy table, then rounded to float32."""
    cpu = torch.device("cpu")  # also under a `torch.device("meta")` context: the table is data, not a shape
    pos = torch.arange(positions, dtype=torch.float64, device=cpu)[:, None]
    expo = (2 * (torch.arange(dim, device=cpu) // 2)).to(torch.float64) / dim
    angles = pos / torch.pow(torch.tensor(10000.0, dtype=torch.float64, device=cpu), expo)
    table = torch.empty_like(angles)
    table[:, 0::2] = torch.sin(angles[:, 0::2])
    table[:, 1::2] = torch.cos(angles[:, 1::2])
    return table.to(torch.float32).unsqueeze(0)


def holder(**children: nn.Module) -> nn.Module:
    """An empty module whose only job is to give its children the reference's state-dict names."""
    module = nn.Module()
    for name, child in children.items():
        module.add_module(name, child)
    return module


class SelfAttention(nn.Module):
    """Multi-head self-attention with separate query/key/value projections (key without bias)."""

    def __init__(self, dim: int, heads: int, qv_bias: bool) -> None:
        super().__init__()
        if dim % heads:
            raise ValueError(f"hidden_size ({dim}) must be a multiple of num_attention_heads ({heads})")
        self.heads = heads
        self.query = nn.Linear(dim, dim, bias=qv_bias)
        self.key = nn.Linear(dim, dim, bias=False)
        self.value = nn.Linear(dim, dim, bias=qv_bias)
        self.register_load_state_dict_pre_hook(_rename_legacy_qv_bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = (proj(x).view(b, n, self.heads, d // self.heads).transpose(1, 2) for proj in (self.query, self.key, self.value))
        return F.scaled_dot_product_attention(q, k, v).transpose(1, 2).reshape(b, n, d)


def _rename_legacy_qv_bias(module: nn.Module, state: dict[str, Any], prefix: str, *args: Any) -> None:
    """transformers < 5 saved the q/v biases as `q_bias`/`v_bias` beside bias-free linears."""
    for old, new in (("q_bias", "query.bias"), ("v_bias", "value.bias")):
        if prefix + old in state and prefix + new not in state:
            state[prefix + new] = state.pop(prefix + old)


class Layer(nn.Module):
    """Pre-norm ViT block: x + attn(LN(x)), then x + MLP(LN(x)); HF's VideoMAELayer names."""

    def __init__(self, dim: int, heads: int, mlp_dim: int, eps: float, qv_bias: bool) -> None:
        super().__init__()
        self.attention = holder(attention=SelfAttention(dim, heads, qv_bias), output=holder(dense=nn.Linear(dim, dim)))
        self.intermediate = holder(dense=nn.Linear(dim, mlp_dim))
        self.output = holder(dense=nn.Linear(mlp_dim, dim))
        self.layernorm_before = nn.LayerNorm(dim, eps=eps)
        self.layernorm_after = nn.LayerNorm(dim, eps=eps)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.attention.output.dense(self.attention.attention(self.layernorm_before(x))) + x
        return self.output.dense(F.gelu(self.intermediate.dense(self.layernorm_after(x)))) + x


class VideoMAE(VideoClassifier):
    """VideoMAE ViT classifier with HF's module names; the classifier is `classifier` (alias `head`)."""

    head_prefix = "classifier"

    def __init__(
        self,
        num_classes: int,
        *,
        dropout: float = 0.0,
        image_size: int = 224,
        patch_size: int = 16,
        num_frames: int = 16,
        tubelet_size: int = 2,
        hidden_size: int = 768,
        num_hidden_layers: int = 12,
        num_attention_heads: int = 12,
        intermediate_size: int = 3072,
        layer_norm_eps: float = 1e-12,
        qv_bias: bool = True,
        use_mean_pooling: bool = True,
        hidden_act: str = "gelu",
    ) -> None:
        super().__init__()
        if hidden_act not in HIDDEN_ACTS:
            raise ValueError(f"hidden_act must be one of {HIDDEN_ACTS}, got {hidden_act!r}")
        if num_frames % tubelet_size or image_size % patch_size or num_hidden_layers < 1:
            raise ValueError(
                f"num_frames ({num_frames}) must be a multiple of tubelet_size ({tubelet_size}), image_size "
                f"({image_size}) a multiple of patch_size ({patch_size}) and num_hidden_layers >= 1"
            )
        self.input_size = (num_frames, image_size, image_size)
        grid = image_size // patch_size
        tokens = (num_frames // tubelet_size) * grid * grid
        kernel = (tubelet_size, patch_size, patch_size)
        embeddings = holder(patch_embeddings=holder(projection=nn.Conv3d(3, hidden_size, kernel, kernel)))
        table = sinusoid_table(tokens, hidden_size).to(embeddings.patch_embeddings.projection.weight.device)
        embeddings.register_buffer("position_embeddings", table, persistent=False)
        layers = [Layer(hidden_size, num_attention_heads, intermediate_size, layer_norm_eps, qv_bias) for _ in range(num_hidden_layers)]
        self.videomae = holder(embeddings=embeddings, encoder=holder(layer=nn.ModuleList(layers)))
        self.videomae.layernorm = None if use_mean_pooling else nn.LayerNorm(hidden_size, eps=layer_norm_eps)
        self.fc_norm = nn.LayerNorm(hidden_size) if use_mean_pooling else None
        self.num_features = hidden_size
        self.classifier = make_head(hidden_size, num_classes, dropout)
        self._init_weights()

    def _init_weights(self) -> None:
        """HF's `_init_weights`: normal(0.02) linear/conv weights, zero biases, unit LayerNorms."""
        for m in self.modules():
            if isinstance(m, (nn.Linear, nn.Conv3d)):
                nn.init.normal_(m.weight, std=0.02)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)
            elif isinstance(m, nn.LayerNorm):
                nn.init.ones_(m.weight)
                nn.init.zeros_(m.bias)

    @property
    def head(self) -> nn.Module:
        """The classifier (HF's `classifier`); assigning `model.head = ...` replaces `classifier`."""
        return self.classifier

    def __setattr__(self, name: str, value: object) -> None:
        super().__setattr__("classifier" if name == "head" else name, value)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        """(B, 3, T, H, W) -> (B, hidden_size): mean of the tokens + fc_norm (or the first token)."""
        if tuple(x.shape[1:]) != (3, *self.input_size):
            t, s, _ = self.input_size
            raise ValueError(
                f"VideoMAE was built for clips of 3x{t}x{s}x{s} (C x num_frames x image_size x image_size), "
                f"got {'x'.join(str(v) for v in x.shape[1:])}"
            )
        emb = self.videomae.embeddings
        tokens = emb.patch_embeddings.projection(x).flatten(2).transpose(1, 2)  # (B, N, D), time-major
        tokens = tokens + emb.position_embeddings.to(tokens.dtype)
        for layer in self.videomae.encoder.layer:
            tokens = layer(tokens)
        if self.fc_norm is not None:
            return self.fc_norm(tokens.mean(1))
        return self.videomae.layernorm(tokens)[:, 0]


@register_model(family="transformer", native_clip=(16, 224, 224))
def videomae_base(
    *,
    num_classes: int,
    dropout: float = 0.0,
    image_size: int = 224,
    patch_size: int = 16,
    num_frames: int = 16,
    tubelet_size: int = 2,
    hidden_size: int = 768,
    num_hidden_layers: int = 12,
    num_attention_heads: int = 12,
    intermediate_size: int = 3072,
    layer_norm_eps: float = 1e-12,
    qv_bias: bool = True,
    use_mean_pooling: bool = True,
    hidden_act: str = "gelu",
) -> nn.Module:
    """VideoMAE ViT-B (86.5 M params at 400 classes), HF transformers-compatible; 16x224x224 clips."""
    return VideoMAE(
        num_classes,
        dropout=dropout,
        image_size=image_size,
        patch_size=patch_size,
        num_frames=num_frames,
        tubelet_size=tubelet_size,
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
        num_attention_heads=num_attention_heads,
        intermediate_size=intermediate_size,
        layer_norm_eps=layer_norm_eps,
        qv_bias=qv_bias,
        use_mean_pooling=use_mean_pooling,
        hidden_act=hidden_act,
    )
