"""Metrics of temporal action localisation, in the one metrics.json schema.

Detection (the THUMOS'14 / ActivityNet protocol): per class, the predicted segments of all videos
are ranked by score; a prediction is a true positive when its temporal IoU with a not yet matched
ground-truth segment of the same class and video reaches the threshold (the best-overlapping
unmatched one is taken), otherwise a false positive. Average precision is the area under the
interpolated precision/recall curve (precision made monotone from the right, as ActivityNet's
``interpolated_prec_rec``); mAP is the mean over the classes that have ground truth.

Segmentation (the MS-TCN measures, on frame labels sampled at ``fps``, background excluded from
the segments): frame accuracy; the segmental edit score ``1 - levenshtein(pred runs, true runs) /
max(len)``; F1@k: a predicted run is a hit when its IoU with the best-overlapping true run of the
same label reaches k (each true run is hit once), counts pooled over videos.

Schema (``localization_metrics``; all values are fractions in [0, 1])::

    {"task": "localization", "level": "video", "n": 3,             # videos
     "mAP": {"0.3": ..., "0.5": ..., "0.7": ...}, "mAP_mean": ...,
     "frame_accuracy": ..., "edit": ..., "F1": {"10": ..., "25": ..., "50": ...},
     "ap_per_class": [{"class": "wave", "support": 4, "predicted": 6, "AP": {"0.3": ..., ...}}, ...],
     "n_segments": 12, "n_predicted": 15, "classes": [...], "background": "background"}
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = [
    "DEFAULT_F1_OVERLAPS",
    "DEFAULT_TIOUS",
    "TimedSegment",
    "average_precision",
    "detection_ap",
    "detection_map",
    "edit_score",
    "f1_counts",
    "f1_score_at",
    "frame_accuracy",
    "frame_labels",
    "label_runs",
    "localization_metrics",
    "temporal_iou",
]

DEFAULT_TIOUS: tuple[float, ...] = (0.3, 0.5, 0.7)
DEFAULT_F1_OVERLAPS: tuple[float, ...] = (0.10, 0.25, 0.50)


@dataclass(frozen=True)
class TimedSegment:
    """One segment of one video: ``[start, end)`` in seconds, a class, and (predictions) a score."""

    video: str
    label: str
    start: float
    end: float
    score: float = 1.0


def temporal_iou(start: float, end: float, starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """Temporal IoU of ``[start, end)`` with each of ``[starts[i], ends[i])``."""
    starts, ends = np.asarray(starts, dtype=np.float64), np.asarray(ends, dtype=np.float64)
    inter = np.clip(np.minimum(end, ends) - np.maximum(start, starts), 0.0, None)
    union = (end - start) + (ends - starts) - inter
    return np.where(union > 0, inter / np.where(union > 0, union, 1.0), 0.0)


def average_precision(hits: Sequence[bool], n_truth: int) -> float:
    """AP of a ranked list (``hits[i]``: whether the i-th best prediction is a true positive)
    against ``n_truth`` ground-truth items: the area under the interpolated precision/recall curve."""
    if n_truth <= 0:
        return float("nan")
    tp = np.asarray(hits, dtype=np.float64)
    if tp.size == 0:
        return 0.0
    ctp = np.cumsum(tp)
    recall = ctp / n_truth
    precision = ctp / np.arange(1, tp.size + 1)
    mprec = np.concatenate([[0.0], precision, [0.0]])
    mrec = np.concatenate([[0.0], recall, [1.0]])
    for i in range(mprec.size - 2, -1, -1):
        mprec[i] = max(mprec[i], mprec[i + 1])
    idx = np.where(mrec[1:] != mrec[:-1])[0] + 1
    return float(np.sum((mrec[idx] - mrec[idx - 1]) * mprec[idx]))


def detection_ap(truth: Sequence[TimedSegment], predicted: Sequence[TimedSegment], tiou: float) -> float:
    """AP of one class's ``predicted`` segments against its ``truth`` (all videos) at ``tiou``."""
    by_video: dict[str, list[int]] = {}
    for i, t in enumerate(truth):
        by_video.setdefault(t.video, []).append(i)
    matched = np.zeros(len(truth), dtype=bool)
    starts = np.array([t.start for t in truth], dtype=np.float64)
    ends = np.array([t.end for t in truth], dtype=np.float64)
    hits: list[bool] = []
    for p in sorted(predicted, key=lambda s: -s.score):
        idx = np.array(by_video.get(p.video, []), dtype=int)
        hit = False
        if idx.size:
            ious = temporal_iou(p.start, p.end, starts[idx], ends[idx])
            for j in np.argsort(-ious, kind="stable"):
                if ious[j] < tiou:
                    break
                if not matched[idx[j]]:
                    matched[idx[j]] = hit = True
                    break
        hits.append(hit)
    return average_precision(hits, len(truth))


def detection_map(
    truth: Sequence[TimedSegment], predicted: Sequence[TimedSegment], classes: Sequence[str], tious: Sequence[float] = DEFAULT_TIOUS
) -> tuple[dict[str, float], list[dict[str, Any]]]:
    """({"0.5": mAP, ...}, per-class rows) over the classes with ground truth (a class without
    ground truth has AP null and is left out of the mean)."""
    rows: list[dict[str, Any]] = []
    for c in classes:
        t = [s for s in truth if s.label == c]
        p = [s for s in predicted if s.label == c]
        aps = {f"{th:g}": (detection_ap(t, p, th) if t else None) for th in tious}
        rows.append({"class": c, "support": len(t), "predicted": len(p), "AP": aps})
    means = {}
    for th in tious:
        vals = [r["AP"][f"{th:g}"] for r in rows if r["AP"][f"{th:g}"] is not None]
        means[f"{th:g}"] = float(np.mean(vals)) if vals else float("nan")
    return means, rows


