"""Fixtures for the deployment tests: small saved artifacts of registered models (random weights,
outputs of order one) and a real clip. Helpers come as fixtures (test folders are not packages)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from vidlearn.config import ExperimentConfig
from vidlearn.predictors.artifact import save_artifact
from vidlearn.models import build_model

CLASSES = ["jump", "run", "walk"]


@pytest.fixture()
def make_artifact(tmp_path: Path) -> Callable[..., Path]:
    """``make_artifact(name, regression=False)``: a saved model with 4 frames of 32 px at 8 fps,
    2 test views; classes ``CLASSES`` or a regression target of mean 20 and std 5."""

    def make(name: str, *, regression: bool = False) -> Path:
        overrides = [f"model.name={name}", "sampling.num_frames=4", "transform.crop_size=32", "decode.short_side=40",
                     "decode.fps=8", "sampling.test_views=2"]
        if regression:
            overrides += ["task.kind=regression", "task.target_mean=20.0", "task.target_std=5.0"]
        cfg = ExperimentConfig().override(overrides)
        torch.manual_seed(0)
        model = build_model(name, num_classes=1 if regression else len(CLASSES))
        with torch.no_grad():  # outputs of order one, so that comparisons mean something
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
        return save_artifact(tmp_path / f"{name}_model", model.eval(), cfg, [] if regression else CLASSES)

    return make


@pytest.fixture()
def real_clip(clips_dir: Path) -> Path:
    """A real mp4 from ../shared/data/clips (skips when the folder is absent)."""
    return sorted(p for p in clips_dir.iterdir() if p.suffix == ".mp4")[0]
