"""Classical (scikit-learn) models saved as ONNX, never pickled: a folder of ``model.onnx`` (input
``X`` of shape ``(N, len(columns))``, float64, or float32 for the SVR and random-forest regressors,
which onnxruntime computes in float32 only) and ``baseline.json`` (format, task, estimator, options,
classes or the target's mean and standard deviation, the feature columns in input order, the feature
settings of the training table, versions; multilabel: the one-vs-rest classes, how the scores are
made in [0, 1] and the per-class thresholds). Saving checks that onnxruntime reproduces the pipeline;
loading runs the graph with onnxruntime, so it executes nothing from the file. `ClassicalPredictor`
predicts feature tables and video files (features computed as for its training table)."""

from __future__ import annotations

import contextlib
import json
import tempfile
import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from vidlearn.data.records import VideoRecord
from vidlearn.errors import ArtifactError, ConfigError, DataSourceError, VideoError
from vidlearn.fsutil import atomic_dir
from vidlearn.predictors.base import Prediction
from vidlearn.predictors.onnx_models import external_data_problem, onnx_session
from vidlearn.provenance import package_versions
from vidlearn.tables.matrix import feature_matrix, load_table

TASKS = ("classification", "regression", "multilabel")


BASELINE_FORMAT = "vidlearn-baseline"


FORMAT_VERSION = 2  # 2: task, estimator, target scaling (1: classifiers only, key "classifier")


MODEL_FILE = "model.onnx"


META_FILE = "baseline.json"


def check_task(task: str) -> str:
    if task not in TASKS:
        raise ConfigError(f"baseline.task: unknown task {task!r}; choose from {', '.join(TASKS)}")
    return task


@dataclass(frozen=True)
class TargetScale:
    """Regression targets are fitted as ``(y - mean) / std``; predictions are mapped back."""

    mean: float = 0.0
    std: float = 1.0

    @classmethod
    def of(cls, y: np.ndarray) -> TargetScale:
        std = float(np.std(y))
        return cls(float(np.mean(y)), std if std > 0 else 1.0)

    def forward(self, y: np.ndarray) -> np.ndarray:
        return (np.asarray(y, dtype=np.float64) - self.mean) / self.std

    def inverse(self, z: np.ndarray) -> np.ndarray:
        return np.asarray(z, dtype=np.float64).reshape(-1) * self.std + self.mean