def frame_labels(segments: Sequence[TimedSegment], duration: float, fps: float, background: str) -> np.ndarray:
    """The label of each frame centre ``(i + 0.5) / fps`` in ``[0, duration)`` (background where
    no segment covers it; a later segment wins where segments overlap)."""
    n = max(1, round(duration * fps))
    t = (np.arange(n) + 0.5) / fps
    labels = np.full(n, background, dtype=object)
    for s in segments:
        labels[(t >= s.start) & (t < s.end)] = s.label
    return labels


def label_runs(labels: Sequence[str], background: str | None = None) -> list[tuple[str, int, int]]:
    """Maximal runs ``(label, first, last + 1)`` of equal frame labels, background runs left out."""
    runs: list[tuple[str, int, int]] = []
    start = 0
    for i in range(1, len(labels) + 1):
        if i == len(labels) or labels[i] != labels[start]:
            if labels[start] != background:
                runs.append((str(labels[start]), start, i))
            start = i
    return runs


def frame_accuracy(true: Sequence[str], pred: Sequence[str]) -> float:
    """The fraction of frames whose predicted label is the true one."""
    if len(true) != len(pred) or not len(true):
        raise ValueError(f"frame labels: {len(true)} true and {len(pred)} predicted (need the same, at least one)")
    return float(np.mean(np.asarray(true, dtype=object) == np.asarray(pred, dtype=object)))


def _levenshtein(a: Sequence[str], b: Sequence[str]) -> int:
    d = np.arange(len(b) + 1)
    for i, x in enumerate(a, 1):
        prev, d[0] = d[0], i
        for j, y in enumerate(b, 1):
            prev, d[j] = d[j], min(d[j] + 1, d[j - 1] + 1, prev + (x != y))
    return int(d[-1])


def edit_score(true: Sequence[str], pred: Sequence[str], background: str | None = None) -> float:
    """The segmental edit score (1 = the same order of action runs)."""
    a = [r[0] for r in label_runs(pred, background)]
    b = [r[0] for r in label_runs(true, background)]
    if not a and not b:
        return 1.0
    return 1.0 - _levenshtein(a, b) / max(len(a), len(b))


def f1_counts(true: Sequence[str], pred: Sequence[str], overlap: float, background: str | None = None) -> tuple[int, int, int]:
    """(true positives, false positives, false negatives) of F1@``overlap`` for one video."""
    p_runs, t_runs = label_runs(pred, background), label_runs(true, background)
    hit = np.zeros(len(t_runs), dtype=bool)
    tp = fp = 0
    for label, s, e in p_runs:
        best, best_iou = -1, 0.0
        for j, (tl, ts, te) in enumerate(t_runs):
            if tl != label:
                continue
            inter = max(0, min(e, te) - max(s, ts))
            iou = inter / (max(e, te) - min(s, ts))
            if iou > best_iou:
                best, best_iou = j, iou
        if best >= 0 and best_iou >= overlap and not hit[best]:
            tp += 1
            hit[best] = True
        else:
            fp += 1
    return tp, fp, int(len(t_runs) - hit.sum())


def f1_score_at(counts: Sequence[tuple[int, int, int]]) -> float:
    """F1 from pooled (tp, fp, fn) counts (0 when there is nothing to match)."""
    tp, fp, fn = (sum(c[i] for c in counts) for i in range(3))
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return 2 * precision * recall / (precision + recall) if precision + recall else 0.0


def localization_metrics(
    truth: Mapping[str, Sequence[TimedSegment]],
    predicted: Mapping[str, Sequence[TimedSegment]],
    durations: Mapping[str, float],
    classes: Sequence[str],
    *,
    background: str = "background",
    fps: float = 10.0,
    tious: Sequence[float] = DEFAULT_TIOUS,
    overlaps: Sequence[float] = DEFAULT_F1_OVERLAPS,
) -> dict[str, Any]:
    """The metrics.json entry of a localisation evaluation: ``truth`` and ``predicted`` segments
    per video (key: the video), ``durations`` in seconds, ``classes`` the actions (no background)."""
    videos = list(durations)
    if not videos:
        raise ValueError("no video to evaluate")
    actions = [c for c in classes if c != background]
    all_truth = [s for v in videos for s in truth.get(v, [])]
    all_pred = [s for v in videos for s in predicted.get(v, [])]
    maps, rows = detection_map(all_truth, all_pred, actions, tious)
    accs, edits = [], []
    counts: dict[float, list[tuple[int, int, int]]] = {k: [] for k in overlaps}
    weights = []
    for v in videos:
        t = frame_labels(truth.get(v, []), durations[v], fps, background)
        p = frame_labels(sorted(predicted.get(v, []), key=lambda s: s.score), durations[v], fps, background)
        accs.append(frame_accuracy(t, p))
        weights.append(len(t))
        edits.append(edit_score(t, p, background))
        for k in overlaps:
            counts[k].append(f1_counts(t, p, k, background))
    finite = [m for m in maps.values() if np.isfinite(m)]
    return {
        "task": "localization",
        "level": "video",
        "n": len(videos),
        "mAP": maps,
        "mAP_mean": float(np.mean(finite)) if finite else float("nan"),
        "frame_accuracy": float(np.average(accs, weights=weights)),
        "edit": float(np.mean(edits)),
        "F1": {f"{round(k * 100):d}": f1_score_at(counts[k]) for k in overlaps},
        "ap_per_class": rows,
        "n_segments": len(all_truth),
        "n_predicted": len(all_pred),
        "classes": list(actions),
        "background": background,
        "fps": fps,
    }
