"""A seeded run is reproducible on one machine: the weights are bit-identical whether the clips
come through DataLoader workers or the main process, and whether the frame cache starts cold
(filled during the run, in whatever order the workers reach the videos) or warm. What does move
the numbers is the number of intra-op threads (the order of float sums): docs/results.md says
how far."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from vidlearn.config import ExperimentConfig
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.training.experiment import train_on_data

RECIPE = {
    "decode": {"fps": 10.0, "short_side": 32},
    "sampling": {"num_frames": 6, "test_views": 2},
    # random crops, flips and colour jitter: every random choice of the data path is exercised
    "transform": {"crop_size": 28, "hflip": True, "scale": [0.7, 1.0], "color_jitter": 0.2},
    "model": {"name": "r2plus1d_tiny"},
    "optim": {"epochs": 2, "batch_size": 4, "lr": 0.005, "warmup_epochs": 0},
    "data": {"val_fraction": 0.25},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("det")
    return generate_demo_dataset(out, classes=["left", "right"], videos_per_class=6, num_groups=3, size=32, duration=1.0, seed=3)


def _weights(data: Path, run: Path, *, workers: int, cache: Path) -> str:
    cfg = ExperimentConfig.from_dict(RECIPE).override({"data.num_workers": workers, "data.cache_dir": str(cache)})
    train_on_data(data, cfg, run, group="group", progress=False, echo=lambda _s: None)
    w = load_file(str(run / "model" / "model.safetensors"))
    return hashlib.sha256(b"".join(w[k].numpy().tobytes() for k in sorted(w))).hexdigest()


def test_seeded_runs_are_bit_identical_with_workers_and_a_cold_or_warm_cache(data: Path, tmp_path: Path) -> None:
    threads = torch.get_num_threads()
    cold = _weights(data, tmp_path / "a", workers=2, cache=tmp_path / "cache")  # workers fill the cache
    warm = _weights(data, tmp_path / "b", workers=2, cache=tmp_path / "cache")  # the same cache, read back
    plain = _weights(data, tmp_path / "c", workers=0, cache=tmp_path / "other")  # no workers, another cache
    assert torch.get_num_threads() == threads
    assert cold == warm == plain
