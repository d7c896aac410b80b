"""Resuming a feature table: the settings fingerprint and each video's file identity, reading back
the rows (and bad videos) that earlier runs finished, and writing finished rows as atomic part
files (``<out>.parts/part-NNNNN.parquet``) while a run goes on."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
from dataclasses import dataclass, field
from glob import escape as glob_escape
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from vidlearn.data.records import VideoRecord
from vidlearn.progress import Echo
from vidlearn.tables.families import Families
from vidlearn.tables.store import (
    FORMAT,
    FORMAT_VERSION,
    is_text_table,
    read_table_info,
    read_text_table,
    write_parquet,
)

__all__ = ["ChunkWriter", "Done", "file_identity", "load_done", "record_key", "run_settings", "settings_fingerprint"]

_PART = re.compile(r"^part-(\d{5,})\.parquet$")


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


def run_settings(fam: Families, fps: float | None, short_side: int | None, params: dict[str, Any]) -> dict[str, Any]:
    """Everything that decides a row's values; a part or table made with other settings is not reused."""
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


def settings_fingerprint(settings: dict[str, Any]) -> str:
    """A short hash of :func:`run_settings`, stored with every part and table."""
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:20]


def record_key(r: VideoRecord) -> tuple[str, float | None, float | None]:
    """(absolute path, start, end): the same key twice in one run is a duplicate record."""
    return (os.path.abspath(str(r.path)), r.start, r.end)


def file_identity(r: VideoRecord) -> list[Any] | None:
    """``[abspath, start, end, size, mtime_ns]`` of the record's file, or None when it cannot be stat'ed."""
    path, start, end = record_key(r)
    try:
        st = os.stat(path)
    except OSError:
        return None
    return [path, start, end, int(st.st_size), int(st.st_mtime_ns)]


@dataclass
class Done:
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


def load_done(out: Path, parts_dir: Path, fingerprint: str, columns: list[str], echo: Echo) -> Done:
    """What ``out`` and the part files in ``parts_dir`` already hold for ``fingerprint``; removes
    parts of other settings and temporary files left by killed writers."""
    done = Done()
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
        info = read_table_info(src)
        if info is None or info.get("fingerprint") != fingerprint:
            if src == out:
                echo(f"{out} was computed with other settings (or is not a feature table): recomputing")
            if src.parent == parts_dir:
                echo(f"ignoring {src.name}: computed with other feature settings")
                with contextlib.suppress(OSError):
                    src.unlink()
            continue
        try:
            if is_text_table(src):
                table = pa.Table.from_pandas(read_text_table(src, columns), preserve_index=False)
            else:
                table = pq.read_table(src, columns=columns)
        except Exception as exc:  # noqa: BLE001
            echo(f"ignoring {src}: unreadable ({type(exc).__name__})")
            continue
        done.add_table(table, info, columns)
    return done


def _features_table(paths: list[str], matrix: np.ndarray, columns: list[str]) -> pa.Table:
    arrays = [pa.array(paths, type=pa.string())]
    arrays += [pa.array(matrix[:, j], type=pa.float32()) for j in range(len(columns))]
    return pa.Table.from_arrays(arrays, names=["path", *columns])


def _next_part_index(parts_dir: Path) -> int:
    found = [int(m.group(1)) for p in parts_dir.glob("part-*.parquet") if (m := _PART.match(p.name))]
    return max(found, default=-1) + 1


class ChunkWriter:
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
        write_parquet(target, table, info)
        self.paths, self.idents, self.rows, self.skips = [], [], [], []
