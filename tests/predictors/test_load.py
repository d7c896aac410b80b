"""`vidlearn.load(path)` gives one Predictor contract for any saved model: a classical baseline
predicts a video file exactly as a deep model does, and neither caller asks which kind it holds."""

from __future__ import annotations

from pathlib import Path

import pytest

import vidlearn
from vidlearn.data.sources import load_records
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.errors import ArtifactError, ConfigError
from vidlearn.predictors import ClassicalPredictor, Predictor
from vidlearn.tables import compute_feature_table
from vidlearn.training.baseline import fit_baseline


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("load")
    return generate_demo_dataset(out, classes=["left", "right"], videos_per_class=4, num_groups=2, size=32, duration=1.0, seed=5)


def test_load_returns_a_predictor_for_a_baseline_that_predicts_a_video_file(videos: Path, tmp_path: Path) -> None:
    records = load_records(videos)
    table = compute_feature_table(records, ["motion"], fps=10.0, short_side=32, out=tmp_path / "f.parquet", workers=1, progress=False)
    fitted = fit_baseline(table, estimator="logreg")
    saved = fitted.save(tmp_path / "model")

    model = vidlearn.load(saved)
    assert isinstance(model, ClassicalPredictor) and isinstance(model, Predictor)
    assert model.kind == "baseline" and model.task == "classification" and model.class_names == ["left", "right"]
    video = records[0].path
    pred = model.predict_video(video, top_k=2)
    # the same answer as the fitted pipeline gives for that video's row of the training table
    assert pred.label == fitted.predict(table.iloc[:1])[0]
    assert [c for c, _ in pred.top_k] == sorted(["left", "right"], key=lambda c: -dict(pred.top_k)[c])
    preds, skipped = model.predict([video, tmp_path / "missing.mp4"])
    assert [p.label for p in preds] == [pred.label] and skipped[0][0] == str(tmp_path / "missing.mp4")
    with pytest.raises(ConfigError, match="--timeline needs a deep model"):
        model.timeline(video)


def test_load_names_a_path_that_is_no_model(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    with pytest.raises(ArtifactError, match="notes"):
        vidlearn.load(tmp_path / "notes")
