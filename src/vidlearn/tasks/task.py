"""One `Task` object per task: what a model's outputs mean. It owns the training loss, the decoding of
raw outputs into predictions (probabilities, or values in the target's units), the metric that
picks the best checkpoint, and the metrics of an evaluation. The training step, evaluation, the
predictors and the ONNX export all decode through it, so the rule is written once.

    task = build_task(cfg.task, loss=cfg.optim.loss, label_smoothing=cfg.optim.label_smoothing)
    loss = task.loss(model(x), y)
    probabilities = task.decode(model(x))      # softmax; regression: standardisation undone

New tasks plug in as further subclasses of `tasks.base.Task` and `build_task` cases; multi-label
classification is `tasks.multilabel.MultiLabel` (sigmoid + binary cross-entropy, thresholds per class).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.tasks.base import Task
from vidlearn.tasks.classification import Classification, batch_accuracy
from vidlearn.tasks.localization import Localization
from vidlearn.tasks.metrics import regression_metrics
from vidlearn.tasks.multilabel import MultiLabel

__all__ = ["Classification", "Localization", "MultiLabel", "Regression", "Task", "batch_accuracy", "build_task"]


@dataclass(frozen=True)
class Regression(Task):
    """One number per video: MSE or Huber loss on standardised targets; decoding undoes the
    standardisation (``value = out * target_std + target_mean``)."""

    target_mean: float = 0.0
    target_std: float = 1.0
    huber: bool = False
    kind: ClassVar[str] = "regression"
    metric: ClassVar[str] = "mae"
    mode: ClassVar[str] = "min"

    @property
    def monitor(self) -> str:
        """The validation loss (standardised MSE/Huber) chooses the best checkpoint."""
        return "val_loss"

    def num_outputs(self, num_classes: int) -> int:  # noqa: ARG002 - one value whatever the data
        return 1

    def standardise(self, target: torch.Tensor) -> torch.Tensor:
        """Targets in the units the network is trained in."""
        return (target.float() - self.target_mean) / self.target_std

    def loss(self, out: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None) -> torch.Tensor:  # noqa: ARG002
        pred, y = out.float().reshape(-1), self.standardise(target)
        return F.huber_loss(pred, y) if self.huber else F.mse_loss(pred, y)

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return out * self.target_std + self.target_mean

    def batch_metric(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return (self.decode(out.float()).reshape(-1) - target.float()).abs().mean()

    def metrics(self, truth: Sequence[Any], predictions: np.ndarray, class_names: Sequence[str], *, level: str) -> dict[str, Any]:  # noqa: ARG002
        return regression_metrics(np.asarray(truth, dtype=np.float64), np.asarray(predictions, dtype=np.float64).reshape(-1), level=level)


def build_task(task_cfg: Any, *, loss: str = "auto", label_smoothing: float = 0.0) -> Task:
    """The Task of a config's ``task`` section (``kind``; for regression the target's mean and
    standard deviation, for multilabel the per-class thresholds), with the loss options of its
    ``optim`` section."""
    if task_cfg.kind == "classification":
        return Classification(label_smoothing=float(label_smoothing))
    if task_cfg.kind == "regression":
        return Regression(float(task_cfg.target_mean), float(task_cfg.target_std), huber=loss == "huber")
    if task_cfg.kind == "localization":
        return Localization(label_smoothing=float(label_smoothing), background=str(getattr(task_cfg, "background", "background")))
    if task_cfg.kind == "multilabel":
        return MultiLabel(tuple(float(t) for t in getattr(task_cfg, "thresholds", None) or ()))
    raise ValueError(f"unknown task kind {task_cfg.kind!r}")
