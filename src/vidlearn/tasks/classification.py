"""Single-label classification: one class a record (softmax outputs, cross-entropy). The
`Localization` task is this with a background class."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.tasks.base import Task
from vidlearn.tasks.metrics import classification_metrics

__all__ = ["Classification", "batch_accuracy"]


def batch_accuracy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Top-1 accuracy of logits ``out`` (B, K) against class indices ``target`` (B,), by
    torchmetrics (micro average: the share of the batch predicted right)."""
    from torchmetrics.functional.classification import multiclass_accuracy

    return multiclass_accuracy(out.detach(), target.detach().long(), num_classes=int(out.shape[-1]), average="micro", validate_args=False)


@dataclass(frozen=True)
class Classification(Task):
    """Single-label classification: cross-entropy (label smoothing, class weights) on logits; softmax."""

    label_smoothing: float = 0.0
    kind: ClassVar[str] = "classification"
    metric: ClassVar[str] = "acc"
    mode: ClassVar[str] = "max"

    def num_outputs(self, num_classes: int) -> int:
        return num_classes

    def loss(self, out: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None) -> torch.Tensor:
        return F.cross_entropy(out.float(), target.long(), weight=weight, label_smoothing=self.label_smoothing)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return out.softmax(-1)

    def batch_metric(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return batch_accuracy(out, target)

    def metrics(self, truth: Sequence[Any], predictions: np.ndarray, class_names: Sequence[str], *, level: str) -> dict[str, Any]:
        return classification_metrics(list(truth), predictions, list(class_names), level=level)
