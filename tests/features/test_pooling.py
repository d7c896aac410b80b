"""Temporal pooling: names, order, pyramid segments, and degenerate lengths."""

from __future__ import annotations

import numpy as np
import pytest

from vidlearn.errors import ConfigError
from vidlearn.features import TemporalPooling


def test_default_columns_are_mean_std_and_two_halves_grouped_by_descriptor() -> None:
    pool = TemporalPooling()
    assert pool.columns(["a", "b"]) == [
        "a.mean", "a.std", "a.pyr2_1", "a.pyr2_2",
        "b.mean", "b.std", "b.pyr2_1", "b.pyr2_2",
    ]


def test_values_follow_the_column_order() -> None:
    values = np.array([[0.0, 10.0], [2.0, 10.0], [4.0, 10.0], [6.0, 10.0]])
    pooled = TemporalPooling(stats=("mean", "std", "min", "max"), pyramid=(1, 2))(values)
    got = dict(zip(TemporalPooling(stats=("mean", "std", "min", "max")).columns(["a", "b"]), pooled))
    assert pooled.dtype == np.float32
    assert got["a.mean"] == pytest.approx(3.0)
    assert got["a.std"] == pytest.approx(np.std([0, 2, 4, 6]))
    assert (got["a.min"], got["a.max"]) == (0.0, 6.0)
    assert (got["a.pyr2_1"], got["a.pyr2_2"]) == (1.0, 5.0)  # first half 0,2; second half 4,6
    assert got["b.std"] == 0.0 and got["b.pyr2_2"] == 10.0


def test_pyramid_level_three_splits_into_thirds() -> None:
    values = np.arange(6, dtype=float)[:, None]
    pool = TemporalPooling(stats=(), pyramid=(1, 3))
    assert pool.columns(["x"]) == ["x.mean", "x.pyr3_1", "x.pyr3_2", "x.pyr3_3"]
    np.testing.assert_allclose(pool(values), [2.5, 0.5, 2.5, 4.5])


def test_one_step_fills_every_pyramid_segment_and_zero_steps_give_zeros() -> None:
    pool = TemporalPooling(pyramid=(1, 2, 4))
    one = pool(np.array([[7.0]]))
    assert one.tolist() == [7.0, 0.0] + [7.0] * 6
    assert pool(np.zeros((0, 3))).tolist() == [0.0] * (3 * len(pool.pool_names))


@pytest.mark.parametrize("kwargs", [{"stats": ["median"]}, {"pyramid": [0]}, {"stats": [], "pyramid": []}])
def test_bad_pooling_settings_name_the_field(kwargs: dict) -> None:
    with pytest.raises(ConfigError, match=r"features\.(stats|pyramid)"):
        TemporalPooling(**kwargs)
