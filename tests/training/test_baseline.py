"""Classical baselines on feature tables: the CV report in the deep models' schema, the saved ONNX
model (no pickle) predicting exactly like the fitted pipeline, column selection, the CLI, and a
leave-one-actor-out run on real Weizmann videos."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.predictors import load_baseline
from vidlearn.tables import select_columns
from vidlearn.training.baseline import CLASSIFIERS, REGRESSORS, fit_baseline, run_baseline
from vidlearn.errors import ArtifactError, ConfigError, DataSourceError
from vidlearn.tables.table import compute_feature_table, read_feature_table

CLASSES = ["jump", "run", "walk"]


def _table(seed: int = 0, groups: int = 4, per: int = 2, classes: list[str] = CLASSES) -> pd.DataFrame:
    """Rows whose `color.*` columns depend on the class and whose `motion.*` columns are noise."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        for ci, c in enumerate(classes):
            for k in range(per):
                signal = rng.normal(0, 0.3, 6) + 2.0 * ci
                noise = rng.normal(0, 1.0, 8)
                row = {"path": f"/v/{c}_{g}_{k}.mp4", "target": c, "group": f"actor{g}", "camera": f"cam{k}"}
                row.update({f"color.c{j}.mean": np.float32(v) for j, v in enumerate(signal)})
                row.update({f"motion.m{j}.mean": np.float32(v) for j, v in enumerate(noise)})
                rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("classifier", CLASSIFIERS)
def test_cross_validation_report_has_the_metrics_schema(classifier: str, tmp_path: Path) -> None:
    table = _table()
    result = run_baseline(table, tmp_path / "run", estimator=classifier, save_model=False)

    assert result["protocol"] == "leave-one-group-out"
    assert result["folds"] == ["actor0", "actor1", "actor2", "actor3"]
    video = result["video"]
    assert video["task"] == "classification" and video["level"] == "video"
    assert video["n_folds"] == 4 and video["n"] == len(table)
    acc = video["metrics"]["accuracy"]
    assert len(acc["values"]) == 4 and acc["mean"] == pytest.approx(np.mean(acc["values"]))
    assert acc["mean"] >= 0.9  # the colour columns separate the classes
    assert video["classes"] == CLASSES and np.sum(video["confusion_matrix"]) == len(table)
    on_disk = json.loads((tmp_path / "run" / "cv_metrics.json").read_text())
    assert on_disk["video"]["metrics"]["accuracy"]["mean"] == pytest.approx(acc["mean"])
    fold = json.loads((tmp_path / "run" / "folds" / "actor0" / "eval" / "metrics.json").read_text())
    assert fold["video"]["n"] == 6 and len(fold["video"]["per_class"]) == 3
    assert (tmp_path / "run" / "cv_confusion.png").stat().st_size > 0
    preds = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert len(preds) == len(table) and set(preds["fold"]) == set(result["folds"])
    assert (preds["predicted"] == preds["target"]).mean() == pytest.approx(result["pooled"]["accuracy"])
    report = (tmp_path / "run" / "report.html").read_text()
    assert all(f'id="{sid}"' in report for sid in ("summary", "folds", "confusion", "per-class", "confused-pairs")) and "<img" in report


@pytest.mark.parametrize(("classifier", "pca"), [("svm", None), ("logreg", 3), ("knn", None), ("rf", None), ("svm", 40)])
def test_saved_model_predicts_like_the_fitted_pipeline(classifier: str, pca: int | None, tmp_path: Path) -> None:
    train, test = _table(seed=0), _table(seed=1)
    fitted = fit_baseline(train, estimator=classifier, pca=pca)
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["baseline.json", "model.onnx"]
    assert not (path / "model.onnx").read_bytes().startswith(b"\x80")  # not a pickle

    loaded = load_baseline(path)
    assert loaded.classes == CLASSES and loaded.columns == fitted.columns and loaded.estimator == classifier
    np.testing.assert_allclose(loaded.scores(test), fitted.scores(test), rtol=1e-5, atol=1e-6)
    assert loaded.predict_table(test).tolist() == fitted.predict(test).tolist()
    assert (loaded.predict_table(test) == test["target"].to_numpy()).mean() >= 0.8
    # columns are found by name, whatever their order in the table
    shuffled = test[list(test.columns[::-1])]
    assert loaded.predict_table(shuffled).tolist() == loaded.predict_table(test).tolist()


