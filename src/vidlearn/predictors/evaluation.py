"""Evaluation: run a model over records with multi-view test sampling, then compute clip-level
(each view on its own) and video-level (mean of the views' scores) metrics. A multi-label model's
thresholds are chosen here too (`choose_task_thresholds`, on the validation videos)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from vidlearn.config import CLASS_TASKS, LABEL_TASKS, ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.reports import predictions_from_scores, write_predictions_csv
from vidlearn.tasks.task import build_task


@dataclass
class Scores:
    """Model outputs for the records that could be read.

    `view_outputs` is (N, V, K): per-view probabilities (classification: softmax; multilabel: a
    sigmoid per class) or values (regression, K = 1, in target units); `indices` are positions in
    the input record list."""

    indices: np.ndarray
    view_outputs: np.ndarray
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def video_outputs(self) -> np.ndarray:
        """(N, K): the mean over views."""
        return self.view_outputs.mean(axis=1)


def default_device() -> torch.device:
    """The GPU when there is one, else the CPU."""
    return torch.device("cuda" if torch.cuda.is_available() else "cpu")


@torch.no_grad()
def score_records(
    model: nn.Module,
    records: list[VideoRecord],
    cfg: ExperimentConfig,
    *,
    class_to_idx: dict[str, int] | None = None,
    batch_size: int | None = None,
    num_workers: int | None = None,
    cache: Any = None,
    device: torch.device | None = None,
    progress: bool = False,
) -> Scores:
    """Outputs of `model` for every view of every record (bad videos skipped and listed)."""
    from vidlearn.clips import ClipDataset, make_loader
    from vidlearn.progress import progress_bar

    device = device or default_device()
    model = model.to(device).eval()
    task = build_task(cfg.task)
    ds = ClipDataset.from_config(records, cfg, train=False, class_to_idx=class_to_idx, cache=cache, views=True)
    workers = cfg.data.num_workers if num_workers is None else num_workers
    loader = make_loader(ds, batch_size=batch_size or cfg.optim.batch_size, shuffle=False, num_workers=workers, seed=cfg.optim.seed)
    indices: list[np.ndarray] = []
    outputs: list[np.ndarray] = []
    for batch in progress_bar(loader, desc="evaluate", unit="batch", enabled=progress):
        if batch is None:
            continue
        x = batch["video"].to(device, non_blocking=True)
        b, v = x.shape[:2]
        out = task.decode(model(x.flatten(0, 1)).float().reshape(b, v, -1))
        outputs.append(out.cpu().numpy())
        indices.append(batch["index"].cpu().numpy())
    skipped = ds.skipped
    if not outputs:
        k = len(class_to_idx or {}) or 1
        return Scores(np.zeros(0, dtype=int), np.zeros((0, 1, k), dtype=np.float32), skipped)
    return Scores(np.concatenate(indices), np.concatenate(outputs), skipped)


def metrics_from_scores(
    scores: Scores, records: list[VideoRecord], cfg: ExperimentConfig, class_names: list[str]
) -> dict[str, Any]:
    """{"video": metrics, "clip": metrics} in the metrics.json schema of vidlearn.tasks.metrics."""
    from vidlearn.tasks.metrics import classification_metrics, regression_metrics

    n, v = scores.view_outputs.shape[:2]
    if n == 0:
        raise ValueError("no video could be evaluated")
    finite = np.isfinite(scores.view_outputs.reshape(n, -1)).all(axis=1)
    if not finite.all():
        from vidlearn.errors import DivergedModelError

        raise DivergedModelError.outputs("evaluation", int((~finite).sum()), n)
    if cfg.task.kind == "multilabel":
        from vidlearn.tasks.multilabel import multi_hot

        task = build_task(cfg.task)
        y = multi_hot([records[i].target for i in scores.indices], class_names)
        video = task.metrics(y, scores.video_outputs, class_names, level="video")
        clip = task.metrics(np.repeat(y, v, axis=0), scores.view_outputs.reshape(n * v, -1), class_names, level="clip")
    elif cfg.task.kind in CLASS_TASKS:
        idx = {c: i for i, c in enumerate(class_names)}
        y = np.array([idx[records[i].target] for i in scores.indices])
        video = classification_metrics(y, scores.video_outputs, class_names, level="video")
        clip = classification_metrics(np.repeat(y, v), scores.view_outputs.reshape(n * v, -1), class_names, level="clip")
    else:
        y = np.array([float(records[i].target) for i in scores.indices])
        video = regression_metrics(y, scores.video_outputs[:, 0], level="video")
        clip = regression_metrics(np.repeat(y, v), scores.view_outputs.reshape(n * v), level="clip")
    return {"video": video, "clip": clip, "skipped": [{"path": p, "reason": r} for p, r in scores.skipped]}


def write_report_files(
    out_dir: Path, metrics: dict[str, Any], class_names: list[str], *, scores: Scores | None = None, records: list[VideoRecord] | None = None
) -> dict[str, Path]:
    """metrics.json, confusion.png and per_class.md (classification), per_class.md with each
    class's AP and threshold (multilabel) or scatter.png (regression)."""
    from vidlearn.tasks.metrics import write_metrics
    from vidlearn.tasks.plots import (
        per_class_table,
        plot_confusion_matrix,
        plot_regression_scatter,
    )

    out_dir.mkdir(parents=True, exist_ok=True)
    files = {"metrics": write_metrics(out_dir / "metrics.json", metrics)}
    video = metrics["video"]
    if "confusion_matrix" in video:
        files["confusion"] = plot_confusion_matrix(np.asarray(video["confusion_matrix"]), class_names, out_dir / "confusion.png")
        from vidlearn.fsutil import atomic_write_text

        table = out_dir / "per_class.md"
        atomic_write_text(table, per_class_table(video) + "\n")
        files["per_class"] = table
    elif video.get("task") == "multilabel":
        from vidlearn.fsutil import atomic_write_text
        from vidlearn.tasks.multilabel import per_class_markdown

        table = out_dir / "per_class.md"
        atomic_write_text(table, per_class_markdown(video) + "\n")
        files["per_class"] = table
    elif scores is not None and records is not None and len(scores.indices):
        y = np.array([float(records[i].target) for i in scores.indices])
        files["scatter"] = plot_regression_scatter(y, scores.video_outputs[:, 0], out_dir / "scatter.png")
    return files


