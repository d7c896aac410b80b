"""Per-video predictions of an evaluation, `predictions.csv`: which videos were misclassified.

Columns: ``path,true,predicted,score,start,end`` — `score` is the probability of the predicted
class (classification; empty for regression), `start`/`end` the segment in seconds (empty for
the whole video). Multi-label: `true` and `predicted` are label sets joined by ``|`` and `score`
is the highest class score. One row per video that could be evaluated, in record order."""

from __future__ import annotations

import csv
import io
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from vidlearn.fsutil import atomic_write_text

__all__ = ["PREDICTION_COLUMNS", "predictions_from_scores", "read_predictions_csv", "write_predictions_csv"]

PREDICTION_COLUMNS = ("path", "true", "predicted", "score", "start", "end")


def predictions_from_scores(scores: Any, records: Sequence[Any], class_names: Sequence[str] | None = None, *,
                            thresholds: Sequence[float] | None = None) -> list[dict[str, Any]]:
    """Rows for `write_predictions_csv` from an `engine.evaluate.Scores` and the evaluated
    records: with `class_names` (classification) the argmax of the view-averaged probabilities and
    its probability; with `thresholds` too (multilabel) the classes whose score reaches their
    threshold, joined by ``|``; without (regression) the view-averaged value."""
    outputs = scores.video_outputs
    rows = []
    for pos, i in enumerate(scores.indices):
        rec = records[int(i)]
        out = outputs[pos]
        if class_names and thresholds is not None:
            predicted = "|".join(c for c, s, t in zip(class_names, out, thresholds) if s >= t)
            score = float(out.max())
        elif class_names:
            k = int(out.argmax())
            predicted: Any = class_names[k]
            score: float | None = float(out[k])
        else:
            predicted, score = float(out[0]), None
        rows.append({"path": str(rec.path), "true": rec.target, "predicted": predicted, "score": score, "start": rec.start, "end": rec.end})
    return rows


def write_predictions_csv(path: str | Path, predictions: Sequence[Mapping[str, Any]]) -> Path:
    """Write the rows atomically (columns PREDICTION_COLUMNS); returns the path."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(PREDICTION_COLUMNS)
    for row in predictions:
        writer.writerow([_cell(row.get(c)) for c in PREDICTION_COLUMNS])
    p = Path(path)
    atomic_write_text(p, buf.getvalue())
    return p


def read_predictions_csv(path: str | Path) -> list[dict[str, Any]]:
    """The rows of a predictions.csv: `true`/`predicted` as text, `score`/`start`/`end` as
    floats or None. Raises ValueError naming the file when a required column is missing."""
    p = Path(path)
    with p.open(newline="", encoding="utf-8") as fh:
        reader = csv.DictReader(fh)
        missing = [c for c in ("path", "true", "predicted") if c not in (reader.fieldnames or [])]
        if missing:
            raise ValueError(f"{p}: missing column(s) {', '.join(missing)}")
        rows = []
        for row in reader:
            rows.append(
                {
                    "path": row["path"],
                    "true": row["true"],
                    "predicted": row["predicted"],
                    "score": _float(row.get("score")),
                    "start": _float(row.get("start")),
                    "end": _float(row.get("end")),
                }
            )
    return rows


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return "" if not math.isfinite(value) else repr(float(value))
    if hasattr(value, "item"):
        return _cell(value.item())
    return str(value)


def _float(text: str | None) -> float | None:
    if text is None or text.strip() == "":
        return None
    try:
        return float(text)
    except ValueError:
        return None
