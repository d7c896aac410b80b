"""Classical baselines on a feature table: scikit-learn pipelines, the deep models' CV protocol and
report, and a saved model that is ONNX (never pickle). Classification and regression.

>>> result = run_baseline("features.parquet", "runs/svm", estimator="svm", cv="leave-one-group-out")
>>> result["video"]["metrics"]["accuracy"]           # {"mean", "std", "values"}
>>> model = load_baseline("runs/svm")                 # the model fitted on every labelled row
>>> model.predict(read_feature_table("new.parquet"))  # labels; model.scores(...) gives (N, K)
>>> run_baseline("speeds.parquet", "runs/svr", task="regression")["video"]["metrics"]["mae"]

A pipeline is ``StandardScaler -> [PCA(n)] -> estimator``. For ``task="classification"`` the
estimator is one of

- ``svm``: ``SVC`` (RBF kernel, ``C=1``, ``gamma="scale"``, ``break_ties=True``); scores are its
  one-vs-rest decision values (not probabilities: ``SVC(probability=True)`` is deprecated and
  fits an extra internal cross-validation);
- ``logreg``: multinomial ``LogisticRegression`` (``C=1``, L2); scores are probabilities;
- ``knn``: ``KNeighborsClassifier`` (5 neighbours, or fewer when there are fewer training rows);
  scores are neighbour votes;
- ``rf``: ``RandomForestClassifier`` (300 trees, seeded); scores are probabilities.

The predicted class is always the arg-max of the scores, in cross-validation and in the saved model
alike. For ``task="regression"`` (numeric ``target`` column) the estimator is one of ``svm``
(``SVR``, RBF kernel, ``C=1``, ``epsilon=0.1``; alias ``svr``), ``ridge`` (``Ridge``,
``alpha=1``), ``knn`` (``KNeighborsRegressor``) or ``rf`` (``RandomForestRegressor``, 300 trees);
the targets are standardised with the training rows' mean and standard deviation before fitting
(so ``C`` and ``epsilon`` mean the same for seconds and for kilometres) and predictions are mapped
back, in cross-validation and in the saved model alike. Metrics are MAE, RMSE and R².

Keyword ``options`` replace the defaults (e.g. ``{"C": 10}``). ``PCA(n)`` keeps at most as many
components as the training fold has rows and features.

Cross-validation uses :func:`vidlearn.data.splits.parse_cv` on records built from the table's rows
(``path``, ``target``, the ``group`` column), so folds are the same as for the deep models on the
same data. A run folder holds::

    cv_metrics.json     {"protocol", "video": summarize_folds(...), "folds": [...], "baseline": {...},
                         "pooled": classification_metrics / regression_metrics over all
                         out-of-fold predictions}
    cv_confusion.png    the pooled confusion matrix;  per_class.md   per-class table (pooled)
    cv_scatter.png      regression: out-of-fold predicted vs true values
    predictions.csv     out-of-fold prediction (and scores, or error) of every row
    report.html         self-contained page: mean ± std over folds, one row per fold, the pooled
                        confusion matrix and per-class table (classification) or the scatter
                        plot and largest errors (regression), thumbnails of the videos, the
                        settings (timing.json: how long it took)
    folds/NAME/eval/metrics.json   {"video": classification_metrics(...) | regression_metrics(...)}
    model/              the pipeline fitted on every labelled row: model.onnx + baseline.json

``model/baseline.json`` holds the format, task, estimator, options, classes (classification) or the
target's mean and standard deviation (regression), the feature columns in input order, the CV
summary, the feature settings of the table and versions; ``model.onnx`` (converted with skl2onnx,
input ``X`` of shape ``(N, len(columns))``, float64 — float32 for the SVR and random-forest
regressors, which onnxruntime computes in float32 only) is run with onnxruntime, so loading executes
nothing from the file.
"""

from __future__ import annotations

import contextlib
import csv
import io
import json
import os
import shutil
import tempfile
import time
import uuid
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from vidlearn.data.records import VideoRecord
from vidlearn.errors import ArtifactError, ConfigError, DataSourceError
from vidlearn.fsutil import safe_name
from vidlearn.provenance import package_versions

if TYPE_CHECKING:  # pragma: no cover
    from vidlearn.deploy.predictor import Prediction

__all__ = [
    "BASELINE_FORMAT",
    "CLASSIFIERS",
    "REGRESSORS",
    "TASKS",
    "BaselineModel",
    "FittedBaseline",
    "estimators",
    "evaluate_baseline",
    "fit_baseline",
    "is_baseline_model",
    "load_baseline",
    "make_pipeline",
    "run_baseline",
    "save_baseline",
    "select_columns",
]

