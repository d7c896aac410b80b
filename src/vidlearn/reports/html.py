"""One self-contained HTML page per run: `report.html`.

Everything is inside the file: the pictures are inlined as base64 data URIs, the CSS is inline,
there is no JavaScript and no external request (a Content-Security-Policy in the page forbids
both), so it opens from disk in any browser and can be mailed or archived as it is.

The page is made of sections with stable ids, in this order (each only when there is something
to show)::

    summary         headline numbers, video- and clip-level table (or mean ± std over folds)
    folds           cross-validation: one row per fold, then mean ± std
    curves          learning curves                         (images["curves"])
    confusion       confusion matrix (pooled over folds)    (images["confusion"])
    scatter         regression: predicted vs true           (images["scatter"])
    per-class       per-class precision / recall / F1 / support
    confused-pairs  the most confused class pairs, with thumbnails of misclassified videos
    errors          regression: the largest errors, with thumbnails
    <custom>        the caller's `sections`, in their order
    figures         any other images
    skipped         videos that could not be read
    config          the experiment configuration (YAML)
    timing          how long the run took

A caller's `Section` whose id is one of the built-in ids replaces that section in place.

`metrics` may be the metrics.json of a run (``{"video": ..., "clip": ..., "skipped": [...]}``),
one level of it (``{"task": ..., "level": ...}``), a cross-validation summary
(cv_metrics.json: ``{"protocol", "video": summarize_folds(...), "clip": ..., "folds": [names]}``),
or any other dict of numbers (shown as a flat table in the summary), so that baseline, cluster
and tune runs can use the same page.
"""

from __future__ import annotations

import base64
import datetime as _dt
import html
import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidlearn.fsutil import atomic_write_text

__all__ = [
    "BUILTIN_SECTION_IDS",
    "Section",
    "confused_pairs",
    "data_uri",
    "format_duration",
    "image_html",
    "render_html_report",
    "table_html",
    "text_html",
    "write_html_report",
]

BUILTIN_SECTION_IDS = (
    "summary",
    "folds",
    "curves",
    "confusion",
    "scatter",
    "per-class",
    "confused-pairs",
    "errors",
    "figures",
    "skipped",
    "config",
    "timing",
)
_AFTER_CUSTOM = ("figures", "skipped", "config", "timing")
_NAMED_IMAGES = {"curves": "Learning curves", "confusion": "Confusion matrix", "scatter": "Predicted vs true"}
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")

MAX_PAIRS = 10
MAX_THUMBS_PER_PAIR = 6
MAX_THUMB_PAIRS = 6  # pairs that get example videos (each thumbnail is one decode)
MAX_ERRORS = 8
THUMB_SHORT_SIDE = 96


@dataclass
class Section:
    """A part of the page: `<section id=...><h2>title</h2>html</section>`.

    `html` is trusted markup: build it with `table_html`, `image_html`, `text_html` (which escape
    what they are given) or escape user text with `html.escape` yourself."""

    id: str
    title: str
    html: str = ""

    def __post_init__(self) -> None:
        if not _ID_RE.match(self.id or ""):
            raise ValueError(f"section id {self.id!r} must start with a letter and hold only letters, digits, '-' and '_'")


# ---- building blocks -----------------------------------------------------------------------

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _mime(data: bytes, name: str = "") -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:256].lstrip().lower()
    if name.lower().endswith(".svg") or head.startswith((b"<svg", b"<?xml")):
        return "image/svg+xml"
    raise ValueError(f"{name or 'image'}: not a PNG, JPEG, GIF, WebP or SVG image")


def data_uri(image: str | Path | bytes, mime: str | None = None) -> str:
    """`data:<mime>;base64,...` for an image file or its bytes (type found from the content)."""
    if isinstance(image, (bytes, bytearray)):
        data, name = bytes(image), ""
    else:
        p = Path(image)
        data, name = p.read_bytes(), p.name
    return f"data:{mime or _mime(data, name)};base64,{base64.b64encode(data).decode('ascii')}"


def image_html(image: str | Path | bytes, alt: str, *, caption: str | None = None, cls: str = "plot") -> str:
    """An inlined `<figure><img></figure>`; a missing or unreadable file becomes a short note."""
    try:
        src = data_uri(image)
    except (OSError, ValueError) as exc:
        return f'<p class="note">{_e(alt)}: picture not available ({_e(exc.__class__.__name__)}: {_e(exc)})</p>'
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f'<figure class="{_e(cls)}"><img src="{src}" alt="{_e(alt)}">{cap}</figure>'


