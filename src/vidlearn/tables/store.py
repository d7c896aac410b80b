"""A feature table on disk: its format and metadata, writing it as Parquet or as CSV/TSV with a JSON
sidecar, reading it back (:func:`read_feature_table`) and naming its feature columns
(:func:`feature_columns`). See :mod:`vidlearn.tables.table` for the layout."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from vidlearn.data.records import VideoRecord
from vidlearn.errors import DataSourceError
from vidlearn.fsutil import atomic_open, atomic_write_bytes, atomic_write_text

__all__ = [
    "FORMAT",
    "FORMAT_VERSION",
    "META_KEY",
    "RESERVED_COLUMNS",
    "column_values",
    "failure_reason",
    "feature_columns",
    "is_text_table",
    "read_feature_table",
    "read_table_info",
    "read_text_table",
    "sidecar_path",
    "write_parquet",
    "write_text_table",
]

FORMAT = "vidlearn-features"
FORMAT_VERSION = 1
META_KEY = b"vidlearn.features"
RESERVED_COLUMNS = ("path", "target", "group", "start", "end")


def is_text_table(path: Path) -> bool:
    """A CSV/TSV table (else Parquet)."""
    return path.suffix.lower() in (".csv", ".tsv")


def sidecar_path(path: Path) -> Path:
    """Where a text table keeps its metadata: ``<table>.json``."""
    return path.with_name(path.name + ".json")


def _sep(path: Path) -> str:
    return "\t" if path.suffix.lower() == ".tsv" else ","


def read_text_table(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A CSV/TSV table (the separator from the suffix), optionally only ``columns``."""
    return pd.read_csv(path, sep=_sep(path), usecols=columns)


def read_table_info(path: Path) -> dict[str, Any] | None:
    """The vidlearn metadata of a table (Parquet schema metadata or a matching sidecar), or None."""
    try:
        if is_text_table(path):
            info = json.loads(sidecar_path(path).read_text(encoding="utf-8"))
            return info if info.get("table_bytes") == path.stat().st_size else None
        meta = pq.read_schema(path).metadata or {}
        raw = meta.get(META_KEY)
        return json.loads(raw) if raw else None
    except Exception:  # noqa: BLE001 - a foreign or damaged file is simply not reused
        return None


def write_parquet(path: Path, table: pa.Table, info: dict[str, Any]) -> None:
    """Write ``table`` with ``info`` as its vidlearn metadata, atomically (zstd)."""
    meta = dict(table.schema.metadata or {})
    meta[META_KEY] = json.dumps(info, allow_nan=False).encode()
    table = table.replace_schema_metadata(meta)
    with atomic_open(path, "wb") as fh:
        pq.write_table(table, fh, compression="zstd")


def write_text_table(path: Path, table: pa.Table, info: dict[str, Any]) -> None:
    """The table as CSV/TSV (float32 values in their shortest exact form) and its sidecar, which
    names the table's size so that a mismatched pair is recognised."""
    data = table.to_pandas().to_csv(index=False, sep=_sep(path)).encode("utf-8")
    atomic_write_text(sidecar_path(path), json.dumps({**info, "table_bytes": len(data)}, allow_nan=False))
    atomic_write_bytes(path, data)


def column_values(records: list[VideoRecord]) -> list[tuple[str, pa.Array]]:
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


def failure_reason(exc: BaseException) -> str:
    """The short reason recorded for a video that could not be read."""
    reason = getattr(exc, "reason", None)
    if isinstance(reason, str) and reason:
        return reason
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


def read_feature_table(path: str | Path) -> pd.DataFrame:
    """Read a feature table written by :func:`compute_feature_table` (or any Parquet/CSV table);
    ``attrs["vidlearn"]`` holds its settings, feature columns and skipped videos when known."""
    p = Path(path)
    if not p.is_file():
        raise DataSourceError(p, ["feature table does not exist"])
    try:
        frame = read_text_table(p) if is_text_table(p) else pq.read_table(p).to_pandas()
        info: dict[str, Any] | None = read_table_info(p)
    except Exception as exc:  # noqa: BLE001 - a file that is not a table is the user's input
        raise DataSourceError(p, [f"not a readable feature table ({failure_reason(exc)})"]) from None
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
