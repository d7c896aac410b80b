"""vidlearn: deep-learning video analysis, from a folder of videos to a model, a report and predictions.

    import vidlearn
    predictor = vidlearn.load("runs/first/model")      # the exact preprocessing of training
    print(predictor.predict_video("clip.mp4", top_k=3))
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

__version__ = "0.1.0"

if TYPE_CHECKING:  # pragma: no cover
    from vidlearn.deploy.predictor import Predictor


def load(path: str | Path) -> "Predictor":
    """Load a saved model (artifact directory or .vidlearn file) as a Predictor that rebuilds the
    preprocessing it was trained with. Never unpickles anything; a malformed or foreign file
    raises vidlearn.errors.ArtifactError."""
    from vidlearn.deploy.predictor import Predictor

    return Predictor.load(path)


__all__ = ["__version__", "load"]
