"""Clip samplers: small objects that answer "which seconds", independent of decoding.

A video (or a record's segment) is described by ``start`` and ``duration`` in seconds. Every
sampler returns float64 times, sorted, in ``[start, start + duration)``; the last valid time is
``start + duration - 0.5 / fps`` (the middle of the last frame at the sampling rate), so a
decoder is never asked for a time past the last frame. Too-short videos repeat their last
valid instant instead of failing.
"""

from __future__ import annotations

import math

import numpy as np

from vidlearn.config import DecodeConfig, SamplingConfig, TransformConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError

__all__ = [
    "RandomClipSampler",
    "SegmentSampler",
    "MultiViewSampler",
    "MultiViewSegmentSampler",
    "TrainSampler",
    "TestSampler",
    "record_span",
    "build_train_sampler",
    "build_test_sampler",
]

_SEGMENT_MARGIN = 1e-3  # seconds kept free before the end when a segment sampler has no fps


def _check_duration(duration: float, start: float) -> None:
    if not (math.isfinite(duration) and duration > 0):
        raise ValueError(f"duration must be a positive number of seconds, got {duration}")
    if not (math.isfinite(start) and start >= 0):
        raise ValueError(f"start must be a non-negative number of seconds, got {start}")


def _positive_int(name: str, value: int) -> int:
    if not isinstance(value, (int, np.integer)) or value < 1:
        raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
    return int(value)


def _positive_float(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise ValueError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _last_time(start: float, duration: float, margin: float) -> float:
    """The last time a sampler may return: ``margin`` before the end, never before ``start``."""
    return max(start, start + duration - min(margin, duration / 2))


class _Window:
    """Shared geometry of a window of ``num_frames`` frames ``stride / fps`` seconds apart."""

    def __init__(self, num_frames: int, fps: float, stride: int = 1) -> None:
        self.num_frames = _positive_int("num_frames", num_frames)
        self.fps = _positive_float("fps", fps)
        self.stride = _positive_int("stride", stride)

    @property
    def spacing(self) -> float:
        """Seconds between consecutive frames of a clip."""
        return self.stride / self.fps

    @property
    def span(self) -> float:
        """Seconds from the first to the last frame of a clip."""
        return (self.num_frames - 1) * self.spacing

    def _room(self, duration: float, start: float) -> tuple[float, float]:
        """(last valid time, latest possible clip start offset; negative when the video is too short)."""
        last = _last_time(start, duration, 0.5 / self.fps)
        return last, last - start - self.span

    def _clip(self, first: float, last: float) -> np.ndarray:
        times = first + np.arange(self.num_frames, dtype=np.float64) * self.spacing
        return np.minimum(times, last)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_frames={self.num_frames}, fps={self.fps:g}, stride={self.stride})"


class RandomClipSampler(_Window):
    """A random window of ``num_frames`` frames spaced ``stride / fps`` seconds apart (training).

    With ``jitter`` every time also moves by up to half the spacing (temporal jitter); times stay
    sorted and in bounds.

    With ``speed=(lo, hi)`` (speed change) every clip is played at a random speed factor ``s``,
    log-uniform in [lo, hi] (so 0.8 and 1.25 are as likely): its frames are ``s * stride / fps``
    seconds apart and the clip spans ``s`` times as many seconds, as if the video had been
    resampled to ``fps / s``. A speed above 1 is lowered (never below 1) when the clip would
    otherwise run past the end of a video that holds it at normal speed.
    """

    def __init__(
        self,
        num_frames: int,
        fps: float,
        stride: int = 1,
        *,
        jitter: bool = False,
        speed: tuple[float, float] | None = None,
    ) -> None:
        super().__init__(num_frames, fps, stride)
        self.jitter = bool(jitter)
        self.speed = _speed_range(speed)

    def draw_speed(self, rng: np.random.Generator) -> float:
        """A speed factor for one clip (1.0 without speed change)."""
        if self.speed is None:
            return 1.0
        lo, hi = self.speed
        if lo == hi:
            return lo
        return float(math.exp(rng.uniform(math.log(lo), math.log(hi))))

    def __call__(self, duration: float, rng: np.random.Generator | None = None, start: float = 0.0) -> np.ndarray:
        _check_duration(duration, start)
        rng = rng if rng is not None else np.random.default_rng()
        last, room = self._room(duration, start)
        spacing = self.spacing
        if self.speed is not None:
            speed = self.draw_speed(rng)
            if speed > 1 and room < (speed - 1) * self.span:  # too short for this speed: slow down
                speed = max(1.0, (room + self.span) / self.span) if self.span > 0 else 1.0
            spacing = self.spacing * speed
            room = room + self.span - (self.num_frames - 1) * spacing
        first = start + (rng.uniform(0.0, room) if room > 0 else 0.0)
        times = np.minimum(first + np.arange(self.num_frames, dtype=np.float64) * spacing, last)
        if self.jitter and self.num_frames > 1:
            shift = rng.uniform(-0.5, 0.5, size=self.num_frames) * spacing
            times = np.maximum.accumulate(np.clip(times + shift, start, last))
        return times

    def __repr__(self) -> str:
        extra = (", jitter=True" if self.jitter else "") + (f", speed={self.speed}" if self.speed is not None else "")
        return super().__repr__()[:-1] + extra + ")"


