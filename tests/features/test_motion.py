"""Motion features: HOF direction convention, still and 1-frame videos, energy, MBH, flow scale."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vidlearn.errors import ConfigError
from vidlearn.features import MotionFeatures


def _as_dict(extractor: MotionFeatures, video: np.ndarray) -> dict[str, float]:
    return dict(zip(extractor.columns, extractor(video).tolist(), strict=True))


def _hist(row: dict[str, float], name: str, bins: int = 8) -> np.ndarray:
    return np.array([row[f"motion.{name}_o{k:02d}.mean"] for k in range(bins)])


@pytest.mark.parametrize("method", ["dis", "farneback"])
@pytest.mark.parametrize(
    ("dx", "dy", "bin_"),
    [(2, 0, 0), (-2, 0, 4), (0, -2, 2), (0, 2, 6), (2, -2, 1)],
    ids=["right-0deg", "left-180deg", "up-90deg", "down-270deg", "up-right-45deg"],
)
def test_hof_mass_is_in_the_bin_of_the_screen_direction(
    translated: Callable[..., np.ndarray], method: str, dx: int, dy: int, bin_: int
) -> None:
    row = _as_dict(MotionFeatures(flow=method), translated(dx, dy))
    hof = _hist(row, "hof")
    assert hof.sum() == pytest.approx(1.0, abs=1e-5)
    assert hof[bin_] > 0.9, hof
    assert row["motion.flow_mag_mean.mean"] == pytest.approx(np.hypot(dx, dy), rel=0.15)
    assert row["motion.flow_moving_frac.mean"] > 0.9
    assert row["motion.energy_mean.mean"] > 0.005


def test_still_video_has_zero_motion_energy_and_no_flow(translated: Callable[..., np.ndarray]) -> None:
    still = np.repeat(translated(0, 0, frames=1), 8, axis=0)
    for method in ("dis", "farneback"):
        row = _as_dict(MotionFeatures(flow=method), still)
        assert row["motion.energy_mean.mean"] == 0.0 and row["motion.energy_frac.mean"] == 0.0
        assert row["motion.flow_mag_mean.mean"] == pytest.approx(0.0, abs=1e-3)
        assert _hist(row, "hof").sum() == 0.0  # nothing moves: no direction either


def test_one_frame_video_gives_zeros_not_an_error(translated: Callable[..., np.ndarray]) -> None:
    ex = MotionFeatures()
    values = ex(translated(2, 0, frames=1))
    assert values.shape == (len(ex.columns),)
    assert not values.any()


def test_energy_is_scaled_to_unit_range() -> None:
    video = np.zeros((4, 16, 16, 3), dtype=np.uint8)
    video[1::2] = 255  # black, white, black, white: every pixel changes fully every frame
    row = _as_dict(MotionFeatures(flow="none"), video)
    assert row["motion.energy_mean.mean"] == pytest.approx(1.0)
    assert row["motion.energy_frac.mean"] == pytest.approx(1.0)
    video[:, :8] = 0  # left half stays black
    row = _as_dict(MotionFeatures(flow="none", diff_threshold=100), video)
    assert row["motion.energy_mean.mean"] == pytest.approx(0.5)
    assert row["motion.energy_frac.mean"] == pytest.approx(0.5)


def test_flow_none_keeps_only_the_energy_columns() -> None:
    assert MotionFeatures(flow="none", stats=("mean",), pyramid=(1,)).columns == [
        "motion.energy_mean.mean",
        "motion.energy_frac.mean",
    ]


def _moving_patch(frames: int = 8) -> np.ndarray:
    """A textured patch moving right by 2 px per frame over a flat, still background."""
    patch = np.random.default_rng(2).integers(0, 256, (24, 20, 3), dtype=np.uint8)
    video = np.full((frames, 64, 64, 3), 90, dtype=np.uint8)
    for t in range(frames):
        video[t, 20:44, 12 + 2 * t : 32 + 2 * t] = patch
    return video


@pytest.mark.parametrize("method", ["dis", "farneback"])
def test_mbh_sees_the_boundaries_of_a_moving_object(method: str) -> None:
    row = _as_dict(MotionFeatures(flow=method), _moving_patch())
    assert _hist(row, "hof")[0] > 0.9
    # u (x-flow) changes across the object's outline; v stays ~0, so its boundaries are weak
    assert row["motion.mbhx_mag.mean"] > 10 * row["motion.mbhy_mag.mean"]
    mbhx = _hist(row, "mbhx")
    assert mbhx.sum() == pytest.approx(1.0, abs=1e-5)
    assert mbhx[[0, 2, 4, 6]].sum() > 0.7  # an axis-aligned outline: gradients along the axes


def test_uniform_translation_has_much_weaker_motion_boundaries_than_a_moving_object(
    translated: Callable[..., np.ndarray],
) -> None:
    ex = MotionFeatures()
    uniform = _as_dict(ex, translated(2, 0))
    obj = _as_dict(ex, _moving_patch())
    assert uniform["motion.flow_mag_mean.mean"] > obj["motion.flow_mag_mean.mean"]  # more motion overall...
    assert uniform["motion.mbhx_mag.mean"] < 0.3 * obj["motion.mbhx_mag.mean"]  # ...but no boundary


def test_flow_at_reduced_resolution_is_reported_in_input_pixels(translated: Callable[..., np.ndarray]) -> None:
    video = translated(4, 0, frames=4, size=96)
    reduced = MotionFeatures(flow_short_side=48)
    assert reduced.flow_size(96, 96) == (48, 48)
    assert reduced.flow_size(40, 60) == (40, 60)  # never upscaled
    row = _as_dict(reduced, video)
    assert row["motion.flow_mag_mean.mean"] == pytest.approx(4.0, rel=0.15)
    assert _hist(row, "hof")[0] > 0.9


@pytest.mark.parametrize("size", [(1, 50), (5, 7), (7, 100), (9, 30), (50, 64)])
def test_columns_and_finite_values_for_any_size_and_length(size: tuple[int, int]) -> None:
    ex = MotionFeatures()  # DIS refuses tiny frames: they must still work (Farneback fallback)
    video = np.random.default_rng(0).integers(0, 256, (3, *size, 3), dtype=np.uint8)
    values = ex(video)
    assert values.shape == (len(ex.columns),) == ((8 + 3 + 2 * 9 + 2) * 4,)
    assert np.all(np.isfinite(values))


def test_unknown_flow_method_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"features\.flow: .*'raft'"):
        MotionFeatures(flow="raft")
