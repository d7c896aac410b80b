"""Localisation end to end on generated untrimmed videos (no shared data): train from annotations
(command line and library), evaluate (metrics.json + report.html), predict segments (CSV/JSON +
timeline picture), stream segments, the /segments endpoint, and clear errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.data.annotations import read_annotations
from vidlearn.data.synthetic import generate_untrimmed_dataset
from vidlearn.deploy.serve import create_app
from vidlearn.predictors import load

TINY = [
    "decode.fps=8", "decode.short_side=32", "sampling.num_frames=4", "sampling.test_views=1", "transform.crop_size=32",
    "transform.random_resized_crop=false", "transform.hflip=false", "model.name=frame_cnn_small", "optim.batch_size=32",
    "optim.warmup_epochs=0", "data.num_workers=0", "data.val_fraction=0.5", "task.window_stride=0.25",
]


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    root = tmp_path_factory.mktemp("loc")
    ann = generate_untrimmed_dataset(root / "data", videos_per_group=1, num_groups=2, actions_per_video=3, size=32, fps=8.0,
                                     action_seconds=(1.0, 1.25), gap_seconds=(0.75, 1.0))
    args = ["train", str(ann), "--task", "localization", "--epochs", "1", "--out", str(root / "run"), "--quiet"]
    for s in TINY:
        args += ["--set", s]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return root, ann, res.output


def test_train_from_annotations(trained):
    root, _ann, output = trained
    assert "localization: 1 training video(s) ->" in output and "background" in output
    assert "validation videos mAP@0.5" in output
    model = load(root / "run" / "model")
    assert model.task == "localization"
    assert model.class_names == ["background", "grow", "right", "rotate"]
    m = json.loads((root / "run" / "eval_localization" / "metrics.json").read_text())["video"]
    assert m["task"] == "localization" and set(m["mAP"]) == {"0.3", "0.5", "0.7"} and set(m["F1"]) == {"10", "25", "50"}
    assert (root / "run" / "eval_localization" / "report.html").is_file()


def test_evaluate_on_annotations(trained, tmp_path):
    root, ann, _ = trained
    res = CliRunner().invoke(app, ["evaluate", str(root / "run" / "model"), str(ann), "--out", str(tmp_path / "ev"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "mAP@0.5" in res.output and "F1@50" in res.output and "(n=2 videos, 6 segments)" in res.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["video"]["n_segments"] == 6 and metrics["skipped"] == []
    html = (tmp_path / "ev" / "report.html").read_text()
    assert "mAP@0.5" in html and "timeline_00_" in html
    assert (tmp_path / "ev" / "segments.csv").read_text().startswith("path,label,start,end,score")


def test_predict_segments_files_and_library(trained, tmp_path):
    root, ann, _ = trained
    video = read_annotations(ann)[0].path
    out = tmp_path / "seg.json"
    res = CliRunner().invoke(app, ["predict", str(root / "run" / "model"), str(video), "--segments", "--out", str(out)])
    assert res.exit_code == 0, res.output
    doc = json.loads(out.read_text())
    assert isinstance(doc["segments"], list)
    assert all(set(s) == {"path", "label", "start", "end", "score"} and s["end"] > s["start"] for s in doc["segments"])
    assert (tmp_path / f"seg_{video.stem}_segments.png").stat().st_size > 1000
    model = load(root / "run" / "model")
    seg = model.segments(video)
    assert seg.scores.shape[1] == len(model.class_names) and len(seg.times) == len(seg.scores) > 3
    assert [(s.label, s.start) for s in seg.segments] == [(s["label"], s["start"]) for s in doc["segments"]]
    streamed = list(model.iter_segments(video))  # as on a live stream: each segment when it closes
    assert {s.label for s in streamed} == {s.label for s in seg.segments}


def test_segments_endpoint(trained):
    root, ann, _ = trained
    video = read_annotations(ann)[0].path
    client = TestClient(create_app(root / "run" / "model"))
    r = client.post("/segments?name=long.mp4", content=video.read_bytes())
    assert r.status_code == 200, r.text
    assert all(s["path"] == "long.mp4" and s["end"] > s["start"] for s in r.json()["segments"])
    assert client.post("/segments", content=b"not a video").status_code == 422


def test_segments_need_a_localization_model(trained, tmp_path):
    root, ann, _ = trained
    bad = tmp_path / "bad.csv"
    bad.write_text("path,label,start,end\n" + f"{read_annotations(ann)[0].path},right,3,2\n")
    res = CliRunner().invoke(app, ["evaluate", str(root / "run" / "model"), str(bad), "--out", str(tmp_path / "e")])
    assert res.exit_code == 2 and "line 2: the segment is inverted" in res.output


def test_predict_segments_skips_a_disguised_script_and_keeps_the_real_video(trained, tmp_path):
    """As `predict` on files: a concat script renamed .mp4 is never decoded, and the video beside it is segmented."""
    from vidlearn.deploy.segments import run_segments

    root, ann, _ = trained
    folder = tmp_path / "incoming"
    folder.mkdir()
    real = read_annotations(ann)[0].path
    (folder / "real.mp4").symlink_to(real)
    (folder / "script.mp4").write_text(f"ffconcat version 1.0\nfile {real}\n")
    report = run_segments(root / "run" / "model", folder, out=tmp_path / "s.csv", progress=False)
    assert [Path(p).name for p, _ in report.skipped] == ["script.mp4"]
    assert "not a video in an accepted container" in report.skipped[0][1]
    assert {p.name for p in report.written} == {"s.csv", "s_real_segments.png"}  # the real video was segmented


def test_cross_validation_over_whole_videos_by_group_and_resume(tmp_path):
    """--cv on annotations: each fold trains on the other groups' videos and is evaluated once on
    its held-out group's videos; cv_metrics.json has mean ± std of the segment metrics, the
    report links each fold's; --resume keeps the finished folds."""
    ann = generate_untrimmed_dataset(tmp_path / "data", videos_per_group=1, num_groups=3, actions_per_video=2, size=32, fps=8.0,
                                     action_seconds=(1.0, 1.25), gap_seconds=(0.75, 1.0))
    args = ["train", str(ann), "--task", "localization", "--epochs", "1", "--out", str(tmp_path / "cv"), "--quiet",
            "--cv", "leave-one-group-out", "--group", "group"]
    for s in TINY:
        args += ["--set", s]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "cross-validation leave-one-group-out: mAP@0.5" in res.output and "F1@50" in res.output and "over 3 folds" in res.output
    summary = json.loads((tmp_path / "cv" / "cv_metrics.json").read_text())
    video = summary["video"]
    assert video["task"] == "localization" and video["n_folds"] == 3 and video["n"] == 3  # one held-out video a fold
    assert len(video["metrics"]["mAP.0.5"]["values"]) == 3 and "frame_accuracy" in video["metrics"]
    pooled = summary["pooled"]  # the three held-out videos in one evaluation
    assert pooled["task"] == "localization" and pooled["n"] == 3 and pooled["n_segments"] == 6 and "pooled mAP@0.5" in res.output
    groups = {v.group for v in read_annotations(ann)}
    assert set(summary["folds"]) == groups
    for g in groups:  # the held-out group's video is the one its fold evaluated, never a training one
        fold = tmp_path / "cv" / "folds" / g
        evaluated = json.loads((fold / "eval_localization" / "metrics.json").read_text())
        assert evaluated["video"]["n"] == 1
        assert [p.name for p in (fold / "eval_localization").glob("timeline_*.png")] == [f"timeline_00_{g}_000.png"]
    html = (tmp_path / "cv" / "report.html").read_text()
    assert all(f"folds/{g}/eval_localization/report.html" in html for g in groups)
    again = CliRunner().invoke(app, [*args, "--resume"])
    assert again.exit_code == 0, again.output
    assert again.output.count("already done") == 3


