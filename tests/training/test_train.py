"""Training end to end on generated videos: a run leaves checkpoints, logs, an evaluation and a
self-contained artifact; it learns an easy motion task; it resumes after SIGKILL; it runs under
DDP on two CPU processes; cross-validation reports every fold."""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vidlearn.config import ExperimentConfig
from vidlearn.data.sources import load_records
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.predictors.artifact import load_artifact
from vidlearn.predictors.deep import DeepPredictor
from vidlearn.training.experiment import train_on_data

SMALL = {
    "decode": {"fps": 10.0, "short_side": 32},
    "sampling": {"num_frames": 6, "test_views": 2},
    "transform": {"crop_size": 32, "hflip": False, "scale": [0.8, 1.0]},
    "model": {"name": "r2plus1d_tiny"},
    "optim": {"epochs": 2, "batch_size": 4, "lr": 0.005, "warmup_epochs": 0},
    "data": {"num_workers": 0, "val_fraction": 0.25},
}


@pytest.fixture(scope="module")
def motion_data(tmp_path_factory) -> Path:
    """Left vs right motion, 8 videos each, 4 groups, 32 px, 1.2 s."""
    out = tmp_path_factory.mktemp("motion")
    return generate_demo_dataset(out, classes=["left", "right"], videos_per_class=8, num_groups=4, size=32, duration=1.2, seed=1)


def _cfg(tmp_path: Path, **over) -> ExperimentConfig:
    cfg = ExperimentConfig.from_dict(SMALL).override({"data.cache_dir": str(tmp_path / "cache")})
    return cfg.override(over) if over else cfg


def _cli(*args: str, **kw) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "vidlearn.cli", *args], capture_output=True, text=True, env=env, timeout=600, **kw)


