"""Fixtures for the deployment tests: small saved artifacts of registered models (random weights,
outputs of order one) and a real clip. Helpers come as fixtures (test folders are not packages)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from vidlearn.config import ExperimentConfig
from vidlearn.predictors.artifact import save_artifact
from vidlearn.models import build_model

CLASSES = ["jump", "run", "walk"]


@pytest.fixture()
def make_artifact(tmp_path: Path) -> Callable[..., Path]:
    """``make_artifact(name, regression=False, diverged=False)``: a saved model with 4 frames of
    32 px at 8 fps, 2 test views; classes ``CLASSES`` or a regression target of mean 20 and std 5;
    ``diverged``: its first layer's weights are NaN, as training leaves a model that blew up."""

    def make(name: str, *, regression: bool = False, diverged: bool = False) -> Path:
        overrides = [f"model.name={name}", "sampling.num_frames=4", "transform.crop_size=32", "decode.short_side=40",
                     "decode.fps=8", "sampling.test_views=2"]
        if regression:
            overrides += ["task.kind=regression", "task.target_mean=20.0", "task.target_std=5.0"]
        cfg = ExperimentConfig().override(overrides)
        torch.manual_seed(0)
        model = build_model(name, num_classes=1 if regression else len(CLASSES))
        with torch.no_grad():  # outputs of order one, so that comparisons mean something
            for p in model.parameters():
                p.add_(0.05 * torch.randn_like(p))
            if diverged:
                next(model.parameters()).fill_(float("nan"))
        return save_artifact(tmp_path / f"{name}_model", model.eval(), cfg, [] if regression else CLASSES)

    return make


@pytest.fixture()
def real_clip(clips_dir: Path) -> Path:
    """A real mp4 from ../shared/data/clips (skips when the folder is absent)."""
    return sorted(p for p in clips_dir.iterdir() if p.suffix == ".mp4")[0]


@pytest.fixture()
def live_server():
    """``with live_server(app) as url:`` the app served by `vidlearn.deploy.serve.build_server`
    (the same uvicorn settings as ``vidlearn serve``) on 127.0.0.1 and a free port, in a thread."""
    import contextlib
    import socket
    import threading
    import time

    from vidlearn.deploy.serve import build_server

    @contextlib.contextmanager
    def run(app, **kwargs):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        server = build_server(app, host="127.0.0.1", port=port, log_level="info", **kwargs)
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        deadline = time.monotonic() + 30
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                pytest.fail("the test server did not start")
            time.sleep(0.05)
        try:
            yield f"http://127.0.0.1:{port}"
        finally:
            server.should_exit = True
            thread.join(timeout=30)

    return run
