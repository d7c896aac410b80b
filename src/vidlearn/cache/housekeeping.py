"""Housekeeping of a cache folder: its size, the entries of one cache's settings, clearing it."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path
from typing import Any

from vidlearn.cache.formats import DATA_SUFFIX, META_SUFFIX


class CacheFolder:
    """What :class:`~vidlearn.cache.store.FrameCache` offers about its folder (``root``) and the
    entries of its settings (``fps``, ``short_side``, ``format``, ``encoder``)."""

    root: Path
    fps: float | None
    short_side: int | None
    format: str
    encoder: Any
    _memo: Any

    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        ours = (META_SUFFIX, *DATA_SUFFIX.values())
        out = []
        for p in self.root.iterdir():
            is_tmp = p.name.startswith(".") and p.name.endswith(".tmp")
            if p.is_file() and (p.suffix in ours or is_tmp):
                out.append(p)
        return out

    def size_bytes(self) -> int:
        """Bytes the cache folder's entries take on disk (all settings, temp files included)."""
        total = 0
        for p in self._files():
            with contextlib.suppress(OSError):
                total += p.stat().st_size
        return total

    def info(self) -> dict[str, Any]:
        """Entries of these settings: count, frames, seconds of video, bytes and bytes per hour."""
        entries = frames = 0
        seconds = 0.0
        nbytes = 0
        for meta_path in self.root.glob(f"*{META_SUFFIX}") if self.root.is_dir() else []:
            try:
                meta = json.loads(meta_path.read_text(encoding="utf-8"))
                s = meta["settings"]
                if s["fps"] != self.fps or s["short_side"] != self.short_side or meta["format"] != self.format:
                    continue
                if s.get("encoder") != (None if self.encoder is None else self.encoder.key()):
                    continue
                nbytes += int(meta["data_bytes"]) + meta_path.stat().st_size
                frames += int(meta["shape"][0])
                seconds += float(meta["duration"])
                entries += 1
            except (OSError, ValueError, KeyError, TypeError):
                continue
        return {
            "entries": entries,
            "frames": frames,
            "seconds": seconds,
            "bytes": nbytes,
            "bytes_per_hour": nbytes / seconds * 3600 if seconds else 0.0,
        }

    def clear(self) -> int:
        """Remove every entry (and leftover temp file) in the folder; returns the files removed."""
        removed = 0
        for p in self._files():
            with contextlib.suppress(OSError):
                p.unlink()
                removed += 1
        self._memo.clear()
        return removed

    def _remove_stale(self, prefix: str, keep: str) -> None:
        """Delete entries of the same file and settings whose file identity is outdated."""
        for meta in self.root.glob(f"{prefix}-*{META_SUFFIX}"):
            name = meta.name[: -len(META_SUFFIX)]
            if name == keep:
                continue
            for p in (meta, *(self.root / f"{name}{s}" for s in DATA_SUFFIX.values())):
                with contextlib.suppress(OSError):
                    p.unlink()
