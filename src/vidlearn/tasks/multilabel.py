"""Multi-label classification: a video may show several classes at once (``"jump|wave"``).

The network has one output per class; training uses binary cross-entropy on the logits, decoding
a sigmoid per class, and a class is predicted when its score is at least that class's threshold
(``task.thresholds``: chosen on the validation videos after training by :func:`choose_thresholds`,
else 0.5; saved in the artifact's configuration).

Metrics (``multilabel_metrics``; the metrics.json entry of a multi-label run)::

    {
      "task": "multilabel", "level": "clip" | "video", "n": 40,
      "map": 0.91,                               # mean of the per-class APs that are defined
      "micro": {"precision": ..., "recall": ..., "f1": ...},   # over every (video, class) decision
      "macro": {"precision": ..., "recall": ..., "f1": ...},   # unweighted mean over classes
      "subset_accuracy": 0.7,                    # videos whose predicted label set is exactly right
      "per_class": [{"class": "jump", "ap": ..., "precision": ..., "recall": ..., "f1": ...,
                     "support": 12, "threshold": 0.5}, ...],
      "thresholds": [...], "classes": [...]
    }

AP is scikit-learn's ``average_precision_score`` (precision summed over the recall steps of the
ranking, no interpolation); a class with no positive video has no AP (``null``) and is left out
of ``map``. An undefined precision/recall/F1 counts as 0, as for single-label classification.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.data.records import split_labels
from vidlearn.tasks.base import Task

__all__ = ["DEFAULT_THRESHOLD", "MultiLabel", "choose_thresholds", "multi_hot", "multilabel_metrics", "per_class_markdown"]

DEFAULT_THRESHOLD = 0.5


def multi_hot(targets: Sequence[Any], class_names: Sequence[str]) -> np.ndarray:
    """``(N, K)`` 0/1 of multi-label targets (``"jump|wave"``) over ``class_names``; a label that
    is not a class raises ValueError naming it."""
    index = {c: i for i, c in enumerate(class_names)}
    out = np.zeros((len(targets), len(class_names)), dtype=np.float32)
    for row, target in enumerate(targets):
        for label in split_labels(target):
            if label not in index:
                raise ValueError(f"label {label!r} is not one of the classes ({', '.join(list(class_names)[:20])})")
            out[row, index[label]] = 1.0
    return out


def _prf(tp: float, fp: float, fn: float) -> dict[str, float]:
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    return {"precision": p, "recall": r, "f1": 2 * p * r / (p + r) if p + r else 0.0}


def _check(truth: Any, scores: Any, class_names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(truth, dtype=np.float64)
    s = np.asarray(scores, dtype=np.float64)
    k = len(class_names)
    if k < 1 or len(set(class_names)) != k:
        raise ValueError(f"class_names must be distinct and not empty, got {list(class_names)}")
    if y.ndim != 2 or y.shape[1] != k or not len(y):
        raise ValueError(f"truth must be (N, {k}) 0/1 with N >= 1, got shape {y.shape}")
    if s.shape != y.shape:
        raise ValueError(f"scores must have the shape of truth {y.shape}, got {s.shape}")
    if not np.all((y == 0) | (y == 1)):
        raise ValueError("truth must hold only 0 and 1")
    if not np.all(np.isfinite(s)):
        raise ValueError("scores contain NaN or infinite values")
    return y.astype(bool), s


def _thresholds(thresholds: Sequence[float] | None, k: int) -> np.ndarray:
    if not thresholds:
        return np.full(k, DEFAULT_THRESHOLD)
    t = np.asarray(thresholds, dtype=np.float64)
    if t.shape != (k,):
        raise ValueError(f"{t.size} thresholds for {k} classes")
    return t


def multilabel_metrics(
    truth: Any, scores: Any, class_names: Sequence[str], *, thresholds: Sequence[float] | None = None, level: str = "clip"
) -> dict[str, Any]:
    """mAP, micro and macro precision/recall/F1, subset accuracy and per-class AP/P/R/F1 of
    ``(N, K)`` scores against ``(N, K)`` 0/1 truth; a class is predicted where its score is >= its
    threshold (default 0.5). Returns the schema of the module docstring."""
    from sklearn.metrics import average_precision_score

    if level not in ("clip", "video"):
        raise ValueError(f"level must be 'clip' or 'video', got {level!r}")
    y, s = _check(truth, scores, class_names)
    t = _thresholds(thresholds, len(class_names))
    pred = s >= t[None, :]
    tp = (pred & y).sum(0).astype(float)
    fp = (pred & ~y).sum(0).astype(float)
    fn = (~pred & y).sum(0).astype(float)
    per_class, aps = [], []
    for j, name in enumerate(class_names):
        ap = float(average_precision_score(y[:, j], s[:, j])) if y[:, j].any() else None
        if ap is not None:
            aps.append(ap)
        per_class.append({"class": str(name), "ap": ap, **_prf(tp[j], fp[j], fn[j]), "support": int(y[:, j].sum()),
                          "threshold": float(t[j])})
    macro = {key: float(np.mean([row[key] for row in per_class])) for key in ("precision", "recall", "f1")}
    return {
        "task": "multilabel",
        "level": level,
        "n": int(len(y)),
        "map": float(np.mean(aps)) if aps else None,
        "micro": _prf(tp.sum(), fp.sum(), fn.sum()),
        "macro": macro,
        "subset_accuracy": float(np.mean(np.all(pred == y, axis=1))),
        "per_class": per_class,
        "thresholds": [float(v) for v in t],
        "classes": [str(c) for c in class_names],
    }


def per_class_markdown(metrics: dict[str, Any]) -> str:
    """A markdown table of a multilabel metrics entry: AP, threshold, precision, recall, F1 and
    support per class, then the micro and macro rows and the mAP."""

    def f(v: Any) -> str:
        return "—" if v is None else f"{v:.3f}"

    lines = ["| class | AP | threshold | precision | recall | f1 | support |", "|---|---:|---:|---:|---:|---:|---:|"]
    for r in metrics["per_class"]:
        name = str(r["class"]).replace("|", "\\|")
        lines.append(f"| {name} | {f(r['ap'])} | {f(r['threshold'])} | {f(r['precision'])} | {f(r['recall'])} | {f(r['f1'])} | {r['support']} |")
    for avg in ("micro", "macro"):
        a = metrics[avg]
        lines.append(f"| **{avg} avg** | | | {f(a['precision'])} | {f(a['recall'])} | {f(a['f1'])} | |")
    lines.append(f"| **mAP** | {f(metrics['map'])} | | | | | |")
    return "\n".join(lines)


def choose_thresholds(truth: Any, scores: Any) -> list[float]:
    """Per class, the threshold with the best F1 on these (validation) videos: halfway between
    the lowest score predicted positive and the next score below it. A class without positive
    or without negative videos keeps 0.5 (nothing to choose from)."""
    y = np.asarray(truth, dtype=bool)
    s = np.asarray(scores, dtype=np.float64)
    if y.ndim != 2 or s.shape != y.shape:
        raise ValueError(f"truth and scores must both be (N, K), got {y.shape} and {s.shape}")
    out = []
    for j in range(y.shape[1]):
        pos = y[:, j]
        if not pos.any() or pos.all():
            out.append(DEFAULT_THRESHOLD)
            continue
        candidates = np.unique(s[:, j])  # ascending
        best, best_f1 = DEFAULT_THRESHOLD, -1.0
        for i, c in enumerate(candidates):
            pred = s[:, j] >= c
            tp = float((pred & pos).sum())
            f1 = _prf(tp, float((pred & ~pos).sum()), float((~pred & pos).sum()))["f1"]
            if f1 > best_f1:
                best_f1 = f1
                best = float(c + candidates[i - 1]) / 2 if i > 0 else float(c) / 2
        out.append(float(min(max(best, 0.0), 1.0)))
    return out


@dataclass(frozen=True)
class MultiLabel(Task):
    """Several labels a video: binary cross-entropy on logits, a sigmoid per class, a threshold per class."""

    thresholds: tuple[float, ...] = ()
    kind: ClassVar[str] = "multilabel"
    metric: ClassVar[str] = "f1"  # micro F1 at the thresholds, per batch
    mode: ClassVar[str] = "max"

    @property
    def monitor(self) -> str:
        """The validation loss (binary cross-entropy) chooses the best checkpoint: it is smooth,
        where a batch's F1 at fixed thresholds jumps."""
        return "val_loss"

    def num_outputs(self, num_classes: int) -> int:
        return num_classes

    def loss(self, out: torch.Tensor, target: torch.Tensor, *, weight: torch.Tensor | None = None) -> torch.Tensor:
        """Binary cross-entropy on logits; ``weight``: the per-class ``pos_weight`` (positives
        weighted by it, negatives by 1; ``training.optim.positive_weights``)."""
        return F.binary_cross_entropy_with_logits(out.float(), target.float(),
                                                  pos_weight=None if weight is None else weight.to(out.device).float())

    def decode(self, out: torch.Tensor) -> torch.Tensor:
        return out.sigmoid()

    def threshold_array(self, k: int) -> np.ndarray:
        """The ``(K,)`` thresholds (0.5 each when none were chosen)."""
        return _thresholds(self.thresholds, k)

    def decide(self, probabilities: np.ndarray) -> np.ndarray:
        """Boolean ``(..., K)``: which classes are predicted for decoded scores."""
        p = np.asarray(probabilities)
        return p >= self.threshold_array(p.shape[-1])

    def batch_metric(self, out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        t = torch.as_tensor(self.threshold_array(out.shape[-1]), dtype=torch.float32, device=out.device)
        pred, y = self.decode(out.float()) >= t, target > 0.5
        tp = (pred & y).sum().float()
        denom = pred.sum().float() + y.sum().float()
        return torch.where(denom > 0, 2 * tp / denom.clamp(min=1), torch.ones((), device=out.device))

    def metrics(self, truth: Sequence[Any], predictions: np.ndarray, class_names: Sequence[str], *, level: str) -> dict[str, Any]:
        """``truth``: multi-label targets (``"jump|wave"``) or an ``(N, K)`` 0/1 array."""
        y = np.asarray(truth) if isinstance(truth, np.ndarray) and truth.ndim == 2 else multi_hot(list(truth), class_names)
        return multilabel_metrics(y, predictions, class_names, thresholds=list(self.thresholds) or None, level=level)
