"""`load(path)`: any saved model, deep or classical, as a :class:`~vidlearn.predictors.base.Predictor`."""

from __future__ import annotations

from pathlib import Path

import torch

from vidlearn.predictors.base import Predictor
from vidlearn.predictors.classical import is_baseline_model, load_baseline
from vidlearn.predictors.deep import DeepPredictor

__all__ = ["load"]


def load(path: str | Path, *, device: torch.device | str | None = None) -> Predictor:
    """Load a saved model: a deep artifact (folder or ``.vidlearn`` file) or a classical model's
    folder (or the run folder that holds it), or a weights-catalogue name ("r3d_18.kinetics400", once
fetched: its classes and preprocessing come with it). Reads safetensors, JSON and ONNX only; a path that
    is neither raises ArtifactError naming it."""
    if is_baseline_model(path):
        return load_baseline(path)
    from vidlearn.models.weights import is_weights_name

    if not Path(path).exists() and is_weights_name(str(path)):  # a catalogue name: its weights, classes, preprocessing
        from vidlearn.predictors.pretrained import predictor_from_weights

        return predictor_from_weights(str(path), device=None if device is None else torch.device(device))
    return DeepPredictor.load(path, device=None if device is None else torch.device(device))

