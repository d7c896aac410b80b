"""Serve a saved model over HTTP (FastAPI): ``vidlearn serve RUN/model --port 8000``.

Endpoints (JSON answers; ``/openapi.json`` declares every body and answer, ``/docs`` is the
Swagger UI, served from the installed ``fastapi-offline`` package, so it works with no internet)::

    GET  /health                     {"status": "ok", "model", "task", "classes", "kind"}
    POST /predict?top_k=K&name=N     a video -> Prediction.to_dict()
    POST /timeline?stride=S&top_k=K  per-window predictions of a longer video (deep models)
    POST /segments?stride=S          a localization model's action segments: {"segments": [{"label",
                                     "start", "end", "score", "path"}, ...]}

The video comes either as the raw request body or as a multipart form's ``file`` field (what
``curl -F file=@v.mp4``, the Swagger UI's upload button and FastAPI's ``UploadFile`` send)::

    curl --data-binary @clip.mp4 -H "Content-Type: application/octet-stream" "http://localhost:8000/predict?top_k=3"
    curl -F file=@clip.mp4 "http://localhost:8000/predict?top_k=3"

It is spooled to a temporary file under a neutral name (the client's name never chooses how it
is read), checked to be a video container (`io.probe.check_container`) and within the work limits
(duration and frame count from its packets, before anything is decoded), decoded with the model's
own preprocessing, and deleted. Every limit (`ServeLimits`) is a ``vidlearn serve`` option and a
``VIDLEARN_SERVE_*`` variable: see docs/security.md. Answers: 400 a request that is not an
upload, 408 an upload that stalls, 413 too large or too long a video, 422 not a readable video (or
bad parameters), 503 the model busy past the queue's limits or the temporary disk full. The model
serves one request at a time; run several processes behind a load balancer to scale out.

Adding an endpoint: write a function ``(video: Path) -> answer`` and return
``await handle_upload(request, name, work)`` (the answer and the name to report) from the
handler, with ``responses=_REFUSALS`` and ``openapi_extra={"requestBody": _VIDEO_BODY}`` (see ``predict``).
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import Any

from fastapi import FastAPI, HTTPException, Query, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import UploadFile
from starlette.requests import ClientDisconnect

from vidlearn.deploy.serve_limits import (
    BodyGuard,
    Busy,
    ModelQueue,
    ServeLimits,
    UploadRefused,
    check_work,
    declared_too_large,
    header_timeout_protocol,
)
from vidlearn.errors import ConfigError, DivergedModelError, VidlearnError
from vidlearn.io.probe import check_container
from vidlearn.predictors import Predictor, load

__all__ = ["ServeLimits", "build_server", "create_app", "serve"]

DEFAULT_MAX_BYTES = ServeLimits.max_bytes
log = logging.getLogger("vidlearn.serve")
_COPY_CHUNK = 1024 * 1024


# ---- the answers, as /openapi.json declares them --------------------------------------------------

class Score(BaseModel):
    label: str
    score: float


class PredictionOut(BaseModel):
    """One prediction: a class with its score and the top-k (classification) or a value (regression);
    ``start``/``end`` (seconds) for a window of a timeline."""

    path: str
    start: float | None = None
    end: float | None = None
    label: str | None = None
    score: float | None = None
    top_k: list[Score] | None = None
    labels: list[Score] | None = None  # multilabel: every class over its threshold
    value: float | None = None


class TimelineOut(BaseModel):
    windows: list[PredictionOut]


class SegmentOut(BaseModel):
    """One action segment: its class, start and end (seconds) and score."""

    path: str
    label: str
    start: float
    end: float
    score: float


class SegmentsOut(BaseModel):
    segments: list[SegmentOut]


class HealthOut(BaseModel):
    status: str
    kind: str
    model: str
    task: str
    classes: list[str]


class Problem(BaseModel):
    """Why a request was refused."""

    detail: str


class ValidationProblem(BaseModel):
    """A refused request: the reason, or FastAPI's list of invalid parameters."""

    detail: str | list[dict[str, Any]]


_VIDEO_BODY = {
    "required": True,
    "description": "the video file: the raw body, or a multipart form's `file` field",
    "content": {
        "application/octet-stream": {"schema": {"type": "string", "format": "binary"}},
        "multipart/form-data": {"schema": {"type": "object", "required": ["file"],
                                           "properties": {"file": {"type": "string", "format": "binary"}}}},
    },
}
_REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": Problem, "description": "not an upload: an empty body, or a form without a `file`"},
    408: {"model": Problem, "description": "the upload stalled or took too long"},
    413: {"model": Problem, "description": "the video is too large, too long or has too many frames"},
    422: {"model": ValidationProblem, "description": "not a readable video, or invalid parameters"},
    500: {"model": Problem, "description": "the served model diverged in training (its outputs are not finite): retrain it"},
    503: {"model": Problem, "description": "the server is busy or cannot store the upload now; retry later"},
}
_NAME = Query(None, max_length=255, description="the file's name, echoed as `path` (never used to read the bytes)")
_TOP_K = Query(1, ge=1, le=100, description="how many classes to list")


