"""Computing the rows: decode each video once and run the classical families on it in a worker
process (a local process pool, or Ray tasks via :mod:`vidlearn.scale`), then add the families that
run in this process (EfficientNet, an artifact) in the requested kind order."""

from __future__ import annotations

import contextlib
import os
import sys
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from typing import Any

import numpy as np

from vidlearn.data.records import VideoRecord
from vidlearn.errors import VidlearnError
from vidlearn.tables.families import Families
from vidlearn.tables.store import failure_reason

__all__ = ["run_videos"]

_WORKER: dict[str, Any] = {}


def _init_worker(classical: list[Any], fps: float | None, short_side: int | None, send_frames: bool) -> None:
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(1)  # one process per core: no nested thread pools
    _WORKER.update(classical=classical, fps=fps, short_side=short_side, send_frames=send_frames)


def _init_local_worker(parent: int, *initargs: Any) -> None:
    """A local pool worker: it dies with the process that started it, even one killed with
    SIGKILL (Linux: PR_SET_PDEATHSIG), so no worker is left decoding for nobody."""
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            import signal

            ctypes.CDLL(None, use_errno=True).prctl(1, int(signal.SIGTERM), 0, 0, 0)  # 1: PR_SET_PDEATHSIG
            if os.getppid() != parent:  # the parent died before the line above took effect
                os._exit(1)
    _init_worker(*initargs)


def _decode_and_extract(path: str, start: float | None, end: float | None) -> tuple[np.ndarray | None, np.ndarray | None, str | None]:
    """In a worker (or this process): decode once, run the classical families.

    Returns (classical values, frames if the caller needs them, None) or (None, None, reason)."""
    from vidlearn.features.registry import extract_vector
    from vidlearn.io import decode_clip

    try:
        _, frames = decode_clip(path, fps=_WORKER["fps"], short_side=_WORKER["short_side"], start=start, end=end)
        if _WORKER["classical"]:
            values, _ = extract_vector(frames, _WORKER["classical"])
        else:
            values = np.zeros(0, dtype=np.float32)
        return values, (frames if _WORKER["send_frames"] else None), None
    except Exception as exc:  # noqa: BLE001 - a bad video is reported and skipped, never fatal
        return None, None, failure_reason(exc)


def run_videos(records, todo, fam: Families, fps, short_side, workers: int, progress: bool, ray: str | None = None):
    """Yield ``(index, values, None)`` or ``(index, None, reason)`` for every index in ``todo``."""
    from vidlearn.progress import progress_bar

    bar = progress_bar(total=len(todo), desc="features", unit="video", enabled=progress and bool(todo), leave=True, dynamic_ncols=True)
    try:
        if not fam.needs_frames:
            for i in todo:
                yield (i, *_finish(records[i], np.zeros(0, dtype=np.float32), None, fam))
                bar.update(1)
            return
        send_frames = fam.effnet is not None
        if ray is None and (workers <= 1 or len(todo) <= 1):
            _init_worker([e for _, e in fam.classical], fps, short_side, send_frames)
            for i in todo:
                r = records[i]
                values, frames, reason = _decode_and_extract(str(r.path), r.start, r.end)
                yield (i, *(_finish(r, values, frames, fam) if reason is None else (None, reason)))
                bar.update(1)
            return
        import multiprocessing

        # fork on Linux (like torch's DataLoader): workers start at once and run no torch code, and
        # a caller's script needs no `if __name__ == "__main__"` guard; spawn elsewhere.
        ctx = multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")
        initargs = ([e for _, e in fam.classical], fps, short_side, send_frames)
        if ray is not None:  # the same loop on a Ray cluster: one video per task (vidlearn.scale)
            from vidlearn.scale import RayPool

            executor: Any = RayPool(ray, initializer=_init_worker, initargs=initargs)
            workers = executor.workers
        else:
            executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_local_worker,
                                           initargs=(os.getpid(), *initargs))
        with executor as pool:
            pending: dict[Future, int] = {}
            queue = list(reversed(todo))
            limit = 2 * workers  # bounded: frames waiting for the deep model never pile up
            try:
                while queue or pending:
                    while queue and len(pending) < limit:
                        i = queue.pop()
                        r = records[i]
                        pending[pool.submit(_decode_and_extract, str(r.path), r.start, r.end)] = i
                    finished, _ = wait(pending, return_when=FIRST_COMPLETED)
                    for fut in finished:
                        i = pending.pop(fut)
                        values, frames, reason = fut.result()
                        yield (i, *(_finish(records[i], values, frames, fam) if reason is None else (None, reason)))
                        bar.update(1)
            except BaseException:
                for fut in pending:
                    fut.cancel()
                raise
    finally:
        bar.close()


def _finish(r: VideoRecord, values: np.ndarray, frames: np.ndarray | None, fam: Families) -> tuple[np.ndarray | None, str | None]:
    """Add the families that run in this process; every column in the requested kind order."""
    try:
        parts: dict[str, np.ndarray] = {}
        offset = 0
        for kind, ex in fam.classical:
            n = len(ex.columns)
            parts[kind] = values[offset : offset + n]
            offset += n
        if fam.effnet is not None:
            parts["deep"] = np.asarray(fam.effnet(frames), dtype=np.float32)
        if fam.artifact is not None:
            parts["deep:"] = fam.artifact.embed_video(r.path, r.start, r.end)
        vector = np.concatenate([parts["deep:" if k.startswith("deep:") else k] for k in fam.kinds]).astype(np.float32)
    except VidlearnError as exc:
        return None, failure_reason(exc)
    except (ValueError, RuntimeError, OSError) as exc:
        return None, failure_reason(exc)
    if vector.shape != (len(fam.columns),):
        return None, f"feature vector has {vector.size} values for {len(fam.columns)} columns"
    if not np.all(np.isfinite(vector)):
        vector = np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
    return vector, None
