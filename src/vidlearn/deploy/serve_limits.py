"""The HTTP service's limits and the pieces that enforce them.

- :class:`ServeLimits`: every limit, with its default, its ``vidlearn serve`` option and its
  environment variable (``VIDLEARN_SERVE_<FIELD>``, e.g. ``VIDLEARN_SERVE_MAX_SECONDS=120``).
- :class:`BodyGuard`: ASGI middleware bounding how an upload arrives: the longest silence between
  two pieces of the body (``read_timeout``), the whole upload (``upload_timeout``) and its size
  (``max_bytes``), for raw and multipart bodies alike. A breach raises :class:`UploadRefused`
  from ``receive()``, which the service answers (408 or 413, the connection closed).
- :func:`header_timeout_protocol`: uvicorn's h11 protocol that closes a connection which has not
  sent a complete request head within ``header_timeout`` (uvicorn itself waits for ever).
- :class:`ModelQueue`: one request at a time on the model, at most ``max_queue`` waiting, each for
  at most ``queue_timeout`` seconds; past either a :class:`Busy` (503 with Retry-After).
- :func:`check_work`: the video's duration and frame count against ``max_seconds`` and
  ``max_frames``, from its demuxed packets, before anything is decoded (413).
"""

from __future__ import annotations

import asyncio
import logging
import math
import os
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, fields, replace
from pathlib import Path
from typing import Any, TypeVar

from vidlearn.errors import ConfigError
from vidlearn.io.probe import container_extent

__all__ = ["BodyGuard", "Busy", "ModelQueue", "ServeLimits", "UploadRefused", "check_work", "declared_too_large", "header_timeout_protocol"]

log = logging.getLogger("vidlearn.serve")
T = TypeVar("T")

ENV_PREFIX = "VIDLEARN_SERVE_"


@dataclass(frozen=True)
class ServeLimits:
    """What one request may cost the server. Times in seconds."""

    max_bytes: int = 512 * 1024 * 1024  # the largest upload (--max-mb)
    max_seconds: float = 300.0  # the longest video, by its packets' timestamps
    max_frames: int = 18_000  # the most frames in a video (5 minutes at 60 fps)
    header_timeout: float = 10.0  # from connecting (or the previous answer) to a complete request head
    read_timeout: float = 30.0  # the longest silence while an upload is being sent
    upload_timeout: float = 600.0  # the whole upload
    max_connections: int = 64  # open connections and requests together; past it 503 (uvicorn's limit_concurrency)
    max_queue: int = 8  # requests waiting for the model; past it 503
    queue_timeout: float = 30.0  # the longest wait for the model; past it 503

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            kind = int if f.type in (int, "int") else float
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value <= 0 \
                    or (kind is int and int(value) != value):
                what = "a whole number" if kind is int else "a number of seconds"
                raise ConfigError(f"serve limit {f.name} ({_option(f.name)}, {ENV_PREFIX}{f.name.upper()}) must be "
                                  f"{what} > 0, got {value!r}")

    @classmethod
    def resolve(cls, env: Mapping[str, str] | None = None, **given: Any) -> ServeLimits:
        """The defaults, replaced by ``VIDLEARN_SERVE_*`` environment variables, replaced by the
        values ``given`` that are not None (the command line's options)."""
        env = os.environ if env is None else env
        values: dict[str, Any] = {}
        for f in fields(cls):
            raw = env.get(ENV_PREFIX + f.name.upper())
            if raw is not None and raw.strip():
                try:
                    number = float(raw)
                except ValueError:
                    raise ConfigError(f"{ENV_PREFIX}{f.name.upper()}={raw!r}: expected a number") from None
                values[f.name] = int(number) if f.type in (int, "int") and number.is_integer() else number
        unknown = set(given) - {f.name for f in fields(cls)}
        if unknown:
            raise TypeError(f"unknown serve limits: {sorted(unknown)}")
        values |= {k: v for k, v in given.items() if v is not None}
        return replace(cls(), **values) if values else cls()


def _option(name: str) -> str:
    return "--max-mb" if name == "max_bytes" else "--" + name.replace("_", "-")


