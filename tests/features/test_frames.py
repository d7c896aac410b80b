"""Per-frame feature rows (vidlearn.features.frames) and the feature cache that stores them."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vidlearn.cache import FrameCache
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, VideoError
from vidlearn.features.color import ColorFeatures
from vidlearn.features.deep import EffNetEmbedding
from vidlearn.features.frames import FrameEncoder, encode_video, iter_encoded_frames
from vidlearn.features.motion import MotionFeatures
from vidlearn.io import write_video


def test_columns_follow_the_kinds_in_order() -> None:
    enc = FrameEncoder(["motion", "color"])
    motion, color = MotionFeatures().step_columns(), ColorFeatures().step_columns()
    assert enc.columns == [f"motion.{c}" for c in motion] + [f"color.{c}" for c in color]
    assert enc.dim == len(motion) + len(color)
    deep = FrameEncoder(["deep"], image_size=64)
    assert deep.dim == 1280 and deep.columns[0] == "deep.effnet_f0000" and deep.columns[-1] == "deep.effnet_f1279"


@pytest.mark.parametrize("kinds", [[], ["depth"], ["color", "color"]])
def test_bad_kinds_are_config_errors(kinds: list[str]) -> None:
    with pytest.raises(ConfigError, match="frame_features.kinds"):
        FrameEncoder(kinds)


def test_motion_rows_say_where_and_when_things_move(translated: Callable[..., np.ndarray]) -> None:
    """Known answers: a still video has zero motion in every row; content moving right has its
    flow-orientation mass in bin 0 (0 deg = right) from the second frame on; the first row, with no
    previous frame, is zero, and given the previous frame it equals the row computed in one go."""
    enc = FrameEncoder(["motion"])
    cols = enc.columns
    still = enc.encode(translated(0, 0, frames=5))
    assert still.shape == (5, enc.dim) and np.all(still == 0)
    video = translated(3, 0, frames=6)
    rows = enc.encode(video)
    hof0 = cols.index("motion.hof_o00")
    assert np.all(rows[0] == 0)
    assert np.all(rows[1:, hof0] > 0.9)
    assert np.allclose(enc.encode(video[3:], previous=video[2]), rows[3:], atol=1e-6)


def test_chunked_encoding_equals_one_pass(translated: Callable[..., np.ndarray]) -> None:
    enc = FrameEncoder(["color", "motion"])
    video = translated(2, 1, frames=7)
    whole = enc.encode(video)
    chunks = list(iter_encoded_frames(((i / 8, f) for i, f in enumerate(video)), enc, batch=3))
    assert [len(t) for t, _ in chunks] == [3, 3, 1]
    assert np.allclose(np.concatenate([r for _, r in chunks]), whole, atol=1e-6)
    assert np.allclose(np.concatenate([t for t, _ in chunks]), np.arange(7) / 8)


def test_deep_rows_are_the_embeddings_of_each_frame(translated: Callable[..., np.ndarray]) -> None:
    video = translated(1, 0, frames=3)
    rows = FrameEncoder(["deep"], image_size=64).encode(video)
    assert np.allclose(rows, EffNetEmbedding(image_size=64).frame_embeddings(video), atol=1e-5)


def test_feature_cache_keeps_rows_apart_from_frames(tmp_path: Path, translated: Callable[..., np.ndarray]) -> None:
    path = write_video(tmp_path / "v.mp4", translated(2, 0, frames=20), 10.0)
    record = VideoRecord(path=path, target=None)
    enc = FrameEncoder(["motion", "color"])
    cache = FrameCache(tmp_path / "cache", fps=5.0, short_side=64, encoder=enc)
    video = cache.get(record)
    memory = encode_video(path, enc, fps=5.0, short_side=64)  # the same rows, without a cache
    assert video.frames.dtype == np.float32 and video.frames.shape == (10, enc.dim)
    assert np.array_equal(np.asarray(video.frames), memory.frames) and np.allclose(video.times, memory.times)
    assert memory.duration == pytest.approx(video.duration) and np.array_equal(memory.at([0.45]), video.at([0.45]))
    segment = encode_video(path, enc, fps=5.0, short_side=64, start=1.0)
    assert segment.start == 1.0 and segment.times[0] == pytest.approx(0.0) and segment.duration == pytest.approx(1.0)
    assert np.allclose(segment.at([1.4]), video.at([1.4]), atol=1e-6)  # after its first frame, a segment's rows are the video's
    assert video.at([0.0, 0.45, 1.0]).shape == (3, enc.dim)
    again = FrameCache(tmp_path / "cache", fps=5.0, short_side=64, encoder=FrameEncoder(["motion", "color"]))
    assert again.get(record).frames.shape == (10, enc.dim) and again.stats()["hits"] == 1
    frames = FrameCache(tmp_path / "cache", fps=5.0, short_side=64)  # same folder, pixels
    assert frames.get(record).frames.shape == (10, 64, 64, 3)
    other = FrameCache(tmp_path / "cache", fps=5.0, short_side=64, encoder=FrameEncoder(["color"]))
    assert other.key(record) != cache.key(record) != frames.key(record)
    assert cache.info()["entries"] == 1 and frames.info()["entries"] == 1
    with pytest.raises(ValueError, match="npy"):
        FrameCache(tmp_path / "c2", fps=5.0, short_side=64, format="jpeg", encoder=enc)


def test_a_bad_video_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_text("not a video")
    with pytest.raises(VideoError, match="bad.mp4"):
        encode_video(bad, FrameEncoder(["color"]), fps=5.0, short_side=32)
