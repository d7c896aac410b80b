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
nothing from the file."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DataSourceError
from vidlearn.fsutil import safe_name
from vidlearn.predictors.classical import (
    TargetScale,
    check_task,
    save_baseline,
)
from vidlearn.progress import Echo
from vidlearn.tables.matrix import feature_matrix, load_table, select_columns
from vidlearn.training.baseline_report import write_baseline_html, write_baseline_report
from vidlearn.training.estimators import (
    CLASSIFIERS,
    MULTILABEL_ESTIMATORS,
    REGRESSORS,
    _fit,
    _fit_regressor,
    _scores,
    estimators,
    make_pipeline,
    multilabel_scores,
)

__all__ = [
    "CLASSIFIERS",
    "MULTILABEL_ESTIMATORS",
    "REGRESSORS",
    "FittedBaseline",
    "estimators",
    "fit_baseline",
    "make_pipeline",
    "run_baseline",
]


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
    if task == "multilabel":
        from vidlearn.data.records import split_labels
        from vidlearn.tasks.multilabel import multi_hot

        texts = [str(t) for t in target]
        classes = sorted({label for t in texts for label in split_labels(t)})
        if len(classes) < 2:
            raise DataSourceError(source, [f"need at least 2 classes for multilabel, found {len(classes)}" + (f" ({', '.join(classes)})" if classes else "")])
        return labelled, multi_hot(texts, classes).astype(np.int64), classes
    if task == "regression":
        values = pd.to_numeric(target, errors="coerce").to_numpy(dtype=np.float64)
        bad = [i for i in range(len(values)) if not np.isfinite(values[i])]
        if bad:
            raise DataSourceError(source, [f"{labelled['path'].iloc[i]}: target {target.iloc[i]!r} is not a number" for i in bad])
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

    ``task``: ``"classification"`` (class names in ``target``), ``"regression"`` (numbers) or
    ``"multilabel"`` (labels joined by ``|``; one binary classifier per class, one-vs-rest; the
    CV metrics decide at 0.5, and the saved model's per-class thresholds are chosen on the
    out-of-fold scores).
    ``cv``: ``"leave-one-group-out"`` (alias ``logo``) or ``"kfold:K"``; default: leave one group
    out when the ``group`` column has values, else 5-fold. ``group``: the table column holding the
    group (``"group"`` by default; any manifest column kept in the table works, e.g. ``"actor"``).
    ``columns``: feature-column prefixes to use (default: all feature columns)."""
    from vidlearn.data.splits import parse_cv
    from vidlearn.tasks.metrics import (
        classification_metrics,
        regression_metrics,
        summarize_folds,
        write_metrics,
    )
    from vidlearn.tasks.multilabel import choose_thresholds, multilabel_metrics

    say: Echo = echo or (lambda _msg: None)
    options = dict(options or {})
    check_task(task)
    make_pipeline(estimator, task=task, pca=pca, seed=seed, **options)  # check the settings before any work
    source = str(table) if not isinstance(table, pd.DataFrame) else table.attrs.get("vidlearn", {}).get("path", "feature table")
    frame = load_table(table)
    cols = select_columns(frame, columns)
    group_col = group if group and (group in frame.columns or group != "group") else None
    rows, y, classes = _labelled_rows(frame, group_col, source, say, task)
    if group_col is not None and rows[group_col].isna().all():
        group_col = None
    x = feature_matrix(rows, cols, source)
    if cv is None:
        cv = "leave-one-group-out" if group_col is not None else "kfold:5"
    protocol = parse_cv(cv, seed=seed)
    if task == "multilabel":
        targets: list[Any] = [str(t) for t in rows["target"]]
    else:
        targets = [classes[int(i)] for i in y] if classes else [float(v) for v in y]
    records = _records(rows, group_col, targets)
    folds = protocol.splits(records)
    if task == "classification":
        _check_fold_classes(folds, records, protocol, group_col)
    what = f"{len(classes)} classes" if task != "regression" else f"target {y.min():.4g}..{y.max():.4g}"
    say(f"{estimator}{f' + PCA({pca})' if pca else ''} ({task}) on {len(cols)} feature(s), {len(rows)} video(s), "
        f"{what}; {protocol} ({len(folds)} folds)")

    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    per_fold: list[dict[str, Any]] = []
    oof = np.zeros((len(rows), len(classes))) if task != "regression" else np.zeros(len(rows))
    fold_of = [""] * len(rows)
    for k, fold in enumerate(folds, start=1):
        tr = np.array([r.meta["row"] for r in fold.train])
        te = np.array([r.meta["row"] for r in fold.test])
        fitted = _fit_on(x[tr], y[tr], estimator=estimator, task=task, pca=pca, seed=seed, options=options,
                         columns=cols, classes=classes)
        oof[te] = fitted.outputs(x[te])
        for i in te:
            fold_of[i] = fold.name
        if task == "multilabel":
            m = multilabel_metrics(y[te], oof[te], classes, level="video")
            headline = f"video mAP {m['map'] or 0:.3f}, micro F1 {m['micro']['f1']:.3f}"
        elif task == "classification":
            m = classification_metrics(y[te], oof[te], classes, level="video")
            headline = f"video accuracy {m['accuracy']:.3f}"
        else:
            m = regression_metrics(y[te], oof[te], level="video")
            headline = f"MAE {m['mae']:.4g}"
        per_fold.append(m)
        write_metrics(run / "folds" / safe_name(fold.name) / "eval" / "metrics.json", {"video": m})
        say(f"[{k}/{len(folds)}] {fold.name}: train {len(tr)}, test {len(te)}, {headline}")

    if task == "multilabel":
        pooled = multilabel_metrics(y, oof, classes, level="video")
    elif task == "classification":
        pooled = classification_metrics(y, oof, classes, level="video")
    else:
        pooled = regression_metrics(y, oof, level="video")
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
    write_baseline_report(run, summary, classes, rows, y, oof, fold_of)
    timing: dict[str, Any] = {"cross-validation": time.perf_counter() - started}
    if save_model:
        started = time.perf_counter()
        fitted = _fit_on(x, y, estimator=estimator, task=task, pca=pca, seed=seed, options=options, columns=cols,
                         classes=classes, frame=frame)
        if task == "multilabel":
            fitted.thresholds = choose_thresholds(y, oof)
            summary["thresholds"] = dict(zip(classes, fitted.thresholds))
            say("thresholds chosen on the out-of-fold scores: " + ", ".join(f"{c} {t:.2f}" for c, t in zip(classes, fitted.thresholds)))
        fitted.info["cv"] = {"protocol": str(protocol), "video": summary["video"]}
        fitted.info["training_videos"] = sorted({os.path.realpath(str(v)) for v in rows["path"]})
        summary["model"] = str(fitted.save(run / "model"))
        timing["final model (fit + ONNX export)"] = time.perf_counter() - started
        say(f"model fitted on all {len(rows)} video(s): {summary['model']}")
    write_baseline_html(run, summary, classes, rows, y, oof, fold_of, cols, echo=echo, timing=timing)
    return summary


def _check_fold_classes(folds: Sequence[Any], records: Sequence[VideoRecord], protocol: Any, group_col: str | None) -> None:
    """Refuse, before any fitting, folds whose training rows hold a single class (scikit-learn's
    classifiers cannot be fitted on one class): one ConfigError line naming the class that is
    missing from training, with how many videos (and groups) it has."""
    for fold in folds:
        trained = {r.target for r in fold.train}
        if len(trained) >= 2:
            continue
        missing = sorted({r.target for r in fold.test} - trained)
        cls = missing[0] if missing else min(trained) if trained else "?"
        own = [r for r in records if r.target == cls]
        where = ""
        if group_col is not None:
            groups = sorted({str(r.group) for r in own})
            where = f" in {len(groups)} {group_col} ({', '.join(groups[:5])}{', ...' if len(groups) > 5 else ''})"
        only = ", ".join(repr(c) for c in sorted(trained)) or "nothing"
        raise ConfigError(
            f"{protocol}: class '{cls}' has too few videos for these folds ({len(own)} video(s){where}): "
            f"fold {fold.name} would train on {only} alone; add videos of '{cls}', drop the class, or use other folds")


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
    if task == "multilabel":
        return FittedBaseline(_fit(pipe, x, y), columns, classes, task="multilabel", info=info)
    if task == "classification":
        return FittedBaseline(_fit(pipe, x, np.asarray(classes)[y]), columns, classes, info=info)
    pipe, scale = _fit_regressor(pipe, x, y)
    return FittedBaseline(pipe, columns, [], task="regression", target_scale=scale, info=info)


@dataclass
class FittedBaseline:
    """A fitted scikit-learn pipeline with the feature columns it reads and the class names
    (classification, multilabel: with the per-class thresholds, 0.5 unless chosen) or the target
    scaling (regression)."""

    pipeline: Any
    columns: list[str]
    classes: list[str]
    task: str = "classification"
    target_scale: TargetScale | None = None
    info: dict[str, Any] = field(default_factory=dict)
    thresholds: list[float] | None = None

    def outputs(self, x: np.ndarray) -> np.ndarray:
        """(N, K) class scores, or (N,) predicted values, of a feature matrix in ``columns`` order."""
        if self.task == "multilabel":
            return multilabel_scores(self.pipeline, x)
        if self.task == "classification":
            return _scores(self.pipeline, x, self.classes)
        return (self.target_scale or TargetScale()).inverse(self.pipeline.predict(x))

    def scores(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """(N, len(classes)) scores of the rows of a feature table (classification, multilabel)."""
        if self.task == "regression":
            raise ConfigError("scores: a regression baseline predicts values; use predict()")
        return self.outputs(feature_matrix(load_table(table), self.columns, "feature table"))

    def predict(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """Predicted class names (arg-max of the scores), the labels over their thresholds joined by
        ``|`` (multilabel), or predicted values (regression)."""
        out = self.outputs(feature_matrix(load_table(table), self.columns, "feature table"))
        if self.task == "multilabel":
            t = np.asarray(self.thresholds or [0.5] * len(self.classes))
            return np.asarray(["|".join(c for c, on in zip(self.classes, row) if on) for row in out >= t], dtype=object)
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
    check_task(task)
    frame = load_table(table)
    source = str(frame.attrs.get("vidlearn", {}).get("path", "feature table"))
    cols = select_columns(frame, columns)
    rows, y, classes = _labelled_rows(frame, None, source, lambda _m: None, task)
    x = feature_matrix(rows, cols, source)
    return _fit_on(x, y, estimator=estimator, task=task, pca=pca, seed=seed, options=dict(options or {}),
                   columns=cols, classes=classes, frame=frame)
