"""Clip samplers: which seconds of a video make a clip."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.data.sampling import (
    MultiViewSampler,
    MultiViewSegmentSampler,
    RandomClipSampler,
    SegmentSampler,
    build_test_sampler,
    build_train_sampler,
    record_span,
)


def rng(seed: int = 0) -> np.random.Generator:
    return np.random.default_rng(seed)


def assert_valid(times: np.ndarray, n: int, start: float, duration: float) -> None:
    assert times.dtype == np.float64 and times.shape == (n,)
    assert np.all(np.diff(times) >= 0), "times must be sorted"
    assert times.min() >= start and times.max() < start + duration


@pytest.mark.parametrize("stride", [1, 3])
def test_random_clip_count_bounds_and_spacing(stride):
    sampler = RandomClipSampler(num_frames=8, fps=10.0, stride=stride)
    for seed in range(20):
        times = sampler(10.0, rng(seed), start=2.0)
        assert_valid(times, 8, 2.0, 10.0)
        assert times.max() <= 12.0 - 0.5 / 10.0
        np.testing.assert_allclose(np.diff(times), stride / 10.0)


def test_random_clip_is_deterministic_with_a_seeded_rng_and_varies_otherwise():
    sampler = RandomClipSampler(16, fps=8.0)
    np.testing.assert_array_equal(sampler(30.0, rng(5)), sampler(30.0, rng(5)))
    firsts = [sampler(30.0, rng(s))[0] for s in range(50)]
    assert len(set(firsts)) == 50
    # the window wanders over the whole video, not just its beginning
    assert min(firsts) < 5.0 and max(firsts) > 30.0 - 15 / 8 - 5.0


def test_random_clip_on_a_too_short_video_repeats_the_last_instant():
    sampler = RandomClipSampler(16, fps=8.0, stride=2)
    times = sampler(1.0, rng(0))  # needs 3.75 s
    assert_valid(times, 16, 0.0, 1.0)
    last = 1.0 - 0.5 / 8
    assert times[0] == 0.0 and times[-1] == last
    assert np.count_nonzero(times == last) == 16 - 4  # 0, .25, .5, .75 then clamped
    tiny = sampler(0.01, rng(0), start=3.0)  # shorter than one frame
    assert_valid(tiny, 16, 3.0, 0.01)


def test_temporal_jitter_moves_frames_but_keeps_order_and_bounds():
    plain = RandomClipSampler(8, fps=4.0)
    jittered = RandomClipSampler(8, fps=4.0, jitter=True)
    for seed in range(20):
        times = jittered(5.0, rng(seed))
        assert_valid(times, 8, 0.0, 5.0)
    assert not np.allclose(np.diff(jittered(5.0, rng(1))), 0.25)
    np.testing.assert_allclose(np.diff(plain(5.0, rng(1))), 0.25)


def test_segment_sampler_takes_one_time_per_segment():
    sampler = SegmentSampler(5, train=True)
    for seed in range(20):
        times = sampler(10.0, rng(seed), start=1.0)
        assert_valid(times, 5, 1.0, 10.0)
        np.testing.assert_array_equal(np.floor((times - 1.0) / 2.0), np.arange(5))
    assert not np.allclose(sampler(10.0, rng(0)), sampler(10.0, rng(1)))


def test_segment_sampler_test_mode_takes_segment_centres():
    sampler = SegmentSampler(4, train=False)
    np.testing.assert_allclose(sampler(8.0, start=0.5), [1.5, 3.5, 5.5, 7.5])
    short = SegmentSampler(16, train=True, fps=8.0)(0.2, rng(0))  # shorter than 16 frames
    assert_valid(short, 16, 0.0, 0.2)


def test_multi_view_windows_evenly_cover_the_video():
    sampler = MultiViewSampler(num_frames=4, fps=10.0, stride=2, views=3)
    views = sampler(10.0, start=1.0)
    assert len(views) == 3
    for v in views:
        assert_valid(v, 4, 1.0, 10.0)
        np.testing.assert_allclose(np.diff(v), 0.2)
    last = 11.0 - 0.05
    assert views[0][0] == 1.0 and views[-1][-1] == pytest.approx(last)
    starts = [v[0] for v in views]
    assert starts[1] - starts[0] == pytest.approx(starts[2] - starts[1])
    # one view is the centre clip; results do not depend on any rng
    (centre,) = MultiViewSampler(4, 10.0, 2, views=1)(10.0, rng(9), start=1.0)
    assert (centre[0] + centre[-1]) / 2 == pytest.approx((1.0 + last) / 2)


def test_multi_view_on_a_short_video_gives_clamped_copies():
    views = MultiViewSampler(8, fps=8.0, views=2)(0.5)
    np.testing.assert_array_equal(views[0], views[1])
    assert_valid(views[0], 8, 0.0, 0.5)


def test_multi_view_segments_offset_each_view_inside_the_segments():
    views = MultiViewSegmentSampler(2, views=2)(4.0)
    np.testing.assert_allclose(views, [[0.5, 2.5], [1.5, 3.5]])


def test_factories_follow_the_config():
    cfg = ExperimentConfig().override(
        ["sampling.num_frames=4", "sampling.stride=2", "decode.fps=5", "sampling.test_views=2"]
    )
    train = build_train_sampler(cfg.sampling, cfg.decode, cfg.transform)
    times = train(20.0, rng(0))
    assert isinstance(train, RandomClipSampler) and len(times) == 4
    np.testing.assert_allclose(np.diff(times), 0.4)
    views = build_test_sampler(cfg.sampling, cfg.decode)(20.0)
    assert len(views) == 2 and all(len(v) == 4 for v in views)

    seg = cfg.override(["sampling.train=segments"])
    assert isinstance(build_train_sampler(seg.sampling, seg.decode, seg.transform), SegmentSampler)
    seg_views = build_test_sampler(seg.sampling, seg.decode)(20.0)
    assert len(seg_views) == 2 and np.all(np.floor(seg_views[0] / 5.0) == np.arange(4))


def test_record_span_uses_segment_bounds():
    rec = VideoRecord(Path("a.mp4"), start=2.0, end=5.0)
    assert record_span(rec, 10.0) == (2.0, 3.0)
    assert record_span(VideoRecord(Path("a.mp4")), 7.5) == (0.0, 7.5)
    assert record_span(VideoRecord(Path("a.mp4"), start=4.0, end=99.0), 6.0) == (4.0, 2.0)
    with pytest.raises(ValueError, match="a.mp4.*is empty"):
        record_span(VideoRecord(Path("a.mp4"), start=8.0), 6.0)


def test_invalid_arguments_are_rejected():
    with pytest.raises(ValueError, match="duration"):
        RandomClipSampler(4, 8.0)(0.0, rng(0))
    with pytest.raises(ValueError, match="num_frames"):
        SegmentSampler(0)
    with pytest.raises(ValueError, match="fps"):
        MultiViewSampler(4, fps=0.0)
