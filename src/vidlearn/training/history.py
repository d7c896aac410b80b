"""The per-epoch log (logs/metrics.csv) across a resume: Lightning's CSVLogger deletes the file
when a run resumes, so its rows are set aside before and joined back after."""

from __future__ import annotations

from pathlib import Path

__all__ = ["merge_log_history", "set_aside_log_history"]

_BEFORE_RESUME = "metrics.before_resume.csv"


def _log_rows(path: Path) -> list[dict[str, str]]:
    import csv

    if not path.is_file():
        return []
    with path.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def _epoch_of(row: dict[str, str]) -> int | None:
    try:
        return int(float(row.get("epoch") or ""))
    except ValueError:
        return None


def _join_history(old: list[dict[str, str]], new: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows of ``old`` from before the first epoch in ``new`` (a resumed run re-runs the epoch
    it was interrupted in), then ``new``."""
    epochs = [e for e in map(_epoch_of, new) if e is not None]
    if not epochs:
        return old + new
    return [r for r in old if (e := _epoch_of(r)) is not None and e < min(epochs)] + new


def _write_log_rows(path: Path, rows: list[dict[str, str]]) -> None:
    import csv
    import io

    from vidlearn.fsutil import atomic_write_text

    keys = sorted({k for r in rows for k in r if k})
    head = [k for k in ("epoch", "step") if k in keys]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=head + [k for k in keys if k not in head], restval="", extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())


def set_aside_log_history(logs: Path) -> None:
    """Lightning's CSVLogger deletes logs/metrics.csv when a run resumes: keep its rows (and those
    of an earlier resume that was itself interrupted) in logs/metrics.before_resume.csv, to be
    joined back by :func:`merge_log_history` once training ends."""
    aside, current = logs / _BEFORE_RESUME, logs / "metrics.csv"
    rows = _join_history(_log_rows(aside), _log_rows(current))
    if rows:
        _write_log_rows(aside, rows)
        current.unlink(missing_ok=True)


def merge_log_history(logs: Path) -> None:
    """logs/metrics.csv = the epochs from before the resume + those of this run."""
    aside = logs / _BEFORE_RESUME
    if aside.is_file():
        _write_log_rows(logs / "metrics.csv", _join_history(_log_rows(aside), _log_rows(logs / "metrics.csv")))
        aside.unlink()
