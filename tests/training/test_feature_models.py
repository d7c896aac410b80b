"""Models on feature sequences (feature_rnn) end to end: per-frame rows from the data path, a
trained model that predicts, evaluates, draws timelines and exports like a video model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.config import ExperimentConfig
from vidlearn.clips.dataset import ClipDataset, build_cache
from vidlearn.data.sources import load_records
from vidlearn.data.splits import train_val_test_split
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.predictors.deep import DeepPredictor
from vidlearn.training.experiment import train_on_data
from vidlearn.errors import ConfigError

MOTION_RNN = {
    "decode": {"fps": 8.0, "short_side": 64},
    "sampling": {"num_frames": 8, "test_views": 2},
    "model": {"name": "feature_rnn", "options": {"hidden": 32}},
    "frame_features": {"kinds": ["motion"]},
    "optim": {"epochs": 20, "batch_size": 4, "lr": 0.003, "warmup_epochs": 0},
    "data": {"num_workers": 0, "val_fraction": 0.25},
}


@pytest.fixture(scope="module")
def left_right(tmp_path_factory) -> Path:
    """Left vs right motion, 16 videos each in 4 groups (64 px, 2 s)."""
    return generate_demo_dataset(tmp_path_factory.mktemp("lr"), classes=["left", "right"], videos_per_class=16, num_groups=4, seed=0)


@pytest.fixture(scope="module")
def trained(left_right: Path, tmp_path_factory) -> tuple[Path, object]:
    out = tmp_path_factory.mktemp("run")
    cfg = ExperimentConfig.from_dict(MOTION_RNN).override({"data.cache_dir": str(out / "cache")})
    return out, train_on_data(left_right, cfg, out / "run", group="group", progress=False, echo=lambda s: None)


def test_samples_are_feature_rows_with_or_without_a_cache(left_right: Path, tmp_path: Path) -> None:
    cfg = ExperimentConfig.from_dict(MOTION_RNN).override({"data.cache_dir": str(tmp_path / "c"), "model.options.in_features": 31})
    records = load_records(left_right, group="group")[:3]
    cached = ClipDataset.from_config(records, cfg, train=False, views=True, cache=build_cache(cfg))
    plain = ClipDataset.from_config(records, cfg, train=False, views=True, cache=None)
    a, b = cached[0]["video"], plain[0]["video"]
    assert a.shape == (2, 8, 31) and a.dtype == torch.float32
    assert torch.allclose(a, b, atol=1e-6)
    train = ClipDataset.from_config(records, cfg, train=True, cache=build_cache(cfg))
    assert train[1]["video"].shape == (8, 31)
    with pytest.raises(ValueError, match="feature rows"):
        ClipDataset.from_config(records, cfg.override({"model.name": "r3d_tiny", "model.options": {}}), train=True, cache=build_cache(cfg))


def test_motion_rows_learn_the_direction_on_an_unseen_group(trained) -> None:
    """Known answer: per-frame optical-flow rows + a small GRU tell left from right on a group of
    videos it never saw (chance 0.5)."""
    _, result = trained
    assert result.metrics["video"]["accuracy"] >= 0.875
    saved = json.loads((result.artifact / "config.json").read_text())
    assert saved["model"]["options"]["in_features"] == 31 and saved["frame_features"]["kinds"] == ["motion"]


def test_the_artifact_predicts_like_the_evaluation(trained, left_right: Path) -> None:
    """Predictor rebuilds the rows from the saved configuration: its per-video probabilities equal
    the evaluation's (eval/predictions.csv), and the saved model standardises its inputs."""
    import pandas as pd

    out, result = trained
    pred = DeepPredictor.load(result.artifact)
    assert pred.encoder is not None and pred.encoder.kinds == ["motion"]
    assert float(pred.model.input_std.min()) > 0 and bool((pred.model.input_mean != 0).any())
    table = pd.read_csv(out / "run" / "eval" / "predictions.csv")
    for _, row in table.head(3).iterrows():
        path = Path(row["path"]) if Path(row["path"]).is_absolute() else left_right.parent / row["path"]
        p = pred.predict_video(path, top_k=2)
        assert p.label == row["predicted"] and p.score == pytest.approx(float(row["score"]), abs=1e-4)
    windows = pred.timeline(path, stride=0.25)
    assert len(windows) >= 3 and all(w.label in ("left", "right") for w in windows)
    assert all(b.start > a.start for a, b in zip(windows, windows[1:]))


