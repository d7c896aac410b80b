"""The `Task` contract (see `vidlearn.tasks.task`): its own module, so that every task module
(`task`, `multilabel`, ...) can import it without importing the others."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, ClassVar

import numpy as np
import torch

__all__ = ["Task"]


class Task:
    """The contract every task meets (see the module docstring)."""

    kind: ClassVar[str]
    metric: ClassVar[str]  # the per-batch metric logged as "<stage>_<metric>"
    mode: ClassVar[str]  # "max" or "min": how `monitor` improves

    @property
    def monitor(self) -> str:
        """The validation metric that chooses the best checkpoint ("val_acc", "val_mae")."""
        return f"val_{self.metric}"

    def num_outputs(self, num_classes: int) -> int:
        """How many outputs the network's head has."""
        raise NotImplementedError

    def loss(self, out: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None) -> torch.Tensor:
        """The training loss of raw outputs ``(B, K)`` against targets ``(B,)``."""
        raise NotImplementedError

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        """Raw outputs -> predictions: ``(..., K)`` probabilities, or ``(..., 1)`` target values.
        Plain torch ops, so an exported graph computes it too."""
        raise NotImplementedError

    def batch_metric(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        """The value of ``metric`` on one batch of raw outputs (for the progress log)."""
        raise NotImplementedError

    def metrics(self, truth: Sequence[Any], predictions: np.ndarray, class_names: Sequence[str], *, level: str) -> dict[str, Any]:
        """The metrics.json entry for decoded ``predictions`` against ``truth`` (class indices or values)."""
        raise NotImplementedError
