"""Window scores -> segments: hysteresis, smoothing, NMS, and the streaming tracker (hand-made scores)."""

from __future__ import annotations

import numpy as np
import pytest

from vidlearn.errors import ConfigError
from vidlearn.predictors.segments import (
    SegmentParams,
    SegmentTracker,
    iter_segments,
    segments_from_scores,
    temporal_nms,
)
from vidlearn.tasks.localization_metrics import TimedSegment

CLASSES = ["a", "background", "b"]


def windows(action_a):
    """Windows of 1 s every 0.5 s; class a's probability from ``action_a``, the rest background."""
    a = np.asarray(action_a, dtype=float)
    starts = np.arange(len(a)) * 0.5
    scores = np.stack([a, 1 - a, np.zeros_like(a)], axis=1)
    return starts, starts + 1.0, scores


def test_hysteresis_keeps_one_segment_through_a_dip():
    starts, ends, scores = windows([0.1, 0.1, 0.9, 0.4, 0.9, 0.9, 0.1, 0.1])
    seg = segments_from_scores(starts, ends, scores, CLASSES, "background", SegmentParams(smooth=1, high=0.5, low=0.3))
    # centres 0.5, 1.0, ..., 4.0; window 2 (centre 1.5) opens, window 6 (centre 3.5) closes it
    assert [(s.label, s.start, s.end) for s in seg.segments] == [("a", 1.25, 3.25)]
    assert seg.segments[0].score == pytest.approx((0.9 + 0.4 + 0.9 + 0.9) / 4)
    # without hysteresis (low = high) the dip cuts it in two
    cut = segments_from_scores(starts, ends, scores, CLASSES, "background", SegmentParams(smooth=1, high=0.5, low=0.5))
    assert [(s.start, s.end) for s in cut.segments] == [(1.25, 1.75), (2.25, 3.25)]


def test_smoothing_removes_a_one_window_blip_and_min_length():
    starts, ends, scores = windows([0.0, 0.0, 0.0, 0.7, 0.0, 0.0, 0.0])
    assert segments_from_scores(starts, ends, scores, CLASSES, "background", SegmentParams(smooth=3)).segments == []
    raw = segments_from_scores(starts, ends, scores, CLASSES, "background", SegmentParams(smooth=1))
    assert len(raw.segments) == 1
    assert segments_from_scores(starts, ends, scores, CLASSES, "background", SegmentParams(smooth=1, min_seconds=1.0)).segments == []


def test_open_segment_runs_to_the_last_window_end():
    starts, ends, scores = windows([0.0, 0.9, 0.9])
    seg = segments_from_scores(starts, ends, scores, CLASSES, "background", SegmentParams(smooth=1))
    assert [(s.start, s.end) for s in seg.segments] == [(0.75, 2.0)]
    assert seg.times.tolist() == [0.5, 1.0, 1.5] and seg.scores.shape == (3, 3)


def test_stream_yields_each_segment_when_it_closes():
    starts, ends, scores = windows([0.9, 0.9, 0.0, 0.0, 0.9, 0.9, 0.0])
    tracker = SegmentTracker(CLASSES, "background", SegmentParams(smooth=1))
    closed_at = []
    for i, (s, e, row) in enumerate(zip(starts, ends, scores)):
        for seg in tracker.push(s, e, row):
            closed_at.append((i, seg.start, seg.end))
    assert closed_at == [(2, 0.0, 1.25), (6, 2.25, 3.25)]
    assert tracker.finish() == []
    streamed = list(iter_segments(zip(starts, ends, scores), CLASSES, "background", SegmentParams(smooth=1)))
    assert [(s.start, s.end) for s in streamed] == [(0.0, 1.25), (2.25, 3.25)]


def test_temporal_nms_per_class():
    segs = [TimedSegment("v", "a", 0, 10, 0.9), TimedSegment("v", "a", 1, 10, 0.8), TimedSegment("v", "b", 1, 10, 0.7),
            TimedSegment("v", "a", 20, 30, 0.5)]
    kept = temporal_nms(segs, 0.5)
    assert [(s.label, s.start, s.score) for s in kept] == [("a", 0, 0.9), ("b", 1, 0.7), ("a", 20, 0.5)]


def test_bad_parameters_and_classes():
    with pytest.raises(ConfigError, match="low"):
        SegmentParams(high=0.3, low=0.5)
    with pytest.raises(ConfigError, match="smooth"):
        SegmentParams(smooth=0)
    with pytest.raises(ConfigError, match="no background class 'bg'"):
        SegmentTracker(CLASSES, "bg")
