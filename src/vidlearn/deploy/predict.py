"""Batch prediction: videos from a file, folder or manifest -> predictions (CSV/JSON) and, with
timelines, per-window predictions and a timeline plot per video. Bad files are skipped and listed."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path


from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.fsutil import atomic_write_text
from vidlearn.predictors import Prediction, Predictor, load


@dataclass
class PredictReport:
    """Predictions, skipped files and the files written."""

    predictions: list[Prediction] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    streamed: bool = False  # a stream: the predictions went to `on_prediction` as they came

    @staticmethod
    def line(p: Prediction) -> str:
        """One prediction as a terminal line."""
        where = f" [{p.start:.2f}-{p.end:.2f}s]" if p.start is not None else ""
        if p.value is not None:
            return f"{p.path}{where}: {p.value:.4g}"
        if p.labels is not None:  # multilabel: the classes over their thresholds
            return f"{p.path}{where}: " + (", ".join(f"{c} {s:.3f}" for c, s in p.labels) or "no class over its threshold")
        return f"{p.path}{where}: " + ", ".join(f"{c} {s:.3f}" for c, s in p.top_k)

    def lines(self, *, predictions: bool = True) -> list[str]:
        """Human-readable lines for a terminal (without the predictions when they were shown live)."""
        out = [self.line(p) for p in self.predictions] if predictions else []
        out += [f"skipped {path}: {reason}" for path, reason in self.skipped]
        out += [f"wrote {w}" for w in self.written]
        return out


def _targets(target: Path) -> list[Path]:
    from vidlearn.data.sources import load_records

    return [Path(r.path) for r in load_records(target, labelled=False)]


def video_containers(paths: list[Path]) -> tuple[list[Path], list[tuple[str, str]]]:
    """The files FFmpeg reads as a video container (`vidlearn.io.probe.check_container`), and
    ``(path, reason)`` for the others: a playlist, concat list or image sequence renamed ``.mp4``
    could make FFmpeg open the files or URLs it names, so it is never decoded. Files that do not
    exist are left to the predictor, which reports them."""
    from vidlearn.io.probe import check_container

    kept, refused = [], []
    for p in paths:
        try:
            if Path(p).is_file():
                check_container(p)
        except VidlearnError as exc:
            refused.append((str(p), exc.reason))
            continue
        kept.append(p)
    return kept, refused


def _stream(predictor: Predictor, source: str, report: PredictReport, *, stride: float | None, top_k: int,
            on_prediction: Callable[[Prediction], None] | None) -> None:
    """Predict a live stream window by window (batch 1: each answer as soon as its window has
    played) until it ends or Ctrl-C; what was predicted is kept either way."""
    try:
        for pred in predictor.iter_timeline(source, stride=stride, top_k=top_k, batch=1):
            report.predictions.append(pred)
            if on_prediction is not None:
                on_prediction(pred)
    except KeyboardInterrupt:
        report.skipped.append((source, f"stopped by the user after {len(report.predictions)} window(s)"))
    except ConfigError:
        raise  # the model cannot predict streams at all: not a problem of this stream
    except VidlearnError as exc:
        report.skipped.append((source, f"{exc.reason} (after {len(report.predictions)} window(s))"))


def run_predictions(
    artifact: str | Path | Predictor,
    target: str | Path,
    *,
    top_k: int = 1,
    out: str | Path | None = None,
    timeline: bool = False,
    stride: float | None = None,
    progress: bool = True,
    on_prediction: Callable[[Prediction], None] | None = None,
    ray: str | None = None,
) -> PredictReport:
    """Predict every video of `target` with a trained model or a classical baseline model (its
    features are computed as for its training table); write `out` (.csv or .json) when given.

    A stream `target` (``rtsp://``/``http://``/``udp://`` URL, ``pipe:0`` for standard input, a
    named pipe; see :func:`vidlearn.io.is_stream`) is predicted window by window as it plays
    (a timeline; `on_prediction` is called with each window's prediction as it comes).

    `ray` (``"local"``, ``"auto"``, ``"ray://HOST:PORT"``): predict the videos on a Ray cluster, one
    model copy per CPU (:func:`vidlearn.scale.predict_with_ray`); the output is the same."""
    from vidlearn.io import is_stream

    report = PredictReport()
    predictor = load(artifact) if isinstance(artifact, (str, Path)) else artifact  # a path/name, or a loaded Predictor
    if is_stream(target):
        report.streamed = on_prediction is not None
        _stream(predictor, str(target), report, stride=stride, top_k=top_k, on_prediction=on_prediction)
        if out is not None:
            report.written.insert(0, write_predictions(report.predictions, Path(out), skipped=report.skipped))
        return report
    paths, refused = video_containers(_targets(Path(target)))
    report.skipped += refused
    if timeline:
        from vidlearn.progress import progress_bar

        for p in progress_bar(paths, desc="timeline", unit="video", enabled=progress):
            try:
                windows = predictor.timeline(p, stride=stride, top_k=top_k)
            except ConfigError:
                raise
            except VidlearnError as exc:
                report.skipped.append((str(p), exc.reason))
                continue
            report.predictions += windows
            if out is not None and windows:
                png = Path(out).with_name(f"{Path(out).stem}_{p.stem}_timeline.png")
                report.written.append(plot_timeline(windows, predictor, png))
    else:
        report.predictions, skipped = predictor.predict(paths, top_k=top_k, progress=progress, ray=ray)
        report.skipped += skipped
    if out is not None:
        report.written.insert(0, write_predictions(report.predictions, Path(out), skipped=report.skipped))
    return report


def write_predictions(preds: list[Prediction], path: Path, *, skipped: list[tuple[str, str]] | None = None) -> Path:
    """CSV (one row per prediction; top-k as label_i/score_i columns) or JSON, atomically."""
    if path.suffix.lower() == ".json":
        doc = {"predictions": [p.to_dict() for p in preds], "skipped": [{"path": a, "reason": b} for a, b in skipped or []]}
        atomic_write_text(path, json.dumps(doc, indent=2))
        return path
    buf = io.StringIO()
    k = max((len(p.top_k) for p in preds), default=0)
    timed = any(p.start is not None for p in preds)
    header = ["path"] + (["start", "end"] if timed else [])
    header += ["value"] if preds and preds[0].value is not None else ["label", "score"] + [f"{w}_{i}" for i in range(2, k + 1) for w in ("label", "score")]
    w = csv.writer(buf)
    w.writerow(header)
    for p in preds:
        row: list = [p.path] + ([f"{p.start:.3f}", f"{p.end:.3f}"] if timed else [])
        if p.value is not None:
            row.append(f"{p.value:.6g}")
        else:
            row += [p.label, f"{p.score:.6f}"]
            for c, s in p.top_k[1:]:
                row += [c, f"{s:.6f}"]
        w.writerow(row)
    atomic_write_text(path, buf.getvalue())
    return path


def plot_timeline(windows: list[Prediction], predictor: Predictor, path: Path) -> Path:
    """The timeline picture of a video's per-window predictions (see
    :func:`vidlearn.reports.timeline.plot_timeline`): its frames along the time axis, the class
    predicted per window and the known scores (with top-1 the other classes are not drawn)."""
    from vidlearn.reports.timeline import plot_timeline as draw

    return draw(windows, predictor.class_names, path)