def align_scores(raw: np.ndarray, seen: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    if raw.ndim == 1:  # binary decision function: positive means the second class
        raw = np.stack([-raw, raw], axis=1)
    if list(seen) == list(classes):
        return raw
    out = np.full((raw.shape[0], len(classes)), raw.min() - 1.0 if raw.size else -1.0)
    index = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(seen):
        out[:, index[c]] = raw[:, j]
    return out


class FittedPipeline(Protocol):
    """What :func:`save_baseline` needs of a fitted baseline (e.g. ``vidlearn.training.baseline.FittedBaseline``)."""

    pipeline: Any
    columns: list[str]
    classes: list[str]
    task: str
    target_scale: TargetScale | None
    info: dict[str, Any]


def save_baseline(out_dir: str | Path, fitted: FittedPipeline) -> Path:
    """Convert a fitted baseline's pipeline to ONNX and write ``out_dir/model.onnx`` +
    ``baseline.json``, atomically as a whole (an existing baseline model folder is replaced only
    once the new one is complete). Returns ``out_dir``."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    from vidlearn.tasks.metrics import to_jsonable

    target = Path(out_dir)
    pipeline, columns = fitted.pipeline, fitted.columns
    clf = pipeline.steps[-1][1]
    classification = fitted.task in ("classification", "multilabel")
    multilabel = fitted.task == "multilabel"
    dtype = _onnx_input_dtype(fitted.task, clf)
    tensor = DoubleTensorType if dtype == "float64" else FloatTensorType
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_model = to_onnx(
            pipeline,
            initial_types=[("X", tensor([None, len(columns)]))],
            options={id(clf): {"zipmap": False}} if classification else None,
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    model_bytes = onnx_model.SerializeToString()
    transform = _check_conversion(pipeline, model_bytes, len(columns), classification, dtype, multilabel=multilabel)
    if multilabel:
        thresholds = list(getattr(fitted, "thresholds", None) or [0.5] * len(fitted.classes))
        task_meta: dict[str, Any] = {
            "classes": [str(c) for c in fitted.classes],
            # output 1 holds probabilities, or (SVC) decision values that a sigmoid maps to [0, 1]
            "scores": {"output": 1, "transform": transform, "sigmoid": not hasattr(clf, "predict_proba")},
            "thresholds": [float(t) for t in thresholds],
        }
    elif classification:
        task_meta = {
            "classes": [str(c) for c in fitted.classes],
            "model_classes": [str(c) for c in clf.classes_],
            "scores": {"output": 1, "transform": transform},
        }
    else:
        scale = fitted.target_scale or TargetScale()
        task_meta = {"target": {"mean": scale.mean, "std": scale.std}, "values": {"output": 0}}
    meta = {
        "format": BASELINE_FORMAT,
        "format_version": FORMAT_VERSION,
        "task": fitted.task,
        **task_meta,
        "columns": list(columns),
        "input": {"name": "X", "dtype": dtype, "shape": [None, len(columns)]},
        **to_jsonable({k: v for k, v in fitted.info.items() if k != "task"}),
        "versions": package_versions("scikit-learn", "skl2onnx", "onnx", "onnxruntime", "numpy"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    if target.exists():
        if not target.is_dir() or (any(target.iterdir()) and not (target / META_FILE).is_file()):
            raise ArtifactError(target, "exists and is not a baseline model folder; refusing to replace it")
    with atomic_dir(target) as tmp:
        (tmp / MODEL_FILE).write_bytes(model_bytes)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n", encoding="utf-8")
    return target


def _onnx_input_dtype(task: str, clf: Any) -> str:
    """float64 where onnxruntime has double kernels; its SVMRegressor and TreeEnsembleRegressor
    (ai.onnx.ml opset 3) compute in float32 only, so those regressors take float32 input."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.svm import SVR

    return "float32" if task == "regression" and isinstance(clf, (SVR, RandomForestRegressor)) else "float64"


def _check_conversion(pipeline: Any, model_bytes: bytes, n_features: int, classification: bool, dtype: str, *,
                      multilabel: bool = False) -> str:
    """Run the ONNX model beside the pipeline on probe rows spread like the training data; returns
    how its output maps to the pipeline's scores ("none", or "negate" for skl2onnx's binary SVC,
    whose two columns come out swapped). Raises RuntimeError when it does not reproduce them."""
    scaler = pipeline.steps[0][1]
    rng = np.random.default_rng(0)
    probe = np.asarray(scaler.mean_) + np.asarray(scaler.scale_) * rng.normal(0.0, 1.0, (64, n_features))
    clf = pipeline.steps[-1][1]
    outputs = onnx_session(model_bytes).run(None, {"X": probe.astype(dtype)})
    if multilabel:  # one-vs-rest: (N, K) probabilities or decision values, one column per class
        want = np.asarray(pipeline.predict_proba(probe) if hasattr(clf, "predict_proba") else pipeline.decision_function(probe),
                          dtype=np.float64).reshape(len(probe), -1)
        got = np.asarray(outputs[1], dtype=np.float64)
    elif classification:
        want = align_scores(
            np.asarray(pipeline.predict_proba(probe) if hasattr(clf, "predict_proba") else pipeline.decision_function(probe), dtype=np.float64),
            [str(c) for c in clf.classes_], [str(c) for c in clf.classes_],
        )
        got = np.asarray(outputs[1], dtype=np.float64)
    else:
        want = np.asarray(pipeline.predict(probe), dtype=np.float64).reshape(-1)
        got = np.asarray(outputs[0], dtype=np.float64).reshape(-1)
    tol = 1e-4 * max(1.0, float(np.abs(want).max()))
    if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=tol):
        return "none"
    if classification and got.shape == want.shape and np.allclose(-got, want, rtol=1e-4, atol=tol):
        return "negate"
    raise RuntimeError(f"the ONNX conversion of {type(clf).__name__} does not reproduce its outputs; cannot save it")