def text_html(text: str, *, pre: bool = False) -> str:
    """Escaped text as a paragraph (or a `<pre>` block)."""
    return f"<pre>{_e(text)}</pre>" if pre else f"<p>{_e(text)}</p>"


def table_html(
    headers: Sequence[str],
    rows: Sequence[Sequence[Any]],
    *,
    numeric: Sequence[bool] | None = None,
    cls: str = "",
    raw: bool = False,
    footer_rows: Sequence[Sequence[Any]] = (),
) -> str:
    """A table; cells are escaped (floats to 3 decimals, None as '—') unless `raw`, in which case
    they are trusted HTML. `numeric` right-aligns columns (default: guessed from the first row)."""
    if numeric is None:
        first = rows[0] if rows else []
        numeric = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in first] + [False] * len(headers)

    def cell(tag: str, value: Any, j: int) -> str:
        text = str(value) if raw else _e(_fmt(value))
        align = ' class="num"' if j < len(numeric) and numeric[j] else ""
        return f"<{tag}{align}>{text}</{tag}>"

    head = "".join(f"<th>{_e(h)}</th>" for h in headers)
    body = "".join("<tr>" + "".join(cell("td", v, j) for j, v in enumerate(r)) + "</tr>" for r in rows)
    foot = "".join('<tr class="total">' + "".join(cell("td", v, j) for j, v in enumerate(r)) + "</tr>" for r in footer_rows)
    foot = f"<tfoot>{foot}</tfoot>" if foot else ""
    c = f' class="{_e(cls)}"' if cls else ""
    return f"<table{c}><thead><tr>{head}</tr></thead><tbody>{body}</tbody>{foot}</table>"


def _e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "—"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            return "—"
        return f"{value:.{digits}f}"
    if hasattr(value, "item") and not isinstance(value, (str, bytes)):  # numpy scalars
        try:
            return _fmt(value.item(), digits)
        except (TypeError, ValueError):
            pass
    return str(value)


def _pct(value: float | None) -> str:
    return "—" if value is None or not math.isfinite(value) else f"{100 * value:.1f}%"


def format_duration(seconds: float) -> str:
    """12.3 s, 4 min 05 s, 2 h 03 min."""
    if seconds is None or not math.isfinite(seconds):
        return "—"
    s = max(0.0, float(seconds))
    if s < 60:
        return f"{s:.1f} s"
    if s < 3600:
        m, r = divmod(int(round(s)), 60)
        return f"{m} min {r:02d} s"
    h, r = divmod(int(round(s)), 3600)
    return f"{h} h {r // 60:02d} min"


# ---- metrics shapes ------------------------------------------------------------------------


def _levels(metrics: Mapping[str, Any] | None) -> dict[str, Mapping[str, Any]]:
    """{"video": ..., "clip": ...} of a run, or {level: metrics} of a single level, or {}."""
    if not metrics:
        return {}
    found = {k: metrics[k] for k in ("video", "clip") if isinstance(metrics.get(k), Mapping)}
    if found:
        return found
    if "task" in metrics:
        return {str(metrics.get("level") or "all"): metrics}
    return {}


def _is_cv(level: Mapping[str, Any]) -> bool:
    return isinstance(level.get("metrics"), Mapping) and "n_folds" in level