def _speed_range(speed: tuple[float, float] | None) -> tuple[float, float] | None:
    """A validated (lo, hi) speed range; None (and (1, 1)) means no speed change."""
    if speed is None:
        return None
    try:
        lo, hi = (float(v) for v in speed)
    except (TypeError, ValueError):
        raise ValueError(f"speed must be a (min, max) pair of factors, got {speed!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 < lo <= hi):
        raise ValueError(f"speed must satisfy 0 < min <= max, got {(lo, hi)}")
    return None if lo == hi == 1.0 else (lo, hi)


class MultiViewSampler(_Window):
    """``views`` windows evenly spaced from the start to the end of the video (evaluation).

    The first window starts at the beginning and the last one ends at the last valid time; one
    view is the centre window. A too-short video gives ``views`` copies of the clamped clip.
    """

    def __init__(self, num_frames: int, fps: float, stride: int = 1, views: int = 1) -> None:
        super().__init__(num_frames, fps, stride)
        self.views = _positive_int("views", views)

    def __call__(
        self, duration: float, rng: np.random.Generator | None = None, start: float = 0.0
    ) -> list[np.ndarray]:
        _check_duration(duration, start)
        last, room = self._room(duration, start)
        room = max(room, 0.0)
        if self.views == 1:
            offsets = np.array([room / 2])
        else:
            offsets = np.linspace(0.0, room, self.views)
        return [self._clip(start + float(o), last) for o in offsets]

    def __repr__(self) -> str:
        return super().__repr__()[:-1] + f", views={self.views})"


class SegmentSampler:
    """TSN sampling: ``num_frames`` equal segments, one random time in each (train) or each centre.

    ``fps`` (optional) sets the end margin to half a frame, as for the window samplers.
    """

    def __init__(self, num_frames: int, train: bool = True, *, fps: float | None = None) -> None:
        self.num_frames = _positive_int("num_frames", num_frames)
        self.train = bool(train)
        self.fps = None if fps is None else _positive_float("fps", fps)

    def _margin(self) -> float:
        return _SEGMENT_MARGIN if self.fps is None else 0.5 / self.fps

    def _at(self, positions: np.ndarray, duration: float, start: float) -> np.ndarray:
        """Times at relative ``positions`` (in [0, 1)) inside every segment."""
        seg = duration / self.num_frames
        times = start + (np.arange(self.num_frames, dtype=np.float64) + positions) * seg
        return np.clip(times, start, _last_time(start, duration, self._margin()))

    def __call__(self, duration: float, rng: np.random.Generator | None = None, start: float = 0.0) -> np.ndarray:
        _check_duration(duration, start)
        if self.train:
            rng = rng if rng is not None else np.random.default_rng()
            return self._at(rng.uniform(0.0, 1.0, size=self.num_frames), duration, start)
        return self._at(np.full(self.num_frames, 0.5), duration, start)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_frames={self.num_frames}, train={self.train})"


class MultiViewSegmentSampler(SegmentSampler):
    """TSN at test time with ``views`` views: view ``v`` takes the point ``(v + 0.5) / views``
    of every segment (one view: the segment centres)."""

    def __init__(self, num_frames: int, views: int = 1, *, fps: float | None = None) -> None:
        super().__init__(num_frames, train=False, fps=fps)
        self.views = _positive_int("views", views)

    def __call__(  # type: ignore[override]
        self, duration: float, rng: np.random.Generator | None = None, start: float = 0.0
    ) -> list[np.ndarray]:
        _check_duration(duration, start)
        return [
            self._at(np.full(self.num_frames, (v + 0.5) / self.views), duration, start) for v in range(self.views)
        ]

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_frames={self.num_frames}, views={self.views})"


TrainSampler = RandomClipSampler | SegmentSampler
TestSampler = MultiViewSampler | MultiViewSegmentSampler


def record_span(record: VideoRecord, duration: float) -> tuple[float, float]:
    """(start, duration) in seconds of a record's segment inside a video of ``duration`` seconds.

    A missing start/end means the beginning/end of the video; an end past the video is cut.
    Raises ValueError when the segment is empty.
    """
    start = float(record.start) if record.start is not None else 0.0
    end = float(record.end) if record.end is not None else float(duration)
    end = min(end, float(duration))
    if not end > start:
        raise ValueError(
            f"{record.name}: segment {start:g}-{end:g} s is empty (video lasts {float(duration):g} s)"
        )
    return start, end - start


def build_train_sampler(sampling: SamplingConfig, decode: DecodeConfig, transform: TransformConfig) -> TrainSampler:
    """The training sampler of ``sampling`` at ``decode.fps`` (temporal jitter from
    ``transform.temporal_jitter``, speed change from ``transform.speed``)."""
    s = sampling
    speed = _speed_range(transform.speed)
    if s.train == "segments":
        if speed is not None:
            raise ConfigError(
                f"transform.speed={list(transform.speed)}: speed change needs sampling.train='random' "
                "(segment sampling already spreads the frames over the whole video)"
            )
        return SegmentSampler(s.num_frames, train=True, fps=decode.fps)
    return RandomClipSampler(s.num_frames, decode.fps, s.stride, jitter=transform.temporal_jitter, speed=speed)


def build_test_sampler(sampling: SamplingConfig, decode: DecodeConfig, *, views: int | None = None) -> TestSampler:
    """The evaluation sampler: ``views`` (default ``sampling.test_views``) deterministic views per video."""
    s = sampling
    n = s.test_views if views is None else int(views)
    if s.train == "segments":
        return MultiViewSegmentSampler(s.num_frames, n, fps=decode.fps)
    return MultiViewSampler(s.num_frames, decode.fps, s.stride, n)
