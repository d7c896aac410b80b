"""Training windows from segments and background, in a controlled ratio."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidlearn.clips.windows import window_records, window_seconds
from vidlearn.config import ExperimentConfig
from vidlearn.data.annotations import AnnotatedVideo, Segment
from vidlearn.errors import ConfigError

VIDEO = AnnotatedVideo(Path("v.mp4"), 10.0, (Segment("a", 2.0, 4.0), Segment("b", 6.0, 6.5)), "g")


def test_labels_by_cover_and_skips_ambiguous_windows():
    plan = window_records([VIDEO], window=1.0, stride=0.5, background_ratio=100)
    got = {(r.start, r.end): r.target for r in plan.records}
    assert got[(2.0, 3.0)] == "a" and got[(3.0, 4.0)] == "a"
    assert got[(0.0, 1.0)] == "background" and got[(8.0, 9.0)] == "background"
    assert (1.5, 2.5) not in got  # half action, half background: left out
    assert got[(5.5, 6.5)] == "b" and got[(6.0, 7.0)] == "b"  # all of a segment shorter than the window
    assert all(r.meta["window"] and r.group == "g" for r in plan.records)
    assert plan.records[-1].end <= 10.0


def test_background_ratio_is_controlled_and_seeded():
    full = window_records([VIDEO], window=1.0, stride=0.25, background_ratio=100)
    actions = sum(n for c, n in full.counts.items() if c != "background")
    half = window_records([VIDEO], window=1.0, stride=0.25, background_ratio=0.5, seed=3)
    assert half.counts["background"] == round(0.5 * actions) < full.counts["background"] == half.background_available
    again = window_records([VIDEO], window=1.0, stride=0.25, background_ratio=0.5, seed=3)
    assert [r.start for r in again.records] == [r.start for r in half.records]
    assert "background drawn from" in half.describe()


def test_window_length_and_bad_input():
    cfg = ExperimentConfig().override({"decode.fps": 10.0, "sampling.num_frames": 8, "sampling.stride": 2})
    assert window_seconds(cfg.sampling, cfg.decode) == pytest.approx(1.5)
    with pytest.raises(ConfigError, match="background class"):
        window_records([AnnotatedVideo(Path("v.mp4"), 5.0, (Segment("background", 0, 1),))], window=1.0)
    with pytest.raises(ConfigError, match="window length"):
        window_records([VIDEO], window=0.0)
