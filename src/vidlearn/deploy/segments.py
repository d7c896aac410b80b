"""Batch and live segment prediction (``vidlearn predict MODEL VIDEO --segments``): a localisation
model's action segments for each video of a target (CSV/JSON, plus a timeline PNG per video with
the segments drawn over the window scores), or for a live stream each segment as it closes.
Bad files are skipped and listed."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.predictors import Predictor, load
from vidlearn.predictors.segments import Segmentation, SegmentParams
from vidlearn.tasks.localization_metrics import TimedSegment

__all__ = ["SegmentReport", "run_segments"]


@dataclass
class SegmentReport:
    """Segments found, skipped files and the files written."""

    segments: list[TimedSegment] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    written: list[Path] = field(default_factory=list)
    streamed: bool = False

    @staticmethod
    def line(s: TimedSegment) -> str:
        """One segment as a terminal line."""
        return f"{s.video} [{s.start:.2f}-{s.end:.2f}s]: {s.label} {s.score:.3f}"

    def lines(self, *, segments: bool = True) -> list[str]:
        out = [self.line(s) for s in self.segments] if segments else []
        out += [f"skipped {p}: {r}" for p, r in self.skipped]
        out += [f"wrote {w}" for w in self.written]
        return out


def run_segments(
    artifact: str | Path | Predictor,
    target: str | Path,
    *,
    out: str | Path | None = None,
    stride: float | None = None,
    params: SegmentParams | None = None,
    progress: bool = True,
    on_segment: Callable[[TimedSegment], None] | None = None,
) -> SegmentReport:
    """Segments of every video of ``target`` (a video, folder or manifest), written to ``out``
    (.csv or .json) with ``<out stem>_<video>_segments.png`` beside it; a stream ``target`` is
    followed live, ``on_segment`` called with each segment when it closes (until it ends or Ctrl-C)."""
    from vidlearn.deploy.predict import _targets, video_containers
    from vidlearn.io import is_stream
    from vidlearn.predictors.localization_eval import write_segments
    from vidlearn.predictors.segments import check_localizer, predictor_iter_segments, predictor_segments
    from vidlearn.tasks.localization_plots import plot_segment_timeline

    predictor = load(artifact) if isinstance(artifact, (str, Path)) else artifact
    check_localizer(predictor)  # the model's kind is refused once, not per video
    report = SegmentReport()
    if is_stream(target):
        report.streamed = on_segment is not None
        try:
            for s in predictor_iter_segments(predictor, str(target), stride=stride, params=params, batch=1):
                report.segments.append(s)
                if on_segment is not None:
                    on_segment(s)
        except KeyboardInterrupt:
            report.skipped.append((str(target), f"stopped by the user after {len(report.segments)} segment(s)"))
        except ConfigError:
            raise
        except VidlearnError as exc:
            report.skipped.append((str(target), f"{exc.reason} (after {len(report.segments)} segment(s))"))
        if out is not None:
            report.written.append(write_segments(out, [Segmentation(str(target), predictor.class_names, "", report.segments,
                                                                    *_empty())]))
        return report
    from vidlearn.progress import progress_bar

    done: list[Segmentation] = []
    paths, report.skipped = video_containers(_targets(Path(target)))  # as predict: never decode a disguised playlist
    for p in progress_bar(paths, desc="segments", unit="video", enabled=progress):
        try:
            seg = predictor_segments(predictor, str(p), stride=stride, params=params)
        except VidlearnError as exc:
            report.skipped.append((str(p), exc.reason))
            continue
        done.append(seg)
        report.segments += seg.segments
        if out is not None:
            png = Path(out).with_name(f"{Path(out).stem}_{p.stem}_segments.png")
            report.written.append(plot_segment_timeline(seg.times, seg.scores, seg.classes, seg.background, seg.segments, png,
                                                        title=p.name))
    if out is not None:
        report.written.insert(0, write_segments(out, done))
    return report


def _empty():
    import numpy as np

    return np.zeros(0), np.zeros((0, 0))
