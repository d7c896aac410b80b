"""A dataset as one feature table: one row per video, written to Parquet, resumable.

>>> from vidlearn.data.sources import load_records
>>> records = load_records("data/manifest.csv", group="actor")
>>> table = compute_feature_table(records, ["color", "shape", "motion", "deep"], out=Path("features.parquet"))
>>> table.attrs["vidlearn"]["skipped"]        # [{"path": ..., "reason": ...}, ...]

Columns, in this order: ``path``, ``target``, ``group`` (as the records give them; ``target`` is a
string for classes and a float for regression), ``start`` and ``end`` (only when some record is
a segment), every other manifest column (``record.meta``, as strings), then the feature columns
of the requested kinds in the order asked (``color.*``, ``shape.*``, ``motion.*``, ``deep.*``;
see each family's module). Feature values are float32. Rows follow the records' order; videos that
could not be read are left out and listed in ``attrs["vidlearn"]["skipped"]``.

Data path: each video is decoded once (:func:`vidlearn.io.decode_clip` at ``fps`` and
``short_side``, over the record's ``[start, end)``) and that one array of frames feeds every
frame family. Classical families run in a process pool of ``workers`` processes (which also
decode); the ``"deep"`` EfficientNet embedding runs in this process with torch's threads, on the
frames the workers send back. A ``"deep:ARTIFACT"`` family uses the artifact's own preprocessing,
so it reads the video again through :class:`~vidlearn.deploy.predictor.Predictor`.

Resuming: every ``chunk_size`` videos (or ``flush_seconds``) the finished rows are written
atomically to ``<out>.parts/part-NNNNN.parquet``; at the end all rows are merged atomically into
``out`` and the parts folder is removed. A video counts as done when a part file (or an existing
``out``) has a row for the same file (absolute path, start, end), file size and modification time,
computed with the same feature settings (kinds, parameters, fps, size, column names). So a re-run
after an interruption -- Ctrl-C, a crash or SIGKILL -- computes only the videos that are missing,
and a re-run after a finished run computes nothing. Videos that failed are remembered the same way
and are not retried until their file changes.

The Parquet file's schema metadata ``vidlearn.features`` (JSON) holds the settings, the feature
columns, the skipped videos and each row's file identity; :func:`read_feature_table` puts it in
``DataFrame.attrs["vidlearn"]``.

An ``out`` ending in ``.csv`` (or ``.tsv``) is written as text for tools that do not read Parquet
(spreadsheets, R, Weka): the same columns, float32 values in their shortest exact form, and the
metadata in a sidecar ``<out>.json`` that records the table's size in bytes, so a sidecar that does
not belong to the table beside it (a run killed between the two writes) is never trusted. Such a
table resumes and feeds ``vidlearn baseline`` / ``cluster`` like a Parquet one.
"""

from __future__ import annotations

import contextlib
import hashlib
from glob import escape as glob_escape
import json
import math
import os
import re
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DataSourceError, VidlearnError
from vidlearn.fsutil import atomic_open, atomic_write_bytes, atomic_write_text

__all__ = [
    "FORMAT",
    "RESERVED_COLUMNS",
    "compute_feature_table",
    "feature_columns",
    "parse_kinds",
    "read_feature_table",
]

FORMAT = "vidlearn-features"
FORMAT_VERSION = 1
META_KEY = b"vidlearn.features"
RESERVED_COLUMNS = ("path", "target", "group", "start", "end")
_PART = re.compile(r"^part-(\d{5,})\.parquet$")

Echo = Callable[[str], None]


# ---- kinds ---------------------------------------------------------------------------------


def parse_kinds(kinds: str | Sequence[str]) -> list[str]:
    """``"color,shape,deep"`` or a list -> a clean list of kind names (no blanks, no repeats).

    ``"deep:PATH"`` (a trained model artifact) keeps its path as written."""
    items = kinds.split(",") if isinstance(kinds, str) else [str(k) for k in kinds]
    out = [k.strip() for k in items if k.strip()]
    if not out:
        raise ConfigError("features.kinds: choose at least one of color, shape, motion, deep, deep:ARTIFACT")
    seen: set[str] = set()
    for k in out:
        if k in seen:
            raise ConfigError(f"features.kinds: {k!r} is listed twice")
        seen.add(k)
    return out


