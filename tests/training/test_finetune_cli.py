"""Fine-tuning through the command line: `vidlearn train --weights x3d_xs.kinetics400` on Weizmann
(a stand-in checkpoint at the catalogue's path, 2 folds, 1 epoch, tiny clips: the path works, no
accuracy claim), and `evaluate --weights FILE --model --classes` on generated videos."""

from __future__ import annotations

import json
from pathlib import Path

import torch
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.models import build_model
from vidlearn.models.download import weights_path
from vidlearn.predictors.artifact import load_artifact


def test_train_from_catalogue_weights_on_weizmann(weizmann_dir: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("VIDLEARN_HOME", str(tmp_path / "home"))
    target = weights_path("x3d_xs.kinetics400")
    target.parent.mkdir(parents=True)
    torch.manual_seed(0)
    torch.save({"model_state": build_model("x3d_xs", num_classes=400).state_dict()}, target)  # PyTorchVideo's form
    out = tmp_path / "run"
    args = ["train", str(weizmann_dir / "manifest.csv"), "--cv", "kfold:2", "--group", "actor", "--weights", "x3d_xs.kinetics400",
            "--epochs", "1", "--out", str(out), "--quiet",
            "--set", "sampling.num_frames=2", "--set", "sampling.test_views=1", "--set", "transform.crop_size=32",
            "--set", "decode.short_side=40", "--set", "data.num_workers=0", "--set", f"data.cache_dir={tmp_path / 'cache'}",
            "--set", "finetune.backbone_lr_mult=0.1", "--set", "finetune.freeze_bn=true"]
    result = CliRunner().invoke(app, args, catch_exceptions=False)
    assert result.exit_code == 0, result.output
    assert "preprocessing from x3d_xs.kinetics400: decode.fps=2.5" in result.output  # 30 fps / stride 12
    assert "head replaced: checkpoint has 400 classes, the model 4" in result.output
    assert "trained: head at lr 0.001, backbone at lr 0.0001, BatchNorm statistics frozen" in result.output
    assert "over 2 folds" in result.output
    fold = next((out / "folds").iterdir())
    art = load_artifact(fold / "model")
    cfg = art.config
    assert cfg.model.name == "x3d_xs" and cfg.model.weights == "x3d_xs.kinetics400"
    assert (cfg.sampling.num_frames, cfg.transform.crop_size, cfg.decode.fps, cfg.transform.mean) == (2, 32, 2.5, (0.45, 0.45, 0.45))
    assert "transform.mean" in cfg.model.from_weights and "sampling.num_frames" not in cfg.model.from_weights
    assert "trained: head at lr" in (fold / "eval" / "report.html").read_text()


def test_evaluate_and_predict_with_a_checkpoint_file(tmp_path: Path) -> None:
    manifest = generate_demo_dataset(tmp_path / "d", classes=["left", "right"], videos_per_class=2, num_groups=2, size=32, duration=0.6)
    torch.manual_seed(0)
    ckpt = tmp_path / "tiny.pth"
    torch.save(build_model("r2plus1d_tiny", num_classes=2).state_dict(), ckpt)
    classes = tmp_path / "classes.txt"
    classes.write_text("left\nright\n")
    result = CliRunner().invoke(app, ["evaluate", "--weights", str(ckpt), "--model", "r2plus1d_tiny", "--classes", str(classes),
                                      str(manifest), "--out", str(tmp_path / "eval"), "--quiet"], catch_exceptions=False)
    assert result.exit_code == 0, result.output
    metrics = json.loads((tmp_path / "eval" / "metrics.json").read_text())
    assert metrics["video"]["n"] == 4
    both = CliRunner().invoke(app, ["predict", str(ckpt), str(manifest), "--weights", str(ckpt)])
    assert both.exit_code == 2 and "--weights takes the place of MODEL" in both.output