CLASSIFIERS = ("svm", "logreg", "knn", "rf")
REGRESSORS = ("svm", "ridge", "knn", "rf")
TASKS = ("classification", "regression")
_ALIASES = {"svr": "svm", "svc": "svm"}
BASELINE_FORMAT = "vidlearn-baseline"
FORMAT_VERSION = 2  # 2: task, estimator, target scaling (1: classifiers only, key "classifier")
MODEL_FILE = "model.onnx"
META_FILE = "baseline.json"
Echo = Callable[[str], None]


# ---- pipelines -----------------------------------------------------------------------------


def _check_task(task: str) -> str:
    if task not in TASKS:
        raise ConfigError(f"baseline.task: unknown task {task!r}; choose from {', '.join(TASKS)}")
    return task


def estimators(task: str = "classification") -> tuple[str, ...]:
    """The estimator names a task accepts (``svm`` is SVC for classification, SVR for regression)."""
    return CLASSIFIERS if _check_task(task) == "classification" else REGRESSORS


def _estimator(name: str, task: str, seed: int, options: Mapping[str, Any]) -> Any:
    from sklearn import ensemble, linear_model, neighbors, svm

    forest = {"n_estimators": 300, "random_state": seed, "n_jobs": 1}
    defaults: dict[str, tuple[type, dict[str, Any]]]
    if _check_task(task) == "classification":
        defaults = {
            "svm": (svm.SVC, {"kernel": "rbf", "C": 1.0, "gamma": "scale", "break_ties": True}),
            "logreg": (linear_model.LogisticRegression, {"C": 1.0, "max_iter": 5000}),
            "knn": (neighbors.KNeighborsClassifier, {"n_neighbors": 5}),
            "rf": (ensemble.RandomForestClassifier, forest),
        }
    else:
        defaults = {
            "svm": (svm.SVR, {"kernel": "rbf", "C": 1.0, "gamma": "scale", "epsilon": 0.1}),
            "ridge": (linear_model.Ridge, {"alpha": 1.0}),
            "knn": (neighbors.KNeighborsRegressor, {"n_neighbors": 5}),
            "rf": (ensemble.RandomForestRegressor, forest),
        }
    key = _ALIASES.get(name, name)
    if key not in defaults:
        raise ConfigError(f"baseline.estimator: unknown {task} estimator {name!r}; choose from {', '.join(defaults)}")
    cls, params = defaults[key]
    try:
        return cls(**{**params, **dict(options)})
    except TypeError as exc:
        raise ConfigError(f"baseline.options: {exc}") from None


