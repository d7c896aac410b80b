"""The built-in sections of a report page, as data: for each one the template that draws it
(templates/<name>.html.j2) and the context it is drawn with. No markup is made here.

`build` returns {section id: Part or None} of every built-in section that has something to show;
html.py orders them, adds the caller's sections and renders the page."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from vidlearn.reports.figures import THUMB_SHORT_SIDE, Thumbs, display_name, picture
from vidlearn.reports.formatting import fmt, format_duration, mean_std, num, pct
from vidlearn.reports.shapes import (
    LOCALIZATION_KEYS,
    MULTILABEL_KEYS,
    REGRESSION_KEYS,
    chance_level,
    classification_keys,
    confused_pairs,
    cv_keys,
    flatten,
    get,
    is_cv,
    levels,
    main_level,
    per_class_from_confusion,
)
from vidlearn.reports.templating import Table

__all__ = [
    "MAX_CORRECT_CLASSES",
    "MAX_CORRECT_PER_CLASS",
    "MAX_ERRORS",
    "MAX_SKIPPED",
    "MAX_THUMB_PAIRS",
    "MAX_THUMBS_PER_PAIR",
    "NAMED_IMAGES",
    "Part",
    "build",
]

MAX_THUMBS_PER_PAIR = 6
MAX_THUMB_PAIRS = 6  # pairs that get example videos (each thumbnail is one decode)
MAX_CORRECT_PER_CLASS = 3  # right answers shown per class (the most confident first)
MAX_CORRECT_CLASSES = 30  # classes that get examples (each thumbnail is one decode of a few frames)
MAX_ERRORS = 8
MAX_SKIPPED = 200
NAMED_IMAGES = {
    "curves": "Learning curves",
    "confusion": "Confusion matrix",
    "scatter": "Predicted vs true",
    "timeline": "Timeline",
}


@dataclass(frozen=True)
class Part:
    """A built-in section before it is drawn: templates/`template` rendered with `context`."""

    id: str
    title: str
    template: str
    context: dict[str, Any] = field(default_factory=dict)


def build(
    metrics: Mapping[str, Any] | None = None,
    *,
    config: Any = None,
    images: Mapping[str, str | Path] | None = None,
    predictions: Sequence[Mapping[str, Any]] | None = None,
    timing: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
    thumb_short_side: int = THUMB_SHORT_SIDE,
) -> dict[str, Part | None]:
    """Every built-in section for these inputs (None where there is nothing to show)."""
    images = images or {}
    main = main_level(levels(metrics))
    thumbs = Thumbs(thumb_short_side)
    built: dict[str, Part | None] = {"summary": summary(metrics, info, links)}
    for name, heading in NAMED_IMAGES.items():
        if name in images:
            built[name] = Part(name, heading, "plot.html.j2", {"picture": picture(images[name], heading)})
    if main is not None:
        if main.get("task") != "regression":
            built["per-class"] = per_class(main)
            built["confused-pairs"] = confused(main, predictions, thumbs)
            if predictions:
                built["correct"] = correct(main, predictions, thumbs)
        elif predictions:
            built["errors"] = errors(predictions, thumbs)
        if is_cv(main) and isinstance(metrics, Mapping):
            built["folds"] = folds(metrics, main, links)
    others = {k: v for k, v in images.items() if k not in NAMED_IMAGES}
    if others:
        built["figures"] = Part("figures", "Figures", "figures.html.j2", {"pictures": [picture(p, k, caption=k) for k, p in others.items()]})
    built["skipped"] = skipped(metrics)
    built["config"] = configuration(config)
    built["timing"] = timing_part(timing)
    return built


def summary(metrics: Mapping[str, Any] | None, info: Mapping[str, Any] | None, links: Mapping[str, str] | None) -> Part:
    """Headline cards, facts (task, protocol, classes, `info`), the metrics table and links."""
    found = levels(metrics)
    main = main_level(found)
    facts: dict[str, Any] = {}
    if main is not None:
        facts["task"] = main.get("task")
        if isinstance(metrics, Mapping) and metrics.get("protocol"):
            facts["protocol"] = metrics["protocol"]
        if main.get("classes"):
            cls = list(main["classes"])
            facts["classes"] = f"{len(cls)}: " + ", ".join(map(str, cls[:20])) + (" …" if len(cls) > 20 else "")
        chance = chance_level(main) if main.get("task") != "regression" else None
        if chance is not None:
            facts["chance level"] = (
                f"accuracy {pct(chance['majority'])} by always answering the largest class "
                f"({chance['majority_class']}), {pct(chance['uniform'])} by guessing uniformly"
                + "".join(f"; {k[:3]}-{k[3:]} {pct(v)}" for k, v in chance["top_k"].items())
            )
    facts.update(info or {})
    table = None
    if main is not None:
        table = _levels_table(found, main)
    elif metrics:
        flat = flatten(metrics)
        if flat:
            table = Table(["metric", "value"], [[k, v] for k, v in flat.items()], [False, True], cls="metrics")
    fold_names = {str(f) for f in (metrics or {}).get("folds") or []} if isinstance(metrics, Mapping) else set()
    return Part("summary", "Summary", "summary.html.j2", {
        "cards": _cards(main),
        "facts": [(k, v) for k, v in facts.items() if v is not None],
        "table": table,
        "both_levels": main is not None and "clip" in found and "video" in found,
        "no_metrics": not metrics,
        "related": [(label, href) for label, href in (links or {}).items() if label not in fold_names],
    })


def _cards(main: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """(label, value) of the headline numbers."""
    if main is None:
        return []
    cards: list[tuple[str, str]] = []
    if is_cv(main):
        m = main["metrics"]
        cards += [(f"{label} (mean ± std)", mean_std(m.get(key))) for label, key in cv_keys(main)[:4]]
        chance = chance_level(main) if main.get("task") != "regression" else None
        if chance is not None:
            cards.append(("chance (largest class)", pct(chance["majority"])))
        cards.append(("folds", str(main.get("n_folds", "—"))))
    elif main.get("task") == "regression":
        cards += [(label, fmt(main.get(key))) for label, key in REGRESSION_KEYS]
    elif main.get("task") == "localization":
        cards += [(label, fmt(get(main, key))) for label, key in LOCALIZATION_KEYS if label in ("mAP@0.5", "mAP@0.7", "F1@50", "edit score")]
    elif main.get("task") == "multilabel":
        cards += [(label, fmt(get(main, key))) for label, key in MULTILABEL_KEYS[:3]]
    else:
        cards.append(("accuracy", pct(main.get("accuracy"))))
        chance = chance_level(main)
        if chance is not None:
            cards.append(("chance (largest class)", pct(chance["majority"])))
        cards += [(f"{k[:3]}-{k[3:]} accuracy", pct(v)) for k, v in sorted((main.get("top_k") or {}).items()) if k != "top1"]
        cards.append(("macro F1", fmt(get(main, "macro.f1"))))
    level_name = str(main.get("level") or "")
    cards.append((f"{level_name}s" if level_name in ("video", "clip") else "samples", str(main.get("n", "—"))))
    return cards


def _levels_table(found: Mapping[str, Mapping[str, Any]], main: Mapping[str, Any]) -> Table:
    """One row per headline number, one column per level (video, clip)."""
    names = list(found)
    if is_cv(main):
        rows = [[label] + [mean_std((found[n].get("metrics") or {}).get(key)) for n in names] for label, key in cv_keys(main)]
        rows.append(["n (all folds)"] + [found[n].get("n", "—") for n in names])
    else:
        keys = {"regression": REGRESSION_KEYS, "localization": LOCALIZATION_KEYS, "multilabel": MULTILABEL_KEYS}.get(
            str(main.get("task")), None) or classification_keys(main)
        rows = [[label] + [get(found[n], key) for n in names] for label, key in keys]
        if main.get("task") != "regression":
            chances = [chance_level(found[n]) for n in names]
            rows.insert(1, ["chance accuracy (largest class)"] + [None if c is None else c["majority"] for c in chances])
        rows = [r for r in rows if any(v is not None for v in r[1:])]
        rows.append(["n"] + [found[n].get("n", "—") for n in names])
    heads = ["metric"] + [f"{n}-level" if n in ("video", "clip") else n for n in names]
    return Table(heads, rows, [False] + [True] * len(names), cls="metrics")


def per_class(main: Mapping[str, Any]) -> Part | None:
    """Per-class precision / recall / F1 (with a bar) / support, then the macro and weighted
    averages; computed from the (pooled) confusion matrix when the metrics have no per_class."""
    rows = main.get("per_class")
    macro, weighted = main.get("macro"), main.get("weighted")
    pooled = rows is None
    if pooled:
        cm, classes = main.get("confusion_matrix"), main.get("classes")
        if not cm or not classes:
            return None
        rows = per_class_from_confusion(cm, classes)
        macro = {k: sum(r[k] for r in rows) / len(rows) for k in ("precision", "recall", "f1")}
        total = sum(r["support"] for r in rows) or 1
        weighted = {k: sum(r[k] * r["support"] for r in rows) / total for k in ("precision", "recall", "f1")}
    body = []
    for r in rows:
        f1 = r.get("f1")
        width = 0 if f1 is None or not math.isfinite(f1) else max(0.0, min(1.0, f1)) * 100
        body.append({"name": str(r.get("class")), "precision": r.get("precision"), "recall": r.get("recall"), "f1": f1,
                     "bar": f"{width:.0f}", "support": r.get("support")})
    total = sum(int(r.get("support") or 0) for r in rows)
    footer = [
        {"name": f"{name} avg", "precision": avg.get("precision"), "recall": avg.get("recall"), "f1": avg.get("f1"), "support": total}
        for name, avg in (("macro", macro), ("weighted", weighted)) if isinstance(avg, Mapping)
    ]
    return Part("per-class", "Per-class precision, recall and F1", "per_class.html.j2", {"rows": body, "footer": footer, "pooled": pooled})


def confused(main: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]] | None, thumbs: Thumbs) -> Part | None:
    """The most confused class pairs, with thumbnails of (some of) their misclassified videos."""
    cm, classes = main.get("confusion_matrix"), main.get("classes")
    if not cm or not classes:
        return None
    pairs = confused_pairs(cm, classes)
    table = None
    if pairs:
        table = Table(
            ["true class", "predicted as", "videos", "share of true class"],
            [[p["true"], p["predicted"], p["count"], pct(p["fraction"])] for p in pairs],
            [False, False, True, True],
        )
    groups = []
    for p in pairs[:MAX_THUMB_PAIRS] if predictions is not None else []:
        wrong = [q for q in predictions if str(q.get("true")) == p["true"] and str(q.get("predicted")) == p["predicted"]]
        if not wrong:
            continue
        wrong.sort(key=lambda q: -(num(q.get("score")) or 0.0))
        shown = wrong[:MAX_THUMBS_PER_PAIR]
        more = f" (showing {len(shown)} of {len(wrong)})" if len(wrong) > len(shown) else ""
        items = []
        for q in shown:
            score = num(q.get("score"))
            items.append(thumbs.thumb(q, [f"p({p['predicted']}) = {fmt(score, 2)}" if score is not None else ""]))
        groups.append({"true": p["true"], "predicted": p["predicted"], "more": more, "thumbs": items})
    return Part("confused-pairs", "Most confused classes", "confused_pairs.html.j2",
                {"table": table, "recorded": predictions is not None, "groups": groups})


def correct(main: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]], thumbs: Thumbs) -> Part | None:
    """Per class, moving thumbnails of videos it got right (the most confident first): what the
    model recognises, beside what it confuses. Classes in the metrics' order, up to
    MAX_CORRECT_CLASSES of them."""
    classes = [str(c) for c in main.get("classes") or []]
    for q in predictions:
        if str(q.get("true")) not in classes:
            classes.append(str(q.get("true")))
    groups = []
    for name in classes[:MAX_CORRECT_CLASSES]:
        right = [q for q in predictions if str(q.get("true")) == name and str(q.get("predicted")) == name]
        total = sum(1 for q in predictions if str(q.get("true")) == name)
        if not total:
            continue
        right.sort(key=lambda q: -(num(q.get("score")) or 0.0))
        shown = right[:MAX_CORRECT_PER_CLASS]
        items = [thumbs.thumb(q, [f"p({name}) = {fmt(num(q.get('score')), 2)}" if num(q.get("score")) is not None else ""]) for q in shown]
        groups.append({"name": name, "right": len(right), "total": total, "thumbs": items})
    if not groups:
        return None
    return Part("correct", "Correct examples per class", "correct.html.j2",
                {"groups": groups, "more": max(0, len(classes) - MAX_CORRECT_CLASSES)})


def errors(predictions: Sequence[Mapping[str, Any]], thumbs: Thumbs) -> Part | None:
    """Regression: the videos with the largest absolute errors, with their thumbnails."""
    rows = []
    for q in predictions:
        t, p = num(q.get("true")), num(q.get("predicted"))
        if t is not None and p is not None:
            rows.append((abs(p - t), t, p, q))
    if not rows:
        return None
    rows.sort(key=lambda r: -r[0])
    worst = rows[:MAX_ERRORS]
    table = Table(
        ["video", "true", "predicted", "absolute error"],
        [[display_name(q), t, p, err] for err, t, p, q in worst],
        [False, True, True, True],
    )
    items = [thumbs.thumb(q, [f"true {t:.3g}, predicted {p:.3g}"]) for err, t, p, q in worst]
    return Part("errors", "Largest errors", "errors.html.j2", {"table": table, "thumbs": items})


def folds(metrics: Mapping[str, Any], main: Mapping[str, Any], links: Mapping[str, str] | None) -> Part | None:
    """Cross-validation: one row per fold (its name links to its report), then mean ± std."""
    m = main.get("metrics") or {}
    keys = cv_keys(main) or [(k, k) for k in m]
    if not keys:
        return None
    n = max(len(m[k].get("values") or []) for _, k in keys)
    names = [str(x) for x in (metrics.get("folds") or [])]
    if len(names) != n:
        names = [f"fold {i + 1}" for i in range(n)]
    rows = [
        {"name": name, "href": (links or {}).get(name), "values": [_at(m[k].get("values"), i) for _, k in keys]}
        for i, name in enumerate(names)
    ]
    return Part("folds", "Cross-validation folds", "folds.html.j2", {
        "headers": ["fold"] + [label for label, _ in keys],
        "rows": rows,
        "footer": [mean_std(m[k]) for _, k in keys],
        "level": main.get("level") or "video",
    })


def _at(values: Sequence[Any] | None, i: int) -> Any:
    return values[i] if values is not None and i < len(values) else None


def configuration(config: Any) -> Part | None:
    """The experiment configuration (an ExperimentConfig, a pydantic model or a dict) as YAML."""
    if config is None:
        return None
    import yaml

    from vidlearn.tasks.metrics import to_jsonable

    if hasattr(config, "to_dict"):
        config = config.to_dict()
    elif hasattr(config, "model_dump"):
        config = config.model_dump(mode="json")
    try:
        text = yaml.safe_dump(to_jsonable(config), sort_keys=False, default_flow_style=None, allow_unicode=True, width=100)
    except (TypeError, yaml.YAMLError):
        text = str(config)
    return Part("config", "Configuration", "config.html.j2", {"text": text})


def timing_part(timing: Mapping[str, Any] | None) -> Part | None:
    """step -> time: numbers (seconds) as durations, anything else as it is."""
    if not timing:
        return None
    rows = [[k, format_duration(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else v] for k, v in timing.items()]
    return Part("timing", "Timing", "timing.html.j2", {"table": Table(["step", "time"], rows, [False, True])})


def skipped(metrics: Mapping[str, Any] | None) -> Part | None:
    """The videos that could not be read, and why (the first MAX_SKIPPED)."""
    items = (metrics or {}).get("skipped") if isinstance(metrics, Mapping) else None
    if not items:
        return None
    rows = [[s.get("path", "?"), s.get("reason", "")] if isinstance(s, Mapping) else [str(s), ""] for s in items[:MAX_SKIPPED]]
    return Part("skipped", f"Skipped videos ({len(items)})", "skipped.html.j2", {
        "table": Table(["video", "reason"], rows, [False, False]),
        "more": max(0, len(items) - MAX_SKIPPED),
    })
