"""Classical baselines on a feature table: scikit-learn pipelines, the deep models' CV protocol and
report, and a saved model that is ONNX (never pickle).

>>> result = run_baseline("features.parquet", "runs/svm", classifier="svm", cv="leave-one-group-out")
>>> result["video"]["metrics"]["accuracy"]           # {"mean", "std", "values"}
>>> model = load_baseline("runs/svm")                 # the model fitted on every labelled row
>>> model.predict(read_feature_table("new.parquet"))  # labels; model.scores(...) gives (N, K)

A pipeline is ``StandardScaler -> [PCA(n)] -> classifier`` with ``classifier`` one of

- ``svm``: ``SVC`` (RBF kernel, ``C=1``, ``gamma="scale"``, ``break_ties=True``); scores are its
  one-vs-rest decision values (not probabilities: ``SVC(probability=True)`` is deprecated and
  fits an extra internal cross-validation);
- ``logreg``: multinomial ``LogisticRegression`` (``C=1``, L2); scores are probabilities;
- ``knn``: ``KNeighborsClassifier`` (5 neighbours, or fewer when there are fewer training rows);
  scores are neighbour votes;
- ``rf``: ``RandomForestClassifier`` (300 trees, seeded); scores are probabilities.

Keyword ``options`` replace those defaults (e.g. ``{"C": 10}``). The predicted class is always the
arg-max of the scores, in cross-validation and in the saved model alike. ``PCA(n)`` keeps at most
as many components as the training fold has rows and features.

Cross-validation uses :func:`vidlearn.data.splits.parse_cv` on records built from the table's rows
(``path``, ``target``, the ``group`` column), so folds are the same as for the deep models on the
same data. A run folder holds::

    cv_metrics.json     {"protocol", "video": summarize_folds(...), "folds": [...], "baseline": {...},
                         "pooled": classification_metrics over all out-of-fold predictions}
    cv_confusion.png    the pooled confusion matrix;  per_class.md   per-class table (pooled)
    predictions.csv     out-of-fold prediction and scores of every row
    report.html         self-contained page: mean ± std over folds, one row per fold, the pooled
                        confusion matrix and per-class table, thumbnails of misclassified videos,
                        the settings (timing.json: how long it took)
    folds/NAME/eval/metrics.json   {"video": classification_metrics(...)} per fold
    model/              the pipeline fitted on every labelled row: model.onnx + baseline.json

``model/baseline.json`` holds the format, classifier, options, classes, the feature columns in
input order, the CV summary and versions; ``model.onnx`` (converted with skl2onnx, float64 input
``X`` of shape ``(N, len(columns))``) is run with onnxruntime, so loading executes nothing from
the file.
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
from typing import Any

import numpy as np
import pandas as pd

from vidlearn.data.records import VideoRecord
from vidlearn.errors import ArtifactError, ConfigError, DataSourceError
from vidlearn.fsutil import safe_name
from vidlearn.provenance import package_versions

__all__ = [
    "BASELINE_FORMAT",
    "CLASSIFIERS",
    "BaselineModel",
    "FittedBaseline",
    "fit_baseline",
    "load_baseline",
    "make_pipeline",
    "run_baseline",
    "save_baseline",
    "select_columns",
]

CLASSIFIERS = ("svm", "logreg", "knn", "rf")
BASELINE_FORMAT = "vidlearn-baseline"
FORMAT_VERSION = 1
MODEL_FILE = "model.onnx"
META_FILE = "baseline.json"
Echo = Callable[[str], None]


# ---- pipelines -----------------------------------------------------------------------------


def _classifier(name: str, seed: int, options: Mapping[str, Any]) -> Any:
    from sklearn.ensemble import RandomForestClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.neighbors import KNeighborsClassifier
    from sklearn.svm import SVC

    defaults: dict[str, tuple[type, dict[str, Any]]] = {
        "svm": (SVC, {"kernel": "rbf", "C": 1.0, "gamma": "scale", "break_ties": True}),
        "logreg": (LogisticRegression, {"C": 1.0, "max_iter": 5000}),
        "knn": (KNeighborsClassifier, {"n_neighbors": 5}),
        "rf": (RandomForestClassifier, {"n_estimators": 300, "random_state": seed, "n_jobs": 1}),
    }
    if name not in defaults:
        raise ConfigError(f"baseline.classifier: unknown classifier {name!r}; choose from {', '.join(CLASSIFIERS)}")
    cls, params = defaults[name]
    params = {**params, **dict(options)}
    try:
        return cls(**params)
    except TypeError as exc:
        raise ConfigError(f"baseline.options: {exc}") from None


def make_pipeline(classifier: str = "svm", *, pca: int | None = None, seed: int = 0, **options: Any) -> Any:
    """``StandardScaler -> [PCA(pca)] -> classifier`` as an unfitted scikit-learn Pipeline."""
    from sklearn.decomposition import PCA
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    if pca is not None and int(pca) < 1:
        raise ConfigError(f"baseline.pca: number of components must be >= 1, got {pca}")
    steps: list[tuple[str, Any]] = [("scale", StandardScaler())]
    if pca is not None:
        steps.append(("pca", PCA(n_components=int(pca), random_state=seed)))
    steps.append(("clf", _classifier(classifier, seed, options)))
    return Pipeline(steps)


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


def _labelled_rows(table: pd.DataFrame, group: str | None, source: str, echo: Echo) -> tuple[pd.DataFrame, list[str]]:
    if "target" not in table.columns:
        raise DataSourceError(source, [f"no 'target' column (columns: {', '.join(map(str, table.columns[:8]))} ...)"])
    if group is not None and group not in table.columns:
        meta = [c for c in table.columns if isinstance(c, str) and "." not in c]
        raise ConfigError(f"baseline.group: the table has no column {group!r} (non-feature columns: {', '.join(meta)})")
    if pd.api.types.is_numeric_dtype(table["target"]) and not pd.api.types.is_bool_dtype(table["target"]):
        raise ConfigError(f"{source}: targets are numbers; the classical baselines are classifiers (classification only)")
    labelled = table[table["target"].notna()].reset_index(drop=True)
    if len(labelled) < len(table):
        echo(f"ignoring {len(table) - len(labelled)} row(s) without a target")
    classes = sorted({str(t) for t in labelled["target"]})
    if len(classes) < 2:
        raise DataSourceError(source, [f"need at least 2 classes to train a classifier, found {len(classes)}"])
    return labelled, classes


def _records(table: pd.DataFrame, group: str | None) -> list[VideoRecord]:
    groups = table[group] if group is not None else [None] * len(table)
    starts = table["start"] if "start" in table.columns else [None] * len(table)
    ends = table["end"] if "end" in table.columns else [None] * len(table)

    def opt(v: Any) -> Any:
        return None if v is None or (isinstance(v, float) and np.isnan(v)) or v is pd.NA else v

    return [
        VideoRecord(
            path=Path(str(p)),
            target=str(t),
            group=None if opt(g) is None else str(g),
            start=opt(s),
            end=opt(e),
            meta={"row": i},
        )
        for i, (p, t, g, s, e) in enumerate(zip(table["path"], table["target"], groups, starts, ends))
    ]


# ---- the run -------------------------------------------------------------------------------


def run_baseline(
    table: pd.DataFrame | str | Path,
    out: str | Path,
    *,
    classifier: str = "svm",
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

    ``cv``: ``"leave-one-group-out"`` (alias ``logo``) or ``"kfold:K"``; default: leave one group
    out when the ``group`` column has values, else 5-fold. ``group``: the table column holding the
    group (``"group"`` by default; any manifest column kept in the table works, e.g. ``"actor"``).
    ``columns``: feature-column prefixes to use (default: all feature columns)."""
    from vidlearn.data.splits import parse_cv
    from vidlearn.tasks.metrics import classification_metrics, summarize_folds, write_metrics

    say: Echo = echo or (lambda _msg: None)
    options = dict(options or {})
    source = str(table) if not isinstance(table, pd.DataFrame) else table.attrs.get("vidlearn", {}).get("path", "feature table")
    frame = _load_table(table)
    cols = select_columns(frame, columns)
    group_col = group if group and (group in frame.columns or group != "group") else None
    rows, classes = _labelled_rows(frame, group_col, source, say)
    if group_col is not None and rows[group_col].isna().all():
        group_col = None
    x = _matrix(rows, cols, source)
    y = np.array([classes.index(str(t)) for t in rows["target"]])
    if cv is None:
        cv = "leave-one-group-out" if group_col is not None else "kfold:5"
    protocol = parse_cv(cv, seed=seed)
    records = _records(rows, group_col)
    folds = protocol.splits(records)
    make_pipeline(classifier, pca=pca, seed=seed, **options)  # check the settings before any work
    say(f"{classifier}{f' + PCA({pca})' if pca else ''} on {len(cols)} feature(s), {len(rows)} video(s), "
        f"{len(classes)} classes; {protocol} ({len(folds)} folds)")

    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    per_fold: list[dict[str, Any]] = []
    oof = np.zeros((len(rows), len(classes)))
    fold_of = [""] * len(rows)
    for k, fold in enumerate(folds, start=1):
        tr = np.array([r.meta["row"] for r in fold.train])
        te = np.array([r.meta["row"] for r in fold.test])
        pipe = _fit(make_pipeline(classifier, pca=pca, seed=seed, **options), x[tr], np.array(classes)[y[tr]])
        scores = _scores(pipe, x[te], classes)
        oof[te] = scores
        for i in te:
            fold_of[i] = fold.name
        m = classification_metrics(y[te], scores, classes, level="video")
        per_fold.append(m)
        write_metrics(run / "folds" / safe_name(fold.name) / "eval" / "metrics.json", {"video": m})
        say(f"[{k}/{len(folds)}] {fold.name}: train {len(tr)}, test {len(te)}, video accuracy {m['accuracy']:.3f}")

    pooled = classification_metrics(y, oof, classes, level="video")
    summary: dict[str, Any] = {
        "protocol": str(protocol),
        "video": summarize_folds(per_fold),
        "folds": [f.name for f in folds],
        "pooled": pooled,
        "baseline": {
            "classifier": classifier,
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
    _write_report(run, summary, pooled, classes, rows, oof, fold_of)
    timing: dict[str, Any] = {"cross-validation": time.perf_counter() - started}
    if save_model:
        started = time.perf_counter()
        pipe = _fit(make_pipeline(classifier, pca=pca, seed=seed, **options), x, np.array(classes)[y])
        fitted = FittedBaseline(pipe, cols, classes, _info(classifier, options, pca, seed, frame))
        fitted.info["cv"] = {"protocol": str(protocol), "video": summary["video"]}
        summary["model"] = str(fitted.save(run / "model"))
        timing["final model (fit + ONNX export)"] = time.perf_counter() - started
        say(f"model fitted on all {len(rows)} video(s): {summary['model']}")
    _write_html_report(run, summary, classes, rows, oof, fold_of, cols, echo=echo, timing=timing)
    return summary


def _info(classifier: str, options: Mapping[str, Any], pca: int | None, seed: int, frame: pd.DataFrame) -> dict[str, Any]:
    return {
        "classifier": classifier,
        "options": dict(options),
        "pca": pca,
        "seed": seed,
        "feature_settings": frame.attrs.get("vidlearn", {}).get("settings"),
    }


@dataclass
class FittedBaseline:
    """A fitted scikit-learn pipeline with the feature columns it reads and the class names."""

    pipeline: Any
    columns: list[str]
    classes: list[str]
    info: dict[str, Any] = field(default_factory=dict)

    def scores(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """(N, len(classes)) scores of the rows of a feature table."""
        frame = _load_table(table)
        return _scores(self.pipeline, _matrix(frame, self.columns, "feature table"), self.classes)

    def predict(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """Predicted class names (arg-max of the scores)."""
        return np.asarray(self.classes, dtype=object)[self.scores(table).argmax(axis=1)]

    def save(self, out_dir: str | Path) -> Path:
        """Write the ONNX model folder (see :func:`save_baseline`)."""
        return save_baseline(out_dir, self.pipeline, self.columns, self.classes, self.info)


def fit_baseline(
    table: pd.DataFrame | str | Path,
    *,
    classifier: str = "svm",
    pca: int | None = None,
    columns: Sequence[str] | str | None = None,
    seed: int = 0,
    options: Mapping[str, Any] | None = None,
) -> FittedBaseline:
    """Fit one pipeline on every labelled row of a feature table (no cross-validation)."""
    frame = _load_table(table)
    source = str(frame.attrs.get("vidlearn", {}).get("path", "feature table"))
    cols = select_columns(frame, columns)
    rows, classes = _labelled_rows(frame, None, source, lambda _m: None)
    x = _matrix(rows, cols, source)
    pipe = _fit(make_pipeline(classifier, pca=pca, seed=seed, **dict(options or {})), x, rows["target"].astype(str).to_numpy())
    return FittedBaseline(pipe, cols, classes, _info(classifier, options or {}, pca, seed, frame))


def _write_report(run: Path, summary: dict[str, Any], pooled: dict[str, Any], classes: list[str],
                  rows: pd.DataFrame, oof: np.ndarray, fold_of: list[str]) -> None:
    from vidlearn.fsutil import atomic_write_text
    from vidlearn.tasks.plots import per_class_table, plot_confusion_matrix

    plot_confusion_matrix(np.asarray(summary["video"]["confusion_matrix"]), classes, run / "cv_confusion.png")
    atomic_write_text(run / "per_class.md", per_class_table(pooled) + "\n")
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["path", "target", "fold", "predicted", *[f"score_{c}" for c in classes]])
    for i in range(len(rows)):
        w.writerow([rows["path"].iloc[i], rows["target"].iloc[i], fold_of[i], classes[int(oof[i].argmax())],
                    *[f"{v:.6g}" for v in oof[i]]])
    atomic_write_text(run / "predictions.csv", buf.getvalue())


def _write_html_report(run: Path, summary: dict[str, Any], classes: list[str], rows: pd.DataFrame, oof: np.ndarray,
                       fold_of: list[str], cols: list[str], *, echo: Echo | None,
                       timing: Mapping[str, Any]) -> Path | None:
    """run/report.html: the CV summary (folds, pooled confusion matrix, per-class table), the
    misclassified videos' thumbnails and the baseline's settings. A failure only warns: the run
    itself has succeeded."""
    from vidlearn.reports import write_run_report

    try:
        predictions, info = _report_rows(summary, classes, rows, oof, fold_of, cols)
    except Exception as exc:  # noqa: BLE001 - a missing report must not fail a finished run
        import sys

        (echo or (lambda s: print(s, file=sys.stderr)))(f"warning: {run / 'report.html'} not written ({exc.__class__.__name__}: {exc})")
        return None
    return write_run_report(
        run,
        title=f"Baseline report: {summary['baseline']['classifier']} ({run.name})",
        metrics=summary,
        config=summary["baseline"],
        images={"confusion": run / "cv_confusion.png"},
        predictions=predictions,
        info=info,
        timing=timing,
        echo=echo,
    )


def _report_rows(summary: dict[str, Any], classes: list[str], rows: pd.DataFrame, oof: np.ndarray,
                 fold_of: list[str], cols: list[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """The report's per-video predictions (path, true, predicted, score, fold[, start, end]) and
    its summary facts."""
    settings = summary["baseline"]
    # SVC's decision values are not probabilities: the report would label them "p(class)"
    probabilities = settings["classifier"] != "svm" or bool(settings["options"].get("probability"))
    source = Path(str(settings.get("table") or ""))
    base = source.parent if source.is_file() else None
    predictions = []
    for i in range(len(rows)):
        k = int(oof[i].argmax())
        pred: dict[str, Any] = {
            "path": str(_video_path(rows["path"].iloc[i], base)),
            "true": str(rows["target"].iloc[i]),
            "predicted": classes[k],
            "score": float(oof[i, k]) if probabilities else None,
            "fold": fold_of[i],
        }
        for key in ("start", "end"):
            if key in rows.columns:
                value = rows[key].iloc[i]
                pred[key] = None if pd.isna(value) else float(value)
        predictions.append(pred)
    families = list(dict.fromkeys(c.split(".", 1)[0] for c in cols))
    info = {
        "classifier": settings["classifier"] + (f" + PCA({settings['pca']})" if settings.get("pca") else ""),
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




def save_baseline(out_dir: str | Path, pipeline: Any, columns: Sequence[str], classes: Sequence[str],
                  info: Mapping[str, Any] | None = None) -> Path:
    """Convert a fitted pipeline to ONNX and write ``out_dir/model.onnx`` + ``baseline.json``,
    atomically as a whole (an existing baseline model folder is replaced only once the new one is
    complete). Returns ``out_dir``."""
    from skl2onnx import to_onnx
    from skl2onnx.common.data_types import DoubleTensorType

    from vidlearn.tasks.metrics import to_jsonable

    target = Path(out_dir)
    clf = pipeline.steps[-1][1]
    seen = [str(c) for c in clf.classes_]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        onnx_model = to_onnx(
            pipeline,
            initial_types=[("X", DoubleTensorType([None, len(columns)]))],
            options={id(clf): {"zipmap": False}},
            target_opset={"": 17, "ai.onnx.ml": 3},
        )
    model_bytes = onnx_model.SerializeToString()
    transform = _check_conversion(pipeline, model_bytes, len(columns))
    meta = {
        "format": BASELINE_FORMAT,
        "format_version": FORMAT_VERSION,
        "task": "classification",
        "classes": [str(c) for c in classes],
        "model_classes": seen,
        "columns": list(columns),
        "input": {"name": "X", "dtype": "float64", "shape": [None, len(columns)]},
        "scores": {"output": 1, "transform": transform},
        **to_jsonable(dict(info or {})),
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


def _session(model_bytes: bytes) -> Any:
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = 1
    return ort.InferenceSession(model_bytes, sess_options=opts, providers=["CPUExecutionProvider"])


def _check_conversion(pipeline: Any, model_bytes: bytes, n_features: int) -> str:
    """Run the ONNX model beside the pipeline on probe rows spread like the training data; returns
    how its score output maps to the pipeline's scores ("none", or "negate" for skl2onnx's binary
    SVC, whose two columns come out swapped). Raises RuntimeError when it does not reproduce them."""
    scaler = pipeline.steps[0][1]
    rng = np.random.default_rng(0)
    probe = np.asarray(scaler.mean_) + np.asarray(scaler.scale_) * rng.normal(0.0, 1.0, (64, n_features))
    clf = pipeline.steps[-1][1]
    want = _align_scores(
        np.asarray(pipeline.predict_proba(probe) if hasattr(clf, "predict_proba") else pipeline.decision_function(probe), dtype=np.float64),
        [str(c) for c in clf.classes_], [str(c) for c in clf.classes_],
    )
    got = np.asarray(_session(model_bytes).run(None, {"X": probe})[1], dtype=np.float64)
    tol = 1e-4 * max(1.0, float(np.abs(want).max()))
    if got.shape == want.shape and np.allclose(got, want, rtol=1e-4, atol=tol):
        return "none"
    if got.shape == want.shape and np.allclose(-got, want, rtol=1e-4, atol=tol):
        return "negate"
    raise RuntimeError(f"the ONNX conversion of {type(clf).__name__} does not reproduce its scores; cannot save it")


@dataclass
class BaselineModel:
    """A loaded baseline: the ONNX pipeline, its classes and the feature columns it reads."""

    path: Path
    classes: list[str]
    columns: list[str]
    meta: dict[str, Any]
    session: Any = field(repr=False)

    @property
    def classifier(self) -> str:
        return str(self.meta.get("classifier", "?"))

    def scores(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """(N, len(classes)) scores (probabilities or decision values, see the module docstring)."""
        frame = _load_table(table)
        x = _matrix(frame, self.columns, str(frame.attrs.get("vidlearn", {}).get("path", "feature table")))
        spec = self.meta.get("scores") or {}
        outputs = self.session.run(None, {self.meta["input"]["name"]: x})
        raw = np.asarray(outputs[int(spec.get("output", 1))], dtype=np.float64)
        if spec.get("transform") == "negate":
            raw = -raw
        return _align_scores(raw, self.meta.get("model_classes", self.classes), self.classes)

    def predict(self, table: pd.DataFrame | str | Path) -> np.ndarray:
        """Predicted class names (the arg-max of :meth:`scores`), one per row."""
        return np.asarray(self.classes, dtype=object)[self.scores(table).argmax(axis=1)]


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
    for key in ("classes", "columns"):
        if not isinstance(meta.get(key), list) or not all(isinstance(v, str) for v in meta[key]):
            raise ArtifactError(p / META_FILE, f"{key} must be a list of strings")
    if (meta.get("scores") or {}).get("transform", "none") not in ("none", "negate"):
        raise ArtifactError(p / META_FILE, f"unknown score transform {meta['scores'].get('transform')!r}")
    try:
        session = _session((p / MODEL_FILE).read_bytes())
    except Exception as exc:  # noqa: BLE001 - onnxruntime raises its own types; all mean "unreadable"
        with contextlib.suppress(Exception):
            exc = str(exc).splitlines()[0]  # type: ignore[assignment]
        raise ArtifactError(p / MODEL_FILE, f"not a loadable ONNX model ({exc})") from None
    return BaselineModel(path=p, classes=list(meta["classes"]), columns=list(meta["columns"]), meta=meta, session=session)