def make_pipeline(estimator: str = "svm", *, task: str = "classification", pca: int | None = None, seed: int = 0,
                  **options: Any) -> Any:
    """``StandardScaler -> [PCA(pca)] -> estimator`` as an unfitted scikit-learn Pipeline."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if pca is not None and int(pca) < 1:
        raise ConfigError(f"baseline.pca: number of components must be >= 1, got {pca}")
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if pca is not None:
        steps.append(("pca", PCA(n_components=int(pca), random_state=seed)))
    steps.append(("clf", _estimator(estimator, task, seed, options)))
    return Pipeline(steps)


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


def _fit(pipe: Any, x: np.ndarray, y: np.ndarray) -> Any:
    """Fit, shrinking PCA and k to what the training rows allow."""
    if "pca" in pipe.named_steps:
        want = pipe.named_steps["pca"].n_components
        pipe.set_params(pca__n_components=int(min(want, x.shape[0], x.shape[1])))
    clf = pipe.named_steps["clf"]
    if hasattr(clf, "n_neighbors"):
        clf.set_params(n_neighbors=int(min(clf.n_neighbors, x.shape[0])))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", category=UserWarning)
        pipe.fit(x, y)
    return pipe


def _fit_regressor(pipe: Any, x: np.ndarray, y: np.ndarray) -> tuple[Any, TargetScale]:
    scale = TargetScale.of(y)
    return _fit(pipe, x, scale.forward(y)), scale


def _scores(pipe: Any, x: np.ndarray, classes: Sequence[str]) -> np.ndarray:
    """(N, len(classes)) scores; classes the fold never saw get a score below every other."""
    clf = pipe.named_steps["clf"]
    if hasattr(clf, "predict_proba"):  # False for SVC without probability=True
        raw = np.asarray(pipe.predict_proba(x), dtype=np.float64)
    else:
        raw = np.asarray(pipe.decision_function(x), dtype=np.float64)
    return _align_scores(raw, [str(c) for c in clf.classes_], classes)


def _align_scores(raw: np.ndarray, seen: Sequence[str], classes: Sequence[str]) -> np.ndarray:
    if raw.ndim == 1:  # binary decision function: positive means the second class
        raw = np.stack([-raw, raw], axis=1)
    if list(seen) == list(classes):
        return raw
    out = np.full((raw.shape[0], len(classes)), raw.min() - 1.0 if raw.size else -1.0)
    index = {c: i for i, c in enumerate(classes)}
    for j, c in enumerate(seen):
        out[:, index[c]] = raw[:, j]
    return out


# ---- the table -----------------------------------------------------------------------------


def _load_table(table: pd.DataFrame | str | Path) -> pd.DataFrame:
    if isinstance(table, pd.DataFrame):
        return table
    from vidlearn.features.table import read_feature_table

    return read_feature_table(table)


def select_columns(table: pd.DataFrame, prefixes: Sequence[str] | str | None = None) -> list[str]:
    """The table's feature columns, or those starting with any of ``prefixes`` (``"color"``,
    ``"shape.hog"``, ``"deep"`` ...; a comma-separated string works too)."""
    from vidlearn.features.table import feature_columns

    cols = feature_columns(table)
    if not cols:
        raise DataSourceError(table.attrs.get("vidlearn", {}).get("path", "feature table"), ["no feature columns (numeric columns named family.descriptor...)"])
    if prefixes is None:
        return cols
    wanted = [p.strip() for p in (prefixes.split(",") if isinstance(prefixes, str) else prefixes) if p.strip()]
    if not wanted:
        return cols
    chosen = [c for c in cols if any(c.startswith(p) for p in wanted)]
    empty = [p for p in wanted if not any(c.startswith(p) for c in cols)]
    if empty:
        families = sorted({c.split(".")[0] for c in cols})
        raise ConfigError(f"baseline.columns: no feature column starts with {empty[0]!r} (families: {', '.join(families)})")
    return chosen


def _matrix(table: pd.DataFrame, columns: Sequence[str], source: str) -> np.ndarray:
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise DataSourceError(source, [f"{len(missing)} feature column(s) missing, e.g. {', '.join(missing[:3])}"])
    x = table[list(columns)].to_numpy(dtype=np.float64, na_value=np.nan)
    if not np.all(np.isfinite(x)):
        bad = int((~np.isfinite(x)).any(axis=1).sum())
        raise DataSourceError(source, [f"{bad} row(s) have missing or infinite feature values"])
    return x


def _labelled_rows(table: pd.DataFrame, group: str | None, source: str, echo: Echo,
                   task: str) -> tuple[pd.DataFrame, np.ndarray, list[str]]:
    """The rows with a target, their targets (class indices, or floats for regression) and the
    class names (empty for regression)."""
    if "target" not in table.columns:
        raise DataSourceError(source, [f"no 'target' column (columns: {', '.join(map(str, table.columns[:8]))} ...)"])
    if group is not None and group not in table.columns:
        meta = [c for c in table.columns if isinstance(c, str) and "." not in c]
        raise ConfigError(f"baseline.group: the table has no column {group!r} (non-feature columns: {', '.join(meta)})")
    labelled = table[table["target"].notna()].reset_index(drop=True)
    if len(labelled) < len(table):
        echo(f"ignoring {len(table) - len(labelled)} row(s) without a target")
    target = labelled["target"]
    numeric = pd.api.types.is_numeric_dtype(target) and not pd.api.types.is_bool_dtype(target)
    if task == "regression":
        values = pd.to_numeric(target, errors="coerce").to_numpy(dtype=np.float64)
        bad = [i for i in range(len(values)) if not np.isfinite(values[i])]
        if bad:
            shown = [f"{labelled['path'].iloc[i]}: target {target.iloc[i]!r} is not a number" for i in bad[:5]]
            raise DataSourceError(source, shown + ([f"... and {len(bad) - 5} more"] if len(bad) > 5 else []))
        if len(values) < 2:
            raise DataSourceError(source, [f"need at least 2 videos with a target for regression, found {len(values)}"])
        return labelled, values, []
    if numeric:
        as_float = target.to_numpy(dtype=np.float64)
        if not np.all(as_float == np.round(as_float)):
            raise ConfigError(f"{source}: the targets are numbers (e.g. {as_float[0]:g}); "
                              "use --task regression to predict them, or give class names")
        names = [str(int(v)) for v in as_float]
    else:
        names = [str(t) for t in target]
    classes = sorted(set(names))
    if len(classes) < 2:
        raise DataSourceError(source, [f"need at least 2 classes to train a classifier, found {len(classes)}"])
    return labelled, np.array([classes.index(n) for n in names]), classes


def _records(table: pd.DataFrame, group: str | None, targets: Sequence[Any]) -> list[VideoRecord]:
    groups = table[group] if group is not None else [None] * len(table)
    starts = table["start"] if "start" in table.columns else [None] * len(table)
    ends = table["end"] if "end" in table.columns else [None] * len(table)

    def opt(v: Any) -> Any:
        return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v

    return [
        VideoRecord(
            path=Path(str(p)),
            target=t,
            group=None if opt(g) is None else str(g),
            start=opt(s),
            end=opt(e),
            meta={"row": i},
        )
        for i, (p, t, g, s, e) in enumerate(zip(table["path"], targets, groups, starts, ends))
    ]


# ---- the run -------------------------------------------------------------------------------


def run_baseline(
    table: pd.DataFrame | str | Path,
    out: str | Path,
    *,
    estimator: str = "svm",
    task: str = "classification",
    cv: str | None = None,
    group: str | None = "group",
    pca: int | None = None,
    columns: Sequence[str] | str | None = None,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
    save_model: bool = True,
    echo: Echo | None = None,
) -> dict[str, Any]:
    """Cross-validate a classical baseline on a feature table and save the report (and the model
    fitted on all rows) under ``out``. Returns the ``cv_metrics.json`` content.

    ``task``: ``"classification"`` (class names in ``target``) or ``"regression"`` (numbers).
    ``cv``: ``"leave-one-group-out"`` (alias ``logo``) or ``"kfold:K"``; default: leave one group
    out when the ``group`` column has values, else 5-fold. ``group``: the table column holding the
    group (``"group"`` by default; any manifest column kept in the table works, e.g. ``"actor"``).
    ``columns``: feature-column prefixes to use (default: all feature columns)."""
    from vidlearn.data.splits import parse_cv
    from vidlearn.tasks.metrics import classification_metrics, regression_metrics, summarize_folds, write_metrics

    say: Echo = echo or (lambda _msg: None)
    options = dict(options or {})
    _check_task(task)
    make_pipeline(estimator, task=task, pca=pca, seed=seed, **options)  # check the settings before any work
    source = str(table) if not isinstance(table, pd.DataFrame) else table.attrs.get("vidlearn", {}).get("path", "feature table")
    frame = _load_table(table)
    cols = select_columns(frame, columns)
    group_col = group if group and (group in frame.columns or group != "group") else None
    rows, y, classes = _labelled_rows(frame, group_col, source, say, task)
    if group_col is not None and rows[group_col].isna().all():
        group_col = None
    x = _matrix(rows, cols, source)
    if cv is None:
        cv = "leave-one-group-out" if group_col is not None else "kfold:5"
    protocol = parse_cv(cv, seed=seed)
    records = _records(rows, group_col, [classes[int(i)] for i in y] if classes else [float(v) for v in y])
    folds = protocol.splits(records)
    what = f"{len(classes)} classes" if task == "classification" else f"target {y.min():.4g}..{y.max():.4g}"
    say(f"{estimator}{f' + PCA({pca})' if pca else ''} ({task}) on {len(cols)} feature(s), {len(rows)} video(s), "
        f"{what}; {protocol} ({len(folds)} folds)")

    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    per_fold: list[dict[str, Any]] = []
    oof = np.zeros((len(rows), len(classes))) if task == "classification" else np.zeros(len(rows))
    fold_of = [""] * len(rows)
    for k, fold in enumerate(folds, start=1):
        tr = np.array([r.meta["row"] for r in fold.train])
        te = np.array([r.meta["row"] for r in fold.test])
        fitted = _fit_on(x[tr], y[tr], estimator=estimator, task=task, pca=pca, seed=seed, options=options,
                         columns=cols, classes=classes)
        oof[te] = fitted.outputs(x[te])
        for i in te:
            fold_of[i] = fold.name
        if task == "classification":
            m = classification_metrics(y[te], oof[te], classes, level="video")
            headline = f"video accuracy {m['accuracy']:.3f}"
        else:
            m = regression_metrics(y[te], oof[te], level="video")
            headline = f"MAE {m['mae']:.4g}"
        per_fold.append(m)
        write_metrics(run / "folds" / safe_name(fold.name) / "eval" / "metrics.json", {"video": m})
        say(f"[{k}/{len(folds)}] {fold.name}: train {len(tr)}, test {len(te)}, {headline}")

    pooled = classification_metrics(y, oof, classes, level="video") if task == "classification" else regression_metrics(y, oof, level="video")
    summary: dict[str, Any] = {
        "protocol": str(protocol),
        "video": summarize_folds(per_fold),
        "folds": [f.name for f in folds],
        "pooled": pooled,
        "baseline": {
            "task": task,
            "estimator": estimator,
            "options": options,
            "pca": pca,
            "columns": list(columns.split(",")) if isinstance(columns, str) else (list(columns) if columns else None),
            "n_features": len(cols),
            "group": group_col,
            "seed": seed,
            "table": source,
        },
    }
    write_metrics(run / "cv_metrics.json", summary)
    _write_report(run, summary, classes, rows, y, oof, fold_of)
    timing: dict[str, Any] = {"cross-validation": time.perf_counter() - started}
    if save_model:
        started = time.perf_counter()
        fitted = _fit_on(x, y, estimator=estimator, task=task, pca=pca, seed=seed, options=options, columns=cols,
                         classes=classes, frame=frame)
        fitted.info["cv"] = {"protocol": str(protocol), "video": summary["video"]}
        summary["model"] = str(fitted.save(run / "model"))
        timing["final model (fit + ONNX export)"] = time.perf_counter() - started
        say(f"model fitted on all {len(rows)} video(s): {summary['model']}")
    _write_html_report(run, summary, classes, rows, y, oof, fold_of, cols, echo=echo, timing=timing)
    return summary


def _fit_on(x: np.ndarray, y: np.ndarray, *, estimator: str, task: str, pca: int | None, seed: int,
            options: Mapping[str, Any], columns: list[str], classes: list[str],
            frame: pd.DataFrame | None = None) -> FittedBaseline:
    pipe = make_pipeline(estimator, task=task, pca=pca, seed=seed, **options)
    info = {
        "task": task,
        "estimator": estimator,
        "options": dict(options),
        "pca": pca,
        "seed": seed,
        "feature_settings": None if frame is None else frame.attrs.get("vidlearn", {}).get("settings"),
    }
    if task == "classification":
        return FittedBaseline(_fit(pipe, x, np.asarray(classes)[y]), columns, classes, info=info)
    pipe, scale = _fit_regressor(pipe, x, y)
    return FittedBaseline(pipe, columns, [], task="regression", target_scale=scale, info=info)


@dataclass
class FittedBaseline:
    """A fitted scikit-learn pipeline with the feature columns it reads and the class names
    (classification) or the target scaling (regression)."""

    pipeline: Any
    columns: list[str]
    classes: list[str]
    task: str = "classification"
    target_scale: TargetScale | None = None
    info: dict[str, Any] = field(default_factory=dict)

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """(N, K) class scores, or (N,) predicted values, of a feature matrix in ``columns`` order."""
        if self.task == "classification":
            return _scores(self.pipeline, x, self.classes)
        return (self.target_scale or TargetScale()).inverse(self.pipeline.predict(x))

    def scores(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """(N, len(classes)) scores of the rows of a feature table (classification)."""
        if self.task != "classification":
            raise ConfigError("scores: a regression baseline predicts values; use predict()")
        return self.outputs(_matrix(_load_table(table), self.columns, "feature table"))

    def predict(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """Predicted class names (arg-max of the scores), or predicted values (regression)."""
        out = self.outputs(_matrix(_load_table(table), self.columns, "feature table"))
        if self.task == "classification":
            return np.asarray(self.classes, dtype=object)[out.argmax(axis=1)]
        return out

    def save(self, out_dir: str | Path) -> Path:
        """Write the ONNX model folder (see :func:`save_baseline`)."""
        return save_baseline(out_dir, self)


def fit_baseline(
    table: pd.DataFrame | str | Path,
    *,
    estimator: str = "svm",
    task: str = "classification",
    pca: int | None = None,
    columns: Sequence[str] | str | None = None,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> FittedBaseline:
    """Fit one pipeline on every labelled row of a feature table (no cross-validation)."""
    _check_task(task)
    frame = _load_table(table)
    source = str(frame.attrs.get("vidlearn", {}).get("path", "feature table"))
    cols = select_columns(frame, columns)
    rows, y, classes = _labelled_rows(frame, None, source, lambda _m: None, task)
    x = _matrix(rows, cols, source)
    return _fit_on(x, y, estimator=estimator, task=task, pca=pca, seed=seed, options=dict(options or {}),
                   columns=cols, classes=classes, frame=frame)


def _write_report(run: Path, summary: dict[str, Any], classes: list[str], rows: pd.DataFrame, y: np.ndarray,
                  oof: np.ndarray, fold_of: list[str]) -> None:
    from vidlearn.fsutil import atomic_write_text
    from vidlearn.tasks.plots import per_class_table, plot_confusion_matrix, plot_regression_scatter

    buf = io.StringIO()
    w = csv.writer(buf)
    if summary["baseline"]["task"] == "classification":
        plot_confusion_matrix(np.asarray(summary["video"]["confusion_matrix"]), classes, run / "cv_confusion.png")
        atomic_write_text(run / "per_class.md", per_class_table(summary["pooled"]) + "\n")
        w.writerow(["path", "target", "fold", "predicted", *[f"score_{c}" for c in classes]])
        for i in range(len(rows)):
            w.writerow([rows["path"].iloc[i], rows["target"].iloc[i], fold_of[i], classes[int(oof[i].argmax())],
                        *[f"{v:.6g}" for v in oof[i]]])
    else:
        plot_regression_scatter(y, oof, run / "cv_scatter.png")
        w.writerow(["path", "target", "fold", "predicted", "error"])
        for i in range(len(rows)):
            w.writerow([rows["path"].iloc[i], f"{y[i]:.9g}", fold_of[i], f"{oof[i]:.9g}", f"{oof[i] - y[i]:.9g}"])
    atomic_write_text(run / "predictions.csv", buf.getvalue())


def _write_html_report(run: Path, summary: dict[str, Any], classes: list[str], rows: pd.DataFrame, y: np.ndarray,
                       oof: np.ndarray, fold_of: list[str], cols: list[str], *, echo: Echo | None,
                       timing: Mapping[str, Any]) -> Path | None:
    """run/report.html: the CV summary (folds, pooled confusion matrix and per-class table, or the
    scatter plot and largest errors), the videos' thumbnails and the baseline's settings. A failure
    only warns: the run itself has succeeded."""
    from vidlearn.reports import write_run_report

    try:
        predictions, info = _report_rows(summary, classes, rows, y, oof, fold_of, cols)
    except Exception as exc:  # noqa: BLE001 - a missing report must not fail a finished run
        import sys

        (echo or (lambda s: print(s, file=sys.stderr)))(f"warning: {run / 'report.html'} not written ({exc.__class__.__name__}: {exc})")
        return None
    image = ("confusion", run / "cv_confusion.png") if classes else ("scatter", run / "cv_scatter.png")
    return write_run_report(
        run,
        title=f"Baseline report: {summary['baseline']['estimator']} ({run.name})",
        metrics=summary,
        config=summary["baseline"],
        images=dict([image]),
        predictions=predictions,
        info=info,
        timing=timing,
        echo=echo,
    )


def _report_rows(summary: dict[str, Any], classes: list[str], rows: pd.DataFrame, y: np.ndarray, oof: np.ndarray,
                 fold_of: list[str], cols: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The report's per-video predictions (path, true, predicted, score, fold[, start, end]) and
    its summary facts."""
    settings = summary["baseline"]
    # SVC's decision values are not probabilities: the report would label them "p(class)"
    probabilities = settings["estimator"] not in ("svm", "svc") or bool(settings["options"].get("probability"))
    source = Path(str(settings.get("table") or ""))
    base = source.parent if source.is_file() else None
    predictions = []
    for i in range(len(rows)):
        pred: dict[str, Any] = {"path": str(_video_path(rows["path"].iloc[i], base)), "fold": fold_of[i]}
        if classes:
            k = int(oof[i].argmax())
            pred.update(true=classes[int(y[i])], predicted=classes[k], score=float(oof[i, k]) if probabilities else None)
        else:
            pred.update(true=float(y[i]), predicted=float(oof[i]), score=None)
        for key in ("start", "end"):
            if key in rows.columns:
                value = rows[key].iloc[i]
                pred[key] = None if pd.isna(value) else float(value)
        predictions.append(pred)
    families = list(dict.fromkeys(c.split(".", 1)[0] for c in cols))
    info = {
        "task": settings["task"],
        "estimator": settings["estimator"] + (f" + PCA({settings['pca']})" if settings.get("pca") else ""),
        "options": ", ".join(f"{k}={v}" for k, v in settings["options"].items()) or None,
        "features": f"{len(cols)} column(s): " + ", ".join(families),
        "columns": ", ".join(settings["columns"]) if settings.get("columns") else "all feature columns",
        "folds": len(summary["folds"]),  # the protocol is a fact of its own (from the metrics)
        "group column": settings.get("group"),
        "table": settings.get("table"),
        "model": summary.get("model"),
    }
    return predictions, info


