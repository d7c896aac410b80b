"""Multi-label classification end to end on generated videos with known co-occurring labels (each
video shows one or two of the demo's motions): train / evaluate / predict from the command line,
the artifact's thresholds, ONNX export decoding through the task, the service's answer, the
library entry points, and one-vs-rest feature baselines that learn the label sets."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.data.sources import load_records
from vidlearn.data.synthetic_multilabel import generate_multilabel_dataset, label_sets
from vidlearn.predictors.deep import DeepPredictor

SETS = ["--set", "decode.fps=10", "--set", "decode.short_side=32", "--set", "sampling.num_frames=6", "--set", "sampling.test_views=2",
        "--set", "transform.crop_size=32", "--set", "transform.hflip=false", "--set", "optim.batch_size=4", "--set", "optim.warmup_epochs=0",
        "--set", "data.num_workers=0", "--set", "data.val_fraction=0.25"]


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "vidlearn.cli", *args], check=False, capture_output=True, text=True, env=env, timeout=600)


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """right / rotate / blink, every set of one or two of them, 4 videos each (24), 2 groups, 32 px."""
    return generate_multilabel_dataset(tmp_path_factory.mktemp("ml"), videos_per_set=4, size=32, duration=1.2, seed=1)


@pytest.fixture(scope="module")
def run(data: Path, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "run"
    res = _cli("train", str(data), "--out", str(out), "--task", "multilabel", "--group", "group", "--model", "r2plus1d_tiny",
               "--epochs", "2", "--quiet", "--set", f"data.cache_dir={out.parent / 'cache'}", *SETS)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "thresholds chosen on the validation videos" in res.stdout
    return out


def test_the_generated_label_sets_co_occur_as_written(data: Path) -> None:
    records = load_records(data, task="multilabel", group="group")
    assert len(records) == 24 and len(label_sets(["a", "b", "c"])) == 6
    sets = {r.target for r in records}
    assert sets == {"right", "rotate", "blink", "right|rotate", "blink|right", "blink|rotate"}
    cols = generate_multilabel_dataset(data.parent / "cols", videos_per_set=1, num_groups=1, size=16, duration=0.4, label_columns=True)
    assert cols.read_text().splitlines()[0] == "path,label:right,label:rotate,label:blink,group"
    assert {r.target for r in load_records(cols, task="multilabel")} == sets


def test_training_writes_multilabel_metrics_a_report_and_an_artifact_with_thresholds(run: Path) -> None:
    metrics = json.loads((run / "eval" / "metrics.json").read_text())
    video, clip = metrics["video"], metrics["clip"]
    assert video["task"] == clip["task"] == "multilabel" and clip["n"] == 2 * video["n"]
    assert video["classes"] == ["blink", "right", "rotate"] and 0.0 <= video["map"] <= 1.0
    assert {"micro", "macro", "per_class", "subset_accuracy", "thresholds"} <= set(video)
    assert all(r["ap"] is not None and r["support"] > 0 for r in video["per_class"])
    config = json.loads((run / "model" / "config.json").read_text())
    assert config["task"]["kind"] == "multilabel" and config["task"]["thresholds"] == pytest.approx(video["thresholds"])
    assert "| **mAP** |" in (run / "eval" / "per_class.md").read_text()
    html = (run / "eval" / "report.html").read_text()
    assert "mAP" in html and "micro F1" in html
    rows = (run / "eval" / "predictions.csv").read_text().splitlines()
    assert rows[0] == "path,true,predicted,score,start,end" and len(rows) == video["n"] + 1


def test_cross_validation_reports_the_map_of_every_fold(data: Path, tmp_path: Path) -> None:
    """--cv on label sets: every fold trains and is tested once on its held-out group; the summary
    line and cv_metrics.json give the video mAP's mean ± std over the folds."""
    from typer.testing import CliRunner

    from vidlearn.cli import app

    res = CliRunner().invoke(app, ["train", str(data), "--out", str(tmp_path / "cv"), "--task", "multilabel", "--group", "group",
                                   "--cv", "leave-one-group-out", "--model", "r2plus1d_tiny", "--epochs", "1", "--quiet",
                                   "--set", f"data.cache_dir={tmp_path / 'cache'}", *SETS])
    assert res.exit_code == 0, res.output
    assert "cross-validation leave-one-group-out: video mAP" in res.output and "over 2 folds" in res.output
    video = json.loads((tmp_path / "cv" / "cv_metrics.json").read_text())["video"]
    assert video["task"] == "multilabel" and video["n_folds"] == 2 and video["n"] == 24
    assert len(video["metrics"]["map"]["values"]) == 2 and all(0.0 <= v <= 1.0 for v in video["metrics"]["map"]["values"])
    assert "micro F1" in (tmp_path / "cv" / "report.html").read_text()