@dataclass
class _Families:
    """The extractors of one run: classical ones (sent to the workers), the EfficientNet one (this
    process) and an artifact one (this process, reads the video itself)."""

    kinds: list[str]
    classical: list[tuple[str, Any]]
    effnet: Any | None
    artifact: Any | None
    columns: list[str] = field(default_factory=list)

    @property
    def needs_frames(self) -> bool:
        return bool(self.classical) or self.effnet is not None


def _build_families(kinds: list[str], params: dict[str, Any], device: str) -> _Families:
    from vidlearn.features.registry import build_extractors

    artifact_kinds = [k for k in kinds if k.startswith("deep:")]
    frame_kinds = [k for k in kinds if not k.startswith("deep:")]
    if len(artifact_kinds) > 1:
        raise ConfigError("features.kinds: give at most one 'deep:ARTIFACT' kind; their columns would clash")
    if "deep" in frame_kinds or artifact_kinds:
        import vidlearn.features.deep  # noqa: F401 - registers "deep"
    if not frame_kinds and params:
        raise ConfigError(f"features.{sorted(params)[0]}: not a parameter of {', '.join(kinds)}")
    extractors = dict(zip(frame_kinds, build_extractors(frame_kinds, **params))) if frame_kinds else {}
    artifact = None
    if artifact_kinds:
        from vidlearn.features.deep import ArtifactEmbedding

        path = artifact_kinds[0][len("deep:") :].strip()
        if not path:
            raise ConfigError("features.kinds: 'deep:' needs the path of a trained model artifact, e.g. deep:runs/model")
        artifact = ArtifactEmbedding(path, device=device)
    effnet = extractors.get("deep")
    if effnet is not None and device != "cpu":
        import torch

        effnet.device = torch.device(device)
    classical = [(k, e) for k, e in extractors.items() if k != "deep"]
    columns = [c for k in kinds for c in (artifact if k.startswith("deep:") else extractors[k]).columns]
    if len(set(columns)) != len(columns):
        raise ConfigError("features.kinds: two families produce the same column names")
    return _Families(kinds=kinds, classical=classical, effnet=effnet, artifact=artifact, columns=columns)


# ---- settings fingerprint & file identity ------------------------------------------------


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in sorted(value.items())}
    if isinstance(value, (list, tuple)):
        return [_jsonable(v) for v in value]
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, (np.integer, np.floating)):
        return value.item()
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    return repr(value)


def _settings(fam: _Families, fps: float | None, short_side: int | None, params: dict[str, Any]) -> dict[str, Any]:
    settings = {
        "kinds": fam.kinds,
        "fps": fps,
        "short_side": short_side,
        "params": _jsonable(params),
        "columns_sha256": hashlib.sha256("\n".join(fam.columns).encode()).hexdigest(),
    }
    if fam.artifact is not None:
        settings["artifact"] = fam.artifact.identity
    return settings


def _fingerprint(settings: dict[str, Any]) -> str:
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def _record_key(r: VideoRecord) -> tuple[str, float | None, float | None]:
    return (os.path.abspath(str(r.path)), r.start, r.end)


def _identity(r: VideoRecord) -> list[Any] | None:
    """``[abspath, start, end, size, mtime_ns]`` of the record's file, or None when it cannot be stat'ed."""
    path, start, end = _record_key(r)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [path, start, end, int(st.st_size), int(st.st_mtime_ns)]


# ---- reading back what is done -------------------------------------------------------------