def evaluate_and_report(
    model: torch.nn.Module, records: list[VideoRecord], cfg: ExperimentConfig, out_dir: Path, *, cache=None, progress: bool = False
) -> tuple[dict[str, Any], dict[str, Path]]:
    """Multi-view evaluation of `model` on `records`; writes metrics.json and the pictures."""
    class_to_idx = {c: i for i, c in enumerate(cfg.task.classes)} if cfg.task.kind in LABEL_TASKS else None
    scores = score_records(model, records, cfg, class_to_idx=class_to_idx, cache=cache, progress=progress)
    metrics = metrics_from_scores(scores, records, cfg, cfg.task.classes)
    files = write_report_files(out_dir, metrics, cfg.task.classes, scores=scores, records=records)
    # per-video predictions (for the report's misclassified thumbnails); not part of the artifact
    classes = cfg.task.classes if cfg.task.kind in LABEL_TASKS else None
    thresholds = metrics["video"]["thresholds"] if cfg.task.kind == "multilabel" else None
    write_predictions_csv(out_dir / "predictions.csv", predictions_from_scores(scores, records, classes, thresholds=thresholds))
    return metrics, files


def choose_task_thresholds(
    model: torch.nn.Module, records: list[VideoRecord], cfg: ExperimentConfig, *, cache: Any = None, progress: bool = False
) -> list[float]:
    """A multi-label model's per-class thresholds: the best F1 of each class on ``records`` (the
    validation videos, scored as in evaluation: the mean of the test views); 0.5 for a class they
    cannot decide (no positive or no negative video, or no video read)."""
    from vidlearn.tasks.multilabel import DEFAULT_THRESHOLD, choose_thresholds, multi_hot

    classes = list(cfg.task.classes)
    scores = score_records(model, records, cfg, class_to_idx={c: i for i, c in enumerate(classes)}, cache=cache, progress=progress)
    if not len(scores.indices):
        return [DEFAULT_THRESHOLD] * len(classes)
    truth = multi_hot([records[i].target for i in scores.indices], classes)
    return choose_thresholds(truth, scores.video_outputs)
