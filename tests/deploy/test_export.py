"""ONNX export of trained artifacts: onnxruntime on the exported file gives what the Predictor gives
(probabilities, or values in the target's units) on real decoded clips; the file carries what is
needed to feed it; bad requests are refused with the reason."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import onnxruntime as ort
import pytest
import torch
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.config import ExperimentConfig
from vidlearn.deploy.export import export_onnx, onnx_metadata
from vidlearn.predictors.deep import DeepPredictor
from vidlearn.errors import ConfigError

CLASSES = ["jump", "run", "walk"]


@pytest.mark.parametrize("name", ["r2plus1d_tiny", "frame_cnn_small"])
def test_exported_model_gives_the_predictors_probabilities_on_a_real_clip(name: str, tmp_path: Path, make_artifact, real_clip: Path) -> None:
    art = make_artifact(name)
    result = export_onnx(art, tmp_path / "model.onnx")
    assert result.path.is_file() and result.output_name == "probabilities" and result.max_abs_diff <= 1e-4

    predictor = DeepPredictor.load(art, device=torch.device("cpu"))
    clips = predictor.clip_tensor(real_clip)  # (views, 3, T, H, W), the training preprocessing
    assert clips.shape == (2, 3, 4, 32, 32)
    session = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"video": clips.numpy()})
    np.testing.assert_allclose(got, predictor.outputs(clips), atol=1e-5)
    assert np.allclose(got.sum(axis=1), 1.0, atol=1e-5)

    meta = onnx_metadata(result.path)
    assert meta["task"] == "classification" and meta["classes"] == CLASSES and meta["model"] == name
    assert meta["input"]["shape"] == ["batch", 3, 4, 32, 32] and meta["input"]["mean"] == [0.45, 0.45, 0.45]
    assert meta["sampling"]["fps"] == 8.0 and meta["sampling"]["short_side"] == 40
    assert ExperimentConfig.from_dict(meta["config"]) == predictor.config


def test_exported_regression_model_gives_values_in_target_units(tmp_path: Path, make_artifact, real_clip: Path) -> None:
    art = make_artifact("r3d_tiny", regression=True)
    result = export_onnx(art, tmp_path / "speed.onnx")
    predictor = DeepPredictor.load(art, device=torch.device("cpu"))
    clips = predictor.clip_tensor(real_clip)
    (got,) = ort.InferenceSession(str(result.path), providers=["CPUExecutionProvider"]).run(None, {"video": clips.numpy()})
    assert result.output_name == "value" and got.shape == (2,)
    np.testing.assert_allclose(got, predictor.outputs(clips).reshape(-1), rtol=1e-5, atol=1e-4)
    assert onnx_metadata(result.path)["task"] == "regression"


def test_cli_export_and_refusals(tmp_path: Path, make_artifact) -> None:
    art = make_artifact("x3d_tiny")
    res = CliRunner().invoke(app, ["export", str(art), "--out", str(tmp_path / "out" / "x3d.onnx")])
    assert res.exit_code == 0, res.output
    assert "onnxruntime matches PyTorch" in res.output and (tmp_path / "out" / "x3d.onnx").is_file()
    with pytest.raises(ConfigError, match=r"\.onnx"):
        export_onnx(art, tmp_path / "model.bin")
    bad = CliRunner().invoke(app, ["export", str(tmp_path / "missing"), "--out", str(tmp_path / "m.onnx")])
    assert bad.exit_code != 0 and "missing" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "m.onnx").exists()