@dataclass
class _Done:
    """Rows already computed (features by identity) and videos already known to be bad."""

    rows: dict[tuple, np.ndarray] = field(default_factory=dict)
    skipped: dict[tuple, str] = field(default_factory=dict)

    def add_table(self, table: pa.Table, info: dict[str, Any], columns: list[str]) -> None:
        identities = [tuple(i) for i in info.get("identity", [])]
        if len(identities) != table.num_rows:
            return
        if table.num_rows:
            matrix = np.column_stack([table.column(c).to_numpy(zero_copy_only=False) for c in columns]).astype(np.float32)
            for ident, row in zip(identities, matrix):
                self.rows[ident] = row
                self.skipped.pop(ident, None)
        for s in info.get("skipped", []):
            ident = tuple(s.get("identity") or ())
            if ident and ident not in self.rows:
                self.skipped[ident] = str(s.get("reason", "unreadable"))


def _is_text(path: Path) -> bool:
    """A CSV/TSV table (else Parquet)."""
    return path.suffix.lower() in (".csv", ".tsv")


def _sidecar(path: Path) -> Path:
    """Where a text table keeps its metadata: ``<table>.json``."""
    return path.with_name(path.name + ".json")


def _sep(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def _read_text_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    return pd.read_csv(path, sep=_sep(path), usecols=columns)


def _read_info(path: Path) -> dict[str, Any] | None:
    try:
        if _is_text(path):
            info = json.loads(_sidecar(path).read_text(encoding="utf-8"))
            return info if info.get("table_bytes") == path.stat().st_size else None
        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(META_KEY)
        return json.loads(raw) if raw else None
    except Exception:  # noqa: BLE001 - a foreign or damaged file is simply not reused
        return None


def _load_done(out: Path, parts_dir: Path, fingerprint: str, columns: list[str], echo: Echo) -> _Done:
    done = _Done()
    sources = []
    if out.is_file():
        sources.append(out)
    stale = []
    if parts_dir.is_dir():
        for p in sorted(parts_dir.iterdir()):
            if _PART.match(p.name):
                sources.append(p)
            elif p.name.endswith(".tmp"):
                stale.append(p)  # left by a writer that was killed: never complete
    for p in stale:
        with contextlib.suppress(OSError):
            p.unlink()
    for old in out.parent.glob(f".{glob_escape(out.name)}.*.tmp"):  # a merge killed before its rename
        with contextlib.suppress(OSError):
            old.unlink()
    for src in sources:
        info = _read_info(src)
        if info is None or info.get("fingerprint") != fingerprint:
            if src == out:
                echo(f"{out} was computed with other settings (or is not a feature table): recomputing")
            if src.parent == parts_dir:
                echo(f"ignoring {src.name}: computed with other feature settings")
                with contextlib.suppress(OSError):
                    src.unlink()
            continue
        try:
            if _is_text(src):
                table = pa.Table.from_pandas(_read_text_table(src, columns), preserve_index=False)
            else:
                table = pq.read_table(src, columns=columns)
        except Exception as exc:  # noqa: BLE001
            echo(f"ignoring {src}: unreadable ({type(exc).__name__})")
            continue
        done.add_table(table, info, columns)
    return done


# ---- writing -------------------------------------------------------------------------------


def _features_table(paths: list[str], matrix: np.ndarray, columns: list[str]) -> pa.Table:
    arrays = [pa.array(paths, type=pa.string())]
    arrays += [pa.array(matrix[:, j], type=pa.float32()) for j in range(len(columns))]
    return pa.Table.from_arrays(arrays, names=["path", *columns])


def _write_parquet(path: Path, table: pa.Table, info: dict[str, Any]) -> None:
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(info, allow_nan=False).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")


def _write_text(path: Path, table: pa.Table, info: dict[str, Any]) -> None:
    """The table as CSV/TSV (float32 values in their shortest exact form) and its sidecar, which
    names the table's size so that a mismatched pair is recognised."""
    data = table.to_pandas().to_csv(index=False, sep=_sep(path)).encode("utf-8")
    atomic_write_text(_sidecar(path), json.dumps({**info, "table_bytes": len(data)}, allow_nan=False))
    atomic_write_bytes(path, data)


def _next_part_index(parts_dir: Path) -> int:
    found = [int(m.group(1)) for p in parts_dir.glob("part-*.parquet") if (m := _PART.match(p.name))]
    return max(found, default=-1) + 1


def _column_values(records: list[VideoRecord]) -> list[tuple[str, pa.Array]]:
    """The non-feature columns for the records, with stable types."""
    targets = [r.target for r in records]
    numeric = bool(targets) and all(isinstance(t, (int, float)) and not isinstance(t, bool) for t in targets)
    cols: list[tuple[str, pa.Array]] = [
        ("path", pa.array([str(r.path) for r in records], type=pa.string())),
        (
            "target",
            pa.array([float(t) for t in targets], type=pa.float64())
            if numeric
            else pa.array([None if t is None else str(t) for t in targets], type=pa.string()),
        ),
        ("group", pa.array([None if r.group is None else str(r.group) for r in records], type=pa.string())),
    ]
    if any(r.start is not None or r.end is not None for r in records):
        cols.append(("start", pa.array([r.start for r in records], type=pa.float64())))
        cols.append(("end", pa.array([r.end for r in records], type=pa.float64())))
    meta_names: list[str] = []
    for r in records:
        for k in r.meta:
            if k not in meta_names and k not in RESERVED_COLUMNS and "." not in k:
                meta_names.append(k)
    for k in meta_names:
        cols.append((k, pa.array([None if r.meta.get(k) is None else str(r.meta.get(k)) for r in records], type=pa.string())))
    return cols


# ---- per-video work ------------------------------------------------------------------------

_WORKER: dict[str, Any] = {}


def _init_worker(classical: list[Any], fps: float | None, short_side: int | None, send_frames: bool) -> None:
    with contextlib.suppress(Exception):
        import cv2

        cv2.setNumThreads(1)  # one process per core: no nested thread pools
    _WORKER.update(classical=classical, fps=fps, short_side=short_side, send_frames=send_frames)


def _reason(exc: BaseException) -> str:
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


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
        return None, None, _reason(exc)


# ---- the table -----------------------------------------------------------------------------


def compute_feature_table(
    records: Sequence[VideoRecord],
    kinds: str | Sequence[str] = ("color", "shape", "motion"),
    *,
    fps: float | None = 8.0,
    short_side: int | None = 128,
    out: str | Path,
    workers: int = 2,
    progress: bool = True,
    chunk_size: int = 16,
    flush_seconds: float = 60.0,
    device: str = "cpu",
    ray: str | None = None,
    echo: Echo | None = None,
    **params: Any,
) -> pd.DataFrame:
    """Compute the features of every record and write them to ``out`` (Parquet); returns the table.

    ``kinds``: any of ``color``, ``shape``, ``motion``, ``deep`` (ImageNet EfficientNet-Lite0) and
    one ``deep:PATH`` (a trained vidlearn model), as a list or comma-separated string.
    ``params`` go to the families (see :func:`vidlearn.features.build_extractors`; e.g.
    ``bins=16``, ``flow="farneback"``, ``image_size=160``, ``deep={"batch_size": 16}``).
    ``fps``/``short_side``: the decode rate and frame size for the frame families (None: native).
    ``workers``: processes for decoding and classical features (``<= 1``: all in this process).
    ``ray``: instead of local processes, decode and compute the classical features on a Ray cluster
    (``"local"``, ``"auto"`` or ``"ray://HOST:PORT"``; see :mod:`vidlearn.scale`); the table is the same.

    Resumable (see the module docstring). Bad videos are skipped; the returned DataFrame has
    ``attrs["vidlearn"]`` with ``skipped`` (``[{"path", "reason"}]``), ``computed`` and ``reused``
    counts, ``feature_columns`` and ``settings``. Raises :class:`DataSourceError` when no video at
    all could be read.
    """
    say: Echo = echo or (lambda _msg: None)
    records = list(records)
    if not records:
        raise DataSourceError("feature table", ["no records"])
    if fps is not None and not (fps > 0 and math.isfinite(fps)):
        raise ConfigError(f"features.fps: must be a positive number, got {fps}")
    if short_side is not None and int(short_side) < 8:
        raise ConfigError(f"features.short_side: must be at least 8 px, got {short_side}")
    if chunk_size < 1:
        raise ConfigError(f"features.chunk_size: must be >= 1, got {chunk_size}")
    kind_list = parse_kinds(kinds)
    fam = _build_families(kind_list, dict(params), device)
    settings = _settings(fam, fps, short_side, params)
    fingerprint = _fingerprint(settings)
    columns = fam.columns

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts_dir = out.with_name(out.name + ".parts")
    done = _load_done(out, parts_dir, fingerprint, columns, say)

    identities: list[tuple | None] = [None if (i := _identity(r)) is None else tuple(i) for r in records]
    seen: set[tuple] = set()
    todo: list[int] = []
    skipped: dict[int, str] = {}
    reused = 0
    for i, (r, ident) in enumerate(zip(records, identities)):
        key = _record_key(r)
        if key in seen:
            skipped[i] = "listed twice"
            continue
        seen.add(key)
        if ident is None:
            skipped[i] = "file does not exist" if not os.path.exists(key[0]) else "file cannot be read"
        elif ident in done.rows:
            reused += 1
        elif ident in done.skipped:
            skipped[i] = done.skipped[ident]
        else:
            todo.append(i)
    if reused or done.skipped:
        say(f"resuming: {reused} video(s) already done, {len(todo)} to compute")

    writer = _ChunkWriter(parts_dir, fingerprint, settings, columns, chunk_size, flush_seconds)
    computed = 0
    try:
        for i, values, reason in _run(records, todo, fam, fps, short_side, workers, progress, ray):
            if reason is not None:
                skipped[i] = reason
                writer.add_skip(str(records[i].path), identities[i], reason)
            else:
                computed += 1
                done.rows[identities[i]] = values
                writer.add_row(str(records[i].path), identities[i], values)
        writer.flush()
    except BaseException:
        with contextlib.suppress(Exception):
            writer.flush()  # keep the work done so far (Ctrl-C, a broken pool ...)
        raise

    keep = [i for i in range(len(records)) if i not in skipped and identities[i] in done.rows]
    skipped_list = [
        {"path": str(records[i].path), "reason": reason, "identity": None if identities[i] is None else list(identities[i])}
        for i, reason in sorted(skipped.items())
    ]
    if not keep:
        first = "; ".join(f"{Path(s['path']).name}: {s['reason']}" for s in skipped_list[:3])
        raise DataSourceError("feature table", [f"none of the {len(records)} video(s) could be read ({first})"])
    kept = [records[i] for i in keep]
    matrix = np.stack([done.rows[identities[i]] for i in keep]).astype(np.float32, copy=False)
    info = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "fingerprint": fingerprint,
        "settings": settings,
        "feature_columns": columns,
        "identity": [list(identities[i]) for i in keep],
        "skipped": skipped_list,
    }
    base = _column_values(kept)
    arrays = [a for _, a in base] + [pa.array(matrix[:, j], type=pa.float32()) for j in range(len(columns))]
    names = [n for n, _ in base] + columns
    table = pa.Table.from_arrays(arrays, names=names)
    if _is_text(out):
        _write_text(out, table, info)
    else:
        _write_parquet(out, table, info)
    shutil.rmtree(parts_dir, ignore_errors=True)

    frame = table.to_pandas()
    frame.attrs["vidlearn"] = {
        **{k: info[k] for k in ("settings", "feature_columns")},
        "skipped": [{"path": s["path"], "reason": s["reason"]} for s in skipped_list],
        "computed": computed,
        "reused": reused,
        "path": str(out),
    }
    return frame


