"""A model whose weights diverged in training (NaN outputs) is refused in one line that names the
model and the fix, wherever it is used: predict (the batch stops instead of printing NaN scores
for every video), the timeline and the HTTP service (500: the server's model, not the client's
upload)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from fastapi.testclient import TestClient

from vidlearn.deploy.predict import run_predictions
from vidlearn.deploy.serve import create_app
from vidlearn.errors import DivergedModelError
from vidlearn.predictors.deep import DeepPredictor


def test_a_diverged_model_is_refused_in_one_line_not_scored_nan(make_artifact, real_clip: Path, clips_dir: Path) -> None:
    healthy = DeepPredictor.load(make_artifact("r3d_tiny"), device=torch.device("cpu"))
    preds, skipped = healthy.predict([real_clip])
    assert len(preds) == 1 and not skipped  # the same architecture with finite weights predicts

    art = make_artifact("r3d_tiny", diverged=True)
    model = DeepPredictor.load(art, device=torch.device("cpu"))
    with pytest.raises(DivergedModelError) as err:
        model.predict([real_clip, real_clip])
    msg = str(err.value)
    assert "\n" not in msg and str(art) in msg and "diverged" in msg and "optim.lr" in msg
    with pytest.raises(DivergedModelError):
        model.timeline(real_clip, stride=1.0)
    with pytest.raises(DivergedModelError):  # the batch command stops at the first video, nothing half-written
        run_predictions(art, clips_dir, progress=False)

    res = TestClient(create_app(art)).post("/predict", params={"name": real_clip.name}, content=real_clip.read_bytes())
    assert res.status_code == 500 and "diverged" in res.json()["detail"]
