"""Shape features: edges on flat vs textured frames, edge orientations, HOG length, Hu moments."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from vidlearn.errors import ConfigError
from vidlearn.features import ShapeFeatures


def _as_dict(extractor: ShapeFeatures, video: np.ndarray) -> dict[str, float]:
    return dict(zip(extractor.columns, extractor(video).tolist(), strict=True))


def _stripes(vertical: bool, frames: int = 2, size: int = 64, period: int = 16) -> np.ndarray:
    coord = np.indices((size, size))[1 if vertical else 0]
    img = ((coord // (period // 2)) % 2 * 255).astype(np.uint8)
    return np.repeat(np.stack([img] * 3, axis=-1)[None], frames, axis=0)


def test_flat_frame_has_no_edges_and_checkerboard_has_some(
    solid: Callable[..., np.ndarray], checkerboard: Callable[..., np.ndarray]
) -> None:
    ex = ShapeFeatures()
    flat = _as_dict(ex, solid((120, 130, 140), frames=3, height=64, width=64))
    board = _as_dict(ex, checkerboard())
    assert flat["shape.edge_density.mean"] == 0.0
    assert all(flat[f"shape.edge_o{k:02d}.mean"] == 0.0 for k in range(8))
    assert 0.05 < board["shape.edge_density.mean"] < 0.6
    hog_flat = [v for k, v in flat.items() if k.startswith("shape.hog_")]
    hog_board = [v for k, v in board.items() if k.startswith("shape.hog_")]
    assert max(hog_flat) == 0.0 and max(hog_board) > 0.1


def test_edge_orientation_histogram_follows_the_gradient_direction() -> None:
    ex = ShapeFeatures()
    vertical_edges = _as_dict(ex, _stripes(vertical=True))  # gradient along x: 0 deg
    horizontal_edges = _as_dict(ex, _stripes(vertical=False))  # gradient along y: 90 deg
    v_hist = np.array([vertical_edges[f"shape.edge_o{k:02d}.mean"] for k in range(8)])
    h_hist = np.array([horizontal_edges[f"shape.edge_o{k:02d}.mean"] for k in range(8)])
    assert v_hist.sum() == pytest.approx(1.0) and h_hist.sum() == pytest.approx(1.0)
    assert v_hist[0] > 0.95  # bin 0 is centred on 0 deg
    assert h_hist[4] > 0.95  # 8 bins over 0..180: bin 4 is centred on 90 deg


def test_hu_moments_ignore_where_the_shape_is_and_a_quarter_turn() -> None:
    def square_at(y: int, x: int, h: int = 20, w: int = 30) -> np.ndarray:
        video = np.zeros((1, 64, 64, 3), dtype=np.uint8)
        video[:, y : y + h, x : x + w] = 255
        return video

    ex = ShapeFeatures(hog_size=0)
    def hu(v: np.ndarray) -> np.ndarray:
        return np.array([_as_dict(ex, v)[f"shape.hu{k}.mean"] for k in range(1, 8)])

    a, b = hu(square_at(5, 5)), hu(square_at(30, 20))
    turned = hu(np.ascontiguousarray(np.rot90(square_at(30, 20), axes=(1, 2))))
    np.testing.assert_allclose(a, b, atol=1e-3)
    np.testing.assert_allclose(a, turned, atol=1e-3)
    disc = np.zeros((1, 64, 64, 3), dtype=np.uint8)
    yy, xx = np.indices((64, 64))
    disc[0][(yy - 32) ** 2 + (xx - 32) ** 2 < 15**2] = 255
    assert abs(hu(disc)[1] - a[1]) > 0.5  # an elongated rectangle and a disc differ in hu2
    assert np.all(np.isfinite(a)) and a[0] > 0


def test_hog_length_does_not_depend_on_the_frame_size(checkerboard: Callable[..., np.ndarray]) -> None:
    ex = ShapeFeatures()
    n_hog = 3 * 3 * 2 * 2 * 9
    assert len(ex.step_columns()) == n_hog + 1 + 8 + 7
    assert len(ex.columns) == len(set(ex.columns)) == (n_hog + 16) * 4
    assert ex.columns[0] == "shape.hog_b0_0_c0_0_o00.mean"
    shapes = {ex(checkerboard(frames=t, size=s)).shape for t, s in ((1, 16), (3, 64), (5, 100))}
    assert shapes == {(len(ex.columns),)}
    no_extras = ShapeFeatures(hog_size=32, hog_cell=8, hu_moments=False, stats=("mean",), pyramid=(1,))
    assert len(no_extras.columns) == 3 * 3 * 2 * 2 * 9 + 1 + 8


def test_values_are_finite_on_noise_and_one_frame() -> None:
    video = np.random.default_rng(1).integers(0, 256, (1, 37, 53, 3), dtype=np.uint8)
    values = ShapeFeatures()(video)
    assert values.dtype == np.float32 and np.all(np.isfinite(values))


@pytest.mark.parametrize(
    "kwargs",
    [{"hog_size": 16, "hog_cell": 16}, {"edge_bins": 0}, {"canny_low": 200, "canny_high": 100}],
)
def test_bad_shape_settings_are_config_errors(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=r"features\."):
        ShapeFeatures(**kwargs)