class _ChunkWriter:
    """Buffers finished rows and writes them as atomic part files."""

    def __init__(self, parts_dir: Path, fingerprint: str, settings: dict, columns: list[str], chunk: int, seconds: float) -> None:
        self.parts_dir, self.fingerprint, self.settings, self.columns = parts_dir, fingerprint, settings, columns
        self.chunk, self.seconds = chunk, seconds
        self.paths: list[str] = []
        self.idents: list[list[Any]] = []
        self.rows: list[np.ndarray] = []
        self.skips: list[dict[str, Any]] = []
        self.last = time.monotonic()

    def add_row(self, path: str, ident: tuple, values: np.ndarray) -> None:
        self.paths.append(path)
        self.idents.append(list(ident))
        self.rows.append(values)
        self._maybe_flush()

    def add_skip(self, path: str, ident: tuple | None, reason: str) -> None:
        if ident is not None:  # a file that cannot even be stat'ed is checked again next time
            self.skips.append({"path": path, "reason": reason, "identity": list(ident)})
            self._maybe_flush()

    def _maybe_flush(self) -> None:
        if len(self.rows) + len(self.skips) >= self.chunk or time.monotonic() - self.last >= self.seconds:
            self.flush()

    def flush(self) -> None:
        self.last = time.monotonic()
        if not self.rows and not self.skips:
            return
        matrix = np.stack(self.rows) if self.rows else np.zeros((0, len(self.columns)), dtype=np.float32)
        table = _features_table(self.paths, matrix, self.columns)
        info = {
            "format": FORMAT + "-part",
            "format_version": FORMAT_VERSION,
            "fingerprint": self.fingerprint,
            "settings": self.settings,
            "identity": self.idents,
            "skipped": self.skips,
        }
        self.parts_dir.mkdir(parents=True, exist_ok=True)
        target = self.parts_dir / f"part-{_next_part_index(self.parts_dir):05d}.parquet"
        _write_parquet(target, table, info)
        self.paths, self.idents, self.rows, self.skips = [], [], [], []


