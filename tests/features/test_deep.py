"""Deep embeddings: the pretrained EfficientNet-Lite0 per frame (named columns, real clips give finite
1280-d embeddings that know frames of one clip from another clip) and a trained model artifact's
embedding, both usable as feature-table kinds."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.data.sources import load_records
from vidlearn.predictors.artifact import save_artifact
from vidlearn.errors import ArtifactError, ConfigError
from vidlearn.features import build_extractors
from vidlearn.features.deep import EffNetEmbedding, preprocess_frames
from vidlearn.predictors.embed import ArtifactEmbedding
from vidlearn.tables.table import compute_feature_table, feature_columns
from vidlearn.io import decode_clip, write_video
from vidlearn.models import build_model


def _cosine_distance(a: np.ndarray, b: np.ndarray) -> float:
    return float(1.0 - a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


@pytest.fixture(scope="module")
def effnet() -> EffNetEmbedding:
    return EffNetEmbedding()


def test_columns_are_named_and_pooled_mean_std() -> None:
    cols = EffNetEmbedding().columns
    assert len(cols) == 2 * 1280
    assert cols[:3] == ["deep.effnet_f0000.mean", "deep.effnet_f0000.std", "deep.effnet_f0001.mean"]
    assert cols[-1] == "deep.effnet_f1279.std"
    assert EffNetEmbedding(stats=["mean"]).columns[1] == "deep.effnet_f0001.mean"
    # the kind "deep" is one of the registered families, with its own parameters
    (ex,) = build_extractors(["deep"], image_size=160)
    assert isinstance(ex, EffNetEmbedding) and ex.image_size == 160
    with pytest.raises(ConfigError, match="image_size"):
        EffNetEmbedding(image_size=8)


def test_preprocessing_resizes_the_short_side_and_centre_crops() -> None:
    frames = np.zeros((3, 40, 80, 3), dtype=np.uint8)
    frames[:, :, 30:50] = 255  # a white band in the middle of a wide frame
    x = preprocess_frames(frames, image_size=64)
    assert tuple(x.shape) == (3, 3, 64, 64)
    assert float(x.min()) == pytest.approx(-1.0) and float(x.max()) == pytest.approx(1.0)
    # centre crop: the band (x 30..50 of 80 -> 48..80 of 128 -> 16..48 of the 64 crop) sits in the middle
    row = x[0, 0, 32].numpy()
    assert row[32] == pytest.approx(1.0) and row[2] == pytest.approx(-1.0) and row[61] == pytest.approx(-1.0)


def test_real_clip_embeddings_have_the_right_size_and_are_finite(weizmann_dir: Path, effnet: EffNetEmbedding) -> None:
    records = load_records(weizmann_dir / "manifest.csv", group="actor")
    _, frames = decode_clip(records[0].path, fps=10, short_side=64)
    frames = frames[:6]
    per_frame = effnet.frame_embeddings(frames)
    assert per_frame.shape == (6, 1280) and per_frame.dtype == np.float32
    assert np.isfinite(per_frame).all() and (per_frame > 0).any()
    pooled = effnet(frames)
    assert pooled.shape == (len(effnet.columns),) and np.isfinite(pooled).all()
    np.testing.assert_allclose(pooled[0::2], per_frame.mean(0), rtol=1e-5, atol=1e-6)


def test_frames_of_one_clip_are_closer_than_frames_of_two_clips(weizmann_dir: Path, effnet: EffNetEmbedding) -> None:
    records = load_records(weizmann_dir / "manifest.csv", group="actor")
    by_name = {Path(r.path).stem: r for r in records}
    for a, b in [("actor0_bend", "actor8_wave2"), ("actor4_jack", "actor1_wave1")]:
        _, fa = decode_clip(by_name[a].path, fps=10, short_side=64)
        _, fb = decode_clip(by_name[b].path, fps=10, short_side=64)
        ea = effnet.frame_embeddings(fa[[2, 3]])
        eb = effnet.frame_embeddings(fb[[2]])
        same = _cosine_distance(ea[0], ea[1])
        other = _cosine_distance(ea[0], eb[0])
        assert same < other, f"{a}: same-clip distance {same:.3f} not below {other:.3f} to {b}"


@pytest.fixture(scope="module")
def artifact(tmp_path_factory: pytest.TempPathFactory) -> Path:
    cfg = ExperimentConfig().override([
        "model.name=frame_cnn_small", "model.options={width: 4}", "sampling.num_frames=4",
        "sampling.test_views=2", "decode.fps=8", "decode.short_side=32", "transform.crop_size=32",
    ])
    model = build_model("frame_cnn_small", num_classes=2, width=4)
    return save_artifact(tmp_path_factory.mktemp("art") / "model", model, cfg, ["a", "b"])


@pytest.fixture(scope="module")
def clip(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rng = np.random.default_rng(0)
    frames = rng.integers(0, 255, (12, 36, 48, 3), dtype=np.uint8)
    return write_video(tmp_path_factory.mktemp("clip") / "clip.mp4", frames, fps=8)


def test_artifact_embedding_is_the_models_feature_averaged_over_views(artifact: Path, clip: Path) -> None:
    emb = ArtifactEmbedding(artifact)
    assert emb.num_features == 4 * 8  # frame_cnn_small(width=4): its last stage has width * 8 channels
    assert emb.columns[0] == "deep.model_f0000" and len(emb.columns) == emb.num_features
    vec = emb.embed_video(clip)
    assert vec.shape == (emb.num_features,) and np.isfinite(vec).all()
    views = emb.predictor.clip_tensor(clip)
    expected = emb.predictor.model.forward_features(views).mean(0).detach().numpy()
    np.testing.assert_allclose(vec, expected, rtol=1e-5, atol=1e-6)


def test_deep_kinds_in_a_feature_table(artifact: Path, clip: Path, tmp_path: Path) -> None:
    records = [VideoRecord(path=clip, target="a"), VideoRecord(path=tmp_path / "gone.mp4", target="b")]
    table = compute_feature_table(records, ["color", "deep", f"deep:{artifact}"], out=tmp_path / "f.parquet",
                                  fps=8.0, short_side=32, workers=1, progress=False, image_size=64)
    cols = feature_columns(table)
    assert cols[0].startswith("color.") and "deep.effnet_f1279.std" in cols and cols[-1].startswith("deep.model_f")
    assert len(table) == 1 and np.isfinite(table[cols].to_numpy()).all()
    assert [s["reason"] for s in table.attrs["vidlearn"]["skipped"]] == ["file does not exist"]
    with pytest.raises(ArtifactError):
        compute_feature_table(records, [f"deep:{tmp_path / 'nothing'}"], out=tmp_path / "g.parquet", progress=False)