def test_evaluate_and_predict_from_the_command_line(run: Path, data: Path, tmp_path: Path) -> None:
    res = _cli("evaluate", str(run / "model"), str(data), "--out", str(tmp_path / "ev"), "--quiet")
    assert res.returncode == 0, res.stderr
    assert "video mAP" in res.stdout and json.loads((tmp_path / "ev" / "metrics.json").read_text())["video"]["n"] == 24
    video = load_records(data, task="multilabel")[0].path
    res = _cli("predict", str(run / "model"), str(video), "--top-k", "3", "--out", str(tmp_path / "p.json"))
    assert res.returncode == 0, res.stderr
    (pred,) = json.loads((tmp_path / "p.json").read_text())["predictions"]
    thresholds = dict(zip(["blink", "right", "rotate"], json.loads((run / "model" / "config.json").read_text())["task"]["thresholds"]))
    scores = {t["label"]: t["score"] for t in pred["top_k"]}
    assert len(scores) == 3 and all(0.0 < v < 1.0 for v in scores.values())
    over = {c for c, s in scores.items() if s >= thresholds[c]}
    assert {x["label"] for x in pred["labels"]} == over and pred["label"] == "|".join(sorted(over))


def test_onnx_export_decodes_through_the_task(run: Path, data: Path, tmp_path: Path) -> None:
    import onnxruntime as ort

    from vidlearn.deploy.export import export_onnx, onnx_metadata

    result = export_onnx(run / "model", tmp_path / "m.onnx")
    meta = onnx_metadata(result.path)
    predictor = DeepPredictor.load(run / "model", device=torch.device("cpu"))
    assert meta["task"] == "multilabel" and meta["output"]["thresholds"] == pytest.approx(predictor.config.task.thresholds)
    clips = predictor.clip_tensor(load_records(data, task="multilabel")[3].path)
    (got,) = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"]).run(None, {"video": clips.numpy()})
    want = predictor.outputs(clips)
    np.testing.assert_allclose(got, want, atol=1e-4)
    assert ((got > 0) & (got < 1)).all()  # a sigmoid per class, not a softmax over them


def test_the_service_answers_the_labels_over_their_thresholds(run: Path, data: Path) -> None:
    pytest.importorskip("fastapi")
    from fastapi.testclient import TestClient

    from vidlearn.deploy.serve import create_app

    video = load_records(data, task="multilabel")[-1].path
    client = TestClient(create_app(run / "model"))
    assert client.get("/health").json()["task"] == "multilabel"
    res = client.post("/predict", params={"top_k": 3, "name": video.name}, content=video.read_bytes())
    assert res.status_code == 200, res.text
    want = DeepPredictor.load(run / "model", device=torch.device("cpu")).predict_video(video, top_k=3)
    assert [x["label"] for x in res.json()["labels"]] == [c for c, _ in want.labels]
    assert res.json()["label"] == want.label


def test_the_library_trains_and_evaluates_a_multilabel_model(data: Path, tmp_path: Path) -> None:
    import vidlearn

    overrides = [s for s in SETS if s != "--set"] + ["task.kind=multilabel", "model.name=r2plus1d_tiny", "optim.epochs=1",
                                                     f"data.cache_dir={tmp_path / 'cache'}", "task.thresholds=[0.4,0.5,0.6]"]
    result = vidlearn.train(data, tmp_path / "run", overrides=overrides, group="group", progress=False)
    assert result.metrics["video"]["thresholds"] == [0.4, 0.5, 0.6]  # given thresholds are kept, not re-chosen
    metrics = vidlearn.evaluate(result.artifact, data, tmp_path / "ev", progress=False)
    assert metrics["video"]["task"] == "multilabel" and metrics["video"]["n"] == 24
    report = vidlearn.predict(result.artifact, load_records(data, task="multilabel")[0].path)
    assert report.predictions[0].labels is not None