def _run(records, todo, fam: _Families, fps, short_side, workers: int, progress: bool, ray: str | None = None):
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
            executor = ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_init_worker, initargs=initargs)
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


def _finish(r: VideoRecord, values: np.ndarray, frames: np.ndarray | None, fam: _Families) -> tuple[np.ndarray | None, str | None]:
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
        return None, _reason(exc)
    except (ValueError, RuntimeError, OSError) as exc:
        return None, _reason(exc)
    if vector.shape != (len(fam.columns),):
        return None, f"feature vector has {vector.size} values for {len(fam.columns)} columns"
    if not np.all(np.isfinite(vector)):
        vector = np.nan_to_num(vector, nan=0.0, posinf=0.0, neginf=0.0)
    return vector, None


# ---- reading -------------------------------------------------------------------------------


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """Read a feature table written by :func:`compute_feature_table` (or any Parquet/CSV table);
    ``attrs["vidlearn"]`` holds its settings, feature columns and skipped videos when known."""
    p = Path(path)
    if not p.is_file():
        raise DataSourceError(p, ["feature table does not exist"])
    try:
        frame = _read_text_table(p) if _is_text(p) else pq.read_table(p).to_pandas()
        info: dict[str, Any] | None = _read_info(p)
    except Exception as exc:  # noqa: BLE001 - a file that is not a table is the user's input
        raise DataSourceError(p, [f"not a readable feature table ({_reason(exc)})"]) from None
    attrs: dict[str, Any] = {"path": str(p)}
    if info:
        attrs.update({k: info.get(k) for k in ("settings", "feature_columns")})
        attrs["skipped"] = [{"path": s.get("path"), "reason": s.get("reason")} for s in info.get("skipped", [])]
    frame.attrs["vidlearn"] = attrs
    return frame


def feature_columns(frame: pd.DataFrame) -> list[str]:
    """The feature columns of a table: those named in its metadata, else every numeric column
    whose name has a dot (``family.descriptor...``) and is not a reserved column."""
    info = frame.attrs.get("vidlearn") or {}
    named = info.get("feature_columns")
    if named:
        return [c for c in named if c in frame.columns]
    return [
        c
        for c in frame.columns
        if isinstance(c, str) and "." in c and c not in RESERVED_COLUMNS and pd.api.types.is_numeric_dtype(frame[c])
    ]