def test_two_classes_round_trip(tmp_path: Path) -> None:
    table = _table(classes=["a", "b"])
    for classifier in CLASSIFIERS:
        fitted = fit_baseline(table, estimator=classifier)
        loaded = load_baseline(fitted.save(tmp_path / classifier))
        assert loaded.scores(table).shape == (len(table), 2)
        assert loaded.predict_table(table).tolist() == fitted.predict(table).tolist()


def test_run_saves_the_model_fitted_on_all_rows(tmp_path: Path) -> None:
    table = _table()
    result = run_baseline(table, tmp_path / "run", estimator="logreg", pca=4)
    model = load_baseline(tmp_path / "run")  # the run folder finds its model/
    assert Path(result["model"]) == tmp_path / "run" / "model"
    meta = json.loads((tmp_path / "run" / "model" / "baseline.json").read_text())
    assert meta["format"] == "vidlearn-baseline" and meta["pca"] == 4 and meta["estimator"] == "logreg" and meta["task"] == "classification"
    assert meta["cv"]["video"]["metrics"]["accuracy"]["mean"] == pytest.approx(result["video"]["metrics"]["accuracy"]["mean"])
    expected = fit_baseline(table, estimator="logreg", pca=4).predict(table)
    assert model.predict_table(table).tolist() == expected.tolist()


def test_columns_protocols_and_groups(tmp_path: Path) -> None:
    table = _table()
    assert len(select_columns(table)) == 14 and len(select_columns(table, "color")) == 6
    assert len(select_columns(table, ["color.c0", "motion"])) == 9
    with pytest.raises(ConfigError, match="texture"):
        select_columns(table, "texture")

    signal = run_baseline(table, tmp_path / "a", estimator="logreg", columns="color", save_model=False)
    noise = run_baseline(table, tmp_path / "b", estimator="logreg", columns="motion", save_model=False)
    assert signal["baseline"]["n_features"] == 6
    assert signal["video"]["metrics"]["accuracy"]["mean"] > noise["video"]["metrics"]["accuracy"]["mean"] + 0.3

    kfold = run_baseline(table, tmp_path / "c", estimator="knn", cv="kfold:2", save_model=False)
    assert kfold["protocol"] == "kfold:2" and kfold["video"]["n_folds"] == 2
    by_camera = run_baseline(table, tmp_path / "d", estimator="knn", group="camera", save_model=False)
    assert by_camera["folds"] == ["cam0", "cam1"]
    no_groups = run_baseline(table.drop(columns=["group"]), tmp_path / "e", estimator="knn", save_model=False)
    assert no_groups["protocol"] == "kfold:5"
    with pytest.raises(ConfigError, match="actor"):
        run_baseline(table, tmp_path / "f", group="actor")
    with pytest.raises(ConfigError, match="estimator"):
        run_baseline(table, tmp_path / "g", estimator="xgboost")


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        load_baseline(tmp_path / "nothing")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "baseline.json").write_text("{not json")
    (tmp_path / "m" / "model.onnx").write_bytes(b"junk")
    with pytest.raises(ArtifactError, match="baseline.json"):
        load_baseline(tmp_path / "m")
    fitted = fit_baseline(_table(), estimator="knn").save(tmp_path / "ok")
    (fitted / "model.onnx").write_bytes(b"junk")
    with pytest.raises(ArtifactError, match="model.onnx"):
        load_baseline(fitted)


