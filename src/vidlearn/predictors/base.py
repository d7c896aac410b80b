"""The one contract every saved model meets, deep (safetensors + JSON) or classical (ONNX + JSON):
:class:`Predictor`, and the :class:`Prediction` it returns. `vidlearn.predictors.load(path)` gives
the right implementation for any saved model, so prediction, evaluation and the service never ask
which kind they hold."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

__all__ = ["Prediction", "Predictor"]


@dataclass
class Prediction:
    """One video's prediction: a label with class probabilities, or a value (regression).

    Multi-label: ``labels`` lists every class whose score reaches its threshold, with the score
    (highest first; empty when none does); ``label`` is them sorted and joined by ``|``, ``score`` the highest
    class score and ``top_k`` the ``k`` highest class scores, over threshold or not."""

    path: str
    label: str | None = None
    score: float | None = None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    value: float | None = None
    start: float | None = None
    end: float | None = None
    labels: list[tuple[str, float]] | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path}
        if self.start is not None:
            d |= {"start": round(self.start, 3), "end": round(self.end or 0.0, 3)}
        if self.value is not None:
            d["value"] = self.value
        else:
            d |= {"label": self.label, "score": self.score, "top_k": [{"label": c, "score": s} for c, s in self.top_k]}
        if self.labels is not None:
            d["labels"] = [{"label": c, "score": s} for c, s in self.labels]
        return d


@runtime_checkable
class Predictor(Protocol):
    """A saved model that predicts video files. ``kind`` is "deep" or "baseline" (a classical
    model), ``task``
    "classification", "regression" or "multilabel"; ``class_names`` is empty for regression."""

    kind: str

    @property
    def task(self) -> str: ...

    @property
    def class_names(self) -> list[str]: ...

    @property
    def info(self) -> dict[str, Any]: ...

    def predict_video(self, path: str | Path, *, top_k: int = 1) -> Prediction:
        """One video's prediction; a bad video raises VideoError naming it."""
        ...

    def predict(self, paths: Sequence[str | Path], *, top_k: int = 1, progress: bool = False) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predictions for the videos that could be read and ``(path, reason)`` for the others."""
        ...

    def timeline(self, path: str | Path, *, stride: float | None = None, top_k: int = 1) -> list[Prediction]:
        """Window-by-window predictions over a long video (ConfigError where the model cannot)."""
        ...

    def iter_timeline(self, source: str | Path, *, stride: float | None = None, top_k: int = 1, batch: int = 1) -> Iterator[Prediction]:
        """The same as a generator, for streams that are predicted as they play."""
        ...

    def evaluate(self, records: Sequence[Any], out: str | Path, *, data_name: str = "data", progress: bool = False) -> dict[str, Any]:
        """Metrics on labelled records (metrics.json schema) and the report files written to ``out``."""
        ...
