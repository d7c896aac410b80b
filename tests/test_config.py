"""Configuration values outside what the pipeline can do are refused with the field and its range."""

from __future__ import annotations

import pytest

from vidlearn.config import ExperimentConfig
from vidlearn.errors import ConfigError


@pytest.mark.parametrize("fps", [1e-300, 1e300, float("inf"), float("nan"), 0.0])
def test_decode_fps_outside_its_range_names_the_field(fps: float) -> None:
    with pytest.raises(ConfigError, match="decode.fps"):
        ExperimentConfig.from_dict({"decode": {"fps": fps}})


def test_decode_fps_inside_its_range_is_kept() -> None:
    assert ExperimentConfig.from_dict({"decode": {"fps": 0.5}}).decode.fps == 0.5
