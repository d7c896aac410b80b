"""Window scores -> action segments: smoothing, thresholds with hysteresis, temporal NMS.

A timeline (``Predictor.iter_timeline``) gives one probability vector per window, the classes
being the actions plus the background. For each action class the window scores are smoothed
(a centred moving average over ``smooth`` windows); a segment opens where the smoothed score
reaches ``high`` and stays open while it stays at or above ``low`` (hysteresis: a score that
wavers around one threshold does not cut an action into pieces). Each window stands for the
seconds between the midpoints to its neighbours (the first from its start, the last to its end),
so a segment runs from the left edge of its first window to the right edge of its last. Its score
is the mean smoothed score over it. Segments shorter than ``min_seconds`` are dropped, and per
class a temporal NMS keeps the best of segments whose IoU exceeds ``nms_iou``.

:class:`SegmentTracker` does this window by window, so a live stream gets each segment as soon as
it closes (``smooth // 2`` windows of look-ahead); :func:`segments_from_scores` is the same on a
whole video.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field

import numpy as np

from vidlearn.config import ExperimentConfig, SegmentsConfig
from vidlearn.errors import ConfigError, VideoError
from vidlearn.tasks.localization_metrics import TimedSegment, temporal_iou

__all__ = [
    "SegmentParams",
    "SegmentTracker",
    "Segmentation",
    "default_stride",
    "iter_segments",
    "predictor_iter_segments",
    "predictor_segments",
    "segments_from_scores",
    "temporal_nms",
]


_DEFAULTS = SegmentsConfig()  # the one place the defaults and the checks live


@dataclass(frozen=True)
class SegmentParams:
    """How window scores become segments (see the module docstring): the library's form of a
    model's ``segments`` settings (:class:`vidlearn.config.SegmentsConfig`, which checks them)."""

    smooth: int = _DEFAULTS.smooth
    high: float = _DEFAULTS.high
    low: float = _DEFAULTS.low
    min_seconds: float = _DEFAULTS.min_seconds
    nms_iou: float = _DEFAULTS.nms_iou

    def __post_init__(self) -> None:
        ExperimentConfig.from_dict({"segments": asdict(self)}, source="segment parameters")  # a ConfigError naming the field

    @classmethod
    def of(cls, predictor: object) -> "SegmentParams":
        """The parameters saved with a model (its configuration's ``segments``), or the defaults."""
        seg = getattr(getattr(predictor, "config", None), "segments", None)
        if seg is None:
            return cls()
        return cls(**seg.model_dump())


def temporal_nms(segments: Sequence[TimedSegment], iou: float) -> list[TimedSegment]:
    """Per class and video, the best-scoring segments, dropping any whose temporal IoU with a
    better one kept exceeds ``iou``; sorted by start."""
    kept: list[TimedSegment] = []
    for s in sorted(segments, key=lambda x: -x.score):
        same = [k for k in kept if k.label == s.label and k.video == s.video]
        if same and temporal_iou(s.start, s.end, np.array([k.start for k in same]), np.array([k.end for k in same])).max() > iou:
            continue
        kept.append(s)
    return sorted(kept, key=lambda x: (x.start, x.label))


@dataclass
class _Open:
    start: float
    total: float = 0.0
    count: int = 0
    last_centre: float = 0.0


class SegmentTracker:
    """Window-by-window segmentation of one video or stream: :meth:`push` a window's start, end
    and probabilities; it returns the segments that closed. :meth:`finish` closes the rest."""

    def __init__(self, class_names: Sequence[str], background: str, params: SegmentParams | None = None, *, video: str = "") -> None:
        self.classes = list(class_names)
        if background not in self.classes:
            raise ConfigError(f"the model's classes {self.classes} have no background class {background!r}")
        self.background = background
        self.actions = [i for i, c in enumerate(self.classes) if c != background]
        self.params = params or SegmentParams()
        self.video = video
        self._raw: deque[np.ndarray] = deque()
        self._windows: deque[tuple[float, float]] = deque()  # (start, end) of windows not yet decided
        self._history: list[np.ndarray] = []  # raw scores of the last smooth//2 decided windows
        self._open: dict[int, _Open] = {}
        self._prev_centre: float | None = None
        self._last_end = 0.0
        self.times: list[float] = []
        self.smoothed: list[np.ndarray] = []

    def push(self, start: float, end: float, scores: Sequence[float]) -> list[TimedSegment]:
        """Add one window; returns the segments that closed with it (after NMS-free filtering)."""
        s = np.asarray(scores, dtype=np.float64)
        if s.shape != (len(self.classes),):
            raise ValueError(f"scores of {s.shape} for {len(self.classes)} classes")
        self._raw.append(s)
        self._windows.append((float(start), float(end)))
        half = int(self.params.smooth) // 2
        out: list[TimedSegment] = []
        while len(self._raw) > half:  # the oldest window now has its look-ahead
            out += self._decide(ahead=list(self._raw)[1 : half + 1])
        return out

    def finish(self) -> list[TimedSegment]:
        """Decide the remaining windows and close every open segment."""
        out: list[TimedSegment] = []
        while self._raw:
            out += self._decide(ahead=list(self._raw)[1:])
        for c in list(self._open):
            out += self._close(c, self._last_end)
        return out

    def _decide(self, ahead: list[np.ndarray]) -> list[TimedSegment]:
        half = int(self.params.smooth) // 2
        current = self._raw.popleft()
        start, end = self._windows.popleft()
        group = self._history[-half:] + [current] + ahead if half else [current]
        smooth = np.mean(group, axis=0)
        self._history.append(current)
        del self._history[:-max(half, 1)]
        centre = (start + end) / 2
        left = start if self._prev_centre is None else (self._prev_centre + centre) / 2
        self._prev_centre = centre
        self._last_end = end
        self.times.append(centre)
        self.smoothed.append(smooth)
        out: list[TimedSegment] = []
        for c in self.actions:
            v = float(smooth[c])
            seg = self._open.get(c)
            if seg is None:
                if v >= self.params.high:
                    self._open[c] = _Open(start=left, total=v, count=1, last_centre=centre)
            elif v >= self.params.low:
                seg.total += v
                seg.count += 1
                seg.last_centre = centre
            else:
                out += self._close(c, left)
        return out

    def _close(self, c: int, right: float) -> list[TimedSegment]:
        seg = self._open.pop(c)
        if right - seg.start < self.params.min_seconds or right <= seg.start:
            return []
        return [TimedSegment(self.video, self.classes[c], round(seg.start, 4), round(right, 4), seg.total / seg.count)]


