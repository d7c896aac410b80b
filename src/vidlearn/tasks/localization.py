"""Temporal action localisation as a :class:`~vidlearn.tasks.task.Task`: a window classifier whose
classes are the actions plus one background class (what no annotated segment covers).

Training sees windows cut from the segments and from the background (``vidlearn.clips.windows``);
the loss and decoding are those of single-label classification (cross-entropy; softmax), so the
model zoo, the cache, pretrained backbones and the ONNX export work unchanged. What differs is what
the outputs are for: per-class score curves over a long video, turned into segments by
``vidlearn.predictors.segments`` and scored by ``vidlearn.tasks.localization_metrics``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from vidlearn.tasks.classification import Classification

__all__ = ["Localization"]


@dataclass(frozen=True)
class Localization(Classification):
    """Window classification with a background class (``background``, one of the model's classes)."""

    background: str = "background"
    kind: ClassVar[str] = "localization"
    metric: ClassVar[str] = "acc"
    mode: ClassVar[str] = "max"