def create_app(model_path: str | Path | Predictor, *, max_bytes: int | None = None, limits: ServeLimits | None = None) -> FastAPI:
    """The FastAPI application serving the model at ``model_path`` (loaded once, here), under
    ``limits`` (default: `ServeLimits.resolve()`, the defaults and ``VIDLEARN_SERVE_*``);
    ``max_bytes`` replaces its upload size limit."""
    try:
        import python_multipart  # noqa: F401  (multipart uploads)
        from fastapi_offline import FastAPIOffline  # /docs with local assets
    except ModuleNotFoundError as exc:
        raise ConfigError(f"serving needs the 'serve' extra ({exc.name} is missing): pip install 'vidlearn[serve]'") from None

    limits = limits or ServeLimits.resolve()
    if max_bytes is not None:
        limits = replace(limits, max_bytes=max_bytes)
    model = load(model_path, device="cpu") if isinstance(model_path, (str, Path)) else model_path  # or a loaded model
    queue = ModelQueue(limits)
    app = FastAPIOffline(title=f"vidlearn: {model.info['model']}", version=_version(), redoc_url=None)
    app.state.limits = limits

    async def handle_upload(request: Request, name: str | None, work: Callable[[Path], Any]) -> tuple[Any, str]:
        """The one path of every upload endpoint: spool the body (raw or multipart) to a temporary
        file, check it is a video within the limits, run ``work(video)`` on the model, delete it.
        Returns ``work``'s answer and the name to report (``name``, the form's file name, or "upload")."""
        video, name = await _spool(request, name, limits)
        try:
            answer = await run_in_threadpool(_guarded, video, name, lambda: queue.run(lambda: work(video)), limits)
        finally:
            video.unlink(missing_ok=True)
        return answer, name or "upload"

    @app.get("/health", response_model=HealthOut)
    def health() -> dict[str, Any]:
        return {"status": "ok", **model.info}

    @app.post("/predict", response_model=PredictionOut, response_model_exclude_none=True, responses=_REFUSALS,
              openapi_extra={"requestBody": _VIDEO_BODY})
    async def predict(request: Request, top_k: int = _TOP_K, name: str | None = _NAME) -> dict[str, Any]:
        """Predict one video."""
        out, shown = await handle_upload(request, name, lambda video: model.predict_video(video, top_k=top_k).to_dict())
        return out | {"path": shown}

    @app.post("/timeline", response_model=TimelineOut, response_model_exclude_none=True, responses=_REFUSALS,
              openapi_extra={"requestBody": _VIDEO_BODY})
    async def timeline(request: Request,
                       stride: float | None = Query(None, gt=0, le=3600, allow_inf_nan=False,
                                                    description="seconds between windows (default: one clip's length)"),
                       top_k: int = _TOP_K, name: str | None = _NAME) -> dict[str, Any]:
        """Predict a video window by window (deep models)."""
        windows, shown = await handle_upload(request, name, lambda video: [w.to_dict() for w in model.timeline(video, stride=stride, top_k=top_k)])
        return {"windows": [w | {"path": shown} for w in windows]}

    @app.post("/segments", response_model=SegmentsOut, responses=_REFUSALS, openapi_extra={"requestBody": _VIDEO_BODY})
    async def segments(request: Request,
                       stride: float | None = Query(None, gt=0, le=3600, allow_inf_nan=False,
                                                    description="seconds between windows (default: the model's)"),
                       name: str | None = _NAME) -> dict[str, Any]:
        """A localization model's action segments in a long video (start, end, label, score)."""
        found, shown = await handle_upload(request, name, lambda video: _segments(model, video, stride))
        return {"segments": [r | {"path": shown} for r in found]}

    @app.exception_handler(UploadRefused)
    async def refused(request: Request, exc: UploadRefused) -> JSONResponse:
        return JSONResponse({"detail": exc.detail}, status_code=exc.status, headers={"Connection": "close"})

    @app.exception_handler(Busy)
    async def busy(request: Request, exc: Busy) -> JSONResponse:
        return JSONResponse({"detail": str(exc)}, status_code=503, headers={"Retry-After": "5"})

    @app.exception_handler(ClientDisconnect)
    async def gone(request: Request, exc: ClientDisconnect) -> JSONResponse:
        client = f"{request.client.host}:{request.client.port}" if request.client else "a client"
        log.info("%s disconnected during the upload to %s; nothing was predicted", client, request.url.path)
        return JSONResponse({"detail": "the client disconnected"}, status_code=400)  # nobody reads it

    app.add_middleware(BodyGuard, limits=limits)
    app.state.handle_upload = handle_upload  # for endpoints added later
    return app


