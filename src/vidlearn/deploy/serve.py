"""Serve a saved model over HTTP (FastAPI): ``vidlearn serve RUN/model --port 8000``.

Endpoints (JSON answers)::

    GET  /health                   {"status": "ok", "model", "task", "classes", "kind"}
    POST /predict?top_k=K&name=N   body: the video file's bytes (any container PyAV reads; N, the
                                   file name, only gives the suffix) -> Prediction.to_dict()
    POST /timeline?stride=S&top_k=K  per-window predictions of a long video (deep models)

    curl --data-binary @clip.mp4 -H "Content-Type: application/octet-stream" \\
         "http://localhost:8000/predict?top_k=3&name=clip.mp4"

The body is the raw file (no multipart form, so no extra parser is needed); it is spooled to a
temporary file, decoded with the model's own preprocessing and deleted. A video that cannot be
read answers 422 with the reason; a body over ``max_bytes`` answers 413. Works for deep model
artifacts and for classical baseline models (features computed as for their training table).
Requests are served one at a time per process (the model is not shared between threads);
run several processes behind a load balancer to scale out.
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from starlette.concurrency import run_in_threadpool

from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.io.probe import check_container
from vidlearn.predictors import load

__all__ = ["create_app", "serve"]

DEFAULT_MAX_BYTES = 512 * 1024 * 1024


def create_app(model_path: str | Path, *, max_bytes: int = DEFAULT_MAX_BYTES) -> FastAPI:
    """The FastAPI application serving the model at ``model_path`` (loaded once, here)."""
    model = load(model_path, device="cpu") if isinstance(model_path, (str, Path)) else model_path  # or a loaded model
    lock = threading.Lock()  # one request at a time on the model
    app = FastAPI(title=f"vidlearn: {model.info['model']}", version=_version())

    async def _spool(request: Request, name: str | None) -> Path:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_bytes:
            raise HTTPException(413, f"the video is {int(declared)} bytes; this server takes at most {max_bytes}")
        # the client's name never chooses how the bytes are read: FFmpeg picks a demuxer by probing
        # them, and only among video containers (check_container, before anything is decoded)
        try:
            tmp = tempfile.NamedTemporaryFile(prefix="vidlearn-serve-", suffix=".upload", delete=False)  # noqa: SIM115
        except OSError:
            raise HTTPException(503, "the server cannot store the upload now (its temporary disk is full or read-only)") from None
        size = 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > max_bytes:
                    raise HTTPException(413, f"the video is over {max_bytes} bytes, the most this server takes")
                tmp.write(chunk)
            tmp.close()
        except OSError:  # a full temporary disk while spooling: the server's trouble, not the client's
            tmp.close()
            Path(tmp.name).unlink(missing_ok=True)
            raise HTTPException(503, "the server cannot store the upload now (its temporary disk is full)") from None
        except BaseException:
            tmp.close()
            Path(tmp.name).unlink(missing_ok=True)
            raise
        if size == 0:
            Path(tmp.name).unlink(missing_ok=True)
            raise HTTPException(400, "empty body: send the video file's bytes as the request body")
        return Path(tmp.name)

    def _answer(fn: Any, video: Path, name: str | None) -> Any:
        try:
            return fn()
        except ConfigError as exc:
            raise HTTPException(400, str(exc)) from None
        except VidlearnError as exc:
            reason = exc.reason
            raise HTTPException(422, f"{name or 'the video'}: {reason}") from None
        finally:
            video.unlink(missing_ok=True)

    def _predict(video: Path, top_k: int) -> dict[str, Any]:
        check_container(video)  # only a video container is ever read: no playlist, no image sequence
        return model.predict_video(video, top_k=top_k).to_dict()

    def _timeline(video: Path, stride: float | None, top_k: int) -> list[dict[str, Any]]:
        check_container(video)
        return [w.to_dict() for w in model.timeline(video, stride=stride, top_k=top_k)]

    @app.get("/health")
    def health() -> dict[str, Any]:
        return {"status": "ok", **model.info}

    @app.post("/predict")
    async def predict(request: Request, top_k: int = Query(1, ge=1, le=100), name: str | None = None) -> dict[str, Any]:
        video = await _spool(request, name)
        out = await run_in_threadpool(_answer, lambda: _locked(lock, lambda: _predict(video, top_k)), video, name)
        out["path"] = name or "upload"
        return out

    @app.post("/timeline")
    async def timeline(request: Request, stride: float | None = Query(None, gt=0, le=3600, allow_inf_nan=False), top_k: int = Query(1, ge=1, le=100),
                       name: str | None = None) -> dict[str, Any]:
        video = await _spool(request, name)
        windows = await run_in_threadpool(_answer, lambda: _locked(lock, lambda: _timeline(video, stride, top_k)), video, name)
        for w in windows:
            w["path"] = name or "upload"
        return {"windows": windows}

    return app


def serve(model_path: str | Path, *, host: str = "127.0.0.1", port: int = 8000,
          max_bytes: int = DEFAULT_MAX_BYTES) -> None:
    """Run the HTTP server (uvicorn) until interrupted."""
    import uvicorn

    uvicorn.run(create_app(model_path, max_bytes=max_bytes), host=host, port=port, log_level="info")


def _locked(lock: threading.Lock, fn: Any) -> Any:
    with lock:
        return fn()


def _version() -> str:
    from vidlearn.provenance import __version__

    return __version__
