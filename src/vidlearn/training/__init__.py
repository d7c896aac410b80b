"""Training: the Lightning module and `fit` (one run: checkpoints, resume, DDP, evaluation, artifact,
report), cross-validation, the experiment entry points (data -> records -> split/CV -> fit;
evaluating any saved model), classical baselines on feature tables, clustering, Optuna tuning.
Names are imported on first use (Lightning is heavy)."""

from __future__ import annotations

import importlib
from typing import Any

_WHERE = {
    "FittedBaseline": "vidlearn.training.baseline",
    "TrainResult": "vidlearn.training.fit",
    "VideoModule": "vidlearn.training.module",
    "build_config": "vidlearn.training.experiment",
    "build_optimizer": "vidlearn.training.optim",
    "cross_validate": "vidlearn.training.cv",
    "evaluate_artifact": "vidlearn.training.experiment",
    "fit": "vidlearn.training.fit",
    "fit_baseline": "vidlearn.training.baseline",
    "run_baseline": "vidlearn.training.baseline",
    "train_on_data": "vidlearn.training.experiment",
}

__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:  # PEP 562: import the module that defines `name` on first use
    if name in _WHERE:
        return getattr(importlib.import_module(_WHERE[name]), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
