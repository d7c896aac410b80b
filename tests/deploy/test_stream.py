"""Streams: a video arriving through a named pipe, standard input (pipe:0) or HTTP is predicted
window by window while it arrives, with the same windows and answers as the timeline of the file."""

from __future__ import annotations

import http.server
import os
import subprocess
import sys
import threading
from functools import partial
from pathlib import Path

import numpy as np
import pytest
import torch

from vidlearn.deploy.predict import run_predictions
from vidlearn.predictors.deep import DeepPredictor
from vidlearn.errors import ConfigError
from vidlearn.io import is_stream, write_video


@pytest.fixture()
def long_video(tmp_path: Path) -> Path:
    """6 s of a moving, changing pattern at 25 fps in Matroska (streamable: no index needed)."""
    rng = np.random.default_rng(0)
    base = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
    frames = np.stack([np.roll(base, 2 * t, axis=1) // (1 + (t // 50)) for t in range(150)])
    return write_video(tmp_path / "long.mkv", frames, 25.0)


def _same(got: list, want: list) -> None:
    assert len(got) == len(want) >= 8
    assert [round(p.start, 3) for p in got] == [round(p.start, 3) for p in want]
    assert [p.label for p in got] == [p.label for p in want]
    np.testing.assert_allclose([p.score for p in got], [p.score for p in want], atol=1e-5)


def test_a_named_pipe_is_predicted_while_it_is_still_being_written(make_artifact, long_video: Path, tmp_path: Path) -> None:
    art = make_artifact("r2plus1d_tiny")
    want = DeepPredictor.load(art, device=torch.device("cpu")).timeline(long_video)
    fifo = tmp_path / "camera.fifo"
    os.mkfifo(fifo)
    assert is_stream(fifo) and is_stream("rtsp://camera/1") and is_stream("pipe:0") and not is_stream(long_video)
    data = long_video.read_bytes()
    first_answer = threading.Event()
    waited: list[bool] = []

    def camera() -> None:  # writes half the video, then waits for an answer before the rest
        with open(fifo, "wb") as fh:
            fh.write(data[: len(data) // 2])
            fh.flush()
            waited.append(first_answer.wait(timeout=120))
            fh.write(data[len(data) // 2 :])

    writer = threading.Thread(target=camera, daemon=True)
    writer.start()
    got = []
    report = run_predictions(art, str(fifo), on_prediction=lambda p: (got.append(p), first_answer.set()))
    writer.join(timeout=60)
    assert waited == [True], "no window was predicted before the stream had ended"
    assert report.streamed and report.skipped == [] and report.predictions == got
    _same(got, want)


def test_standard_input_and_http_streams_through_the_cli(make_artifact, long_video: Path, tmp_path: Path) -> None:
    art = make_artifact("frame_cnn_small")
    want = DeepPredictor.load(art, device=torch.device("cpu")).timeline(long_video)
    with long_video.open("rb") as stdin:
        res = subprocess.run([sys.executable, "-m", "vidlearn.cli", "predict", str(art), "pipe:0", "--out", str(tmp_path / "p.csv")],
                             stdin=stdin, capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    lines = [ln for ln in res.stdout.splitlines() if ln.startswith("pipe:0 [")]
    assert len(lines) == len(want) and lines[0].startswith("pipe:0 [0.00-0.50s]: ")
    assert (tmp_path / "p.csv").read_text().count("\n") == len(want) + 1

    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(long_video.parent))
    http.server.SimpleHTTPRequestHandler.log_message = lambda *a, **k: None
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/{long_video.name}"
        report = run_predictions(art, url, on_prediction=lambda p: None)
    finally:
        server.shutdown()
    assert report.predictions[0].path == url  # the URL is kept as given (not turned into a path)
    _same(report.predictions, want)


def test_stream_errors_are_reported_not_raised(make_artifact, tmp_path: Path) -> None:
    art = make_artifact("frame_cnn_small")
    report = run_predictions(art, "http://127.0.0.1:9/nothing.mkv", on_prediction=lambda p: None)
    assert report.predictions == [] and report.skipped and "http://127.0.0.1:9/nothing.mkv" in report.skipped[0][0]
    import numpy as np
    import pandas as pd

    from vidlearn.training.baseline import fit_baseline

    rng = np.random.default_rng(0)
    table = pd.DataFrame({"path": [f"/v/{i}.mp4" for i in range(8)], "target": ["a", "b"] * 4,
                          **{f"color.c{j}.mean": rng.normal(size=8).astype(np.float32) for j in range(3)}})
    baseline = fit_baseline(table, estimator="logreg").save(tmp_path / "model")
    with pytest.raises(ConfigError, match="streams"):
        run_predictions(baseline, "rtsp://camera/1")
