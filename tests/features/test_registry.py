"""build_extractors / extract: names, stable columns across videos, parameter routing, errors,
and a real clip."""

from __future__ import annotations

import pickle
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from vidlearn.errors import ConfigError
from vidlearn.features import (
    CLASSICAL_KINDS,
    ColorFeatures,
    FeatureExtractor,
    MotionFeatures,
    available_kinds,
    build_extractors,
    columns_for,
    extract,
    extract_vector,
)


def test_all_families_are_registered_and_follow_the_protocol() -> None:
    assert set(CLASSICAL_KINDS) <= set(available_kinds())
    extractors = build_extractors(["color", "shape", "motion"])
    assert [ex.name for ex in extractors] == ["color", "shape", "motion"]
    assert all(isinstance(ex, FeatureExtractor) for ex in extractors)


def test_columns_are_the_same_for_videos_of_any_size_and_length(translated: Callable[..., np.ndarray]) -> None:
    rng = np.random.default_rng(5)
    videos = [
        translated(2, 0, frames=9, size=64),
        rng.integers(0, 256, (3, 48, 80, 3), dtype=np.uint8),
        rng.integers(0, 256, (1, 30, 20, 3), dtype=np.uint8),
    ]
    reference = columns_for()
    assert len(reference) == len(set(reference))
    assert all(c.split(".")[0] in CLASSICAL_KINDS and c.count(".") == 2 for c in reference)
    for video in videos:
        values, columns = extract_vector(video)
        assert columns == reference
        assert values.dtype == np.float32 and values.shape == (len(reference),)
        assert np.all(np.isfinite(values))
    row = extract(videos[0])
    assert list(row) == reference and isinstance(row["color.hsv_h03.pyr2_1"], float)


def test_parameters_reach_the_families_that_take_them(translated: Callable[..., np.ndarray]) -> None:
    color, motion = build_extractors(["color", "motion"], bins=4, flow="farneback", stats=["mean"], pyramid=[1])
    assert isinstance(color, ColorFeatures) and color.bins == 4
    assert isinstance(motion, MotionFeatures) and motion.flow == "farneback"
    assert all(c.endswith(".mean") for c in color.columns + motion.columns)
    (only,) = build_extractors(["color"], color={"spaces": ["rgb"], "moments": False})
    assert only.columns[0] == "color.rgb_r00.mean" and len(only.columns) == 3 * 8 * 4
    row = extract(translated(2, 0), ["motion"], hof_bins=4)
    assert row["motion.hof_o00.mean"] > 0.9 and "motion.hof_o04.mean" not in row


def test_built_extractors_survive_pickling_for_worker_processes(translated: Callable[..., np.ndarray]) -> None:
    video = translated(2, 0, frames=4)
    extractors = build_extractors(["color", "shape", "motion"], bins=6)
    copies = pickle.loads(pickle.dumps(extractors))
    original, columns = extract_vector(video, extractors)
    copied, copied_columns = extract_vector(video, copies)
    assert copied_columns == columns and np.array_equal(original, copied)


@pytest.mark.parametrize(
    ("kinds", "params", "field"),
    [
        (["colour"], {}, "features.kinds"),
        (["color"], {"hof_bins": 4}, "features.hof_bins"),
        (["color", "shape"], {"motion": {"flow": "dis"}}, "features.motion"),
        (["color"], {"color": {"flow": "dis"}}, "features.color.flow"),
        ([], {}, "features.kinds"),
    ],
)
def test_wrong_kinds_or_parameters_are_config_errors_naming_the_field(kinds: list, params: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field.replace(".", r"\.")):
        build_extractors(kinds, **params)


@pytest.mark.parametrize(
    "frames",
    [np.zeros((2, 8, 8), np.uint8), np.zeros((2, 8, 8, 3), np.float32), np.zeros((0, 8, 8, 3), np.uint8)],
    ids=["no-channels", "float", "no-frames"],
)
def test_malformed_frames_are_rejected_with_the_reason(frames: np.ndarray) -> None:
    with pytest.raises(ValueError, match="frames|uint8|frame"):
        extract(frames, ["color"])


def test_real_clip_gives_finite_values_and_motion(clips_dir: Path) -> None:
    av = pytest.importorskip("av")
    path = clips_dir / "mmaction2_tests_test.mp4"
    if not path.is_file():
        pytest.skip(f"{path} not found in the shared clips")
    with av.open(str(path)) as container:
        frames = []
        for frame in container.decode(video=0):
            frames.append(frame.to_ndarray(format="rgb24", width=160, height=120))
            if len(frames) == 16:
                break
    video = np.stack(frames)
    for flow in ("dis", "farneback"):
        row = extract(video, ["color", "shape", "motion"], flow=flow)
        values = np.array(list(row.values()))
        assert np.all(np.isfinite(values))
        assert row["motion.flow_mag_mean.mean"] > 0.05
        assert row["motion.energy_mean.mean"] > 0.0
        assert sum(row[f"motion.hof_o{k:02d}.mean"] for k in range(8)) == pytest.approx(1.0, abs=1e-3)
        assert row["shape.edge_density.mean"] > 0.0
        assert sum(row[f"color.hsv_h{k:02d}.mean"] for k in range(8)) == pytest.approx(1.0, abs=1e-5)
