"""Evaluating a classical model on labelled videos (features computed as for its training table),
in the deep models' metrics schema: metrics.json, confusion matrix and per-class table or scatter
plot, predictions.csv and report.html."""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from vidlearn.data.records import VideoRecord
from vidlearn.errors import DataSourceError


def evaluate_classical(model: Any, records: Sequence[VideoRecord], out: str | Path, *, data_name: str = "data",
                       workers: int = 1, progress: bool = False) -> dict[str, Any]:
    """Evaluate a loaded classical model (``ClassicalPredictor``) on labelled ``records``; writes
    ``out/metrics.json`` (``{"video": ..., "skipped": [...]}``) and the report files."""
    from vidlearn.fsutil import atomic_write_text
    from vidlearn.reports import write_predictions_csv, write_run_report
    from vidlearn.tasks.metrics import (
        classification_metrics,
        regression_metrics,
        write_metrics,
    )
    from vidlearn.tasks.plots import (
        per_class_table,
        plot_confusion_matrix,
        plot_regression_scatter,
    )

    started = time.perf_counter()
    table, skipped = model.feature_table(records, workers=workers, progress=progress)
    if table is None:
        raise DataSourceError(data_name, [f"{p}: {r}" for p, r in skipped])
    run = Path(out)
    run.mkdir(parents=True, exist_ok=True)
    truth = table["target"].tolist()
    if model.task == "multilabel":
        from vidlearn.tasks.multilabel import multi_hot, multilabel_metrics, per_class_markdown

        scores = model.scores(table)
        video = multilabel_metrics(multi_hot([str(t) for t in truth], model.classes), scores, model.classes,
                                   thresholds=model.thresholds, level="video")
        atomic_write_text(run / "per_class.md", per_class_markdown(video) + "\n")
        predicted = model.predict_table(table)
        rows = [{"path": p, "true": str(t), "predicted": str(q), "score": float(s.max())}
                for p, t, q, s in zip(table["path"], truth, predicted, scores)]
    elif model.task == "classification":
        scores = model.scores(table)
        video = classification_metrics([model.classes.index(str(t)) for t in truth], scores, model.classes, level="video")
        plot_confusion_matrix(np.asarray(video["confusion_matrix"]), model.classes, run / "confusion.png")
        atomic_write_text(run / "per_class.md", per_class_table(video) + "\n")
        probabilities = model.estimator not in ("svm", "svc")
        rows = [{"path": p, "true": str(t), "predicted": model.classes[int(s.argmax())],
                 "score": float(s.max()) if probabilities else None} for p, t, s in zip(table["path"], truth, scores)]
    else:
        values = model.predict_table(table)
        video = regression_metrics(np.asarray(truth, dtype=np.float64), values, level="video")
        plot_regression_scatter(np.asarray(truth, dtype=np.float64), values, run / "scatter.png")
        rows = [{"path": p, "true": float(t), "predicted": float(v)} for p, t, v in zip(table["path"], truth, values)]
    for row, start, end in zip(rows, table.get("start", [None] * len(rows)), table.get("end", [None] * len(rows))):
        row.update(start=None if pd.isna(start) else float(start), end=None if pd.isna(end) else float(end))
    metrics = {"video": video, "skipped": [{"path": p, "reason": r} for p, r in skipped]}
    write_metrics(run / "metrics.json", metrics)
    write_predictions_csv(run / "predictions.csv", rows)
    write_run_report(run, title=f"Evaluation report: baseline {model.estimator} on {Path(data_name).name}", metrics=metrics,
                     config={k: model.meta.get(k) for k in ("task", "estimator", "options", "pca", "feature_settings")},
                     timing={"evaluation": time.perf_counter() - started},
                     info={"model": str(model.path), "data": str(data_name), "features": len(model.columns)})
    return metrics
