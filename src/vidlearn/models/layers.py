"""Small layers the torchvision-compatible transformers share: stochastic depth and the two-layer MLP.

Both follow torchvision's `ops` (`StochasticDepth(p, "row")`, `MLP(dim, [hidden, out], nn.GELU)`)
in behaviour and in module indices, so their state-dict names (`mlp.0.weight`, `mlp.3.weight`) are
the reference's.
"""

from __future__ import annotations

import torch
from torch import nn


def stochastic_depth(x: torch.Tensor, p: float, training: bool) -> torch.Tensor:
    """Drop each sample's residual branch with probability `p` (rescaling survivors by 1/(1-p));
    the identity in evaluation or when p == 0 (Huang et al. 2016, "Deep Networks with Stochastic Depth")."""
    if not training or p == 0.0:
        return x
    keep = 1.0 - p
    mask = torch.empty((x.shape[0],) + (1,) * (x.ndim - 1), dtype=x.dtype, device=x.device).bernoulli_(keep)
    if keep > 0.0:
        mask.div_(keep)
    return x * mask


class StochasticDepth(nn.Module):
    """Per-sample ("row") stochastic depth with drop probability `p`; no parameters."""

    def __init__(self, p: float) -> None:
        super().__init__()
        if not 0.0 <= p <= 1.0:
            raise ValueError(f"stochastic depth probability must be in [0, 1], got {p}")
        self.p = float(p)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return stochastic_depth(x, self.p, self.training)

    def extra_repr(self) -> str:
        return f"p={self.p}"


def mlp(in_dim: int, hidden_dim: int, out_dim: int, dropout: float = 0.0) -> nn.Sequential:
    """Linear -> GELU -> Dropout -> Linear -> Dropout (indices 0..4, as torchvision's `MLP`)."""
    return nn.Sequential(
        nn.Linear(in_dim, hidden_dim),
        nn.GELU(),
        nn.Dropout(dropout),
        nn.Linear(hidden_dim, out_dim),
        nn.Dropout(dropout),
    )