def test_segment_settings_are_saved_with_the_model_and_changed_with_set(trained, tmp_path):
    """The model's `segments` settings decide its segments; predict / evaluate change them with
    --set segments.FIELD=VALUE (a bad value is one line naming the field), the library with the
    same fields."""
    root, ann, _ = trained
    model_dir = root / "run" / "model"
    assert json.loads((model_dir / "config.json").read_text())["segments"] == {
        "smooth": 3, "high": 0.5, "low": 0.3, "min_seconds": 0.0, "nms_iou": 0.5}
    video = read_annotations(ann)[0].path
    everything = tmp_path / "all.json"  # every segment kept, however short or weak
    res = CliRunner().invoke(app, ["predict", str(model_dir), str(video), "--segments", "--out", str(everything),
                                   "--set", "segments.high=0.0", "--set", "segments.low=0.0", "--set", "segments.smooth=1"])
    assert res.exit_code == 0, res.output
    assert json.loads(everything.read_text())["segments"]  # a threshold of 0 opens a segment everywhere
    none = tmp_path / "none.json"
    res = CliRunner().invoke(app, ["predict", str(model_dir), str(video), "--segments", "--out", str(none),
                                   "--set", "segments.min_seconds=1000"])
    assert res.exit_code == 0, res.output
    assert json.loads(none.read_text())["segments"] == []  # every segment is shorter than 1000 s
    ev = CliRunner().invoke(app, ["evaluate", str(model_dir), str(ann), "--out", str(tmp_path / "ev"), "--quiet",
                                  "--set", "segments.min_seconds=1000"])
    assert ev.exit_code == 0, ev.output
    assert json.loads((tmp_path / "ev" / "metrics.json").read_text())["video"]["n_predicted"] == 0
    bad = CliRunner().invoke(app, ["predict", str(model_dir), str(video), "--segments", "--set", "segments.low=0.9"])
    assert bad.exit_code == 2 and "segments: low (0.9) must not exceed high (0.5)" in bad.output and "Value error" not in bad.output
    assert "Traceback" not in bad.output

    from vidlearn.predictors.settings import with_settings

    strict = with_settings(load(model_dir), overrides=["segments.min_seconds=1000"])
    assert strict.segments(video).segments == [] and strict.config.segments.min_seconds == 1000


def test_onnx_export_scores_windows_like_the_model_and_carries_the_segment_settings(trained, tmp_path):
    """A localisation model exports as a window classifier (actions + background): onnxruntime
    gives the model's probabilities on a window of a real untrimmed video, and the metadata holds
    the background class and the segment settings a consumer needs to turn scores into segments."""
    import numpy as np
    import onnxruntime as ort

    from vidlearn.deploy.export import export_onnx, onnx_metadata

    root, ann, _ = trained
    result = export_onnx(root / "run" / "model", tmp_path / "loc.onnx")
    assert result.max_abs_diff <= 1e-4
    model = load(root / "run" / "model")
    video = read_annotations(ann)[0].path
    clips = model.clip_tensor(video, 1.0, 1.5)  # one window, the training preprocessing
    (got,) = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"]).run(None, {"video": clips.numpy()})
    np.testing.assert_allclose(got, model.outputs(clips), atol=1e-5)
    assert got.shape[1] == len(model.class_names) and np.allclose(got.sum(axis=1), 1.0, atol=1e-5)
    meta = onnx_metadata(result.path)
    assert meta["task"] == "localization" and meta["classes"] == model.class_names
    assert meta["config"]["task"]["background"] == "background" and meta["config"]["segments"]["high"] == 0.5