def test_cli_baseline(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    _table().to_parquet(path)
    result = CliRunner().invoke(app, ["baseline", str(path), "--classifier", "rf", "--columns", "color",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "leave-one-group-out: video accuracy" in result.output and "over 4 folds" in result.output
    assert load_baseline(tmp_path / "run").columns == [f"color.c{j}.mean" for j in range(6)]
    bad = CliRunner().invoke(app, ["baseline", str(path), "--classifier", "boost", "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "boost" in bad.output and "Traceback" not in bad.output


def test_leave_one_actor_out_on_weizmann(weizmann_dir: Path, tmp_path: Path) -> None:
    """Real videos end to end: colour + motion features of 4 actors, leave one actor out."""
    from vidlearn.data.sources import load_records

    records = [r for r in load_records(weizmann_dir / "manifest.csv", group="actor") if r.group in {"0", "1", "2", "3"}]
    out = tmp_path / "weizmann.parquet"
    compute_feature_table(records, ["color", "motion"], fps=12.5, short_side=64, out=out, workers=2, progress=False)
    table = read_feature_table(out)
    assert len(table) == 16 and table.attrs["vidlearn"]["settings"]["fps"] == 12.5
    result = run_baseline(out, tmp_path / "run", estimator="logreg", columns="motion")
    assert result["folds"] == ["0", "1", "2", "3"]
    assert result["video"]["metrics"]["accuracy"]["mean"] >= 0.5  # 4 classes: chance is 0.25
    model = load_baseline(tmp_path / "run")
    assert (model.predict_table(table) == table["target"].to_numpy()).mean() == 1.0  # its own training rows

    # predict on the video files themselves: the same features, the same answers as on the table
    videos = [str(p) for p in table["path"].iloc[:3]]
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "run" / "model"), *videos[:1], "--top-k", "2", "--out", str(tmp_path / "p.json")])
    assert res.exit_code == 0, res.output
    doc = json.loads((tmp_path / "p.json").read_text())
    assert doc["predictions"][0]["label"] == table["target"].iloc[0] and len(doc["predictions"][0]["top_k"]) == 2
    preds, skipped = model.predict_videos(videos)
    assert skipped == [] and [p.label for p in preds] == model.predict_table(table.iloc[:3]).tolist()

    # evaluate on two unseen actors' videos: the same answers as predicting their feature rows
    rows = pd.read_csv(weizmann_dir / "manifest.csv", dtype=str)
    held = rows[rows["actor"].isin(["4", "5"])].assign(path=lambda d: [str(weizmann_dir / p) for p in d["path"]])
    held.to_csv(tmp_path / "held.csv", index=False)
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "run"), str(tmp_path / "held.csv"), "--out", str(tmp_path / "ev"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert "video accuracy" in res.output and "clip accuracy" not in res.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    got = pd.read_csv(tmp_path / "ev" / "predictions.csv")
    assert metrics["video"]["n"] == len(held) == len(got) == 8 and metrics["skipped"] == []
    assert metrics["video"]["accuracy"] == pytest.approx((got["predicted"] == got["true"]).mean())
    assert metrics["video"]["accuracy"] >= 0.5  # 4 classes: chance is 0.25
    assert all((tmp_path / "ev" / f).is_file() for f in ("confusion.png", "per_class.md", "report.html"))


# ---- regression ------------------------------------------------------------------------------


def _numeric_table(seed: int = 0, groups: int = 4, per: int = 10) -> pd.DataFrame:
    """Targets around 100 (std ~20) that the `color.*` columns determine (plus a little noise)."""
    rng = np.random.default_rng(seed)
    rows = []
    for g in range(groups):
        for k in range(per):
            signal = rng.normal(0, 1.0, 4)
            target = 100.0 + 12.0 * signal[0] - 8.0 * signal[1] + 4.0 * np.sin(2.0 * signal[2]) + rng.normal(0, 1.0)
            row = {"path": f"/v/{g}_{k}.mp4", "target": target, "group": f"actor{g}"}
            row.update({f"color.c{j}.mean": np.float32(v) for j, v in enumerate(signal)})
            row.update({f"motion.m{j}.mean": np.float32(v) for j, v in enumerate(rng.normal(0, 1.0, 3))})
            rows.append(row)
    return pd.DataFrame(rows)


@pytest.mark.parametrize("estimator", REGRESSORS)
def test_regression_cross_validation_reports_mae_rmse_r2(estimator: str, tmp_path: Path) -> None:
    table = _numeric_table()
    result = run_baseline(table, tmp_path / "run", estimator=estimator, task="regression", save_model=False)

    video = result["video"]
    assert result["protocol"] == "leave-one-group-out" and video["n_folds"] == 4 and video["n"] == len(table)
    assert video["task"] == "regression" and {"mae", "rmse", "r2"} <= set(video["metrics"])
    assert "confusion_matrix" not in video
    pooled = result["pooled"]
    spread = float(table["target"].std())
    assert pooled["mae"] < 0.6 * spread  # predicting the mean would give ~0.8 std
    assert pooled["r2"] > 0.5
    fold = json.loads((tmp_path / "run" / "folds" / "actor1" / "eval" / "metrics.json").read_text())
    assert fold["video"]["task"] == "regression" and fold["video"]["n"] == 10
    preds = pd.read_csv(tmp_path / "run" / "predictions.csv")
    assert list(preds.columns) == ["path", "target", "fold", "predicted", "error"]
    np.testing.assert_allclose(preds["target"], table["target"], rtol=1e-6)
    assert np.mean(np.abs(preds["error"])) == pytest.approx(pooled["mae"], rel=1e-5)
    assert (tmp_path / "run" / "cv_scatter.png").stat().st_size > 0 and not (tmp_path / "run" / "cv_confusion.png").exists()
    report = (tmp_path / "run" / "report.html").read_text()
    assert all(f'id="{sid}"' in report for sid in ("summary", "folds", "scatter", "errors")) and 'id="per-class"' not in report


@pytest.mark.parametrize("estimator", REGRESSORS)
def test_regression_model_round_trip_predicts_in_target_units(estimator: str, tmp_path: Path) -> None:
    train, test = _numeric_table(seed=0), _numeric_table(seed=1)
    fitted = fit_baseline(train, estimator=estimator, task="regression", columns="color")
    assert fitted.target_scale is not None and fitted.target_scale.mean == pytest.approx(train["target"].mean())
    loaded = load_baseline(fitted.save(tmp_path / "model"))
    assert loaded.task == "regression" and loaded.estimator == estimator and loaded.classes == []
    got, want = loaded.predict_table(test), fitted.predict(test)
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-4)
    assert got.dtype == np.float64 and 80 < got.mean() < 120  # in target units, not standardised
    assert np.mean(np.abs(got - test["target"].to_numpy())) < 0.6 * float(test["target"].std())
    with pytest.raises(ConfigError, match="predict"):
        loaded.scores(test)


def test_targets_that_do_not_fit_the_task_are_named(tmp_path: Path) -> None:
    text = _table()
    with pytest.raises(DataSourceError, match=r"/v/jump_0_0.mp4: target 'jump' is not a number"):
        run_baseline(text, tmp_path / "a", task="regression")
    numbers = _numeric_table()
    with pytest.raises(ConfigError, match="--task regression"):
        run_baseline(numbers, tmp_path / "b")
    with pytest.raises(ConfigError, match="ridge"):
        run_baseline(numbers, tmp_path / "c", estimator="logreg", task="regression")
    with pytest.raises(ConfigError, match="task"):
        run_baseline(numbers, tmp_path / "d", task="ranking")
    # whole numbers are class ids: classification works on them
    ids = _table().assign(target=lambda t: t["target"].map({"jump": 0, "run": 1, "walk": 2}).astype(float))
    result = run_baseline(ids, tmp_path / "e", estimator="knn", save_model=False)
    assert result["video"]["classes"] == ["0", "1", "2"] and result["video"]["metrics"]["accuracy"]["mean"] >= 0.9


def test_cli_baseline_regression(tmp_path: Path) -> None:
    path = tmp_path / "table.parquet"
    _numeric_table().to_parquet(path)
    result = CliRunner().invoke(app, ["baseline", str(path), "--task", "regression", "--estimator", "ridge",
                                      "--out", str(tmp_path / "run")])
    assert result.exit_code == 0, result.output
    assert "leave-one-group-out: MAE" in result.output and "R²" in result.output
    assert load_baseline(tmp_path / "run").task == "regression"
    bad = CliRunner().invoke(app, ["baseline", str(path), "--out", str(tmp_path / "x")])
    assert bad.exit_code == 2 and "--task regression" in bad.output and "Traceback" not in bad.output


def test_regression_recovers_the_speed_of_moving_videos(tmp_path: Path) -> None:
    """Known answer, end to end from mp4 files: textured views panning right at 0.5..6 px/frame;
    motion features + ridge regression, cross-validated, recover the speed."""
    import cv2

    from vidlearn.data.sources import load_records
    from vidlearn.io import write_video

    rng = np.random.default_rng(0)
    speeds = np.linspace(0.5, 6.0, 12)
    lines = ["path,target"]
    for i, v in enumerate(rng.permutation(speeds)):
        tex = cv2.GaussianBlur(rng.integers(0, 256, (64, 64 + 100, 3), dtype=np.uint8), (0, 0), 2.0)
        tex = cv2.normalize(tex, None, 0, 255, cv2.NORM_MINMAX)
        shifts = [np.float32([[1, 0, -v * t], [0, 1, 0]]) for t in range(16)]
        frames = np.stack([cv2.warpAffine(tex, m, (64 + 100, 64))[:, :64] for m in shifts])
        write_video(tmp_path / f"v{i}.mp4", frames, 16.0)
        lines.append(f"v{i}.mp4,{v * 16.0:.4f}")  # px/s
    (tmp_path / "speeds.csv").write_text("\n".join(lines) + "\n")
    out = tmp_path / "speed.parquet"
    compute_feature_table(load_records(tmp_path / "speeds.csv", task="regression"), ["motion"], fps=16.0,
                          short_side=64, out=out, workers=1, progress=False)
    assert pd.api.types.is_float_dtype(read_feature_table(out)["target"])
    result = run_baseline(out, tmp_path / "run", estimator="ridge", task="regression", cv="kfold:4",
                          columns="motion.flow_mag")
    assert result["pooled"]["r2"] > 0.9, result["pooled"]
    assert result["pooled"]["mae"] < 8.0  # px/s, over speeds of 8..96 px/s
    model = load_baseline(tmp_path / "run")
    assert model.feature_settings is not None and model.feature_settings["fps"] == 16.0

    # `vidlearn predict` on video files: features computed as for the table, values in px/s
    (tmp_path / "broken.mp4").write_bytes(b"not a video")
    manifest = pd.read_csv(tmp_path / "speeds.csv")
    res = CliRunner().invoke(app, ["predict", str(tmp_path / "run"), str(tmp_path / "v0.mp4"), "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "p.csv")
    assert list(got.columns) == ["path", "value"]
    assert got["value"].iloc[0] == pytest.approx(float(manifest["target"].iloc[0]), abs=8.0)
    preds, skipped = model.predict_videos([tmp_path / "v1.mp4", tmp_path / "broken.mp4"])
    assert [p.path for p in preds] == [str(tmp_path / "v1.mp4")] and preds[0].value is not None
    assert skipped and skipped[0][0] == str(tmp_path / "broken.mp4")
    timeline = CliRunner().invoke(app, ["predict", str(tmp_path / "run"), str(tmp_path / "v0.mp4"), "--timeline"])
    assert timeline.exit_code == 2 and "--timeline needs a deep model" in timeline.output

    # evaluate on the labelled videos: MAE in px/s, the scatter plot, bad files reported
    res = CliRunner().invoke(app, ["evaluate", str(tmp_path / "run"), str(tmp_path / "speeds.csv"), "--out", str(tmp_path / "ev"), "--quiet"])
    assert res.exit_code == 0, res.output
    metrics = json.loads((tmp_path / "ev" / "metrics.json").read_text())
    assert metrics["video"]["task"] == "regression" and metrics["video"]["n"] == 12 and metrics["video"]["mae"] < 8.0
    assert (tmp_path / "ev" / "scatter.png").is_file() and f"video MAE {metrics['video']['mae']:.3f}" in res.output


def test_cli_regression_from_videos_to_predictions(tmp_path: Path) -> None:
    """demo-data -> features --task regression -> baseline --task regression -> predict: the
    manifest's numeric target (speed) travels through the commands."""
    runner = CliRunner()
    from vidlearn.data.synthetic import generate_demo_dataset

    manifest = generate_demo_dataset(tmp_path / "d", classes=["right", "left"], videos_per_class=4, num_groups=2,
                                     size=32, duration=1.0, seed=2)
    table = tmp_path / "speed.parquet"
    res = runner.invoke(app, ["features", str(manifest), "--kind", "motion", "--fps", "8", "--size", "32",
                              "--workers", "1", "--task", "regression", "--quiet", "--out", str(table)])
    assert res.exit_code == 0, res.output
    frame = read_feature_table(table)
    assert pd.api.types.is_float_dtype(frame["target"]) and set(frame["label"]) == {"right", "left"}
    np.testing.assert_allclose(sorted(frame["target"]), sorted(pd.read_csv(manifest)["target"]), rtol=1e-6)
    res = runner.invoke(app, ["baseline", str(table), "--task", "regression", "--estimator", "rf", "--out", str(tmp_path / "run")])
    assert res.exit_code == 0, res.output
    assert "over 2 folds" in res.output and (tmp_path / "run" / "cv_scatter.png").is_file()
    video = next((tmp_path / "d" / "videos" / "right").iterdir())
    res = runner.invoke(app, ["predict", str(tmp_path / "run"), str(video)])
    assert res.exit_code == 0, res.output
    import re

    found = re.search(re.escape(str(video)) + r": ([-0-9.e+]+)\n", res.output)  # after the progress bar (stderr)
    assert found is not None and float(found.group(1)) > 0, res.output  # a speed in px/s


def _external_data_model(location: str, n_features: int) -> bytes:
    """An ONNX graph ``Y = X + W`` whose initializer W keeps its data in the file ``location``."""
    from onnx import TensorProto, helper, numpy_helper
    from onnx.external_data_helper import set_external_data

    w = numpy_helper.from_array(np.zeros((1, n_features), dtype=np.float64), name="W")
    set_external_data(w, location=location)
    w.ClearField("raw_data")
    w.data_location = TensorProto.EXTERNAL
    graph = helper.make_graph(
        [helper.make_node("Add", ["X", "W"], ["Y"])], "reads_a_file",
        [helper.make_tensor_value_info("X", TensorProto.DOUBLE, [None, n_features])],
        [helper.make_tensor_value_info("Y", TensorProto.DOUBLE, [None, n_features])], initializer=[w])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString()


def test_a_model_with_external_data_is_refused_before_onnxruntime_reads_the_file(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from vidlearn.predictors.onnx_models import onnx_session

    fitted = fit_baseline(_table(), estimator="knn").save(tmp_path / "model")
    n = len(json.loads((fitted / "baseline.json").read_text())["columns"])
    (fitted / "model.onnx").write_bytes(_external_data_model("secret.bin", n))
    monkeypatch.chdir(tmp_path)
    (tmp_path / "secret.bin").write_bytes(np.arange(n, dtype=np.float64).tobytes())
    with pytest.raises(ArtifactError, match=r"model\.onnx: .*'secret\.bin'.*external data"):
        load_baseline(fitted)
    with pytest.raises(ValueError, match="external data"):  # every session vidlearn opens checks it
        onnx_session(_external_data_model("secret.bin", n))


def test_saved_baseline_has_the_usual_file_modes(tmp_path: Path) -> None:
    import os
    import stat

    old = os.umask(0o022)
    try:
        path = fit_baseline(_table(), estimator="knn").save(tmp_path / "model")
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o755
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in path.iterdir()} == {"model.onnx": 0o644, "baseline.json": 0o644}


@pytest.mark.parametrize("classifier", ["svm", "logreg"])
def test_a_class_too_small_for_the_folds_is_one_line_naming_it(classifier: str, tmp_path: Path) -> None:
    """Two classes, one with a single video: the fold that tests it would train on one class
    (scikit-learn's traceback before); leave-one-group-out with a class all in one group, the same."""
    table = _table(groups=3, per=2, classes=["jump", "run"])
    one = pd.concat([table[table.target == "jump"], table[table.target == "run"].head(1)])
    with pytest.raises(ConfigError, match=r"class 'run' has too few videos for these folds \(1 video\(s\)\)") as err:
        run_baseline(one.assign(group=None), tmp_path / "a", estimator=classifier, cv="kfold:5")
    assert "\n" not in str(err.value) and "train on 'jump' alone" in str(err.value)
    grouped = table.assign(group=np.where(table.target == "run", "actor_r", table.group))
    with pytest.raises(ConfigError, match=r"class 'run' .* in 1 group \(actor_r\)"):
        run_baseline(grouped, tmp_path / "b", estimator=classifier, cv="leave-one-group-out")
    path = tmp_path / "one.parquet"
    one.assign(group=None).to_parquet(path)
    res = CliRunner().invoke(app, ["baseline", str(path), "--classifier", classifier, "--cv", "kfold:3", "--out", str(tmp_path / "c")])
    assert res.exit_code == 2 and "Traceback" not in res.output and "class 'run'" in res.output, res.output
    assert not (tmp_path / "a").exists()  # refused before any work
