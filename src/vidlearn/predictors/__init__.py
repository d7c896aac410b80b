"""Saved models behind one contract. A deep artifact (safetensors + JSON: `artifact`) predicts
through `deep.DeepPredictor` (the saved preprocessing, multi-view, timelines, streams); a classical
model (ONNX + JSON: `classical`) through `classical.ClassicalPredictor` (features computed as for
its training table). Both meet `base.Predictor`; `load(path)` returns the right one.

    import vidlearn.predictors as vp
    model = vp.load("runs/demo/model")
    prediction = model.predict_video("clip.mp4", top_k=3)
"""

from vidlearn.predictors import embed as _embed  # noqa: F401 - registers the 'deep:ARTIFACT' feature family
from vidlearn.predictors.artifact import Artifact, load_artifact, save_artifact
from vidlearn.predictors.base import Prediction, Predictor
from vidlearn.predictors.classical import (
    ClassicalPredictor,
    is_baseline_model,
    load_baseline,
    save_baseline,
)
from vidlearn.predictors.deep import DeepPredictor
from vidlearn.predictors.load import load
from vidlearn.predictors.settings import INFERENCE_FIELDS, with_settings

__all__ = [
    "INFERENCE_FIELDS",
    "Artifact",
    "ClassicalPredictor",
    "DeepPredictor",
    "Prediction",
    "Predictor",
    "is_baseline_model",
    "load",
    "load_artifact",
    "load_baseline",
    "save_artifact",
    "save_baseline",
    "with_settings",
]
