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
so it reads the video again through :class:`~vidlearn.predictors.deep.Predictor`.

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

This module's one job is :func:`compute_feature_table`, which ties the pieces together: the
families of a run (:mod:`~vidlearn.tables.families`), the per-video work in worker processes or on
Ray (:mod:`~vidlearn.tables.workers`), resuming from part files (:mod:`~vidlearn.tables.resume`)
and the table's file format (:mod:`~vidlearn.tables.store`, which also holds
:func:`read_feature_table` and :func:`feature_columns`, re-exported here).
"""

from __future__ import annotations

import contextlib
import math
import os
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa

from vidlearn.config import DecodeConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DataSourceError
from vidlearn.io.decode import FPS_RANGE
from vidlearn.progress import Echo
from vidlearn.tables.families import build_families, parse_kinds
from vidlearn.tables.resume import (
    ChunkWriter,
    file_identity,
    load_done,
    record_key,
    run_settings,
    settings_fingerprint,
)
from vidlearn.tables.store import (
    FORMAT,
    FORMAT_VERSION,
    RESERVED_COLUMNS,
    column_values,
    feature_columns,
    is_text_table,
    read_feature_table,
    write_parquet,
    write_text_table,
)
from vidlearn.tables.workers import run_videos

__all__ = [
    "FORMAT",
    "RESERVED_COLUMNS",
    "compute_feature_table",
    "feature_columns",
    "parse_kinds",
    "read_feature_table",
]

DEFAULT_DECODE = DecodeConfig()  # the one place the default rate and size are stated: vidlearn.config


def _not_utf8(r: VideoRecord) -> str | None:
    """Why a record cannot be a row (a table's text is UTF-8; a Linux file name need not be), or None."""
    fields = [("path", str(r.path)), ("target", r.target), ("group", r.group)]
    fields += [(f"{k!r} value", v) for k, v in (r.meta or {}).items()] + [("meta key", k) for k in (r.meta or {})]
    for name, value in fields:
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            try:
                shown = value.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")
            except UnicodeEncodeError:  # a surrogate that no undecodable byte became
                shown = value.encode("utf-8", "backslashreplace").decode("utf-8")
            return f"its {name} is not valid UTF-8 ({shown})" + ("; rename the file" if name == "path" else "")
    return None


def compute_feature_table(
    records: Sequence[VideoRecord],
    kinds: str | Sequence[str] = ("color", "shape", "motion"),
    *,
    fps: float | None = DEFAULT_DECODE.fps,
    short_side: int | None = DEFAULT_DECODE.short_side,
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
    if fps is not None and not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
        raise ConfigError(f"features.fps: must be between {FPS_RANGE[0]:g} and {FPS_RANGE[1]:g} frames per second, got {fps:g}")
    if short_side is not None and int(short_side) < 8:
        raise ConfigError(f"features.short_side: must be at least 8 px, got {short_side}")
    if chunk_size < 1:
        raise ConfigError(f"features.chunk_size: must be >= 1, got {chunk_size}")
    kind_list = parse_kinds(kinds)
    fam = build_families(kind_list, dict(params), device)
    settings = run_settings(fam, fps, short_side, params)
    fingerprint = settings_fingerprint(settings)
    columns = fam.columns

    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    parts_dir = out.with_name(out.name + ".parts")
    done = load_done(out, parts_dir, fingerprint, columns, say)

    identities: list[tuple | None] = [None if (i := file_identity(r)) is None else tuple(i) for r in records]
    seen: set[tuple] = set()
    todo: list[int] = []
    skipped: dict[int, str] = {}
    reused = 0
    for i, (r, ident) in enumerate(zip(records, identities)):
        key = record_key(r)
        if key in seen:
            skipped[i] = "listed twice"
            continue
        seen.add(key)
        if ident is None:
            skipped[i] = "file does not exist" if not os.path.exists(key[0]) else "file cannot be read"
        elif (not_text := _not_utf8(r)) is not None:
            skipped[i] = not_text
        elif ident in done.rows:
            reused += 1
        elif ident in done.skipped:
            skipped[i] = done.skipped[ident]
        else:
            todo.append(i)
    if reused or done.skipped:
        say(f"resuming: {reused} video(s) already done, {len(todo)} to compute")

    writer = ChunkWriter(parts_dir, fingerprint, settings, columns, chunk_size, flush_seconds)
    computed = 0
    try:
        for i, values, reason in run_videos(records, todo, fam, fps, short_side, workers, progress, ray):
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
    base = column_values(kept)
    arrays = [a for _, a in base] + [pa.array(matrix[:, j], type=pa.float32()) for j in range(len(columns))]
    names = [n for n, _ in base] + columns
    table = pa.Table.from_arrays(arrays, names=names)
    if is_text_table(out):
        write_text_table(out, table, info)
    else:
        write_parquet(out, table, info)
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
