"""Evaluation metrics for classification and regression, video-level aggregation of clip scores,
cross-validation summaries, and an atomic JSON writer. The numbers come from scikit-learn; this
module only shapes them into one stable JSON schema.

Classification (``classification_metrics``)::

    {
      "task": "classification",
      "level": "clip" | "video",          # what one sample is
      "n": 120,                           # number of samples
      "accuracy": 0.85,
      "top_k": {"top1": 0.85, "top5": 0.97},   # only k < number of classes
      "macro":    {"precision": ..., "recall": ..., "f1": ...},   # unweighted mean over classes
      "weighted": {"precision": ..., "recall": ..., "f1": ...},   # mean weighted by support
      "per_class": [{"class": "walk", "precision": ..., "recall": ..., "f1": ..., "support": 40}, ...],
      "confusion_matrix": [[...], ...],   # K x K ints, rows = true class, columns = predicted
      "classes": ["walk", "run", ...]     # index i is class i
    }

A precision/recall/F1 that is undefined (a class never predicted, or absent) counts as 0, as in
scikit-learn's ``classification_report``; its ``support`` shows how many samples it had.

Regression (``regression_metrics``)::

    {"task": "regression", "level": "clip" | "video", "n": 50, "mae": ..., "rmse": ..., "r2": ...}

``r2`` is ``null`` when it is undefined (fewer than two samples).

Cross-validation (``summarize_folds``)::

    {
      "task": "classification", "level": "video", "n_folds": 5, "n": 600,   # n: samples over all folds
      "metrics": {"accuracy": {"mean": ..., "std": ..., "values": [per fold]},
                  "macro.f1": {...}, "top_k.top5": {...}, ...},           # nested keys joined by "."
      "confusion_matrix": [[...]],        # classification only: the sum over folds
      "classes": [...]                    # classification only
    }

``std`` is the population standard deviation (ddof=0) over folds. In every file written by
``write_metrics`` NumPy numbers become plain JSON numbers and NaN/inf become ``null``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Literal

import numpy as np
from scipy.special import softmax
from sklearn.metrics import (
    accuracy_score,
    confusion_matrix,
    mean_absolute_error,
    precision_recall_fscore_support,
    r2_score,
    root_mean_squared_error,
    top_k_accuracy_score,
)

from vidlearn.fsutil import atomic_write_text

__all__ = [
    "aggregate_video_scores",
    "classification_metrics",
    "regression_metrics",
    "summarize_folds",
    "to_jsonable",
    "write_metrics",
]

Level = Literal["clip", "video"]


# ---- classification ------------------------------------------------------------------------


def classification_metrics(
    y_true: Sequence[int] | np.ndarray,
    scores: np.ndarray,
    class_names: Sequence[str],
    top_k: Sequence[int] = (1, 5),
    *,
    level: Level = "clip",
) -> dict[str, Any]:
    """Accuracy, top-k accuracy, per-class and averaged precision/recall/F1 and the confusion
    matrix, from integer labels and an (N, K) array of scores (probabilities or logits: only
    their ranking is used). Returns the schema in the module docstring."""
    y, s = _check_classification_inputs(y_true, scores, class_names)
    n_classes = len(class_names)
    labels = np.arange(n_classes)
    y_pred = s.argmax(axis=1)

    topk: dict[str, float] = {}
    for k in sorted({int(k) for k in top_k}):
        if k < 1:
            raise ValueError(f"top_k values must be >= 1, got {k}")
        if k >= n_classes:
            continue  # always 1.0: not informative
        # scikit-learn wants the positive-class column for two classes
        score_arg = s[:, 1] if n_classes == 2 else s
        topk[f"top{k}"] = float(top_k_accuracy_score(y, score_arg, k=k, labels=labels))

    prec, rec, f1, support = precision_recall_fscore_support(
        y, y_pred, labels=labels, average=None, zero_division=0
    )
    averages = {}
    for avg in ("macro", "weighted"):
        p, r, f, _ = precision_recall_fscore_support(y, y_pred, labels=labels, average=avg, zero_division=0)
        averages[avg] = {"precision": float(p), "recall": float(r), "f1": float(f)}

    cm = confusion_matrix(y, y_pred, labels=labels)
    return {
        "task": "classification",
        "level": _check_level(level),
        "n": int(len(y)),
        "accuracy": float(accuracy_score(y, y_pred)),
        "top_k": topk,
        "macro": averages["macro"],
        "weighted": averages["weighted"],
        "per_class": [
            {
                "class": str(name),
                "precision": float(prec[i]),
                "recall": float(rec[i]),
                "f1": float(f1[i]),
                "support": int(support[i]),
            }
            for i, name in enumerate(class_names)
        ],
        "confusion_matrix": cm.astype(int).tolist(),
        "classes": [str(c) for c in class_names],
    }


def _check_classification_inputs(
    y_true: Sequence[int] | np.ndarray, scores: np.ndarray, class_names: Sequence[str]
) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true)
    s = np.asarray(scores, dtype=np.float64)
    n_classes = len(class_names)
    if n_classes < 2:
        raise ValueError(f"classification needs at least 2 class names, got {n_classes}")
    if len(set(class_names)) != n_classes:
        raise ValueError("class_names contains duplicates")
    if y.ndim != 1:
        raise ValueError(f"y_true must be 1-D integer labels, got shape {y.shape}")
    if len(y) == 0:
        raise ValueError("no samples: y_true is empty")
    if not np.issubdtype(y.dtype, np.integer):
        if not np.all(np.mod(y, 1) == 0):
            raise ValueError("y_true must hold integer class indices")
        y = y.astype(np.int64)
    if s.ndim != 2 or s.shape != (len(y), n_classes):
        raise ValueError(
            f"scores must have shape (N, K) = ({len(y)}, {n_classes}) to match y_true and class_names, got {s.shape}"
        )
    if y.min() < 0 or y.max() >= n_classes:
        raise ValueError(f"y_true holds labels outside 0..{n_classes - 1}: min {y.min()}, max {y.max()}")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    return y, s


def aggregate_video_scores(
    video_ids: Sequence[Any],
    clip_scores: np.ndarray,
    *,
    kind: Literal["auto", "logits", "probs"] = "auto",
) -> tuple[list[Any], np.ndarray]:
    """Video-level scores: the mean of the class probabilities of all clips (views) of each video.

    ``clip_scores`` is (N_clips, K); logits are turned into probabilities with a softmax first
    (``kind="auto"`` treats rows that are non-negative and sum to 1 as probabilities already).
    Returns the video ids in order of first appearance and a (N_videos, K) array."""
    s = np.asarray(clip_scores, dtype=np.float64)
    ids = list(video_ids)
    if s.ndim != 2:
        raise ValueError(f"clip_scores must be 2-D (N_clips, K), got shape {s.shape}")
    if len(ids) != s.shape[0]:
        raise ValueError(f"{len(ids)} video ids for {s.shape[0]} rows of clip scores")
    if kind not in ("auto", "logits", "probs"):
        raise ValueError(f"kind must be 'auto', 'logits' or 'probs', got {kind!r}")
    if kind == "logits" or (kind == "auto" and not _looks_like_probabilities(s)):
        s = softmax(s, axis=1)
    order: dict[Any, int] = {}
    index = np.empty(len(ids), dtype=np.int64)
    for i, vid in enumerate(ids):
        index[i] = order.setdefault(vid, len(order))
    sums = np.zeros((len(order), s.shape[1]))
    np.add.at(sums, index, s)
    counts = np.bincount(index, minlength=len(order)).astype(np.float64)
    return list(order), sums / counts[:, None]


def _looks_like_probabilities(s: np.ndarray) -> bool:
    return bool(s.size) and bool(np.all(s >= 0)) and bool(np.allclose(s.sum(axis=1), 1.0, atol=1e-4))


# ---- regression ----------------------------------------------------------------------------


def regression_metrics(
    y_true: Sequence[float] | np.ndarray, y_pred: Sequence[float] | np.ndarray, *, level: Level = "clip"
) -> dict[str, Any]:
    """MAE, RMSE and R² of predicted values (see the module docstring for the schema)."""
    t = np.asarray(y_true, dtype=np.float64).reshape(-1)
    p = np.asarray(y_pred, dtype=np.float64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(f"y_true has {t.size} values but y_pred has {p.size}")
    if t.size == 0:
        raise ValueError("no samples: y_true is empty")
    if not (np.all(np.isfinite(t)) and np.all(np.isfinite(p))):
        raise ValueError("y_true / y_pred contain NaN or infinite values")
    r2 = float(r2_score(t, p)) if t.size >= 2 else None
    return {
        "task": "regression",
        "level": _check_level(level),
        "n": int(t.size),
        "mae": float(mean_absolute_error(t, p)),
        "rmse": float(root_mean_squared_error(t, p)),
        "r2": None if r2 is None or not math.isfinite(r2) else r2,
    }


# ---- cross-validation ----------------------------------------------------------------------

_NOT_AVERAGED = {"n", "n_folds"}


def summarize_folds(folds: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """Mean ± std (ddof=0) over folds of every scalar metric present in all folds, total sample
    count, and for classification the pooled (summed) confusion matrix."""
    if not folds:
        raise ValueError("summarize_folds needs at least one fold")
    tasks = {f.get("task") for f in folds}
    if len(tasks) != 1:
        raise ValueError(f"folds mix tasks: {sorted(map(str, tasks))}")
    task = tasks.pop()

    flat = [_flatten_scalars(f) for f in folds]
    keys = [k for k in flat[0] if all(k in other for other in flat[1:])]
    summary_metrics: dict[str, dict[str, Any]] = {}
    for key in keys:
        if key in _NOT_AVERAGED:
            continue
        raw = [fl[key] for fl in flat]
        values = np.array([np.nan if v is None else v for v in raw], dtype=np.float64)
        finite = values[np.isfinite(values)]
        summary_metrics[key] = {
            "mean": float(finite.mean()) if finite.size else None,
            "std": float(finite.std()) if finite.size else None,
            "values": [None if v is None or not math.isfinite(v) else float(v) for v in raw],
        }

    levels = {f.get("level") for f in folds}
    out: dict[str, Any] = {
        "task": task,
        "level": levels.pop() if len(levels) == 1 else None,
        "n_folds": len(folds),
        "n": int(sum(int(f.get("n", 0)) for f in folds)),
        "metrics": summary_metrics,
    }
    if task == "classification":
        classes = [list(f.get("classes", [])) for f in folds]
        if any(c != classes[0] for c in classes[1:]):
            raise ValueError("folds have different class lists; their confusion matrices cannot be pooled")
        out["confusion_matrix"] = np.sum(
            [np.asarray(f["confusion_matrix"], dtype=np.int64) for f in folds], axis=0
        ).tolist()
        out["classes"] = classes[0]
    return out


def _flatten_scalars(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, float | None]:
    out: dict[str, float | None] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten_scalars(value, prefix=f"{name}."))
        elif value is None or (isinstance(value, (int, float, np.number)) and not isinstance(value, bool)):
            out[name] = None if value is None else float(value)
    return out


# ---- JSON ----------------------------------------------------------------------------------


def to_jsonable(obj: Any) -> Any:
    """A copy of ``obj`` made of plain JSON types: NumPy scalars/arrays become numbers/lists,
    tuples lists, paths strings, NaN and infinities ``None``."""
    if isinstance(obj, Mapping):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return to_jsonable(obj.tolist())
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        f = float(obj)
        return f if math.isfinite(f) else None
    if isinstance(obj, Path):
        return str(obj)
    if obj is None or isinstance(obj, str):
        return obj
    if hasattr(obj, "tolist"):  # torch tensors and the like
        return to_jsonable(obj.tolist())
    raise TypeError(f"cannot write a {type(obj).__name__} to JSON")


def write_metrics(path: str | Path, metrics: Mapping[str, Any]) -> Path:
    """Write metrics as indented JSON, atomically; returns the path."""
    p = Path(path)
    atomic_write_text(p, json.dumps(to_jsonable(metrics), indent=2, allow_nan=False) + "\n")
    return p


def _check_level(level: str) -> str:
    if level not in ("clip", "video"):
        raise ValueError(f"level must be 'clip' or 'video', got {level!r}")
    return level