def test_a_run_leaves_artifact_reports_and_predicts(motion_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    result = train_on_data(motion_data, _cfg(tmp_path), run, group="group", progress=False, echo=lambda s: None)
    assert result.epochs == 2
    for rel in ("checkpoints/last.ckpt", "logs/metrics.csv", "eval/metrics.json", "eval/confusion.png", "eval/per_class.md",
                "eval/predictions.csv", "eval/report.html", "model/model.safetensors", "model/config.json"):
        assert (run / rel).is_file(), rel
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    assert metrics["video"]["level"] == "video" and metrics["clip"]["level"] == "clip"
    assert metrics["clip"]["n"] == 2 * metrics["video"]["n"]  # two test views per video
    art = load_artifact(run / "model")
    assert art.class_names == ["left", "right"]
    assert art.config.decode.short_side == 32  # the preprocessing travels with the model
    all_videos = {os.path.realpath(r.path) for r in load_records(motion_data, group="group")}
    trained = set(art.meta["training_videos"])  # what it was trained on, so that evaluate can warn
    assert trained < all_videos and len(trained) == len(all_videos) - metrics["video"]["n"]
    pred = DeepPredictor.load(run / "model")
    video = load_records(motion_data, group="group")[0].path
    p = pred.predict_video(video, top_k=2)
    assert p.label in ("left", "right") and abs(sum(s for _, s in p.top_k) - 1) < 1e-4


@pytest.mark.long
@pytest.mark.parametrize("seed", [0, pytest.param(1, marks=pytest.mark.slow)])  # a second seed: opt-in (45 s)
def test_training_learns_motion_that_holds_on_an_unseen_group(tmp_path: Path, seed: int) -> None:
    """Left vs right motion with the 3-D CNN recipe (`vidlearn.demo.SCRATCH_CONFIG`), validated on a held-out group ("subject")
    of videos the model never saw: the direction is learnt, not each training video's look.

    Known answer: a single frame says nothing about the class (tests/data/test_synthetic.py), so
    anything above chance comes from the motion. 48 training videos, 25 epochs (150 optimiser
    steps); measured 0.81-1.00 over seeds 0-3 with 16 held-out videos (chance 0.5). With 24
    training videos or 32-px frames it stays near chance: the tiny 3-D CNN from scratch needs a
    few dozen videos per class and motion of at least ~1 px per frame after its stride-2 stem."""
    from vidlearn.data.splits import train_val_test_split
    from vidlearn.demo import scratch_config
    from vidlearn.training.fit import fit

    data = generate_demo_dataset(tmp_path / "d", classes=["left", "right"], videos_per_class=32, num_groups=4, seed=seed)
    split = train_val_test_split(load_records(data, group="group"), val=0.25, seed=seed)
    assert len(split.val) == 16 and not {r.group for r in split.val} & {r.group for r in split.train}
    cfg = scratch_config(tmp_path / "cache").override({"optim.epochs": 25, "optim.seed": seed, "data.num_workers": 0})
    result = fit(split.train, cfg, tmp_path / "run", val_records=split.val, progress=False, echo=lambda s: None)
    acc = result.metrics["video"]["accuracy"]
    assert acc >= 0.75, f"left/right motion should be learnt, got video accuracy {acc} on {len(split.val)} unseen-group videos"


@pytest.mark.slow  # an open problem: once in 4 parallel runs (1 thread a worker) its model's outputs were NaN
def test_mixed_precision_on_cpu_trains_and_saves_float32_weights(motion_data: Path, tmp_path: Path) -> None:
    """bf16 autocast on the CPU (what `optim.precision=bf16-mixed` asks for; `16-mixed` falls back
    to it there): the loss is finite, the artifact holds float32 weights and predicts."""
    from safetensors import safe_open

    result = train_on_data(motion_data, _cfg(tmp_path, **{"optim.epochs": 1, "optim.precision": "bf16-mixed"}), tmp_path / "run",
                           group="group", progress=False, echo=lambda s: None)
    rows = [line.split(",") for line in (tmp_path / "run" / "logs" / "metrics.csv").read_text().splitlines()]
    loss_col = rows[0].index("train_loss")
    losses = [float(r[loss_col]) for r in rows[1:] if r[loss_col]]
    assert losses and all(math.isfinite(v) for v in losses)
    with safe_open(str(result.artifact / "model.safetensors"), "pt") as f:
        floats = {str(f.get_tensor(k).dtype) for k in f.keys() if f.get_tensor(k).is_floating_point()}
    assert floats == {"torch.float32"}
    p = DeepPredictor.load(result.artifact).predict_video(load_records(motion_data)[0].path)
    assert p.label in ("left", "right") and 0.0 <= p.score <= 1.0


@pytest.mark.long
def test_kill_mid_epoch_then_resume_reaches_the_same_epoch_count(motion_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    args = ["train", str(motion_data), "--out", str(run), "--group", "group", "--epochs", "5", "--quiet",
            "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.num_workers=0", "--set", "decode.short_side=32",
            "--set", "transform.crop_size=32", "--set", "sampling.num_frames=6", "--set", "optim.batch_size=2",
            "--set", "data.val_fraction=0.25", "--model", "r2plus1d_tiny"]
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    proc = subprocess.Popen([sys.executable, "-m", "vidlearn.cli", *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    last = run / "checkpoints" / "last.ckpt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.05)
    assert last.exists(), "no checkpoint appeared before the kill"
    time.sleep(0.3)  # into the next epoch
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert not (run / "model").exists(), "the run finished before it could be killed"
    done = _cli(*args, "--resume")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "resuming from" in done.stdout
    assert "trained 5 epoch(s)" in done.stdout
    import pandas as pd

    epochs = pd.read_csv(run / "logs" / "metrics.csv")["epoch"].dropna()
    assert int(epochs.max()) == 4


@pytest.mark.long
def test_ddp_on_two_cpu_processes(motion_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "ddp"
    res = _cli("train", str(motion_data), "--out", str(run), "--group", "group", "--epochs", "1", "--devices", "2", "--quiet",
               "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.num_workers=0", "--set", "decode.short_side=32",
               "--set", "transform.crop_size=32", "--set", "sampling.num_frames=6", "--set", "optim.batch_size=2",
               "--model", "r2plus1d_tiny")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    assert (run / "model" / "model.safetensors").is_file()
    assert "trained 1 epoch(s)" in res.stdout


@pytest.mark.long
def test_cross_validation_reports_every_fold(motion_data: Path, tmp_path: Path) -> None:
    res = _cli("train", str(motion_data), "--out", str(tmp_path / "cv"), "--group", "group", "--cv", "leave-one-group-out",
               "--epochs", "1", "--quiet", "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.num_workers=0",
               "--set", "decode.short_side=32", "--set", "transform.crop_size=32", "--set", "sampling.num_frames=6")
    assert res.returncode == 0, res.stdout[-3000:] + res.stderr[-3000:]
    summary = json.loads((tmp_path / "cv" / "cv_metrics.json").read_text())
    assert summary["video"]["n_folds"] == 4 and summary["video"]["n"] == 16
    assert len(summary["video"]["metrics"]["accuracy"]["values"]) == 4
    assert sum(map(sum, summary["video"]["confusion_matrix"])) == 16  # pooled over folds
    assert (tmp_path / "cv" / "cv_confusion.png").is_file()
    assert 'id="folds"' in (tmp_path / "cv" / "report.html").read_text()
    assert "cross-validation leave-one-group-out" in res.stdout
    # a run stopped in its last fold: --resume keeps the three finished folds and redoes the fourth
    last = sorted((tmp_path / "cv" / "folds").iterdir())[-1]
    (last / "eval" / "metrics.json").unlink()
    again = _cli("train", str(motion_data), "--out", str(tmp_path / "cv"), "--group", "group", "--cv", "leave-one-group-out",
                 "--epochs", "1", "--quiet", "--resume", "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.num_workers=0",
                 "--set", "decode.short_side=32", "--set", "transform.crop_size=32", "--set", "sampling.num_frames=6")
    assert again.returncode == 0, again.stderr[-3000:]
    assert again.stdout.count("already done") == 3 and (last / "eval" / "metrics.json").is_file()
    assert json.loads((tmp_path / "cv" / "cv_metrics.json").read_text())["video"]["n"] == 16


def test_gradient_clipping_bounds_every_step(motion_data: Path, tmp_path: Path) -> None:
    """optim.grad_clip: with plain SGD (lr 1, no momentum or decay) each step moves the weights by
    at most lr * grad_clip, so after k steps they moved at most k * grad_clip; unclipped, far more."""
    import lightning as L
    import torch

    from vidlearn.data.sources import load_records
    from vidlearn.training.fit import fit

    class Moved(L.Callback):
        def on_train_start(self, trainer, pl_module) -> None:
            self.start = torch.cat([p.detach().flatten().clone() for p in pl_module.model.parameters()])

        def on_train_end(self, trainer, pl_module) -> None:
            now = torch.cat([p.detach().flatten() for p in pl_module.model.parameters()])
            self.distance = float((now - self.start).norm())
            self.steps = trainer.global_step

    records = load_records(motion_data, group="group")
    distances = {}
    for clip in (0.001, 0.0):
        moved = Moved()
        cfg = _cfg(tmp_path, **{"optim.epochs": 1, "optim.optimizer": "sgd", "optim.lr": 1.0, "optim.momentum": 0.0,
                                "optim.weight_decay": 0.0, "optim.schedule": "constant", "optim.grad_clip": clip})
        fit(records, cfg, tmp_path / f"run{clip}", progress=False, echo=lambda s: None, callbacks=[moved])
        assert moved.steps >= 3
        distances[clip] = moved.distance
        if clip:
            assert 0 < moved.distance <= moved.steps * clip * 1.01
    assert distances[0.0] > 10 * distances[0.001]


def test_a_diverging_run_stops_at_the_first_non_finite_loss_and_says_so(motion_data: Path, tmp_path: Path) -> None:
    """A learning rate that blows the weights up at once: training stops at the first NaN/inf loss
    instead of spending its other epochs on lost weights, and the run fails in one line naming the
    step and the fix (no model artifact of NaN weights is written)."""
    from vidlearn.errors import DivergedModelError
    from vidlearn.training.fit import fit

    records = load_records(motion_data, group="group")
    cfg = _cfg(tmp_path, **{"optim.epochs": 4, "optim.optimizer": "sgd", "optim.lr": 1e30, "optim.momentum": 0.0,
                            "optim.weight_decay": 0.0, "optim.schedule": "constant"})
    with pytest.raises(DivergedModelError) as err:
        fit(records[::2], cfg, tmp_path / "run", val_records=records[1::2], progress=False, echo=lambda s: None)
    msg = str(err.value)
    assert "\n" not in msg and msg.startswith(str(tmp_path / "run")) and "optim.lr" in msg
    assert "no checkpoint before it has finite weights" in msg
    step = int(msg.split("at step ")[1].split()[0])
    assert step < 2 * 4  # 8 training videos, batch 4: 2 steps an epoch, so it stopped before the last epoch
    assert not (tmp_path / "run" / "model").exists()

    # weights lost in epoch 2 (a NaN written into them, as an overflow would): the best checkpoint
    # of epoch 1 is evaluated and saved, and the run says what happened
    import lightning as L
    import torch

    class Blowup(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            if trainer.current_epoch == 1:
                with torch.no_grad():
                    next(pl_module.model.parameters()).fill_(float("nan"))

    said: list[str] = []
    result = fit(records[::2], _cfg(tmp_path, **{"optim.epochs": 4}), tmp_path / "run2", val_records=records[1::2],
                 progress=False, echo=said.append, callbacks=[Blowup()])
    assert result.artifact is not None and result.metrics is not None
    assert any(s.startswith("training diverged: the loss was not finite at step 3 (epoch 2 of 4)") for s in said), said
    preds, skipped = DeepPredictor.load(result.artifact).predict([records[1].path])
    assert len(preds) == 1 and not skipped


def test_a_deadline_shortens_the_run_and_its_learning_rate_schedule(motion_data: Path, tmp_path: Path) -> None:
    """200 epochs and a deadline a few epochs away: after the first epoch the run is cut to the
    epochs that fit, and the cosine schedule ends with them (the last rate is near 0, where a time
    limit alone would stop it at almost the full rate)."""
    import lightning as L

    from vidlearn.training.fit import fit

    class LastRate(L.Callback):
        def on_train_end(self, trainer, pl_module) -> None:
            opt = trainer.optimizers[0]
            self.factor = opt.param_groups[0]["lr"] / opt.param_groups[0]["initial_lr"]
            self.epochs = trainer.current_epoch

    records = load_records(motion_data, group="group")
    last = LastRate()
    said: list[str] = []
    cfg = _cfg(tmp_path, **{"optim.epochs": 200, "optim.warmup_epochs": 0})
    fit(records, cfg, tmp_path / "run", progress=False, echo=said.append, callbacks=[last], train_until=time.time() + 12)
    cut = [s for s in said if s.startswith("time: ")]
    assert len(cut) == 1 and "of 200 epochs fit the time left" in cut[0], said
    assert 2 <= last.epochs < 200  # re-counted after each epoch, so it may differ from the first count
    assert last.factor < 0.5, last.factor  # a 200-epoch cosine cut after a few epochs would still be at ~1.0


def test_training_in_a_log_prints_one_line_per_epoch(motion_data: Path, tmp_path: Path) -> None:
    """Output to a pipe (a log, CI): one line per epoch with the metrics, no redrawn bars."""
    res = _cli("train", str(motion_data), "--out", str(tmp_path / "r"), "--group", "group", "--epochs", "2",
               "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.num_workers=0", "--set", "decode.short_side=32",
               "--set", "transform.crop_size=32", "--set", "sampling.num_frames=6")
    assert res.returncode == 0, res.stderr[-3000:]
    lines = [line for line in res.stdout.splitlines() if line.startswith("epoch ")]
    assert [line.split(":")[0] for line in lines] == ["epoch 1/2", "epoch 2/2"]
    assert all("train_loss" in line and "val_acc" in line for line in lines)
    assert "\r" not in res.stdout + res.stderr and "it/s" not in res.stderr


def test_bad_config_value_names_the_field(motion_data: Path, tmp_path: Path) -> None:
    res = _cli("train", str(motion_data), "--out", str(tmp_path / "r"), "--set", "optim.lr=-1")
    assert res.returncode == 2
    assert "optim.lr" in res.stderr and "Traceback" not in res.stderr
    res = _cli("train", str(motion_data), "--out", str(tmp_path / "r"), "--model", "r2plus1d_tyni")
    assert res.returncode == 2 and "r2plus1d_tiny" in res.stderr  # suggests the close name


def test_regression_end_to_end_predicts_numbers(tmp_path: Path) -> None:
    data = generate_demo_dataset(tmp_path / "reg", classes=["right", "left"], videos_per_class=6, num_groups=3, size=32, duration=1.2, seed=3)
    cfg = _cfg(tmp_path, **{"task.kind": "regression", "optim.epochs": 2, "optim.loss": "huber"})
    result = train_on_data(data, cfg, tmp_path / "run", group="group", progress=False, echo=lambda s: None)
    video = result.metrics["video"]
    assert video["task"] == "regression" and {"mae", "rmse", "r2"} <= set(video)
    assert (tmp_path / "run" / "eval" / "scatter.png").is_file()
    art = load_artifact(tmp_path / "run" / "model")
    assert art.config.task.target_std > 0 and 12 < art.config.task.target_mean < 36  # px/s at 64 px scaled to 32 px
    res = _cli("predict", str(tmp_path / "run" / "model"), str(data), "--out", str(tmp_path / "preds.csv"))
    assert res.returncode == 0, res.stderr
    import pandas as pd

    preds = pd.read_csv(tmp_path / "preds.csv")
    assert list(preds.columns) == ["path", "value"] and len(preds) == 12
    assert preds["value"].between(-100, 200).all()


@pytest.mark.long
def test_predict_cli_skips_bad_files_and_writes_a_timeline(motion_data: Path, tmp_path: Path) -> None:
    run = tmp_path / "run"
    train_on_data(motion_data, _cfg(tmp_path, **{"optim.epochs": 1}), run, group="group", progress=False, echo=lambda s: None)
    folder = tmp_path / "mixed"
    folder.mkdir()
    good = sorted(motion_data.parent.glob("videos/*/*.mp4"))[:2]
    for g in good:
        (folder / g.name).write_bytes(g.read_bytes())
    (folder / "broken.mp4").write_text("not a video")
    res = _cli("predict", str(run / "model"), str(folder), "--top-k", "2", "--out", str(tmp_path / "p.json"))
    assert res.returncode == 0, res.stderr
    doc = json.loads((tmp_path / "p.json").read_text())
    assert len(doc["predictions"]) == 2 and doc["skipped"][0]["path"].endswith("broken.mp4")
    assert all(len(p["top_k"]) == 2 for p in doc["predictions"])
    tl = _cli("predict", str(run / "model"), str(good[0]), "--timeline", "--stride", "0.2", "--out", str(tmp_path / "tl.csv"))
    assert tl.returncode == 0, tl.stderr
    import pandas as pd

    rows = pd.read_csv(tmp_path / "tl.csv")
    assert {"start", "end", "label"} <= set(rows.columns) and len(rows) >= 2
    assert (rows["start"].diff().dropna() > 0).all()
    assert list(tmp_path.glob("tl_*_timeline.png"))