def _flatten(metrics: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            out.update(_flatten(value, f"{name}."))
        elif value is None or isinstance(value, (str, bool, int, float)) or hasattr(value, "item"):
            out[name] = value
        elif isinstance(value, (list, tuple)) and len(value) <= 8 and all(isinstance(v, (int, float, str)) for v in value):
            out[name] = ", ".join(_fmt(v) for v in value)
    return out


def _classification_keys(level: Mapping[str, Any]) -> list[tuple[str, str]]:
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


_REGRESSION_KEYS = [("MAE", "mae"), ("RMSE", "rmse"), ("R²", "r2")]


def _get(level: Mapping[str, Any], dotted: str) -> Any:
    node: Any = level
    for part in dotted.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return node


def _cv_keys(level: Mapping[str, Any]) -> list[tuple[str, str]]:
    available = level.get("metrics") or {}
    if level.get("task") == "regression":
        wanted = _REGRESSION_KEYS
    else:
        wanted = [("accuracy", "accuracy")]
        wanted += [(f"{k[6:9]}-{k[9:]} accuracy", k) for k in sorted(available) if k.startswith("top_k.") and k != "top_k.top1"]
        wanted += [("macro F1", "macro.f1"), ("weighted F1", "weighted.f1")]
    return [(label, key) for label, key in wanted if key in available]


def _mean_std(entry: Mapping[str, Any] | None) -> str:
    if not entry or entry.get("mean") is None:
        return "—"
    std = entry.get("std")
    return f"{_fmt(entry['mean'])} ± {_fmt(std)}" if std is not None else _fmt(entry["mean"])


# ---- sections ------------------------------------------------------------------------------


def _summary(metrics: Mapping[str, Any] | None, info: Mapping[str, Any] | None, links: Mapping[str, str] | None) -> Section:
    parts: list[str] = []
    levels = _levels(metrics)
    main = levels.get("video") or next(iter(levels.values()), None)
    cards: list[tuple[str, str]] = []
    if main is not None:
        task = main.get("task")
        if _is_cv(main):
            m = main["metrics"]
            for label, key in _cv_keys(main)[:4]:
                cards.append((f"{label} (mean ± std)", _mean_std(m.get(key))))
            cards.append(("folds", str(main.get("n_folds", "—"))))
        elif task == "regression":
            cards += [(label, _fmt(main.get(key))) for label, key in _REGRESSION_KEYS]
        else:
            cards.append(("accuracy", _pct(main.get("accuracy"))))
            for k, v in sorted((main.get("top_k") or {}).items()):
                if k == "top1":
                    continue
                cards.append((f"{k[:3]}-{k[3:]} accuracy", _pct(v)))
            cards.append(("macro F1", _fmt(_get(main, "macro.f1"))))
        level_name = str(main.get("level") or "")
        cards.append((f"{level_name + 's' if level_name in ('video', 'clip') else 'samples'}", str(main.get("n", "—"))))
    if cards:
        parts.append('<div class="cards">' + "".join(f'<div class="card"><div class="value">{_e(v)}</div><div class="label">{_e(k)}</div></div>' for k, v in cards) + "</div>")

    facts: dict[str, Any] = {}
    if main is not None:
        facts["task"] = main.get("task")
        if isinstance(metrics, Mapping) and metrics.get("protocol"):
            facts["protocol"] = metrics["protocol"]
        if main.get("classes"):
            cls = list(main["classes"])
            facts["classes"] = f"{len(cls)}: " + ", ".join(map(str, cls[:20])) + (" …" if len(cls) > 20 else "")
    facts.update(info or {})
    facts = {k: v for k, v in facts.items() if v is not None}
    if facts:
        parts.append('<dl class="facts">' + "".join(f"<dt>{_e(k)}</dt><dd>{_e(_fmt(v))}</dd>" for k, v in facts.items()) + "</dl>")

    if levels and main is not None:
        names = list(levels)
        if _is_cv(main):
            keys = [(label, key) for label, key in _cv_keys(main)]
            rows = [[label] + [_mean_std((levels[n].get("metrics") or {}).get(key)) for n in names] for label, key in keys]
            rows.append(["n (all folds)"] + [levels[n].get("n", "—") for n in names])
        else:
            keys = _REGRESSION_KEYS if main.get("task") == "regression" else _classification_keys(main)
            rows = [[label] + [_get(levels[n], key) for n in names] for label, key in keys]
            rows = [r for r in rows if any(v is not None for v in r[1:])]
            rows.append(["n"] + [levels[n].get("n", "—") for n in names])
        heads = ["metric"] + [f"{n}-level" if n in ("video", "clip") else n for n in names]
        parts.append(table_html(heads, rows, numeric=[False] + [True] * len(names), cls="metrics"))
        if "clip" in levels and "video" in levels:
            parts.append('<p class="note">Video level: the scores of all test views of a video averaged; clip level: every view on its own.</p>')
    elif metrics:
        flat = _flatten(metrics)
        if flat:
            parts.append(table_html(["metric", "value"], [[k, v] for k, v in flat.items()], numeric=[False, True], cls="metrics"))
    if not metrics:
        parts.append('<p class="note">No evaluation metrics for this run (no evaluation data).</p>')
    folds = {str(f) for f in (metrics or {}).get("folds") or []} if isinstance(metrics, Mapping) else set()
    related = {k: v for k, v in (links or {}).items() if k not in folds}
    if related:
        parts.append("<p>Related reports: " + ", ".join(f'<a href="{_e(href)}">{_e(label)}</a>' for label, href in related.items()) + "</p>")
    return Section("summary", "Summary", "".join(parts))


def _per_class(main: Mapping[str, Any]) -> Section | None:
    rows = main.get("per_class")
    macro, weighted = main.get("macro"), main.get("weighted")
    note = ""
    if rows is None:
        cm, classes = main.get("confusion_matrix"), main.get("classes")
        if not cm or not classes:
            return None
        rows = _per_class_from_confusion(cm, classes)
        macro = {k: sum(r[k] for r in rows) / len(rows) for k in ("precision", "recall", "f1")}
        total = sum(r["support"] for r in rows) or 1
        weighted = {k: sum(r[k] * r["support"] for r in rows) / total for k in ("precision", "recall", "f1")}
        note = '<p class="note">Computed from the pooled confusion matrix of all folds.</p>'
    body = []
    for r in rows:
        f1 = r.get("f1")
        width = 0 if f1 is None or not math.isfinite(f1) else max(0.0, min(1.0, f1)) * 100
        bar = f'<span class="track"><span class="bar" style="width:{width:.0f}%"></span></span>'
        body.append(
            [_e(r.get("class")), _e(_fmt(r.get("precision"))), _e(_fmt(r.get("recall"))),
             f'<div class="barcell">{bar}<span>{_e(_fmt(f1))}</span></div>', _e(_fmt(r.get("support")))]
        )
    total = sum(int(r.get("support") or 0) for r in rows)
    footer = [
        [f"{name} avg", _e(_fmt(avg.get("precision"))), _e(_fmt(avg.get("recall"))), _e(_fmt(avg.get("f1"))), str(total)]
        for name, avg in (("macro", macro), ("weighted", weighted)) if isinstance(avg, Mapping)
    ]
    table = table_html(["class", "precision", "recall", "F1", "support"], body, numeric=[False, True, True, True, True], raw=True, footer_rows=footer, cls="per-class")
    return Section("per-class", "Per-class precision, recall and F1", note + table)


def _per_class_from_confusion(cm: Sequence[Sequence[int]], classes: Sequence[str]) -> list[dict[str, Any]]:
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


class _Thumbs:
    """Middle-frame thumbnails, decoded once per (path, start, end)."""

    def __init__(self, short_side: int) -> None:
        self.short_side = short_side
        self.cache: dict[tuple, tuple[str | None, str | None]] = {}

    def __call__(self, pred: Mapping[str, Any]) -> tuple[str | None, str | None]:
        key = (str(pred.get("path")), pred.get("start"), pred.get("end"))
        if key not in self.cache:
            from vidlearn.reports.thumbnails import thumbnail_jpeg

            try:
                self.cache[key] = (data_uri(thumbnail_jpeg(key[0], start=_num(key[1]), end=_num(key[2]), short_side=self.short_side)), None)
            except Exception as exc:  # noqa: BLE001 - one unreadable video must not lose the report
                reason = getattr(exc, "reason", None) or f"{exc.__class__.__name__}: {exc}"
                self.cache[key] = (None, str(reason))
        return self.cache[key]


def _num(value: Any) -> float | None:
    if value is None or value == "":
        return None
    try:
        f = float(value)
    except (TypeError, ValueError):
        return None
    return f if math.isfinite(f) else None


def _thumb_figure(thumbs: _Thumbs, pred: Mapping[str, Any], caption_lines: list[str]) -> str:
    src, err = thumbs(pred)
    name = _display_name(pred)
    title = _e(str(pred.get("path")))
    if src is None:
        img = f'<div class="nothumb">no thumbnail<br><small>{_e(_short(err or "", 80))}</small></div>'
    else:
        img = f'<img src="{src}" alt="middle frame of {_e(name)}">'
    if pred.get("fold"):
        caption_lines = [*caption_lines, f"fold {pred['fold']}"]
    cap = "<br>".join(_e(line) for line in [name, *caption_lines] if line)
    return f'<figure class="thumb" title="{title}">{img}<figcaption>{cap}</figcaption></figure>'


def _display_name(pred: Mapping[str, Any]) -> str:
    name = Path(str(pred.get("path", ""))).name
    start, end = _num(pred.get("start")), _num(pred.get("end"))
    if start is not None or end is not None:
        name += f"[{start or 0:g}-{'' if end is None else f'{end:g}'}]"
    return _short(name, 40)


def _short(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"


def _confused_section(main: Mapping[str, Any], predictions: Sequence[Mapping[str, Any]] | None, thumbs: _Thumbs) -> Section | None:
    cm, classes = main.get("confusion_matrix"), main.get("classes")
    if not cm or not classes:
        return None
    pairs = confused_pairs(cm, classes)
    if not pairs:
        return Section("confused-pairs", "Most confused classes", '<p class="note">No video was misclassified.</p>')
    parts = [
        table_html(
            ["true class", "predicted as", "videos", "share of true class"],
            [[p["true"], p["predicted"], p["count"], _pct(p["fraction"])] for p in pairs],
            numeric=[False, False, True, True],
        )
    ]
    if predictions is None:
        parts.append('<p class="note">Per-video predictions were not recorded for this run, so no example videos are shown.</p>')
    else:
        for p in pairs[:MAX_THUMB_PAIRS]:
            wrong = [q for q in predictions if str(q.get("true")) == p["true"] and str(q.get("predicted")) == p["predicted"]]
            if not wrong:
                continue
            wrong.sort(key=lambda q: -(_num(q.get("score")) or 0.0))
            shown = wrong[:MAX_THUMBS_PER_PAIR]
            more = f" (showing {len(shown)} of {len(wrong)})" if len(wrong) > len(shown) else ""
            figs = "".join(
                _thumb_figure(thumbs, q, [f"p({p['predicted']}) = {_fmt(_num(q.get('score')), 2)}" if _num(q.get("score")) is not None else ""])
                for q in shown
            )
            parts.append(f'<div class="pair"><h3>{_e(p["true"])} → {_e(p["predicted"])}{_e(more)}</h3><div class="thumbs">{figs}</div></div>')
    return Section("confused-pairs", "Most confused classes", "".join(parts))


def _errors_section(predictions: Sequence[Mapping[str, Any]], thumbs: _Thumbs) -> Section | None:
    rows = []
    for q in predictions:
        t, p = _num(q.get("true")), _num(q.get("predicted"))
        if t is not None and p is not None:
            rows.append((abs(p - t), t, p, q))
    if not rows:
        return None
    rows.sort(key=lambda r: -r[0])
    worst = rows[:MAX_ERRORS]
    table = table_html(
        ["video", "true", "predicted", "absolute error"],
        [[_display_name(q), t, p, err] for err, t, p, q in worst],
        numeric=[False, True, True, True],
    )
    figs = "".join(_thumb_figure(thumbs, q, [f"true {t:.3g}, predicted {p:.3g}"]) for err, t, p, q in worst)
    return Section("errors", "Largest errors", table + f'<div class="thumbs">{figs}</div>')


def _folds_section(metrics: Mapping[str, Any], main: Mapping[str, Any], links: Mapping[str, str] | None) -> Section | None:
    m = main.get("metrics") or {}
    keys = _cv_keys(main)
    if not keys:
        keys = [(k, k) for k in m]
    if not keys:
        return None
    n = max(len(m[k].get("values") or []) for _, k in keys)
    names = [str(x) for x in (metrics.get("folds") or [])]
    if len(names) != n:
        names = [f"fold {i + 1}" for i in range(n)]
    rows = []
    for i, name in enumerate(names):
        label = f'<a href="{_e(links[name])}">{_e(name)}</a>' if links and name in links else _e(name)
        rows.append([label] + [_e(_fmt(_at(m[k].get("values"), i))) for _, k in keys])
    footer = [["mean ± std"] + [_e(_mean_std(m[k])) for _, k in keys]]
    table = table_html(["fold"] + [label for label, _ in keys], rows, numeric=[False] + [True] * len(keys), raw=True, footer_rows=footer)
    note = f'<p class="note">{_e(main.get("level") or "video")}-level metrics of each held-out fold; std is over folds (ddof=0).</p>'
    return Section("folds", "Cross-validation folds", table + note)


def _at(values: Sequence[Any] | None, i: int) -> Any:
    return values[i] if values is not None and i < len(values) else None


def _config_section(config: Any) -> Section | None:
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
    return Section("config", "Configuration", text_html(text, pre=True))


def _timing_section(timing: Mapping[str, Any] | None) -> Section | None:
    if not timing:
        return None
    rows = []
    for k, v in timing.items():
        if isinstance(v, (int, float)) and not isinstance(v, bool):
            rows.append([k, format_duration(float(v))])
        else:
            rows.append([k, _fmt(v)])
    return Section("timing", "Timing", table_html(["step", "time"], rows, numeric=[False, True]))


def _skipped_section(metrics: Mapping[str, Any] | None) -> Section | None:
    items = (metrics or {}).get("skipped") if isinstance(metrics, Mapping) else None
    if not items:
        return None
    rows = [[s.get("path", "?"), s.get("reason", "")] if isinstance(s, Mapping) else [str(s), ""] for s in items[:200]]
    more = f'<p class="note">… and {len(items) - 200} more.</p>' if len(items) > 200 else ""
    return Section("skipped", f"Skipped videos ({len(items)})", table_html(["video", "reason"], rows, numeric=[False, False]) + more)


# ---- the page ------------------------------------------------------------------------------

_CSS = """
:root{--fg:#1d2430;--muted:#5b6675;--line:#d9dee5;--accent:#2563a8;--bg:#ffffff;--soft:#f3f6f9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
main{max-width:1100px;margin:0 auto;padding:24px 28px 48px}
h1{font-size:26px;margin:0 0 4px}
h2{font-size:19px;margin:0 0 12px;padding-bottom:4px;border-bottom:2px solid var(--line)}
h3{font-size:15px;margin:14px 0 6px}
.sub{color:var(--muted);margin:0 0 12px}
nav{display:flex;flex-wrap:wrap;gap:6px 14px;padding:8px 0 14px;border-bottom:1px solid var(--line);margin-bottom:18px}
nav a{color:var(--accent);text-decoration:none;font-size:14px}
section{margin:0 0 30px}
.cards{display:flex;flex-wrap:wrap;gap:12px;margin-bottom:14px}
.card{background:var(--soft);border:1px solid var(--line);border-radius:8px;padding:10px 16px;min-width:130px}
.card .value{font-size:24px;font-weight:600;color:var(--accent)}
.card .label{font-size:13px;color:var(--muted)}
dl.facts{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0 0 14px}
dl.facts dt{color:var(--muted)}
dl.facts dd{margin:0}
table{border-collapse:collapse;margin:4px 0 10px;font-size:14px}
th,td{border-bottom:1px solid var(--line);padding:4px 12px;text-align:left;vertical-align:top}
th{background:var(--soft);font-weight:600}
td.num,th.num{text-align:right;font-variant-numeric:tabular-nums}
tbody tr:nth-child(even){background:#fafbfc}
tr.total td{font-weight:600;border-top:2px solid var(--line)}
.barcell{display:flex;align-items:center;justify-content:flex-end;gap:8px}
.barcell .track{display:inline-block;width:80px;height:10px;background:#e8edf3;border-radius:2px;overflow:hidden}
.barcell .bar{display:block;height:100%;background:#5b8fc9}
a{color:var(--accent)}
figure{margin:0}
figure.plot img{max-width:100%;height:auto;border:1px solid var(--line);border-radius:4px}
figure.plot figcaption{color:var(--muted);font-size:13px}
.figs{display:flex;flex-wrap:wrap;gap:16px;align-items:flex-start}
.thumbs{display:flex;flex-wrap:wrap;gap:10px}
figure.thumb{width:150px;background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:5px;font-size:12px;overflow:hidden}
figure.thumb img{display:block;max-width:100%;height:auto;margin:0 auto;border-radius:3px}
figure.thumb figcaption{margin-top:4px;color:var(--muted);word-break:break-all}
.nothumb{height:84px;display:flex;flex-direction:column;align-items:center;justify-content:center;text-align:center;color:var(--muted);background:#eceff3;border-radius:3px}
pre{background:var(--soft);border:1px solid var(--line);border-radius:6px;padding:10px 14px;overflow:auto;font-size:13px}
.note{color:var(--muted);font-size:13px}
footer{color:var(--muted);font-size:12px;border-top:1px solid var(--line);padding-top:8px}
"""

_CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"


def render_html_report(
    *,
    title: str,
    metrics: Mapping[str, Any] | None = None,
    config: Any = None,
    sections: Sequence[Section] | None = None,
    images: Mapping[str, str | Path | None] | None = None,
    predictions: Sequence[Mapping[str, Any]] | None = None,
    timing: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
    thumb_short_side: int = THUMB_SHORT_SIDE,
) -> str:
    """The report page as a string (see the module docstring; `write_html_report` writes it)."""
    images = {k: v for k, v in (images or {}).items() if v is not None}
    levels = _levels(metrics)
    main = levels.get("video") or next(iter(levels.values()), None)
    thumbs = _Thumbs(thumb_short_side)

    built: dict[str, Section | None] = {sid: None for sid in BUILTIN_SECTION_IDS}
    built["summary"] = _summary(metrics, info, links)
    for name, heading in _NAMED_IMAGES.items():
        if name in images:
            built[name] = Section(name, heading, image_html(images[name], heading))
    if main is not None:
        if main.get("task") != "regression":
            built["per-class"] = _per_class(main)
            built["confused-pairs"] = _confused_section(main, predictions, thumbs)
        elif predictions:
            built["errors"] = _errors_section(predictions, thumbs)
        if _is_cv(main) and isinstance(metrics, Mapping):
            built["folds"] = _folds_section(metrics, main, links)
    others = {k: v for k, v in images.items() if k not in _NAMED_IMAGES}
    if others:
        figs = "".join(image_html(p, k, caption=k) for k, p in others.items())
        built["figures"] = Section("figures", "Figures", f'<div class="figs">{figs}</div>')
    built["skipped"] = _skipped_section(metrics)
    built["config"] = _config_section(config)
    built["timing"] = _timing_section(timing)

    custom: list[Section] = []
    seen: set[str] = set()
    for s in sections or []:
        if s.id in seen:
            raise ValueError(f"two sections have the id {s.id!r}")
        seen.add(s.id)
        if s.id in built:
            built[s.id] = s
        else:
            custom.append(s)
    ordered = [built[sid] for sid in BUILTIN_SECTION_IDS if sid not in _AFTER_CUSTOM]
    ordered += custom
    ordered += [built[sid] for sid in _AFTER_CUSTOM]
    shown = [s for s in ordered if s is not None]

    from vidlearn import __version__

    stamp = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    nav = "".join(f'<a href="#{_e(s.id)}">{_e(s.title)}</a>' for s in shown)
    body = "\n".join(f'<section id="{_e(s.id)}">\n<h2>{_e(s.title)}</h2>\n{s.html}\n</section>' for s in shown)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{_CSP}">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="generator" content="vidlearn">\n'
        f"<title>{_e(title)}</title>\n<style>{_CSS}</style>\n</head>\n<body>\n<main>\n"
        f"<header>\n<h1>{_e(title)}</h1>\n<p class=\"sub\">generated {_e(stamp)} by vidlearn {_e(__version__)}</p>\n</header>\n"
        f"<nav>{nav}</nav>\n{body}\n"
        "<footer>Self-contained report: pictures are embedded, nothing is loaded from elsewhere.</footer>\n"
        "</main>\n</body>\n</html>\n"
    )


def write_html_report(
    out_dir: str | Path,
    *,
    title: str,
    metrics: Mapping[str, Any] | None = None,
    config: Any = None,
    sections: Sequence[Section] | None = None,
    images: Mapping[str, str | Path | None] | None = None,
    predictions: Sequence[Mapping[str, Any]] | None = None,
    timing: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    links: Mapping[str, str] | None = None,
    filename: str = "report.html",
) -> Path:
    """Write `out_dir/report.html` atomically and return its path.

    - `metrics`: see the module docstring (run metrics, one level, a CV summary or any dict).
    - `config`: an ExperimentConfig or a dict; shown as YAML.
    - `sections`: extra `Section`s (a built-in id replaces that section).
    - `images`: name -> PNG/JPEG/SVG file; "curves", "confusion" and "scatter" get their own
      sections, any other name goes to "figures".
    - `predictions`: per-video rows ``{"path", "true", "predicted", "score", ["start", "end"]}``;
      classification: thumbnails (middle frame) of the misclassified videos of the most confused
      pairs; regression: the largest errors.
    - `timing`: step -> seconds (numbers are shown as durations, strings as they are).
    - `info`: extra facts for the summary (model, data, epochs ...).
    - `links`: label -> relative URL of related reports (fold names link in the folds table).
    """
    out = Path(out_dir)
    page = render_html_report(
        title=title, metrics=metrics, config=config, sections=sections, images=images,
        predictions=predictions, timing=timing, info=info, links=links,
    )
    out.mkdir(parents=True, exist_ok=True)
    target = out / filename
    atomic_write_text(target, page)
    return target