@pytest.fixture(scope="module")
def feature_table(tmp_path_factory) -> Path:
    """Motion features of 48 generated videos (8 per label set, 4 groups, 48 px)."""
    from vidlearn.tables.table import compute_feature_table

    root = tmp_path_factory.mktemp("mlfeat")
    m = generate_multilabel_dataset(root / "d", videos_per_set=8, num_groups=4, size=48, duration=1.6, seed=0)
    compute_feature_table(load_records(m, task="multilabel", group="group"), "motion", fps=10, short_side=48,
                          out=root / "f.parquet", workers=1, progress=False)
    return root / "f.parquet"


def test_a_one_vs_rest_baseline_learns_the_label_sets_on_unseen_groups(feature_table: Path, tmp_path: Path) -> None:
    """Known answer: each class is in half of the videos, so a ranking that knows nothing has an mAP
    of about 0.5; measured 0.88-0.89 (svm, seeds 0 and 1) in leave-one-group-out CV."""
    from vidlearn.training.baseline import run_baseline

    summary = run_baseline(feature_table, tmp_path / "b", estimator="svm", task="multilabel")
    assert summary["pooled"]["task"] == "multilabel"
    assert summary["pooled"]["map"] >= 0.75, summary["pooled"]["per_class"]
    assert summary["video"]["metrics"]["map"]["mean"] >= 0.7 and summary["video"]["n_folds"] == 4
    assert (tmp_path / "b" / "report.html").is_file() and (tmp_path / "b" / "per_class.md").is_file()
    assert set(summary["thresholds"]) == {"blink", "right", "rotate"}


@pytest.mark.long
def test_a_baseline_model_predicts_and_evaluates_videos_from_the_command_line(feature_table: Path, tmp_path: Path) -> None:
    res = _cli("baseline", str(feature_table), "--out", str(tmp_path / "b"), "--task", "multilabel", "--estimator", "logreg")
    assert res.returncode == 0, res.stderr
    assert "video mAP" in res.stdout
    meta = json.loads((tmp_path / "b" / "model" / "baseline.json").read_text())
    assert meta["task"] == "multilabel" and len(meta["thresholds"]) == 3
    videos = feature_table.parent / "d"
    res = _cli("predict", str(tmp_path / "b" / "model"), str(videos / "videos" / "g1_right+rotate_001.mp4"), "--top-k", "3",
               "--out", str(tmp_path / "p.json"))
    assert res.returncode == 0, res.stderr
    (pred,) = json.loads((tmp_path / "p.json").read_text())["predictions"]
    on = {t["label"] for t in pred["top_k"] if t["score"] >= dict(zip(meta["classes"], meta["thresholds"]))[t["label"]]}
    assert {x["label"] for x in pred["labels"]} == on
    res = _cli("evaluate", str(tmp_path / "b" / "model"), str(videos / "manifest.csv"), "--out", str(tmp_path / "ev"), "--quiet")
    assert res.returncode == 0, res.stderr
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["video"]["map"] > 0.75  # its own training videos


def test_rf_is_refused_for_multilabel_with_the_choices(feature_table: Path, tmp_path: Path) -> None:
    res = _cli("baseline", str(feature_table), "--out", str(tmp_path / "b"), "--task", "multilabel", "--estimator", "rf")
    assert res.returncode == 2 and "not available for multilabel; choose from svm, logreg, knn" in res.stderr


@pytest.mark.parametrize("seed", [0, 1])
def test_a_feature_sequence_model_learns_co_occurring_motions_on_an_unseen_group(tmp_path: Path, seed: int) -> None:
    """The whole deep path (per-frame motion rows -> feature_rnn -> sigmoid + BCE -> thresholds ->
    multilabel metrics) on 36 training videos of label sets, validated on a held-out group. Known
    answer: chance mAP is about 0.5; measured 0.748 (seed 0) and 0.825 (seed 1), 30 epochs."""
    from vidlearn.config import ExperimentConfig
    from vidlearn.data.splits import train_val_test_split
    from vidlearn.training.fit import fit

    m = generate_multilabel_dataset(tmp_path / "d", videos_per_set=8, num_groups=4, size=48, duration=1.6, seed=seed)
    split = train_val_test_split(load_records(m, task="multilabel", group="group"), val=0.25, seed=seed)
    assert len(split.val) == 12 and not {r.group for r in split.val} & {r.group for r in split.train}
    cfg = ExperimentConfig.from_dict({
        "decode": {"fps": 10.0, "short_side": 48}, "sampling": {"num_frames": 12, "test_views": 2},
        "model": {"name": "feature_rnn", "options": {"hidden": 32}}, "frame_features": {"kinds": ["motion"]},
        "optim": {"epochs": 30, "batch_size": 8, "lr": 0.01, "warmup_epochs": 0, "seed": seed},
        "data": {"num_workers": 0, "cache_dir": str(tmp_path / "cache")}, "task": {"kind": "multilabel"}})
    result = fit(split.train, cfg, tmp_path / "run", val_records=split.val, progress=False, echo=lambda s: None)
    video = result.metrics["video"]
    assert video["map"] >= 0.65, video["per_class"]
    assert video["micro"]["f1"] > 0.67  # predicting every class for every video gives 2/3


