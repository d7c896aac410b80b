"""Pieces every model shares: the classifier head and the base class fixing the model contract."""

from __future__ import annotations

import torch
from torch import nn


def check_dropout(dropout: float) -> float:
    """Validate a dropout probability (0 <= p < 1) and return it as float."""
    if not 0.0 <= float(dropout) < 1.0:
        raise ValueError(f"dropout must be in [0, 1), got {dropout!r}")
    return float(dropout)


def make_head(in_features: int, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """The classifier: `nn.Linear`, or `nn.Sequential(nn.Dropout, nn.Linear)` when dropout > 0."""
    linear = nn.Linear(in_features, num_classes)
    if check_dropout(dropout) > 0:
        return nn.Sequential(nn.Dropout(dropout), linear)
    return linear


class VideoClassifier(nn.Module):
    """Base of the zoo's models: `forward(x) = head(forward_features(x))`.

    Subclasses set `self.num_features` (the embedding size D), `self.head` (the classifier, which a
    caller may replace) and implement `forward_features(x) -> (B, D)`."""

    num_features: int

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:  # pragma: no cover - abstract
        raise NotImplementedError

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.forward_features(x))


def reset_head(model: nn.Module, num_classes: int, dropout: float = 0.0) -> nn.Module:
    """Replace `model.head` with a fresh classifier for `num_classes` outputs; returns the model."""
    model.head = make_head(model.num_features, num_classes, dropout)
    return model
