"""The report of a baseline run: confusion matrix and per-class table or scatter plot, out-of-fold predictions.csv and report.html."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vidlearn.progress import Echo


def write_baseline_report(run: Path, summary: dict[str, Any], classes: list[str], rows: pd.DataFrame, y: np.ndarray,
                  oof: np.ndarray, fold_of: list[str]) -> None:
    from vidlearn.fsutil import atomic_write_text
    from vidlearn.tasks.plots import (
        per_class_table,
        plot_confusion_matrix,
        plot_regression_scatter,
    )

    buf = io.StringIO()
    w = csv.writer(buf)
    if summary["baseline"]["task"] == "multilabel":
        from vidlearn.tasks.multilabel import per_class_markdown

        atomic_write_text(run / "per_class.md", per_class_markdown(summary["pooled"]) + "\n")
        w.writerow(["path", "target", "fold", "predicted", *[f"score_{c}" for c in classes]])
        for i in range(len(rows)):
            w.writerow([rows["path"].iloc[i], rows["target"].iloc[i], fold_of[i], _labels_over(classes, oof[i]),
                        *[f"{v:.6g}" for v in oof[i]]])
    elif summary["baseline"]["task"] == "classification":
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


def write_baseline_html(run: Path, summary: dict[str, Any], classes: list[str], rows: pd.DataFrame, y: np.ndarray,
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
    multilabel = settings_task(summary) == "multilabel"
    image = ("confusion", run / "cv_confusion.png") if classes else ("scatter", run / "cv_scatter.png")
    return write_run_report(
        run,
        title=f"Baseline report: {summary['baseline']['estimator']} ({run.name})",
        metrics=summary,
        config=summary["baseline"],
        images={} if multilabel else dict([image]),
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
        if settings["task"] == "multilabel":
            pred.update(true=str(rows["target"].iloc[i]), predicted=_labels_over(classes, oof[i]), score=float(oof[i].max()))
        elif classes:
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


def settings_task(summary: Mapping[str, Any]) -> str:
    """The task of a baseline run's summary."""
    return str(summary["baseline"]["task"])


def _labels_over(classes: list[str], scores: np.ndarray, threshold: float = 0.5) -> str:
    """Multilabel: the classes whose out-of-fold score reaches 0.5 (the CV decision), joined by |."""
    return "|".join(c for c, s in zip(classes, scores) if s >= threshold)


def _video_path(raw: Any, base: Path | None) -> Path:
    """A table's video path; a relative one that does not exist is looked up beside the table."""
    p = Path(str(raw))
    if p.is_absolute() or base is None or p.exists():
        return p
    return base / p
