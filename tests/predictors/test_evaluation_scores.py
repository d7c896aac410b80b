"""A model whose weights diverged (NaN or inf outputs) is named as such in one line, instead of
a metrics library's error about its input."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError
from vidlearn.predictors.evaluation import Scores, metrics_from_scores


def _records() -> list[VideoRecord]:
    return [VideoRecord(path=Path(f"v{i}.mp4"), target=("a" if i % 2 else "b")) for i in range(4)]


def test_finite_scores_give_metrics_and_nan_scores_one_line() -> None:
    cfg = ExperimentConfig()
    good = np.full((4, 2, 2), 0.5, dtype=np.float32)
    good[[0, 2], :, 1] = 0.9  # b is class 1
    metrics = metrics_from_scores(Scores(np.arange(4), good, []), _records(), cfg, ["a", "b"])
    assert metrics["video"]["accuracy"] == 1.0
    bad = good.copy()
    bad[1, 0, 0] = np.nan
    bad[3] = np.inf
    with pytest.raises(ConfigError) as err:
        metrics_from_scores(Scores(np.arange(4), bad, []), _records(), cfg, ["a", "b"])
    msg = str(err.value)
    assert "\n" not in msg and "2 of 4 input(s)" in msg and "diverged" in msg and "optim.lr" in msg
