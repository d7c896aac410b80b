"""Training from weights: strict loading (a wrong file fails naming it; a head of another size is
replaced and said), the weights' preprocessing as defaults that explicit settings override, and
the fine-tuning recipe (backbone lr multiplier, frozen backbone epochs, frozen BatchNorm)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from vidlearn.config import ExperimentConfig, ModelConfig
from vidlearn.data.sources import load_records
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.errors import ArtifactError, ConfigError
from vidlearn.models import build_model
from vidlearn.models.weights import get_weights
from vidlearn.predictors.artifact import load_artifact
from vidlearn.training.experiment import build_config
from vidlearn.training.finetune import build_task_model, lr_groups
from vidlearn.training.fit import fit
from vidlearn.training.optim import build_optimizer

ROOT = Path(__file__).resolve().parents[2]
TINY = {
    "decode": {"fps": 8.0, "short_side": 32},
    "sampling": {"num_frames": 4, "test_views": 1},
    "transform": {"crop_size": 32, "hflip": False, "scale": [0.8, 1.0]},
    "model": {"name": "r2plus1d_tiny"},
    "task": {"classes": ["left", "right"]},
    "optim": {"epochs": 1, "batch_size": 4, "lr": 0.05, "warmup_epochs": 0, "schedule": "constant"},
    "data": {"num_workers": 0, "val_fraction": 0.0},
}


@pytest.fixture(scope="module")
def records(tmp_path_factory) -> list:
    out = tmp_path_factory.mktemp("motion")
    manifest = generate_demo_dataset(out, classes=["left", "right"], videos_per_class=4, num_groups=2, size=32, duration=0.8, seed=3)
    return load_records(manifest, group="group")


def _weights(tmp_path: Path, classes: int = 2, seed: int = 0) -> Path:
    torch.manual_seed(seed)
    model = build_model("r2plus1d_tiny", num_classes=classes)
    for m in model.modules():  # running statistics that a training step would visibly move
        if isinstance(m, torch.nn.BatchNorm3d):
            m.running_mean.fill_(0.3)
            m.running_var.fill_(2.0)
    path = tmp_path / f"init{classes}.pth"
    torch.save({"state_dict": model.state_dict()}, path)
    return path


def _train(records, tmp_path: Path, **over) -> tuple[dict, dict, list[str]]:
    init = _weights(tmp_path)
    cfg = ExperimentConfig.from_dict(TINY).override({"data.cache_dir": str(tmp_path / "cache"), "model.weights": str(init), **over})
    lines: list[str] = []
    fit(records, cfg, tmp_path / "run", progress=True, echo=lines.append)
    before = torch.load(init, weights_only=True)["state_dict"]
    after = load_artifact(tmp_path / "run" / "model").state_dict
    return before, after, lines


def _head_keys() -> set[str]:
    model = build_model("r2plus1d_tiny", num_classes=2)
    ids = {id(p) for p in model.head.parameters()}
    return {n for n, p in model.named_parameters() if id(p) in ids}


def _changed(before: dict, after: dict, prefix: str | None, *, head: bool) -> list[str]:
    keys = [k for k in before if (k in _head_keys()) == head and (prefix is None or prefix in k)]
    return [k for k in keys if before[k].is_floating_point() and not torch.equal(before[k], after[k])]


def test_param_groups_put_the_backbone_at_lr_times_the_multiplier() -> None:
    cfg = ExperimentConfig.from_dict(TINY).override({"finetune.backbone_lr_mult": 0.1})
    model = build_model("r2plus1d_tiny", num_classes=2)
    opt = build_optimizer(model, cfg.optim, lr_groups=lr_groups(model, cfg))
    head = {id(p) for p in model.head.parameters()}
    for group in opt.param_groups:
        in_head = {id(p) in head for p in group["params"]}
        assert len(in_head) == 1  # a group is all head or all backbone
        assert group["lr"] == pytest.approx(0.05 if in_head.pop() else 0.005)
    assert sum(len(g["params"]) for g in opt.param_groups) == len(list(model.parameters()))
    # no decay on biases / norm weights, in both parts
    assert {(round(g["lr"], 6), g["weight_decay"]) for g in opt.param_groups} == {(0.05, 0.05), (0.05, 0.0), (0.005, 0.05), (0.005, 0.0)}


def test_a_frozen_backbone_epoch_trains_only_the_head(records, tmp_path: Path) -> None:
    before, after, lines = _train(records, tmp_path, **{"finetune.freeze_backbone_epochs": 1})
    backbone = [k for k in before if k not in _head_keys()]
    assert backbone and len(backbone) < len(before)
    assert all(torch.equal(before[k], after[k]) for k in backbone), "backbone weights or BN statistics moved while frozen"
    assert _changed(before, after, None, head=True), "the head did not train"
    assert any("backbone at lr 0.05 from epoch 2 (frozen before)" in line for line in lines)
    assert any(line.startswith("weights: loaded") and "head included" in line for line in lines)


def test_frozen_batchnorm_keeps_the_running_statistics(records, tmp_path: Path) -> None:
    before, after, lines = _train(records, tmp_path, **{"finetune.freeze_bn": True})
    stats = [k for k in before if k.endswith(("running_mean", "running_var"))]
    assert stats and all(torch.equal(before[k], after[k]) for k in stats)
    assert _changed(before, after, "conv", head=False), "the backbone's convolutions did not train"
    assert any("BatchNorm statistics frozen" in line for line in lines)


def test_without_frozen_batchnorm_the_statistics_move(records, tmp_path: Path) -> None:  # the control of the test above
    before, after, _ = _train(records, tmp_path)
    stats = [k for k in before if k.endswith("running_mean")]
    assert any(not torch.equal(before[k], after[k]) for k in stats)


def test_a_head_of_another_size_is_replaced_and_said(tmp_path: Path) -> None:
    cfg = ExperimentConfig.from_dict(TINY).override({"model.weights": str(_weights(tmp_path, classes=5))})
    model = build_task_model(cfg)
    assert model.weights_report.head == "replaced"
    assert "head replaced: checkpoint has 5 classes, the model 2" in model.weights_report.message


def test_a_wrong_file_fails_naming_it(tmp_path: Path) -> None:
    other = tmp_path / "other.pth"
    torch.save(build_model("frame_cnn_small", num_classes=2).state_dict(), other)
    cfg = ExperimentConfig.from_dict(TINY).override({"model.weights": str(other)})
    with pytest.raises(ArtifactError, match=r"other\.pth: does not match r2plus1d_tiny"):
        build_task_model(cfg)
    with pytest.raises(ConfigError, match="weights file not found: .*missing.pth"):
        build_task_model(cfg.override({"model.weights": str(tmp_path / "missing.pth")}))


def test_pretrained_is_read_as_weights() -> None:
    assert ModelConfig(pretrained="a.pth").weights == "a.pth"
    assert ExperimentConfig().override(["model.pretrained=b.pth"]).model.weights == "b.pth"
    assert "pretrained" not in ExperimentConfig().to_dict()["model"]
    old_artifact = {"model": {"name": "r2plus1d_tiny", "options": {}, "pretrained": None}}  # configs saved before the rename
    assert ExperimentConfig.from_dict(old_artifact).model.weights is None
    with pytest.raises(ConfigError, match="pretrained .* and weights .* disagree"):
        ExperimentConfig.from_dict({"model": {"pretrained": "a.pth", "weights": "b.pth"}})


def test_catalogue_weights_set_the_model_and_the_preprocessing_not_set_explicitly(tmp_path: Path) -> None:
    pre = get_weights("x3d_xs.kinetics400").preprocessing
    cfg = build_config(weights="x3d_xs.kinetics400")
    assert cfg.model.name == "x3d_xs"
    assert (cfg.transform.mean, cfg.transform.std, cfg.transform.crop_size) == (pre.mean, pre.std, pre.crop_size)
    assert (cfg.sampling.num_frames, cfg.decode.short_side, cfg.decode.fps) == (pre.num_frames, pre.short_side, 30.0 / pre.frame_stride)
    assert "sampling.num_frames" in cfg.model.from_weights
    # explicit settings win: --set, and a config file's fields
    file = tmp_path / "c.yaml"
    file.write_text("decode: {fps: 6.0}\ntransform: {mean: [0.1, 0.2, 0.3]}\n")
    cfg = build_config(file, weights="x3d_xs.kinetics400", overrides=["sampling.num_frames=2"])
    assert (cfg.sampling.num_frames, cfg.decode.fps, cfg.transform.mean) == (2, 6.0, (0.1, 0.2, 0.3))
    assert cfg.transform.std == pre.std and cfg.decode.short_side == pre.short_side
    assert not {"sampling.num_frames", "decode.fps", "transform.mean"} & set(cfg.model.from_weights)
    # a value equal to the default, set explicitly, is still explicit
    cfg = build_config(weights="x3d_xs.kinetics400", overrides=["decode.short_side=128"])
    assert cfg.decode.short_side == 128 and "decode.short_side" not in cfg.model.from_weights
    # without weights nothing changes
    assert build_config().to_dict() == ExperimentConfig().to_dict()


def test_the_effnet_config_gets_the_encoders_normalisation_unchanged() -> None:
    """configs/weizmann_effnet.yaml no longer repeats (0.5, 0.5, 0.5): the pretrained encoder's own
    preprocessing is the default, and the same numbers reach the transform as before."""
    raw = ExperimentConfig.load(ROOT / "configs" / "weizmann_effnet.yaml")
    assert "mean" not in raw.transform.model_fields_set
    cfg = build_config(ROOT / "configs" / "weizmann_effnet.yaml")
    assert (cfg.transform.mean, cfg.transform.std) == ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    assert (cfg.transform.crop_size, cfg.decode.short_side) == (224, 224)  # the file's own settings
    assert cfg.model.from_weights == ["transform.mean", "transform.std"]
