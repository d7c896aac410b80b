"""Evaluation of a localisation model on annotated untrimmed videos: segments per video
(``predictors.segments``), then detection mAP and the segmentation measures
(``tasks.localization_metrics``). Writes, to ``out``: metrics.json (``{"video": ..., "skipped": [...]}``,
the one schema), segments.csv (every predicted segment), one timeline PNG per video (the first
``max_pictures``) with the truth beneath, and report.html. Bad videos are skipped and listed."""

from __future__ import annotations

import csv
import io
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidlearn.data.annotations import AnnotatedVideo
from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.fsutil import atomic_write_text
from vidlearn.predictors.segments import Segmentation, SegmentParams, predictor_segments
from vidlearn.tasks.localization_metrics import TimedSegment, localization_metrics

__all__ = ["evaluate_localization", "read_segments", "write_segments"]


def write_segments(path: str | Path, segmentations: Sequence[Segmentation]) -> Path:
    """segments.csv (path, label, start, end, score) or .json, atomically."""
    import json

    out = Path(path)
    rows = [r for s in segmentations for r in s.rows()]
    if out.suffix.lower() == ".json":
        atomic_write_text(out, json.dumps({"segments": rows}, indent=2) + "\n")
        return out
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=["path", "label", "start", "end", "score"], lineterminator="\n")
    w.writeheader()
    w.writerows(rows)
    atomic_write_text(out, buf.getvalue())
    return out


def read_segments(path: str | Path) -> list[TimedSegment]:
    """The segments of a segments.csv that :func:`write_segments` wrote."""
    with open(path, newline="", encoding="utf-8") as f:
        return [TimedSegment(r["path"], r["label"], float(r["start"]), float(r["end"]), float(r["score"])) for r in csv.DictReader(f)]


def evaluate_localization(
    predictor: Any,
    videos: Sequence[AnnotatedVideo],
    out: str | Path,
    *,
    params: SegmentParams | None = None,
    stride: float | None = None,
    data_name: str = "data",
    max_pictures: int = 12,
    progress: bool = False,
) -> dict[str, Any]:
    """Metrics of ``predictor`` (a localisation model) on ``videos``; see the module docstring."""
    from vidlearn.progress import progress_bar
    from vidlearn.reports import write_run_report
    from vidlearn.tasks.localization_plots import plot_segment_timeline
    from vidlearn.tasks.metrics import write_metrics

    if predictor.task != "localization":
        raise ConfigError(f"{data_name}: segment annotations evaluate a localization model; this one is a {predictor.task} model")
    background = predictor.config.task.background
    unknown = sorted({s.label for v in videos for s in v.segments} - set(predictor.class_names))
    if unknown:
        raise ConfigError(f"{data_name}: labels {unknown} are not among the model's classes {predictor.class_names}")
    started = time.time()
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)
    truth: dict[str, list[TimedSegment]] = {}
    predicted: dict[str, list[TimedSegment]] = {}
    durations: dict[str, float] = {}
    done: list[Segmentation] = []
    skipped: list[tuple[str, str]] = []
    pictures: dict[str, Path] = {}
    for v in progress_bar(list(videos), desc="localize", unit="video", enabled=progress):
        key = str(v.path)
        try:
            seg = predictor_segments(predictor, key, stride=stride, params=params)
        except ConfigError:
            raise  # the model or a setting, not this video
        except VidlearnError as exc:
            skipped.append((key, exc.reason))
            continue
        done.append(seg)
        truth[key] = [TimedSegment(key, s.label, s.start, s.end) for s in v.segments]
        predicted[key] = seg.segments
        durations[key] = v.duration
        if len(pictures) < max_pictures:
            name = f"timeline_{len(pictures):02d}_{Path(key).stem}"
            pictures[name] = plot_segment_timeline(seg.times, seg.scores, seg.classes, background, seg.segments,
                                                   out_dir / f"{name}.png", truth=truth[key], title=Path(key).name)
    if not done:
        raise ConfigError(f"{data_name}: no video could be evaluated ({'; '.join(f'{p}: {r}' for p, r in skipped[:3])})")
    fps = float(predictor.config.decode.fps or 10.0)
    video = localization_metrics(truth, predicted, durations, predictor.class_names, background=background, fps=fps)
    metrics = {"video": video, "skipped": [{"path": p, "reason": r} for p, r in skipped]}
    write_metrics(out_dir / "metrics.json", metrics)
    write_segments(out_dir / "segments.csv", done)
    name = predictor.path.name if getattr(predictor, "path", None) is not None else predictor.config.model.name
    write_run_report(
        out_dir, title=f"Localization report: {name} on {Path(data_name).name}", metrics=metrics, config=predictor.config,
        timing={"evaluation": time.time() - started}, images=pictures, predictions=[],
        info={"model": str(getattr(predictor, "path", "")), "data": str(data_name), "architecture": predictor.config.model.name},
    )
    return metrics