@pytest.mark.slow
@pytest.mark.parametrize("seed", [0, 1])
def test_a_deep_model_learns_co_occurring_motions_on_an_unseen_group(tmp_path: Path, seed: int) -> None:
    """The demo recipe (r2plus1d_tiny from scratch, 64 px, 25 epochs) on 36 training videos of
    label sets, validated on a held-out group. Known answer: chance mAP is about 0.5. Measured (2
    shared cores, load 3-13): seed 0 mAP 0.75 (right 0.95, blink 0.68, rotate 0.63), seed 1 mAP 0.51
    -- an open problem: the tiny CNN learns the translation but not reliably rotate/blink from so
    few videos (the one-vs-rest motion-feature baseline above does, 0.88). Opt-in (slow, ~3-20 min)."""
    from vidlearn.data.splits import train_val_test_split
    from vidlearn.demo import scratch_config
    from vidlearn.training.fit import fit

    m = generate_multilabel_dataset(tmp_path / "d", videos_per_set=8, num_groups=4, seed=seed)
    split = train_val_test_split(load_records(m, task="multilabel", group="group"), val=0.25, seed=seed)
    assert not {r.group for r in split.val} & {r.group for r in split.train}
    cfg = scratch_config(tmp_path / "cache").override({"optim.epochs": 25, "optim.seed": seed, "data.num_workers": 0, "task.kind": "multilabel"})
    result = fit(split.train, cfg, tmp_path / "run", val_records=split.val, progress=False, echo=lambda s: None)
    assert result.metrics["video"]["map"] >= 0.65, result.metrics["video"]["per_class"]


def test_class_weights_weight_each_label_by_its_negatives_over_positives(data: Path, tmp_path: Path) -> None:
    """optim.class_weights on label sets: each class's positives are weighted by its negatives /
    positives in the training videos (the binary cross-entropy's pos_weight), and training says so."""
    import torch.nn.functional as F

    from vidlearn.config import ExperimentConfig
    from vidlearn.tasks.multilabel import MultiLabel, multi_hot
    from vidlearn.training.fit import fit
    from vidlearn.training.optim import positive_weights

    y = np.array([[1, 0, 1], [0, 0, 1], [0, 1, 1], [0, 0, 1]], dtype=np.float32)
    w = positive_weights(y)
    assert w.tolist() == [3.0, 3.0, 1.0]  # 3 negatives / 1 positive; a class never absent gets 1
    out = torch.tensor([[0.3, -1.0, 2.0], [1.5, 0.2, -0.4], [0.0, 0.0, 0.0], [-2.0, 1.0, 0.5]])
    t = torch.as_tensor(y)
    by_hand = -(w * t * F.logsigmoid(out) + (1 - t) * F.logsigmoid(-out)).mean()
    torch.testing.assert_close(MultiLabel().loss(out, t, weight=w), by_hand)

    every = load_records(data, task="multilabel", group="group")  # balanced: each class in half the videos
    records = [r for i, r in enumerate(every) if "blink" not in r.target.split("|") or i % 3 == 0]  # blink made rare
    cfg = ExperimentConfig().override([*(s for s in SETS if s != "--set"), "task.kind=multilabel", "model.name=r2plus1d_tiny",
                                       "optim.epochs=1", "optim.class_weights=true", f"data.cache_dir={tmp_path / 'cache'}"])
    said: list[str] = []
    fit(records, cfg, tmp_path / "run", progress=False, echo=said.append)
    line = next(s for s in said if s.startswith("positive weights"))
    classes = sorted({c for r in records for c in r.target.split("|")})
    expected = positive_weights(multi_hot([r.target for r in records], classes)).tolist()
    assert line.endswith(", ".join(f"{c} {v:.2f}" for c, v in zip(classes, expected)))
    assert expected[classes.index("blink")] > 1.5 > 1.0 > expected[classes.index("right")]