def _segments(model: Any, video: Path, stride: float | None) -> list[dict[str, Any]]:
    """The /segments answer: the rows of ``predictors.segments`` (a ConfigError for other tasks: 400)."""
    from vidlearn.predictors.segments import predictor_segments

    return predictor_segments(model, str(video), stride=stride).rows()


def _guarded(video: Path, name: str | None, run: Callable[[], Any], limits: ServeLimits) -> Any:
    """Check the spooled ``video`` (a video container, within the work limits) and ``run()``;
    a library error becomes its HTTP answer (400 a setting, 422 the video, 500 a diverged model)."""
    try:
        check_container(video)  # only a video container is ever read: no playlist, no image sequence
        check_work(video, limits)  # its length and frames, from the packets, before decoding
        return run()
    except DivergedModelError as exc:  # the served model's trouble, not the client's
        raise HTTPException(500, str(exc)) from None
    except ConfigError as exc:
        raise HTTPException(400, str(exc)) from None
    except VidlearnError as exc:
        raise HTTPException(422, f"{name or 'the video'}: {exc.reason}") from None


async def _spool(request: Request, name: str | None, limits: ServeLimits) -> tuple[Path, str | None]:
    """The upload in a temporary file (deleted by the caller), and the name to report: ``name``, or
    the multipart file's own name. The size and pace of the body are bounded by `BodyGuard`."""
    if (too_large := declared_too_large(request.headers, limits)) is not None:
        raise UploadRefused(413, too_large)
    try:
        tmp = tempfile.NamedTemporaryFile(prefix="vidlearn-serve-", suffix=".upload", delete=False)  # noqa: SIM115
    except OSError:
        raise HTTPException(503, "the server cannot store the upload now (its temporary disk is full or read-only)") from None
    size = 0
    try:
        with tmp:
            if request.headers.get("content-type", "").lower().startswith("multipart/form-data"):
                part = await _form_file(request)
                name = name or _client_name(part.filename)
                while chunk := await part.read(_COPY_CHUNK):
                    size += len(chunk)
                    tmp.write(chunk)
                await part.close()
            else:
                async for chunk in request.stream():
                    size += len(chunk)
                    tmp.write(chunk)
    except OSError:  # a full temporary disk while spooling: the server's trouble, not the client's
        Path(tmp.name).unlink(missing_ok=True)
        raise HTTPException(503, "the server cannot store the upload now (its temporary disk is full)") from None
    except BaseException:
        Path(tmp.name).unlink(missing_ok=True)
        raise
    if size == 0:
        Path(tmp.name).unlink(missing_ok=True)
        raise HTTPException(400, "empty upload: send the video file's bytes as the body, or as a multipart form's `file` field")
    return Path(tmp.name), name


async def _form_file(request: Request) -> UploadFile:
    """The one file of a multipart form: its ``file`` field, or its only file field."""
    form = await request.form(max_files=1, max_fields=8)
    files = [v for v in form.values() if isinstance(v, UploadFile)]
    part = form.get("file")
    if isinstance(part, UploadFile):
        return part
    if len(files) == 1:
        return files[0]
    raise HTTPException(400, "the multipart form has no file: send the video as its `file` field (curl -F file=@video.mp4)")


def _client_name(filename: str | None) -> str | None:
    """A multipart file name to echo back: its last path component, printable, at most 255 characters."""
    if not filename:
        return None
    base = filename.replace("\\", "/").rsplit("/", 1)[-1]
    clean = "".join(c for c in base if c.isprintable())[:255]
    return clean or None


def build_server(app: FastAPI, *, host: str = "127.0.0.1", port: int = 8000, limits: ServeLimits | None = None,
                 log_level: str = "info") -> Any:
    """A ``uvicorn.Server`` for ``app`` with the connection limits of ``limits`` (default: the
    app's): a header timeout, the cap on concurrent connections (past it 503) and logs that do not
    flood. ``server.run()`` serves until interrupted."""
    import uvicorn

    from vidlearn.deploy.serve_logging import limit_server_logs

    limits = limits or app.state.limits
    config = uvicorn.Config(app, host=host, port=port, log_level=log_level, http=header_timeout_protocol(limits.header_timeout),
                            limit_concurrency=limits.max_connections, timeout_keep_alive=5)
    limit_server_logs()
    return uvicorn.Server(config)


def serve(model_path: str | Path | Predictor, *, host: str = "127.0.0.1", port: int = 8000, max_bytes: int | None = None,
          limits: ServeLimits | None = None) -> None:
    """Run the HTTP server (uvicorn) until interrupted."""
    app = create_app(model_path, max_bytes=max_bytes, limits=limits)
    build_server(app, host=host, port=port).run()


def _version() -> str:
    from vidlearn.provenance import __version__

    return __version__
