"""Reading the metrics dicts a report is given, whatever their shape.

`metrics` may be the metrics.json of a run (``{"video": ..., "clip": ..., "skipped": [...]}``),
one level of it (``{"task": ..., "level": ...}``), a cross-validation summary (cv_metrics.json:
``{"protocol", "video": summarize_folds(...), "clip": ..., "folds": [names]}``) or any other dict
of numbers. These helpers find the levels in it, the headline numbers of each and the confused
class pairs; they return plain data, no markup."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from vidlearn.reports.formatting import fmt

__all__ = [
    "MAX_PAIRS",
    "LOCALIZATION_KEYS",
    "MULTILABEL_KEYS",
    "REGRESSION_KEYS",
    "chance_level",
    "classification_keys",
    "confused_pairs",
    "cv_keys",
    "flatten",
    "get",
    "is_cv",
    "levels",
    "main_level",
    "per_class_from_confusion",
]

MAX_PAIRS = 10
REGRESSION_KEYS = [("MAE", "mae"), ("RMSE", "rmse"), ("R²", "r2")]
LOCALIZATION_KEYS = [
    ("mAP@0.3", "mAP.0.3"), ("mAP@0.5", "mAP.0.5"), ("mAP@0.7", "mAP.0.7"), ("mean mAP", "mAP_mean"),
    ("frame accuracy", "frame_accuracy"), ("edit score", "edit"), ("F1@10", "F1.10"), ("F1@25", "F1.25"), ("F1@50", "F1.50"),
]


MULTILABEL_KEYS = [("mAP", "map"), ("micro F1", "micro.f1"), ("macro F1", "macro.f1"), ("micro precision", "micro.precision"),
                   ("micro recall", "micro.recall"), ("subset accuracy", "subset_accuracy")]


def levels(metrics: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """{"video": ..., "clip": ...} of a run, or {level: metrics} of a single level, or {}."""
    if not metrics:
        return {}
    found = {k: metrics[k] for k in ("video", "clip") if isinstance(metrics.get(k), Mapping)}
    if found:
        return found
    if "task" in metrics:
        return {str(metrics.get("level") or "all"): metrics}
    return {}


def main_level(found: Mapping[str, Mapping[str, Any]]) -> Mapping[str, Any] | None:
    """The level the headline numbers come from: video level when there is one."""
    return found.get("video") or next(iter(found.values()), None)


def is_cv(level: Mapping[str, Any]) -> bool:
    """Whether `level` is a summarize_folds summary (mean ± std over folds)."""
    return isinstance(level.get("metrics"), Mapping) and "n_folds" in level


def flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """{"a.b": number} of the numbers and short lists in a nested dict (the rest is left out)."""
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(flatten(value, f"{name}."))
        elif value is None or isinstance(value, (str, bool, int, float)) or hasattr(value, "item"):
            out[name] = value
        elif isinstance(value, (list, tuple)) and len(value) <= 8 and all(isinstance(v, (int, float, str)) for v in value):
            out[name] = ", ".join(fmt(v) for v in value)
    return out


def classification_keys(level: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, dotted key) of the headline classification numbers present."""
    keys = [("accuracy", "accuracy")]
    for k in sorted((level.get("top_k") or {}), key=lambda s: int(re.sub(r"\D", "", s) or 0)):
        if k == "top1":
            continue  # the same as accuracy
        keys.append((f"{k[:3]}-{k[3:]} accuracy", f"top_k.{k}"))
    keys += [
        ("macro precision", "macro.precision"),
        ("macro recall", "macro.recall"),
        ("macro F1", "macro.f1"),
        ("weighted F1", "weighted.f1"),
    ]
    return keys


def get(level: Mapping[str, Any], dotted: str) -> Any:
    """level["a"]["b"] for "a.b", or None."""
    node: Any = level
    parts = dotted.split(".")
    i = 0
    while i < len(parts):
        if not isinstance(node, Mapping):
            return None
        for j in range(len(parts), i, -1):  # the longest key first: "mAP.0.5" is mAP -> "0.5"
            key = ".".join(parts[i:j])
            if key in node:
                node, i = node[key], j
                break
        else:
            return None
    return node


