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
from vidlearn.engine.baseline import CLASSIFIERS, fit_baseline, load_baseline, run_baseline, select_columns
from vidlearn.errors import ArtifactError, ConfigError
from vidlearn.features.table import compute_feature_table, read_feature_table

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
    result = run_baseline(table, tmp_path / "run", classifier=classifier, save_model=False)

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
    fitted = fit_baseline(train, classifier=classifier, pca=pca)
    path = fitted.save(tmp_path / "model")
    assert sorted(p.name for p in path.iterdir()) == ["baseline.json", "model.onnx"]
    assert not (path / "model.onnx").read_bytes().startswith(b"\x80")  # not a pickle

    loaded = load_baseline(path)
    assert loaded.classes == CLASSES and loaded.columns == fitted.columns and loaded.classifier == classifier
    np.testing.assert_allclose(loaded.scores(test), fitted.scores(test), rtol=1e-5, atol=1e-6)
    assert loaded.predict(test).tolist() == fitted.predict(test).tolist()
    assert (loaded.predict(test) == test["target"].to_numpy()).mean() >= 0.8
    # columns are found by name, whatever their order in the table
    shuffled = test[list(test.columns[::-1])]
    assert loaded.predict(shuffled).tolist() == loaded.predict(test).tolist()


def test_two_classes_round_trip(tmp_path: Path) -> None:
    table = _table(classes=["a", "b"])
    for classifier in CLASSIFIERS:
        fitted = fit_baseline(table, classifier=classifier)
        loaded = load_baseline(fitted.save(tmp_path / classifier))
        assert loaded.scores(table).shape == (len(table), 2)
        assert loaded.predict(table).tolist() == fitted.predict(table).tolist()


def test_run_saves_the_model_fitted_on_all_rows(tmp_path: Path) -> None:
    table = _table()
    result = run_baseline(table, tmp_path / "run", classifier="logreg", pca=4)
    model = load_baseline(tmp_path / "run")  # the run folder finds its model/
    assert Path(result["model"]) == tmp_path / "run" / "model"
    meta = json.loads((tmp_path / "run" / "model" / "baseline.json").read_text())
    assert meta["format"] == "vidlearn-baseline" and meta["pca"] == 4 and meta["classifier"] == "logreg"
    assert meta["cv"]["video"]["metrics"]["accuracy"]["mean"] == pytest.approx(result["video"]["metrics"]["accuracy"]["mean"])
    expected = fit_baseline(table, classifier="logreg", pca=4).predict(table)
    assert model.predict(table).tolist() == expected.tolist()


def test_columns_protocols_and_groups(tmp_path: Path) -> None:
    table = _table()
    assert len(select_columns(table)) == 14 and len(select_columns(table, "color")) == 6
    assert len(select_columns(table, ["color.c0", "motion"])) == 9
    with pytest.raises(ConfigError, match="texture"):
        select_columns(table, "texture")

    signal = run_baseline(table, tmp_path / "a", classifier="logreg", columns="color", save_model=False)
    noise = run_baseline(table, tmp_path / "b", classifier="logreg", columns="motion", save_model=False)
    assert signal["baseline"]["n_features"] == 6
    assert signal["video"]["metrics"]["accuracy"]["mean"] > noise["video"]["metrics"]["accuracy"]["mean"] + 0.3

    kfold = run_baseline(table, tmp_path / "c", classifier="knn", cv="kfold:2", save_model=False)
    assert kfold["protocol"] == "kfold:2" and kfold["video"]["n_folds"] == 2
    by_camera = run_baseline(table, tmp_path / "d", classifier="knn", group="camera", save_model=False)
    assert by_camera["folds"] == ["cam0", "cam1"]
    no_groups = run_baseline(table.drop(columns=["group"]), tmp_path / "e", classifier="knn", save_model=False)
    assert no_groups["protocol"] == "kfold:5"
    with pytest.raises(ConfigError, match="actor"):
        run_baseline(table, tmp_path / "f", group="actor")
    with pytest.raises(ConfigError, match="classifier"):
        run_baseline(table, tmp_path / "g", classifier="xgboost")


def test_load_errors_name_the_file(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        load_baseline(tmp_path / "nothing")
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "baseline.json").write_text("{not json")
    (tmp_path / "m" / "model.onnx").write_bytes(b"junk")
    with pytest.raises(ArtifactError, match="baseline.json"):
        load_baseline(tmp_path / "m")
    fitted = fit_baseline(_table(), classifier="knn").save(tmp_path / "ok")
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
    result = run_baseline(out, tmp_path / "run", classifier="logreg", columns="motion")
    assert result["folds"] == ["0", "1", "2", "3"]
    assert result["video"]["metrics"]["accuracy"]["mean"] >= 0.5  # 4 classes: chance is 0.25
    model = load_baseline(tmp_path / "run")
    assert (model.predict(table) == table["target"].to_numpy()).mean() == 1.0  # its own training rows
