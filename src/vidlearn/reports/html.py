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
    timeline        a long video's predictions over time, with its frames (images["timeline"])
    per-class       per-class precision / recall / F1 / support
    confused-pairs  the most confused class pairs, with moving thumbnails of misclassified videos
    correct         per class, moving thumbnails of videos it got right
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

The markup is in Jinja2 templates (templates/*.html.j2, autoescaped); this module assembles the
page. What each built-in section shows is in sections.py, the pictures in figures.py.
"""

from __future__ import annotations

import datetime as _dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidlearn.fsutil import atomic_write_text
from vidlearn.reports.sections import build as build_sections
from vidlearn.reports.figures import THUMB_SHORT_SIDE, data_uri, picture
from vidlearn.reports.formatting import format_duration
from vidlearn.reports.shapes import confused_pairs
from vidlearn.reports.templating import Markup, Table, blocks, render

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
    "timeline",
    "per-class",
    "confused-pairs",
    "correct",
    "errors",
    "figures",
    "skipped",
    "config",
    "timing",
)
_AFTER_CUSTOM = ("figures", "skipped", "config", "timing")
_ID_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_-]*$")


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


# ---- building blocks for callers' sections ----------------------------------------------------


def image_html(image: str | Path | bytes, alt: str, *, caption: str | None = None, cls: str = "plot") -> str:
    """An inlined `<figure><img></figure>`; a missing or unreadable file becomes a short note."""
    return str(blocks().figure(picture(image, alt, caption=caption, cls=cls)))


def text_html(text: str, *, pre: bool = False) -> str:
    """Escaped text as a paragraph (or a `<pre>` block)."""
    return str(blocks().text(text, pre))


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
    if raw:
        rows = [[Markup(str(v)) for v in r] for r in rows]
        footer_rows = [[Markup(str(v)) for v in r] for r in footer_rows]
    return str(blocks().table(Table(headers, rows, numeric, cls=cls, footer=footer_rows)))


# ---- the page ------------------------------------------------------------------------------


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
    built: dict[str, Section | None] = {sid: None for sid in BUILTIN_SECTION_IDS}
    parts = build_sections(
        metrics, config=config, images={k: v for k, v in (images or {}).items() if v is not None},
        predictions=predictions, timing=timing, info=info, links=links, thumb_short_side=thumb_short_side,
    )
    for sid, part in parts.items():
        built[sid] = None if part is None else Section(part.id, part.title, str(render(part.template, **part.context)).strip())

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
    shown = [{"id": s.id, "title": s.title, "html": Markup(s.html)} for s in ordered if s is not None]

    from vidlearn.provenance import __version__

    stamp = _dt.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z").strip()
    return str(render("page.html.j2", title=title, stamp=stamp, version=__version__, sections=shown))


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
    - `images`: name -> PNG/JPEG/SVG file; "curves", "confusion", "scatter" and "timeline" get
      their own sections, any other name goes to "figures".
    - `predictions`: per-video rows ``{"path", "true", "predicted", "score", ["start", "end"]}``;
      classification: moving thumbnails (a few frames each) of the misclassified videos of the
      most confused pairs and of correct ones per class; regression: the largest errors.
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