def _video_path(raw: Any, base: Path | None) -> Path:
    """A table's video path; a relative one that does not exist is looked up beside the table."""
    p = Path(str(raw))
    if p.is_absolute() or base is None or p.exists():
        return p
    return base / p


# ---- saving & loading (ONNX, never pickle) -------------------------------------------------


def save_baseline(out_dir: str | Path, fitted: FittedBaseline) -> Path:
    """Convert a fitted baseline's pipeline to ONNX and write ``out_dir/model.onnx`` +
    ``baseline.json``, atomically as a whole (an existing baseline model folder is replaced only
    once the new one is complete). Returns ``out_dir``."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    from vidlearn.tasks.metrics import to_jsonable

    target = Path(out_dir)
    pipeline, columns = fitted.pipeline, fitted.columns
    clf = pipeline.steps[-1][1]
    classification = fitted.task == "classification"
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
    transform = _check_conversion(pipeline, model_bytes, len(columns), classification, dtype)
    if classification:
        task_meta: dict[str, Any] = {
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
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        (tmp / MODEL_FILE).write_bytes(model_bytes)
        (tmp / META_FILE).write_text(json.dumps(meta, indent=2, allow_nan=False) + "\n", encoding="utf-8")
        for f in (MODEL_FILE, META_FILE):
            os.chmod(tmp / f, 0o644)
        os.chmod(tmp, 0o755)
        old = None
        if target.exists():
            old = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
            os.rename(target, old)
        try:
            os.rename(tmp, target)
        except BaseException:
            if old is not None:
                os.rename(old, target)
            raise
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return target


def _onnx_input_dtype(task: str, clf: Any) -> str:
    """float64 where onnxruntime has double kernels; its SVMRegressor and TreeEnsembleRegressor
    (ai.onnx.ml opset 3) compute in float32 only, so those regressors take float32 input."""
    from sklearn.ensemble import RandomForestRegressor
    from sklearn.svm import SVR

    return "float32" if task == "regression" and isinstance(clf, (SVR, RandomForestRegressor)) else "float64"


def _session(model_bytes: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


def _check_conversion(pipeline: Any, model_bytes: bytes, n_features: int, classification: bool, dtype: str) -> str:
    """Run the ONNX model beside the pipeline on probe rows spread like the training data; returns
    how its output maps to the pipeline's scores ("none", or "negate" for skl2onnx's binary SVC,
    whose two columns come out swapped). Raises RuntimeError when it does not reproduce them."""
    scaler = pipeline.steps[0][1]
    rng = np.random.default_rng(0)
    probe = np.asarray(scaler.mean_) + np.asarray(scaler.scale_) * rng.normal(0.0, 1.0, (64, n_features))
    clf = pipeline.steps[-1][1]
    outputs = _session(model_bytes).run(None, {"X": probe.astype(dtype)})
    if classification:
        want = _align_scores(
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
class BaselineModel:
    """A loaded baseline: the ONNX pipeline, its task, its classes or target scaling and the
    feature columns it reads."""

    path: Path
    task: str
    classes: list[str]
    columns: list[str]
    meta: dict[str, Any]
    session: Any = field(repr=False)

    @property
    def estimator(self) -> str:
        return str(self.meta.get("estimator", self.meta.get("classifier", "?")))

    @property
    def feature_settings(self) -> dict[str, Any] | None:
        """How the training table's features were computed (kinds, fps, size), when known."""
        return self.meta.get("feature_settings")

    def _run(self, table: pd.DataFrame | str | Path) -> list[Any]:
        frame = _load_table(table)
        x = _matrix(frame, self.columns, str(frame.attrs.get("vidlearn", {}).get("path", "feature table")))
        spec = self.meta["input"]
        return self.session.run(None, {spec["name"]: x.astype(spec.get("dtype", "float64"))})

    def scores(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """(N, len(classes)) scores (probabilities or decision values, see the module docstring)."""
        if self.task != "classification":
            raise ConfigError(f"{self.path}: a regression baseline predicts values; use predict()")
        spec = self.meta.get("scores") or {}
        raw = np.asarray(self._run(table)[int(spec.get("output", 1))], dtype=np.float64)
        if spec.get("transform") == "negate":
            raw = -raw
        return _align_scores(raw, self.meta.get("model_classes", self.classes), self.classes)

    def predict(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """Predicted class names (the arg-max of :meth:`scores`) or values (regression), one per row."""
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
        from vidlearn.features.table import compute_feature_table

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

    def predict_videos(self, videos: Sequence[str | Path], *, top_k: int = 1, workers: int = 1,
                       progress: bool = False, ray: str | None = None) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Compute the features of video files (see :meth:`feature_table`) and predict them.
        Returns the predictions and the ``(path, reason)`` of the videos that could not be read."""
        from vidlearn.deploy.predictor import Prediction

        if top_k < 1:
            raise ConfigError(f"--top-k must be at least 1, got {top_k}")
        table, skipped = self.feature_table([VideoRecord(path=Path(v)) for v in videos], workers=workers, progress=progress, ray=ray)
        if table is None:
            return [], skipped
        paths = [str(v) for v in table["path"]]
        if self.task == "regression":
            return [Prediction(path=pth, value=float(v)) for pth, v in zip(paths, self.predict(table))], skipped
        scores = self.scores(table)
        preds = []
        for pth, row in zip(paths, scores):
            order = np.argsort(-row, kind="stable")[: min(top_k, len(self.classes))]
            ranked = [(self.classes[int(j)], float(row[j])) for j in order]
            preds.append(Prediction(path=pth, label=ranked[0][0], score=ranked[0][1], top_k=ranked))
        return preds, skipped


def evaluate_baseline(model_path: str | Path, data: str | Path, out: str | Path, *, group: str | None = None,
                      workers: int = 1, progress: bool = False) -> dict[str, Any]:
    """Evaluate a saved baseline model on labelled videos (features computed as for its training
    table): ``out/metrics.json`` (``{"video": ..., "skipped": [...]}``, the deep models' schema),
    confusion matrix and per-class table or scatter plot, predictions.csv and report.html."""
    from vidlearn.data.sources import load_records
    from vidlearn.fsutil import atomic_write_text
    from vidlearn.reports import write_predictions_csv, write_run_report
    from vidlearn.tasks.metrics import classification_metrics, regression_metrics, write_metrics
    from vidlearn.tasks.plots import per_class_table, plot_confusion_matrix, plot_regression_scatter

    started = time.perf_counter()
    model = load_baseline(model_path)
    records = load_records(data, task=model.task, group=group)
    if model.task == "classification":
        unknown = sorted({str(r.target) for r in records} - set(model.classes))
        if unknown:
            raise ConfigError(f"{data}: classes {unknown} are not among the model's classes {model.classes}")
    table, skipped = model.feature_table(records, workers=workers, progress=progress)
    if table is None:
        raise DataSourceError(data, [f"{p}: {r}" for p, r in skipped])
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    truth = table["target"].tolist()
    if model.task == "classification":
        scores = model.scores(table)
        video = classification_metrics([model.classes.index(str(t)) for t in truth], scores, model.classes, level="video")
        plot_confusion_matrix(np.asarray(video["confusion_matrix"]), model.classes, run / "confusion.png")
        atomic_write_text(run / "per_class.md", per_class_table(video) + "\n")
        probabilities = model.estimator not in ("svm", "svc")
        rows = [{"path": p, "true": str(t), "predicted": model.classes[int(s.argmax())],
                 "score": float(s.max()) if probabilities else None} for p, t, s in zip(table["path"], truth, scores)]
    else:
        values = model.predict(table)
        video = regression_metrics(np.asarray(truth, dtype=np.float64), values, level="video")
        plot_regression_scatter(np.asarray(truth, dtype=np.float64), values, run / "scatter.png")
        rows = [{"path": p, "true": float(t), "predicted": float(v)} for p, t, v in zip(table["path"], truth, values)]
    for row, start, end in zip(rows, table.get("start", [None] * len(rows)), table.get("end", [None] * len(rows))):
        row.update(start=None if pd.isna(start) else float(start), end=None if pd.isna(end) else float(end))
    metrics = {"video": video, "skipped": [{"path": p, "reason": r} for p, r in skipped]}
    write_metrics(run / "metrics.json", metrics)
    write_predictions_csv(run / "predictions.csv", rows)
    write_run_report(run, title=f"Evaluation report: baseline {model.estimator} on {Path(data).name}", metrics=metrics,
                     config={k: model.meta.get(k) for k in ("task", "estimator", "options", "pca", "feature_settings")},
                     timing={"evaluation": time.perf_counter() - started},
                     info={"model": str(model.path), "data": str(data), "features": len(model.columns)})
    return metrics


def is_baseline_model(path: str | Path) -> bool:
    """Whether ``path`` is a baseline model folder, its run folder or its model.onnx/baseline.json."""
    p = Path(path)
    if p.is_file():
        return p.name in (MODEL_FILE, META_FILE) and (p.parent / META_FILE).is_file()
    return (p / META_FILE).is_file() or (p / "model" / META_FILE).is_file()


def load_baseline(path: str | Path) -> BaselineModel:
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
    if task == "classification":
        if not isinstance(meta.get("classes"), list) or not all(isinstance(v, str) for v in meta["classes"]):
            raise ArtifactError(p / META_FILE, "classes must be a list of strings")
        if (meta.get("scores") or {}).get("transform", "none") not in ("none", "negate"):
            raise ArtifactError(p / META_FILE, f"unknown score transform {meta['scores'].get('transform')!r}")
    else:
        t = meta.get("target")
        if not (isinstance(t, dict) and all(isinstance(t.get(k), (int, float)) for k in ("mean", "std")) and t["std"] > 0):
            raise ArtifactError(p / META_FILE, "a regression model needs target.mean and target.std (> 0)")
    try:
        session = _session((p / MODEL_FILE).read_bytes())
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types; all mean "unreadable"
        with contextlib.suppress(Exception):
            exc = str(exc).splitlines()[0]  # type: ignore[assignment]
        raise ArtifactError(p / MODEL_FILE, f"not a loadable ONNX model ({exc})") from None
    return BaselineModel(path=p, task=task, classes=list(meta.get("classes") or []), columns=list(meta["columns"]),
                         meta=meta, session=session)