def iter_segments(windows: Iterable[tuple[float, float, Sequence[float]]], class_names: Sequence[str], background: str,
                  params: SegmentParams | None = None, *, video: str = "") -> Iterator[TimedSegment]:
    """Segments of a stream of ``(start, end, probabilities)`` windows, each yielded when it closes
    (no NMS: per class the hysteresis already gives disjoint segments)."""
    tracker = SegmentTracker(class_names, background, params, video=video)
    for start, end, scores in windows:
        yield from tracker.push(start, end, scores)
    yield from tracker.finish()


@dataclass
class Segmentation:
    """A whole video's segments with the window scores they came from (for the timeline picture)."""

    video: str
    classes: list[str]
    background: str
    segments: list[TimedSegment]
    times: np.ndarray  # (N,) window centres, seconds
    scores: np.ndarray  # (N, K) window probabilities
    smoothed: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))

    def rows(self) -> list[dict[str, object]]:
        """One dict a segment: video, label, start, end, score (for CSV/JSON)."""
        return [{"path": s.video, "label": s.label, "start": round(s.start, 3), "end": round(s.end, 3), "score": round(s.score, 4)}
                for s in self.segments]


def segments_from_scores(starts: Sequence[float], ends: Sequence[float], scores: np.ndarray, class_names: Sequence[str],
                         background: str, params: SegmentParams | None = None, *, video: str = "") -> Segmentation:
    """The segments of one whole video from its window ``scores`` ``(N, K)`` (windows ``[starts[i], ends[i])``)."""
    params = params or SegmentParams()
    tracker = SegmentTracker(class_names, background, params, video=video)
    found: list[TimedSegment] = []
    scores = np.asarray(scores, dtype=np.float64).reshape(len(starts), len(class_names))
    for s, e, row in zip(starts, ends, scores):
        found += tracker.push(s, e, row)
    found += tracker.finish()
    return Segmentation(video, list(class_names), background, temporal_nms(found, params.nms_iou),
                        np.asarray(tracker.times), scores, np.asarray(tracker.smoothed))


# ---- from a predictor ------------------------------------------------------------------------


def check_localizer(predictor: object) -> str:
    """The background class of a localisation model; a ConfigError for any other model."""
    task = getattr(predictor, "task", None)
    if task != "localization":
        raise ConfigError(f"segments need a model trained with --task localization; this one is a {task} model")
    return str(predictor.config.task.background)  # type: ignore[attr-defined]


def default_stride(predictor: object) -> float:
    """A quarter of the model's window: the default hop between scored windows for segments."""
    from vidlearn.clips.windows import window_seconds

    cfg = predictor.config  # type: ignore[attr-defined]
    return window_seconds(cfg.sampling, cfg.decode) / 4


def _window_scores(predictor: object, source: str, stride: float | None, batch: int) -> Iterator[tuple[float, float, np.ndarray]]:
    names = list(predictor.class_names)  # type: ignore[attr-defined]
    index = {c: i for i, c in enumerate(names)}
    hop = default_stride(predictor) if stride is None else stride
    for p in predictor.iter_timeline(source, stride=hop, top_k=len(names), batch=batch):  # type: ignore[attr-defined]
        row = np.zeros(len(names))
        for c, s in p.top_k:
            row[index[c]] = s
        yield float(p.start or 0.0), float(p.end or 0.0), row


def predictor_segments(predictor: object, path: str, *, stride: float | None = None, params: SegmentParams | None = None) -> Segmentation:
    """The segments of one video file by a localisation model (windows every ``stride`` seconds,
    default a quarter window; ``params`` default: the model's ``segments`` settings)."""
    background = check_localizer(predictor)
    rows = list(_window_scores(predictor, str(path), stride, batch=8))
    if not rows:
        raise VideoError(path, "no window could be scored (no frame was decoded)")
    starts, ends, scores = zip(*rows)
    return segments_from_scores(starts, ends, np.stack(scores), predictor.class_names, background,  # type: ignore[attr-defined]
                                params or SegmentParams.of(predictor), video=str(path))


def predictor_iter_segments(predictor: object, source: str, *, stride: float | None = None, params: SegmentParams | None = None,
                            batch: int = 1) -> Iterator[TimedSegment]:
    """The segments of a video or live stream, each yielded as soon as it closes (no NMS across
    segments; per class they are disjoint)."""
    background = check_localizer(predictor)
    yield from iter_segments(_window_scores(predictor, str(source), stride, batch), predictor.class_names, background,  # type: ignore[attr-defined]
                             params or SegmentParams.of(predictor), video=str(source))