@dataclass
class ClassicalPredictor:
    """A loaded classical (baseline) model: the ONNX pipeline, its task, its classes or target
    scaling and the feature columns it reads. Meets the :class:`~vidlearn.predictors.base.Predictor`
    contract: it predicts video files by computing their features as for its training table."""

    kind = "baseline"

    path: Path
    task: str
    classes: list[str]
    columns: list[str]
    meta: dict[str, Any]
    session: Any = field(repr=False)

    @property
    def class_names(self) -> list[str]:
        return self.classes

    @property
    def info(self) -> dict[str, Any]:
        """What a service tells about the model: kind, estimator, task, classes."""
        return {"kind": self.kind, "model": self.estimator, "task": self.task, "classes": self.classes}

    def predict_video(self, path: str | Path, *, top_k: int = 1) -> Prediction:
        """One video's prediction; a video that cannot be read raises VideoError naming it."""
        preds, skipped = self.predict_videos([path], top_k=top_k)
        if not preds:
            raise VideoError(path, skipped[0][1] if skipped else "could not be read")
        return preds[0]

    def timeline(self, path: str | Path, *, stride: float | None = None, top_k: int = 1) -> list[Prediction]:
        """Not available: a classical model predicts whole videos (ConfigError)."""
        raise ConfigError(f"{self.path}: --timeline needs a deep model; a baseline model predicts whole videos, not timelines or streams")

    def iter_timeline(self, source: str | Path, *, stride: float | None = None, top_k: int = 1, batch: int = 1) -> Iterator[Prediction]:  # noqa: ARG002
        """Not available: a classical model predicts whole videos (ConfigError)."""
        return iter(self.timeline(source, stride=stride, top_k=top_k))

    def evaluate(self, records: Sequence[VideoRecord], out: str | Path, *, data_name: str = "data",
                 progress: bool = False) -> dict[str, Any]:
        """Metrics on labelled ``records`` and the report files in ``out`` (see ``classical_eval``)."""
        from vidlearn.predictors.classical_eval import evaluate_classical

        return evaluate_classical(self, records, out, data_name=data_name, progress=progress)

    @property
    def thresholds(self) -> list[float]:
        """Multilabel: the per-class thresholds (a class is predicted when its score reaches it)."""
        return [float(t) for t in self.meta.get("thresholds") or [0.5] * len(self.classes)]

    @property
    def estimator(self) -> str:
        return str(self.meta.get("estimator", self.meta.get("classifier", "?")))

    @property
    def feature_settings(self) -> dict[str, Any] | None:
        """How the training table's features were computed (kinds, fps, size), when known."""
        return self.meta.get("feature_settings")

    @property
    def training_videos(self) -> list[str]:
        """The paths of the videos it was fitted on, when recorded."""
        return [str(v) for v in self.meta.get("training_videos") or []]

    def _run(self, table: pd.DataFrame | str | Path) -> list[Any]:
        frame = load_table(table)
        x = feature_matrix(frame, self.columns, str(frame.attrs.get("vidlearn", {}).get("path", "feature table")))
        spec = self.meta["input"]
        return self.session.run(None, {spec["name"]: x.astype(spec.get("dtype", "float64"))})

    def scores(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """(N, len(classes)) scores (probabilities or decision values, see the module docstring;
        multilabel: one score in [0, 1] per class)."""
        if self.task == "regression":
            raise ConfigError(f"{self.path}: a regression baseline predicts values; use predict()")
        spec = self.meta.get("scores") or {}
        raw = np.asarray(self._run(table)[int(spec.get("output", 1))], dtype=np.float64)
        if spec.get("transform") == "negate":
            raw = -raw
        if self.task == "multilabel":
            raw = raw.reshape(len(raw), -1)
            return 1.0 / (1.0 + np.exp(-raw)) if spec.get("sigmoid") else raw
        return align_scores(raw, self.meta.get("model_classes", self.classes), self.classes)

    def predict_table(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """Predicted class names (the arg-max of :meth:`scores`), labels over their thresholds joined
        by ``|`` (multilabel) or values (regression), one per row."""
        if self.task == "multilabel":
            on = self.scores(table) >= np.asarray(self.thresholds)
            return np.asarray(["|".join(c for c, o in zip(self.classes, row) if o) for row in on], dtype=object)
        if self.task == "classification":
            return np.asarray(self.classes, dtype=object)[self.scores(table).argmax(axis=1)]
        raw = self._run(table)[int((self.meta.get("values") or {}).get("output", 0))]
        t = self.meta["target"]
        return TargetScale(float(t["mean"]), float(t["std"])).inverse(raw)

    def feature_table(self, records: Sequence[VideoRecord], *, workers: int = 1, progress: bool = False,
                      ray: str | None = None) -> tuple[pd.DataFrame | None, list[tuple[str, str]]]:
        """The feature table of ``records`` computed the way the training table was (kinds, fps,
        size, parameters from ``feature_settings``), and the ``(path, reason)`` of the videos that
        could not be read (the table is None when none could)."""
        from vidlearn.tables.table import compute_feature_table

        settings = self.feature_settings
        if not settings or not settings.get("kinds"):
            raise ArtifactError(self.path, "does not say how its features were computed (it was fitted on a table "
                                "without feature settings); compute them with `vidlearn features` and predict the table")
        with tempfile.TemporaryDirectory(prefix="vidlearn-baseline-") as tmp:
            try:
                table = compute_feature_table(list(records), settings["kinds"], fps=settings.get("fps"),
                                              short_side=settings.get("short_side"), out=Path(tmp) / "features.parquet",
                                              workers=workers, progress=progress, ray=ray, **dict(settings.get("params") or {}))
            except DataSourceError as exc:  # not one video could be read
                return None, [(str(r.path), "; ".join(exc.problems)) for r in records]
        return table, [(s["path"], s["reason"]) for s in table.attrs["vidlearn"]["skipped"]]

    def predict(self, paths: Sequence[str | Path], *, top_k: int = 1, progress: bool = False,
                workers: int = 1, ray: str | None = None) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predictions for the video files that could be read and ``(path, reason)`` for the others."""
        return self.predict_videos(paths, top_k=top_k, workers=workers, progress=progress, ray=ray)

    def predict_videos(self, videos: Sequence[str | Path], *, top_k: int = 1, workers: int = 1,
                       progress: bool = False, ray: str | None = None) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Compute the features of video files (see :meth:`feature_table`) and predict them.
        Returns the predictions and the ``(path, reason)`` of the videos that could not be read."""
        from vidlearn.predictors.base import Prediction

        if top_k < 1:
            raise ConfigError(f"--top-k must be at least 1, got {top_k}")
        table, skipped = self.feature_table([VideoRecord(path=Path(v)) for v in videos], workers=workers, progress=progress, ray=ray)
        if table is None:
            return [], skipped
        paths = [str(v) for v in table["path"]]
        if self.task == "regression":
            return [Prediction(path=pth, value=float(v)) for pth, v in zip(paths, self.predict_table(table))], skipped
        scores = self.scores(table)
        preds = []
        for pth, row in zip(paths, scores):
            order = np.argsort(-row, kind="stable")
            ranked = [(self.classes[int(j)], float(row[j])) for j in order[: min(top_k, len(self.classes))]]
            if self.task == "multilabel":
                labels = [(self.classes[int(j)], float(row[j])) for j in order if row[j] >= self.thresholds[int(j)]]
                preds.append(Prediction(path=pth, label="|".join(sorted(c for c, _ in labels)), score=ranked[0][1], top_k=ranked, labels=labels))
                continue
            preds.append(Prediction(path=pth, label=ranked[0][0], score=ranked[0][1], top_k=ranked))
        return preds, skipped


def is_baseline_model(path: str | Path) -> bool:
    """Whether ``path`` is a baseline model folder, its run folder or its model.onnx/baseline.json."""
    p = Path(path)
    if p.is_file():
        return p.name in (MODEL_FILE, META_FILE) and (p.parent / META_FILE).is_file()
    return (p / META_FILE).is_file() or (p / "model" / META_FILE).is_file()


def load_baseline(path: str | Path) -> ClassicalPredictor:
    """Load a baseline model: its folder (``.../model``), the run folder that holds it, or the
    ``model.onnx`` file. Reads JSON and ONNX only; raises ArtifactError for anything invalid."""
    p = Path(path)
    if p.is_file() and p.name in (MODEL_FILE, META_FILE):
        p = p.parent
    if p.is_dir() and not (p / META_FILE).is_file() and (p / "model" / META_FILE).is_file():
        p = p / "model"
    if not p.exists():
        raise ArtifactError(p, "does not exist")
    for name in (META_FILE, MODEL_FILE):
        if not (p / name).is_file():
            raise ArtifactError(p, f"not a baseline model folder: missing {name}")
    try:
        meta = json.loads((p / META_FILE).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(p / META_FILE, f"not valid JSON ({exc})") from None
    if not isinstance(meta, dict) or meta.get("format") != BASELINE_FORMAT:
        raise ArtifactError(p / META_FILE, f"format is {meta.get('format') if isinstance(meta, dict) else None!r}, expected {BASELINE_FORMAT!r}")
    version = meta.get("format_version")
    if not isinstance(version, int) or version < 1 or version > FORMAT_VERSION:
        raise ArtifactError(p / META_FILE, f"format_version {version!r} is not one this vidlearn reads (1..{FORMAT_VERSION})")
    task = meta.get("task", "classification")
    if (meta.get("input") or {}).get("dtype", "float64") not in ("float32", "float64") or "name" not in (meta.get("input") or {}):
        raise ArtifactError(p / META_FILE, f"input must name a float32/float64 tensor, got {meta.get('input')!r}")
    if task not in TASKS:
        raise ArtifactError(p / META_FILE, f"unknown task {task!r}")
    if not isinstance(meta.get("columns"), list) or not all(isinstance(v, str) for v in meta["columns"]):
        raise ArtifactError(p / META_FILE, "columns must be a list of strings")
    if task == "multilabel":
        classes, thresholds = meta.get("classes"), meta.get("thresholds")
        if not isinstance(classes, list) or not all(isinstance(v, str) for v in classes):
            raise ArtifactError(p / META_FILE, "classes must be a list of strings")
        if not (isinstance(thresholds, list) and len(thresholds) == len(classes)
                and all(isinstance(t, (int, float)) and not isinstance(t, bool) and 0 <= t <= 1 for t in thresholds)):
            raise ArtifactError(p / META_FILE, "a multilabel model needs one threshold in [0, 1] per class")
    elif task == "classification":
        if not isinstance(meta.get("classes"), list) or not all(isinstance(v, str) for v in meta["classes"]):
            raise ArtifactError(p / META_FILE, "classes must be a list of strings")
        if (meta.get("scores") or {}).get("transform", "none") not in ("none", "negate"):
            raise ArtifactError(p / META_FILE, f"unknown score transform {meta['scores'].get('transform')!r}")
    else:
        t = meta.get("target")
        if not (isinstance(t, dict) and all(isinstance(t.get(k), (int, float)) for k in ("mean", "std")) and t["std"] > 0):
            raise ArtifactError(p / META_FILE, "a regression model needs target.mean and target.std (> 0)")
    try:
        model_bytes = (p / MODEL_FILE).read_bytes()
    except OSError as exc:
        raise ArtifactError(p / MODEL_FILE, f"cannot read ({exc.strerror or exc})") from None
    problem = external_data_problem(model_bytes)
    if problem:
        raise ArtifactError(p / MODEL_FILE, problem)
    try:
        session = onnx_session(model_bytes)
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types; all mean "unreadable"
        with contextlib.suppress(Exception):
            exc = str(exc).splitlines()[0]  # type: ignore[assignment]
        raise ArtifactError(p / MODEL_FILE, f"not a loadable ONNX model ({exc})") from None
    return ClassicalPredictor(path=p, task=task, classes=list(meta.get("classes") or []), columns=list(meta["columns"]),
                         meta=meta, session=session)
