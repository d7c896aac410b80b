"""Ray: the feature table and batch predictions computed on a (local) Ray cluster equal the ones
computed without it, bad videos are skipped and reported the same way, and a bad address is a
clear error."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.data.synthetic import generate_demo_dataset, write_bad_videos
from vidlearn.predictors.artifact import save_artifact
from vidlearn.predictors.deep import DeepPredictor
from vidlearn.tables.table import compute_feature_table, read_feature_table
from vidlearn.models import build_model

ray = pytest.importorskip("ray")


@pytest.fixture(scope="module")
def local_ray():
    """One local Ray instance (2 CPUs) for the module: starting Ray takes a few seconds."""
    from vidlearn.scale import connect

    ray.shutdown()
    connect("local")
    yield
    ray.shutdown()


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[Path]:
    out = tmp_path_factory.mktemp("scale")
    manifest = generate_demo_dataset(out / "d", classes=["left", "grow"], videos_per_class=3, num_groups=1, size=32, duration=1.0)
    good = sorted((manifest.parent / "videos").rglob("*.mp4"))
    return good + [write_bad_videos(out / "bad")["notavideo"]]


def test_feature_table_on_ray_equals_the_local_one(local_ray, videos: list[Path], tmp_path: Path) -> None:
    records = [VideoRecord(path=v) for v in videos]
    here = compute_feature_table(records, ["color", "motion"], fps=8.0, short_side=32, out=tmp_path / "here.parquet",
                                 workers=1, progress=False)
    there = compute_feature_table(records, ["color", "motion"], fps=8.0, short_side=32, out=tmp_path / "ray.parquet",
                                  workers=1, progress=False, ray="local")
    assert list(there["path"]) == list(here["path"]) and len(here) == len(videos) - 1
    cols = here.attrs["vidlearn"]["feature_columns"]
    np.testing.assert_allclose(there[cols].to_numpy(), here[cols].to_numpy(), rtol=1e-6, atol=1e-7)  # float32 rounding
    assert [s["path"] for s in there.attrs["vidlearn"]["skipped"]] == [str(videos[-1])]
    assert read_feature_table(tmp_path / "ray.parquet").attrs["vidlearn"]["settings"]["fps"] == 8.0


@pytest.mark.long
def test_batch_predictions_on_ray_equal_the_local_ones(local_ray, videos: list[Path], tmp_path: Path) -> None:
    cfg = ExperimentConfig().override(["model.name=r2plus1d_tiny", "sampling.num_frames=4", "transform.crop_size=32",
                                       "decode.short_side=32", "decode.fps=8", "sampling.test_views=2"])
    torch.manual_seed(0)
    art = save_artifact(tmp_path / "model", build_model("r2plus1d_tiny", num_classes=2).eval(), cfg, ["grow", "left"])
    want, want_skipped = DeepPredictor.load(art, device=torch.device("cpu")).predict(videos, top_k=2)

    res = CliRunner().invoke(app, ["predict", str(art), str(videos[0].parent.parent), "--top-k", "2", "--ray", "local",
                                   "--out", str(tmp_path / "p.csv")])
    assert res.exit_code == 0, res.output
    got = pd.read_csv(tmp_path / "p.csv")
    by_path = {p.path: p for p in want}
    assert len(got) == len(want) and set(got["path"]) == set(by_path)
    for row in got.itertuples():
        assert row.label == by_path[row.path].label
        assert row.score == pytest.approx(by_path[row.path].score, abs=1e-5)

    preds, skipped = DeepPredictor.load(art).predict(videos, top_k=1, ray="local")
    assert [p.path for p in preds] == [p.path for p in want]  # input order, bad file left out
    assert [s[0] for s in skipped] == [s[0] for s in want_skipped] == [str(videos[-1])]

    # a diverged model stops the batch on Ray as it does locally, naming the model
    from vidlearn.errors import DivergedModelError

    diverged = build_model("r2plus1d_tiny", num_classes=2).eval()
    with torch.no_grad():
        next(diverged.parameters()).fill_(float("nan"))
    bad = save_artifact(tmp_path / "diverged", diverged, cfg, ["grow", "left"])
    with pytest.raises(DivergedModelError, match="diverged"):
        DeepPredictor.load(bad).predict(videos, ray="local")


def test_a_bad_ray_address_is_a_clear_error() -> None:
    from vidlearn.errors import ConfigError
    from vidlearn.scale import connect

    ray.shutdown()
    with pytest.raises(ConfigError, match="--ray"):
        connect("ray://127.0.0.1:9")
