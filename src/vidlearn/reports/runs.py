"""report.html for the folders that runs leave behind: a training or evaluation folder
(metrics.json, curves.png, confusion.png or scatter.png, predictions.csv) and a cross-validation
folder (cv_metrics.json, cv_confusion.png, folds/<name>/eval/...).

These are the calls the engine makes at the end of a run. A report is a by-product: when it
cannot be written the run still succeeds, and a one-line warning says why (`strict=True`
raises instead)."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vidlearn.reports.html import Section, write_html_report
from vidlearn.reports.predictions import read_predictions_csv
from vidlearn.progress import Echo

__all__ = ["write_cv_report", "write_run_report"]

_RESULT_IMAGES = ("curves", "confusion", "scatter", "timeline")


def _warn(echo: Echo | None) -> Echo:
    return echo or (lambda s: print(s, file=sys.stderr))


def write_run_report(
    out_dir: str | Path,
    *,
    title: str,
    metrics: Mapping[str, Any] | None = None,
    config: Any = None,
    timing: Mapping[str, Any] | None = None,
    info: Mapping[str, Any] | None = None,
    predictions: Sequence[Mapping[str, Any]] | None = None,
    sections: Sequence[Section] | None = None,
    images: Mapping[str, str | Path | None] | None = None,
    links: Mapping[str, str] | None = None,
    echo: Echo | None = None,
    strict: bool = False,
) -> Path | None:
    """Write `out_dir/report.html` from what the run left in `out_dir`: metrics.json (unless
    `metrics` is given), curves.png / confusion.png / scatter.png / timeline.png (plus `images`) and
    predictions.csv (unless `predictions` is given). `timing` is also saved as timing.json.
    Returns the report's path, or None when it could not be written."""
    out = Path(out_dir)
    try:
        if metrics is None and (out / "metrics.json").is_file():
            metrics = json.loads((out / "metrics.json").read_text(encoding="utf-8"))
        found: dict[str, str | Path | None] = {n: out / f"{n}.png" for n in _RESULT_IMAGES if (out / f"{n}.png").is_file()}
        found.update(images or {})
        if predictions is None:
            predictions = _predictions_for(out / "predictions.csv", metrics)
        if timing:
            from vidlearn.fsutil import atomic_write_text
            from vidlearn.tasks.metrics import to_jsonable

            out.mkdir(parents=True, exist_ok=True)
            atomic_write_text(out / "timing.json", json.dumps(to_jsonable(dict(timing)), indent=2) + "\n")
        return write_html_report(
            out, title=title, metrics=metrics, config=config, sections=sections, images=found,
            predictions=predictions, timing=timing, info=info, links=links,
        )
    except Exception as exc:  # noqa: BLE001 - a missing report must not fail a finished run
        if strict:
            raise
        _warn(echo)(f"warning: {out / 'report.html'} not written ({exc.__class__.__name__}: {exc})")
        return None


def _predictions_for(csv: Path, metrics: Mapping[str, Any] | None) -> list[dict[str, Any]] | None:
    """The rows of `csv` when it belongs to `metrics` (one row per evaluated video), else None:
    a predictions.csv left over from an earlier evaluation in the same folder is not shown."""
    if not csv.is_file():
        return None
    rows = read_predictions_csv(csv)
    level = (metrics or {}).get("video") if isinstance(metrics, Mapping) else None
    n = level.get("n") if isinstance(level, Mapping) else None
    if isinstance(n, int) and n != len(rows):
        return None
    return rows


def write_cv_report(
    run_dir: str | Path,
    summary: Mapping[str, Any] | None = None,
    *,
    folds: Mapping[str, str | Path] | None = None,
    config: Any = None,
    title: str | None = None,
    info: Mapping[str, Any] | None = None,
    sections: Sequence[Section] | None = None,
    echo: Echo | None = None,
    strict: bool = False,
    eval_dir: str = "eval",
) -> Path | None:
    """Write `run_dir/report.html` for a cross-validation run: mean ± std, one row per fold (linked
    to the fold's own report), the pooled confusion matrix and per-class table, and thumbnails
    from the folds' predictions.csv pooled. `folds` maps fold names to fold folders (default:
    every folder under run_dir/folds); `summary` defaults to run_dir/cv_metrics.json; `eval_dir`
    is the folder of each fold's evaluation (``eval_localization`` for localisation)."""
    run = Path(run_dir)
    try:
        if summary is None:
            summary = json.loads((run / "cv_metrics.json").read_text(encoding="utf-8"))
        if folds is None:
            root = run / "folds"
            folds = {d.name: d for d in sorted(root.iterdir()) if d.is_dir()} if root.is_dir() else {}
        fold_dirs = {str(name): Path(d) for name, d in folds.items()}
        evaluated = [n for n, d in fold_dirs.items() if (d / eval_dir / "metrics.json").is_file()]
        metrics = dict(summary)
        metrics["folds"] = evaluated  # the fold of each value, in order (folds without results drop out)
        links = {}
        for name, d in fold_dirs.items():
            report = d / eval_dir / "report.html"
            if report.is_file():
                links[name] = Path(os.path.relpath(report, run)).as_posix()
        pooled: list[dict[str, Any]] = []
        have_predictions = False
        timing: dict[str, Any] = {}
        for name, d in fold_dirs.items():
            fold_metrics = d / eval_dir / "metrics.json"
            rows = _predictions_for(d / eval_dir / "predictions.csv", json.loads(fold_metrics.read_text(encoding="utf-8")) if fold_metrics.is_file() else None)
            if rows is not None:
                have_predictions = True
                pooled += [{**row, "fold": name} for row in rows]
            t = d / eval_dir / "timing.json"
            if t.is_file():
                total = json.loads(t.read_text(encoding="utf-8")).get("total")
                if isinstance(total, (int, float)):
                    timing[f"fold {name}"] = float(total)
        if timing:
            timing["all folds"] = sum(timing.values())
        facts = {"folds": len(fold_dirs)}
        facts.update(info or {})
        return write_html_report(
            run,
            title=title or f"Cross-validation report: {run.name}",
            metrics=metrics,
            config=config,
            sections=sections,
            images={"confusion": run / "cv_confusion.png" if (run / "cv_confusion.png").is_file() else None},
            predictions=pooled if have_predictions else None,
            timing=timing or None,
            info=facts,
            links=links or None,
        )
    except Exception as exc:  # noqa: BLE001 - a missing report must not fail a finished run
        if strict:
            raise
        _warn(echo)(f"warning: {run / 'report.html'} not written ({exc.__class__.__name__}: {exc})")
        return None
