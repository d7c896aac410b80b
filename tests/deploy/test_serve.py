"""HTTP serving: a real clip POSTed to /predict gets the Predictor's answer for the same file;
broken, empty and oversized uploads get 422/400/413 with the reason; /timeline gives windows;
baseline models are served too; `vidlearn serve` starts a real server."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
import torch
from fastapi.testclient import TestClient

from vidlearn.predictors.deep import DeepPredictor
from vidlearn.deploy.serve import create_app

CLASSES = ["jump", "run", "walk"]


def test_predict_a_posted_clip_like_the_predictor_does_for_the_file(make_artifact, real_clip: Path) -> None:
    art = make_artifact("r2plus1d_tiny")
    client = TestClient(create_app(art))
    health = client.get("/health").json()
    assert health == {"status": "ok", "kind": "deep", "model": "r2plus1d_tiny", "task": "classification", "classes": CLASSES}

    res = client.post("/predict", params={"top_k": 2, "name": real_clip.name}, content=real_clip.read_bytes())
    assert res.status_code == 200, res.text
    got = res.json()
    want = DeepPredictor.load(art, device=torch.device("cpu")).predict_video(real_clip, top_k=2)
    assert got["path"] == real_clip.name and got["label"] == want.label
    assert [t["label"] for t in got["top_k"]] == [c for c, _ in want.top_k]
    np.testing.assert_allclose([t["score"] for t in got["top_k"]], [s for _, s in want.top_k], atol=1e-6)

    windows = client.post("/timeline", params={"stride": 1.0, "name": real_clip.name}, content=real_clip.read_bytes())
    assert windows.status_code == 200, windows.text
    starts = [w["start"] for w in windows.json()["windows"]]
    assert len(starts) >= 2 and starts == sorted(starts) and all(w["label"] in CLASSES for w in windows.json()["windows"])


def test_bad_uploads_get_the_reason_and_leave_no_temporary_file(make_artifact, real_clip: Path, tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    client = TestClient(create_app(make_artifact("frame_cnn_small"), max_bytes=10_000))
    broken = client.post("/predict", params={"name": "broken.mp4"}, content=b"\x00" * 5000)
    assert broken.status_code == 422 and "broken.mp4" in broken.json()["detail"]
    empty = client.post("/predict", content=b"")
    assert empty.status_code == 400 and "empty upload" in empty.json()["detail"]
    big = client.post("/predict", params={"name": real_clip.name}, content=real_clip.read_bytes())
    assert big.status_code == 413 and "10000" in big.json()["detail"]
    assert client.post("/predict", params={"top_k": 0}, content=b"x").status_code == 422  # validated query
    assert not list(tmp_path.glob("vidlearn-serve-*")), "uploads must be deleted after the answer"


def test_a_baseline_model_is_served_too(real_clip: Path, clips_dir: Path, tmp_path: Path) -> None:
    from vidlearn.data.records import VideoRecord
    from vidlearn.predictors import load_baseline
    from vidlearn.training.baseline import run_baseline
    from vidlearn.tables.table import compute_feature_table

    videos = sorted(p for p in clips_dir.iterdir() if p.suffix in (".mp4", ".mkv"))[:4]
    records = [VideoRecord(path=v, target=["a", "b"][i % 2]) for i, v in enumerate(videos)]
    compute_feature_table(records, ["color"], fps=2.0, short_side=64, out=tmp_path / "t.parquet", workers=1, progress=False)
    run_baseline(pd.read_parquet(tmp_path / "t.parquet").assign(group=None), tmp_path / "run", estimator="knn",
                 cv="kfold:2", options={"n_neighbors": 1})
    model_dir = tmp_path / "run" / "model"
    # the run was given a DataFrame without settings: the model cannot compute features itself
    client = TestClient(create_app(model_dir))
    assert client.get("/health").json()["kind"] == "baseline"
    res = client.post("/predict", params={"name": real_clip.name}, content=real_clip.read_bytes())
    assert res.status_code == 422 and "feature" in res.json()["detail"]

    run_baseline(tmp_path / "t.parquet", tmp_path / "run2", estimator="knn", cv="kfold:2", options={"n_neighbors": 1})
    client = TestClient(create_app(tmp_path / "run2"))
    res = client.post("/predict", params={"name": real_clip.name}, content=real_clip.read_bytes())
    assert res.status_code == 200, res.text
    preds, _ = load_baseline(tmp_path / "run2").predict_videos([real_clip])
    assert res.json()["label"] == preds[0].label
    assert client.post("/timeline", content=real_clip.read_bytes()).status_code == 400


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_cli_serve_answers_over_a_real_socket(make_artifact, real_clip: Path) -> None:
    art = make_artifact("r2plus1d_tiny")
    port = _free_port()
    proc = subprocess.Popen([sys.executable, "-m", "vidlearn.cli", "serve", str(art), "--port", str(port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        deadline = time.time() + 120
        while True:
            try:
                health = httpx.get(f"http://127.0.0.1:{port}/health", timeout=2)
                break
            except httpx.TransportError:
                if proc.poll() is not None or time.time() > deadline:
                    pytest.fail(f"the server did not start: {proc.stdout.read().decode() if proc.stdout else ''}")
                time.sleep(0.25)
        assert health.json()["model"] == "r2plus1d_tiny"
        res = httpx.post(f"http://127.0.0.1:{port}/predict", params={"name": real_clip.name},
                         content=real_clip.read_bytes(), timeout=60)
        assert res.status_code == 200 and res.json()["label"] in CLASSES
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_an_upload_is_only_ever_read_as_a_video_container(make_artifact, real_clip: Path, tmp_path: Path) -> None:
    """An HLS playlist naming a file on the server is refused the same way whether that file
    exists or not (a client cannot probe the server's disk), whatever name the client gives."""
    client = TestClient(create_app(make_artifact("frame_cnn_small")))
    answers = []
    for target in (real_clip, tmp_path / "missing.mp4"):
        playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{target}\n#EXT-X-ENDLIST\n".encode()
        for name in ("pl.m3u8", None):
            r = client.post("/predict", content=playlist, params={"name": name} if name else {})
            answers.append((r.status_code, r.json()["detail"].split(": ", 1)[-1]))
            assert str(tmp_path) not in r.text and "vidlearn-serve-" not in r.text  # no server path in the answer
    assert {a for a in answers} == {(422, answers[0][1])}, answers
    assert "not a video in an accepted container" in answers[0][1]
    # a real clip under any client name is still read
    r = client.post("/predict", content=real_clip.read_bytes(), params={"name": "x.m3u8"})
    assert r.status_code == 200, r.text


def test_odd_parameters_and_a_full_temp_disk_get_4xx_or_503_never_500(make_artifact, real_clip: Path, monkeypatch) -> None:
    import errno

    import vidlearn.deploy.serve as serve_mod

    client = TestClient(create_app(make_artifact("frame_cnn_small")), raise_server_exceptions=False)
    body = real_clip.read_bytes()
    for stride in ("inf", "1e308", "nan", "0"):
        r = client.post("/timeline", content=body, params={"stride": stride})
        assert r.status_code == 422, (stride, r.status_code, r.text)
    for name in ("a\x00b.mp4", "v." + "x" * 300):
        r = client.post("/predict", content=body, params={"name": name})
        assert r.status_code in (200, 400, 422), (name, r.status_code)

    class Full:
        def __init__(self, *a, **k):
            raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(serve_mod.tempfile, "NamedTemporaryFile", Full)
    r = client.post("/predict", content=body)
    assert r.status_code == 503 and "temporary disk" in r.json()["detail"] and "/tmp" not in r.text
