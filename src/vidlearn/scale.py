"""Scaling out with Ray: a process-pool-like `RayPool` and the connection to a cluster, used by
the feature table and by batch prediction (`vidlearn.deploy.ray_predict`).

    vidlearn features DATA --kind color,motion --out f.parquet --ray local   # this machine's cores
    ray start --head            # on one machine;  ray start --address HEAD:6379  on the others
    vidlearn predict RUN/model videos/ --out preds.csv --ray auto             # the whole cluster

``address``: ``"local"`` starts a private Ray instance on this machine; ``"auto"`` joins the cluster
this machine belongs to (``ray start``); ``"ray://HOST:10001"`` connects a client to a remote head.
The work units are single videos: every node must see the videos (and the model) at the same
paths, e.g. on a shared filesystem. Results come back to the calling process, which writes them
exactly as without Ray (the feature table stays resumable; bad videos are skipped and reported).
Each Ray worker runs one video at a time with one intra-op thread.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from vidlearn.errors import ConfigError

__all__ = ["RayPool", "cluster_cpus", "connect"]

_INITIALISED: dict[str, Any] = {}  # in each Ray worker process: which initializer already ran


def connect(address: str) -> None:
    """Start or join Ray (see the module docstring); a no-op when this process is connected."""
    try:
        import ray
    except ImportError:  # pragma: no cover - ray is installed by `make setup`
        raise ConfigError("--ray needs the ray package: pip install 'vidlearn[ray]'") from None
    if ray.is_initialized():
        return
    if not address:
        raise ConfigError("--ray: give an address: local, auto or ray://HOST:PORT")
    options: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False, "logging_level": logging.WARNING,
                               "configure_logging": True}
    if address.startswith("ray://"):  # fail in seconds, not after the client's 30-s retries
        import socket

        host, _, port = address[len("ray://"):].partition(":")
        try:
            socket.create_connection((host, int(port or 10001)), timeout=5).close()
        except (OSError, ValueError) as exc:
            raise ConfigError(f"--ray {address}: cannot reach the Ray head ({exc})") from None
    try:
        if address == "local":
            ray.init(num_cpus=len(os.sched_getaffinity(0)), **options)
        else:
            ray.init(address=address, **options)
    except Exception as exc:  # noqa: BLE001 - ray raises ConnectionError, RuntimeError, ...
        raise ConfigError(f"--ray {address}: cannot start or join Ray ({str(exc).splitlines()[0] if str(exc) else type(exc).__name__})") from None


def cluster_cpus() -> int:
    """CPUs of the connected Ray cluster (at least 1)."""
    import ray

    return max(1, int(ray.cluster_resources().get("CPU", 1)))


def _remote_call(key: str, initializer: Callable[..., None] | None, initargs: tuple, fn: Callable[..., Any], args: tuple) -> Any:
    """Runs in a Ray worker: the initializer once per worker process, then ``fn(*args)``."""
    import torch

    if _INITIALISED.get("key") != key:
        torch.set_num_threads(1)
        if initializer is not None:
            initializer(*initargs)
        _INITIALISED["key"] = key
    return fn(*args)


class RayPool:
    """The part of ``concurrent.futures.ProcessPoolExecutor`` the feature table uses, on Ray:
    ``submit(fn, *args)`` returns a ``concurrent.futures.Future``; ``initializer(*initargs)`` runs
    once in each Ray worker process before its first task."""

    def __init__(self, address: str, *, initializer: Callable[..., None] | None = None, initargs: tuple = ()) -> None:
        import uuid

        import ray

        connect(address)
        self._remote = ray.remote(num_cpus=1, max_retries=1)(_remote_call)
        self._init = (uuid.uuid4().hex, initializer, ray.put(initargs))
        self.workers = cluster_cpus()

    def submit(self, fn: Callable[..., Any], *args: Any) -> Future:
        key, initializer, initargs = self._init
        return self._remote.remote(key, initializer, initargs, fn, args).future()

    def __enter__(self) -> RayPool:
        return self

    def __exit__(self, *exc: object) -> None:
        return None  # the Ray connection outlives the pool (the next job reuses it)
