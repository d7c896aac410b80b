"""A resumed run draws each epoch's random clips as the uninterrupted run would: the dataset's epoch
(which seeds the clips) follows the trainer's epoch, with loader workers too (they prefetch the
first resumed epoch before any epoch hook runs), and the clips of a resumed epoch are the clips
the uninterrupted run drew in that epoch. The training log keeps the epochs from before the resume."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pytest
import torch

from vidlearn.config import ExperimentConfig
from vidlearn.data.sources import load_records
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.training.fit import fit


class _Spy(L.Callback):
    """Records (trainer epoch, dataset epoch, a fingerprint of the first batch) per epoch."""

    def __init__(self) -> None:
        self.seen: list[tuple[int, int, float]] = []

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx) -> None:
        if batch_idx == 0:
            video = batch["video"] if isinstance(batch, dict) else batch[0]
            self.seen.append((trainer.current_epoch, trainer.train_dataloader.dataset.epoch, float(video.double().sum())))


@pytest.mark.parametrize("workers", [0, 2])
def test_a_resumed_run_draws_the_clips_of_the_epoch_it_resumes(workers: int, tmp_path: Path) -> None:
    data = generate_demo_dataset(tmp_path / "d", classes=["left", "right"], videos_per_class=4, num_groups=2, size=32, duration=1.2, seed=0)
    records = load_records(data)
    cfg = ExperimentConfig.from_dict({
        "decode": {"fps": 10.0, "short_side": 32},
        "sampling": {"num_frames": 4, "test_views": 1},
        "transform": {"crop_size": 32, "hflip": True, "scale": [0.6, 1.0]},
        "model": {"name": "frame_cnn_small"},
        "optim": {"epochs": 4, "batch_size": 4, "warmup_epochs": 0},
        "data": {"num_workers": workers, "cache_dir": str(tmp_path / "cache")},
    })
    quiet = {"progress": False, "echo": lambda _s: None}
    torch.manual_seed(0)
    whole = _Spy()
    fit(records, cfg, tmp_path / "whole", callbacks=[whole], **quiet)

    first, second = _Spy(), _Spy()
    fit(records, cfg.override({"optim.epochs": 2}), tmp_path / "split", callbacks=[first], **quiet)
    fit(records, cfg, tmp_path / "split", resume=True, callbacks=[second], **quiet)

    assert [(e, d) for e, d, _ in whole.seen] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    assert [(e, d) for e, d, _ in first.seen + second.seen] == [(0, 0), (1, 1), (2, 2), (3, 3)]
    # the same clips, in the same order, as without the interruption
    assert [f for *_, f in first.seen + second.seen] == pytest.approx([f for *_, f in whole.seen], rel=1e-9)
    # and the training log keeps the epochs from before the resume (Lightning's CSV logger
    # deletes the file when a run resumes)
    import csv

    with (tmp_path / "split" / "logs" / "metrics.csv").open() as fh:
        epochs = sorted({int(r["epoch"]) for r in csv.DictReader(fh) if r.get("train_loss")})
    assert epochs == [0, 1, 2, 3]
    assert not (tmp_path / "split" / "logs" / "metrics.before_resume.csv").exists()