def cv_keys(level: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(label, key) of the headline numbers of a cross-validation summary that it holds."""
    available = level.get("metrics") or {}
    if level.get("task") == "regression":
        wanted = REGRESSION_KEYS
    elif level.get("task") == "multilabel":
        wanted = MULTILABEL_KEYS
    elif level.get("task") == "localization":  # the headline four first (the summary cards)
        first = ("mAP@0.5", "mAP@0.7", "F1@50", "edit score")
        wanted = sorted(LOCALIZATION_KEYS, key=lambda lk: first.index(lk[0]) if lk[0] in first else len(first))
    else:
        wanted = [("accuracy", "accuracy")]
        wanted += [(f"{k[6:9]}-{k[9:]} accuracy", k) for k in sorted(available) if k.startswith("top_k.") and k != "top_k.top1"]
        wanted += [("macro F1", "macro.f1"), ("weighted F1", "weighted.f1")]
    return [(label, key) for label, key in wanted if key in available]


def per_class_from_confusion(cm: Sequence[Sequence[int]], classes: Sequence[str]) -> list[dict[str, Any]]:
    """Per-class precision / recall / F1 / support of a confusion matrix (rows = true)."""
    k = len(classes)
    rows = []
    for i in range(k):
        tp = float(cm[i][i])
        support = int(sum(cm[i]))
        predicted = float(sum(cm[r][i] for r in range(k)))
        p = tp / predicted if predicted else 0.0
        r = tp / support if support else 0.0
        f = 2 * p * r / (p + r) if p + r else 0.0
        rows.append({"class": str(classes[i]), "precision": p, "recall": r, "f1": f, "support": support})
    return rows


def confused_pairs(cm: Sequence[Sequence[int]], classes: Sequence[str], limit: int = MAX_PAIRS) -> list[dict[str, Any]]:
    """Off-diagonal cells of a confusion matrix (rows = true), most frequent first:
    ``[{"true", "predicted", "count", "fraction"}]`` where fraction is of the true class's videos."""
    pairs = []
    for i, row in enumerate(cm):
        support = sum(int(v) for v in row)
        for j, v in enumerate(row):
            if i != j and int(v) > 0:
                pairs.append({"true": str(classes[i]), "predicted": str(classes[j]), "count": int(v), "fraction": int(v) / support if support else 0.0})
    pairs.sort(key=lambda p: (-p["count"], -p["fraction"], p["true"], p["predicted"]))
    return pairs[:limit]


def chance_level(level: Mapping[str, Any]) -> dict[str, Any] | None:
    """What guessing scores on a classification level, from its class counts (the rows of its
    confusion matrix, pooled over folds for a CV summary, or the per-class supports):
    ``{"uniform": 1/K, "majority": share of the largest class, "majority_class", "top_k": {"top3": 3/K}}``,
    or None when the counts are not there."""
    classes = list(level.get("classes") or [])
    cm = level.get("confusion_matrix")
    if cm:
        counts = [float(sum(row)) for row in cm]
    elif level.get("per_class"):
        counts = [float(r.get("support") or 0) for r in level["per_class"]]
    else:
        return None
    total = sum(counts)
    k = len(counts)
    if k < 2 or total <= 0:
        return None
    biggest = max(range(k), key=lambda i: counts[i])
    top_k = {}
    for name in level.get("top_k") or {}:
        digits = re.sub(r"\D", "", str(name))
        if digits and int(digits) > 1:
            top_k[name] = min(1.0, int(digits) / k)
    return {
        "uniform": 1.0 / k,
        "majority": counts[biggest] / total,
        "majority_class": str(classes[biggest]) if biggest < len(classes) else str(biggest),
        "top_k": top_k,
    }
