"""Colour features: one-hot hue histograms for pure colours, normalisation, moments, pyramid."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vidlearn.errors import ConfigError
from vidlearn.features import ColorFeatures


def _as_dict(extractor: ColorFeatures, video: np.ndarray) -> dict[str, float]:
    return dict(zip(extractor.columns, extractor(video).tolist(), strict=True))


def _hue_hist(row: dict[str, float], bins: int, pool: str = "mean") -> np.ndarray:
    return np.array([row[f"color.hsv_h{k:02d}.{pool}"] for k in range(bins)])


@pytest.mark.parametrize("bins", [6, 8, 12])
@pytest.mark.parametrize(
    ("rgb", "opencv_hue"),
    [((255, 0, 0), 0), ((0, 255, 0), 60), ((0, 0, 255), 120), ((255, 255, 0), 30)],
    ids=["red", "green", "blue", "yellow"],
)
def test_pure_colour_has_all_hue_mass_in_the_bin_of_its_hue(
    solid: Callable[..., np.ndarray], rgb: tuple[int, int, int], opencv_hue: int, bins: int
) -> None:
    row = _as_dict(ColorFeatures(bins=bins), solid(rgb))
    expected = np.zeros(bins)
    expected[opencv_hue * bins // 180] = 1.0
    np.testing.assert_allclose(_hue_hist(row, bins), expected, atol=1e-6)
    assert row["color.hsv_h00.std"] == 0.0  # the same every frame


def test_pure_red_is_hue_bin_0_and_green_the_bin_holding_60(solid: Callable[..., np.ndarray]) -> None:
    red = _as_dict(ColorFeatures(), solid((255, 0, 0)))
    green = _as_dict(ColorFeatures(), solid((0, 255, 0)))
    assert red["color.hsv_h00.mean"] == pytest.approx(1.0)
    assert green["color.hsv_h02.mean"] == pytest.approx(1.0)  # 8 bins of 22.5: [45, 67.5) holds 60
    assert green["color.hsv_h00.mean"] == 0.0
    # saturation and value of a pure colour are 255: all in the top bin
    assert red["color.hsv_s07.mean"] == pytest.approx(1.0) and red["color.hsv_v07.mean"] == pytest.approx(1.0)
    assert red["color.rgb_r07.mean"] == pytest.approx(1.0) and red["color.rgb_g00.mean"] == pytest.approx(1.0)


def test_every_channel_histogram_sums_to_one_on_a_random_video() -> None:
    video = np.random.default_rng(3).integers(0, 256, (5, 24, 40, 3), dtype=np.uint8)
    ex = ColorFeatures(bins=5)
    row = _as_dict(ex, video)
    for prefix in ("hsv_h", "hsv_s", "hsv_v", "rgb_r", "rgb_g", "rgb_b"):
        total = sum(row[f"color.{prefix}{k:02d}.mean"] for k in range(5))
        assert total == pytest.approx(1.0, abs=1e-5), prefix
    assert all(np.isfinite(list(row.values())))


def test_moments_of_grey_and_of_half_black_half_white(solid: Callable[..., np.ndarray]) -> None:
    grey = _as_dict(ColorFeatures(), solid((128, 128, 128)))
    assert grey["color.rgb_g_mean.mean"] == pytest.approx(128 / 255, abs=1e-6)
    assert grey["color.rgb_g_std.mean"] == pytest.approx(0.0, abs=1e-6)
    assert grey["color.rgb_g_skew.mean"] == 0.0
    half = np.zeros((2, 16, 16, 3), dtype=np.uint8)
    half[:, :, 8:] = 255
    row = _as_dict(ColorFeatures(), half)
    assert row["color.rgb_b_mean.mean"] == pytest.approx(0.5, abs=1e-6)
    assert row["color.rgb_b_std.mean"] == pytest.approx(0.5, abs=1e-6)
    assert row["color.rgb_b_skew.mean"] == pytest.approx(0.0, abs=1e-6)
    mostly_dark = np.zeros((1, 10, 10, 3), dtype=np.uint8)
    mostly_dark[:, 0, 0] = 255  # one bright pixel: long right tail
    assert _as_dict(ColorFeatures(), mostly_dark)["color.rgb_r_skew.mean"] > 5


def test_pyramid_separates_the_two_halves_of_the_video(solid: Callable[..., np.ndarray]) -> None:
    video = np.concatenate([solid((255, 0, 0), frames=4), solid((0, 0, 255), frames=4)])
    row = _as_dict(ColorFeatures(), video)
    assert row["color.hsv_h00.mean"] == pytest.approx(0.5)
    assert row["color.hsv_h00.std"] == pytest.approx(0.5)
    assert row["color.hsv_h00.pyr2_1"] == pytest.approx(1.0)  # first half red
    assert row["color.hsv_h00.pyr2_2"] == pytest.approx(0.0)
    assert row["color.hsv_h05.pyr2_2"] == pytest.approx(1.0)  # second half blue (H=120)


def test_columns_depend_only_on_parameters(solid: Callable[..., np.ndarray]) -> None:
    ex = ColorFeatures()
    assert len(ex.columns) == len(set(ex.columns)) == (6 * 8 + 9) * 4
    for video in (solid((1, 2, 3), frames=1, height=7, width=5), solid((9, 9, 9), frames=13, height=40, width=64)):
        assert ex(video).shape == (len(ex.columns),)
    small = ColorFeatures(bins=4, spaces=("hsv",), moments=False, stats=("mean",), pyramid=(1,))
    assert small.columns[:2] == ["color.hsv_h00.mean", "color.hsv_h01.mean"] and len(small.columns) == 12


@pytest.mark.parametrize("kwargs", [{"bins": 0}, {"spaces": ("lab",)}, {"spaces": (), "moments": False}])
def test_bad_colour_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=r"features\."):
        ColorFeatures(**kwargs)
