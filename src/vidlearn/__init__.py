"""vidlearn: deep-learning video analysis, from a folder of videos to a model, a report and predictions.

    import vidlearn
    result = vidlearn.train("videos/", "runs/first", overrides=["optim.epochs=20"])
    model = vidlearn.load(result.artifact)               # any saved model, deep or classical
    print(model.predict_video("clip.mp4", top_k=3))
    vidlearn.evaluate(result.artifact, "test_videos/", "runs/first/test")
    vidlearn.features("videos/", "features.parquet", kinds=["color", "motion"])

The subpackages name their own public API in ``__all__``, in the order of the data path: `io`,
`data`, `transforms`, `cache`, `models`, `features`, `tables`, `clips`, `tasks`, `reports`,
`predictors`, `training`, `deploy`. This module imports them only when a function is called.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidlearn.provenance import __version__

if TYPE_CHECKING:  # pragma: no cover
    import pandas as pd
    from torch import nn

    from vidlearn.config import ExperimentConfig
    from vidlearn.predictors import Predictor
    from vidlearn.training.fit import TrainResult

__all__ = ["__version__", "build_model", "evaluate", "features", "list_models", "load", "predict", "train"]


def load(path: str | Path, *, device: str | None = None) -> Predictor:
    """Load any saved model (a deep artifact folder or ``.vidlearn`` file, or a classical model's
    folder) as a Predictor that rebuilds the preprocessing it was trained with. Never unpickles
    anything; a malformed or foreign file raises vidlearn.errors.ArtifactError."""
    from vidlearn.predictors import load as _load

    return _load(path, device=device)


def train(
    data: str | Path,
    out: str | Path,
    *,
    config: ExperimentConfig | str | Path | None = None,
    overrides: Sequence[str] = (),
    cv: str | None = None,
    group: str | None = None,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> TrainResult | dict[str, Any]:
    """Train on DATA (a class-per-folder directory, a CSV manifest, a split list) into ``out``:
    one run with a group-aware validation split (a TrainResult), or with ``cv`` every fold (the CV
    summary). ``config`` is an ExperimentConfig or a YAML/JSON file; ``overrides`` are
    ``"section.field=value"`` strings, as ``--set`` on the command line. A run that exists at
    ``out`` is continued with ``resume``, replaced with ``overwrite``, else refused."""
    from vidlearn.training.experiment import build_config, train_on_data

    cfg = build_config(config, overrides=list(overrides) or None)  # + the weights' preprocessing where not set
    return train_on_data(data, cfg, out, cv=cv, group=group, resume=resume, overwrite=overwrite, progress=progress)


def evaluate(model: str | Path, data: str | Path, out: str | Path, *, group: str | None = None, progress: bool = True) -> dict[str, Any]:
    """Evaluate any saved model on labelled DATA; writes metrics.json, pictures and report.html
    to ``out`` and returns the metrics."""
    from vidlearn.training.experiment import evaluate_artifact

    return evaluate_artifact(model, data, out, group=group, progress=progress)


def predict(model: str | Path, videos: str | Path, *, top_k: int = 1, out: str | Path | None = None, timeline: bool = False) -> Any:
    """Predict a video file, a folder of videos or a stream with any saved model; writes ``out``
    (.csv or .json) when given. Returns the PredictReport (predictions, skipped videos, files)."""
    from vidlearn.deploy.predict import run_predictions

    return run_predictions(model, videos, top_k=top_k, out=out, timeline=timeline, progress=False)


def features(data: str | Path, out: str | Path, *, kinds: Sequence[str] | str = ("color", "shape", "motion"),
             task: str = "classification", group: str | None = None, **options: Any) -> pd.DataFrame:
    """The feature table of DATA's videos (one row per video; Parquet, or CSV/TSV by suffix),
    resumable; ``kinds`` as for ``vidlearn features --kind`` (``deep:ARTIFACT`` included); ``task``
    and ``group`` say how DATA's targets and groups are read; ``options`` go to
    ``vidlearn.tables.compute_feature_table`` (fps, short_side, workers, ...)."""
    import vidlearn.predictors  # noqa: F401 - registers the 'deep:ARTIFACT' family
    from vidlearn.data.sources import load_records
    from vidlearn.tables import compute_feature_table

    return compute_feature_table(load_records(data, task=task, group=group), kinds, out=out, **options)


def list_models(filter: str | None = None) -> list[str]:  # noqa: A002 (timm's name for it)
    """Names of the model zoo's architectures (a glob, a family name or a substring filters)."""
    from vidlearn.models import list_models as _list

    return _list(filter)


def build_model(name: str, *, num_classes: int, **options: Any) -> nn.Module:
    """Build a zoo model by name (see vidlearn.models.build_model)."""
    from vidlearn.models import build_model as _build

    return _build(name, num_classes=num_classes, **options)