class UploadRefused(Exception):
    """An upload broke a limit while it arrived: ``status`` 408 (too slow) or 413 (too large)."""

    def __init__(self, status: int, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.detail = detail


class Busy(Exception):
    """The model is taken and the queue is full, or the wait ran out (503)."""


class BodyGuard:
    """ASGI middleware: every ``http.request`` message must come within ``read_timeout`` of the
    previous one and the whole body within ``upload_timeout``, and the body may hold at most
    ``max_bytes`` (a larger declared Content-Length is refused before anything is read).
    Breaches raise :class:`UploadRefused` from ``receive()`` in the handler that reads."""

    def __init__(self, app: Any, limits: ServeLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: dict[str, Any], receive: Callable[[], Any], send: Callable[[Any], Any]) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limits = self.limits
        started = time.monotonic()
        state = {"bytes": 0, "done": False}

        async def guarded_receive() -> Any:
            if state["done"]:  # the body is in: later receives only wait for a disconnect
                return await receive()
            left = limits.upload_timeout - (time.monotonic() - started)
            wait = min(limits.read_timeout, left)
            try:
                if wait <= 0:
                    raise TimeoutError
                message = await asyncio.wait_for(receive(), wait)
            except TimeoutError:
                whole = left <= limits.read_timeout
                raise UploadRefused(408, f"the upload took longer than {limits.upload_timeout:g} s" if whole else
                                    f"the upload stalled: nothing arrived for {limits.read_timeout:g} s") from None
            if message["type"] == "http.request":
                state["bytes"] += len(message.get("body", b""))
                if state["bytes"] > limits.max_bytes:
                    raise UploadRefused(413, f"the video is over {limits.max_bytes} bytes, the most this server takes")
                state["done"] = not message.get("more_body", False)
            return message

        await self.app(scope, guarded_receive, send)


def declared_too_large(headers: Mapping[str, str], limits: ServeLimits) -> str | None:
    """The 413 reason when the request's Content-Length is over ``max_bytes``, else None."""
    declared = headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limits.max_bytes:
        return f"the video is {int(declared)} bytes; this server takes at most {limits.max_bytes}"
    return None


def header_timeout_protocol(seconds: float) -> type:
    """uvicorn's h11 protocol class, closing any connection that waits more than ``seconds`` for a
    complete request head: after connecting, and between the requests of a kept-alive connection."""
    import h11
    from uvicorn.protocols.http.h11_impl import H11Protocol

    class HeaderTimeoutH11Protocol(H11Protocol):
        _head_timer: asyncio.TimerHandle | None = None

        def _arm_head_timer(self) -> None:
            self._cancel_head_timer()
            self._head_timer = self.loop.call_later(seconds, self._head_timed_out)

        def _cancel_head_timer(self) -> None:
            if self._head_timer is not None:
                self._head_timer.cancel()
                self._head_timer = None

        def _head_timed_out(self) -> None:
            self._head_timer = None
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                who = f"{self.client[0]}:{self.client[1]}" if self.client else "a client"
                log.info("closed the connection of %s: no complete request head within %g s", who, seconds)
                self.transport.close()

        def connection_made(self, transport: Any) -> None:  # type: ignore[override]
            super().connection_made(transport)
            self._arm_head_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            self._cancel_head_timer()
            super().connection_lost(exc)

        def handle_events(self) -> None:
            super().handle_events()
            if self.conn.their_state is not h11.IDLE:  # a request head has come in
                self._cancel_head_timer()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing() and self.conn.their_state is h11.IDLE:
                self._arm_head_timer()

    return HeaderTimeoutH11Protocol


class ModelQueue:
    """Run work on the model one call at a time (a thread lock), with at most ``max_queue`` calls
    waiting and each waiting at most ``queue_timeout`` s; otherwise :class:`Busy`. Call
    :meth:`run` from a worker thread."""

    def __init__(self, limits: ServeLimits) -> None:
        self.limits = limits
        self._model = threading.Lock()
        self._count = threading.Lock()
        self._waiting = 0

    def run(self, fn: Callable[[], T]) -> T:
        """``fn()`` with the model to itself."""
        with self._count:
            if self._waiting >= self.limits.max_queue:
                raise Busy(f"the server is busy ({self._waiting} requests are waiting for the model); retry shortly")
            self._waiting += 1
        try:
            got = self._model.acquire(timeout=self.limits.queue_timeout)
        finally:
            with self._count:
                self._waiting -= 1
        if not got:
            raise Busy(f"the server is busy: the model was not free within {self.limits.queue_timeout:g} s; retry shortly")
        try:
            return fn()
        finally:
            self._model.release()


def check_work(video: Path, limits: ServeLimits) -> None:
    """Refuse a video longer than ``max_seconds`` or with more than ``max_frames`` frames
    (UploadRefused 413), judged from its packets before anything is decoded."""
    duration, frames = container_extent(video, max_frames=limits.max_frames)
    if frames > limits.max_frames:
        raise UploadRefused(413, f"the video has more than {limits.max_frames} frames, the most this server decodes "
                                 "per request")
    if duration > limits.max_seconds:
        raise UploadRefused(413, f"the video lasts {duration:.1f} s; this server takes at most {limits.max_seconds:g} s "
                                 "per request")