def test_onnx_export_takes_feature_rows(trained, left_right: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    from vidlearn.deploy.export import export_onnx, onnx_metadata

    _, result = trained
    res = export_onnx(result.artifact, tmp_path / "m.onnx")
    meta = onnx_metadata(res.path)
    assert res.input_name == "features" and meta["input"]["layout"] == "NTF"
    assert meta["input"]["features"]["kinds"] == ["motion"] and len(meta["input"]["features"]["columns"]) == 31
    pred = DeepPredictor.load(result.artifact)
    video = load_records(left_right)[0].path
    rows = pred.clip_tensor(video)
    (got,) = ort.InferenceSession(str(res.path), providers=["CPUExecutionProvider"]).run(None, {"features": rows.numpy()})
    assert np.allclose(got, pred.outputs(rows), atol=1e-5)


def test_in_features_that_contradict_the_features_are_refused(left_right: Path, tmp_path: Path) -> None:
    cfg = ExperimentConfig.from_dict(MOTION_RNN).override({"model.options.in_features": 7, "data.cache_dir": str(tmp_path / "c")})
    with pytest.raises(ConfigError, match="in_features"):
        train_on_data(left_right, cfg, tmp_path / "run", group="group", progress=False, echo=lambda s: None)


def test_cli_trains_a_feature_model_and_skips_bad_videos(left_right: Path, tmp_path: Path) -> None:
    folder = tmp_path / "data"
    for cls in ("left", "right"):
        (folder / cls).mkdir(parents=True)
        for v in sorted((left_right.parent / "videos" / cls).glob("*.mp4"))[:4]:
            (folder / cls / v.name).write_bytes(v.read_bytes())
    (folder / "left" / "broken.mp4").write_text("not a video")
    res = subprocess.run(
        [sys.executable, "-m", "vidlearn.cli", "train", str(folder), "--model", "feature_rnn", "--out", str(tmp_path / "run"),
         "--epochs", "2", "--quiet", "--set", "frame_features.kinds=color,motion", "--set", "decode.short_side=32",
         "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.num_workers=0", "--set", "data.val_fraction=0.34"],
        capture_output=True, text=True, timeout=300,
    )
    assert res.returncode == 0, res.stderr
    assert "frame features (color, motion" in res.stdout and "broken.mp4" in res.stdout
    assert (tmp_path / "run" / "model" / "model.safetensors").is_file()


@pytest.mark.long
def test_imagenet_rows_tell_real_actions_apart(weizmann_dir: Path, tmp_path: Path) -> None:
    """Real data: bend vs jack on Weizmann, ImageNet EfficientNet-Lite0 rows (224 px, as in
    configs/weizmann_effnet_rnn.yaml), trained on 6 actors and tested on the other 3 (6 unseen videos)."""
    records = [r for r in load_records(weizmann_dir / "manifest.csv", group="actor") if r.target in ("bend", "jack")]
    split = train_val_test_split(records, val=0.34, seed=0)
    assert not {r.group for r in split.val} & {r.group for r in split.train}
    cfg = ExperimentConfig.from_dict(
        {**MOTION_RNN, "decode": {"fps": 12.5, "short_side": 64}, "frame_features": {"kinds": ["deep"], "image_size": 224},
         "model": {"name": "feature_rnn", "options": {"readout": "mean"}}, "sampling": {"num_frames": 16, "test_views": 2},
         "optim": {**MOTION_RNN["optim"], "epochs": 30}}
    ).override({"data.cache_dir": str(tmp_path / "cache")})
    from vidlearn.training.fit import fit

    result = fit(split.train, cfg, tmp_path / "run", val_records=split.val, progress=False, echo=lambda s: None)
    assert result.metrics["video"]["n"] == 6 and result.metrics["video"]["accuracy"] >= 5 / 6, result.metrics["video"]["accuracy"]


def test_served_over_http_like_the_predictor(trained, left_right: Path) -> None:
    from fastapi.testclient import TestClient

    from vidlearn.deploy.serve import create_app

    _, result = trained
    video = load_records(left_right)[5].path
    client = TestClient(create_app(result.artifact))
    assert client.get("/health").json()["model"] == "feature_rnn"
    got = client.post("/predict", params={"name": Path(video).name}, content=Path(video).read_bytes())
    assert got.status_code == 200, got.text
    want = DeepPredictor.load(result.artifact, device=torch.device("cpu")).predict_video(video)
    assert got.json()["label"] == want.label and got.json()["score"] == pytest.approx(want.score, abs=1e-5)
