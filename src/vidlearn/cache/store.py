"""Decoded-frame cache: every video is decoded once, at the decode rate and short side, and kept
on disk; later reads of any frame never decode again.

One entry per (video file identity, decode settings, segment):

- ``<stem>-<settings hash>-<identity hash>.npy`` (default format ``"npy"``): raw uint8 frames
  ``(N, H, W, 3)``, opened memory-mapped (zero-copy slices), or ``.jpgs`` (format ``"jpeg"``):
  the frames as JPEG images (quality 90) concatenated in one file;
- ``<same name>.json``: the sidecar -- frame times and JPEG offsets (base64-packed arrays),
  shape, the source file's identity and the settings. It is written last and is the commit
  marker: an entry without it does not exist.

Why npy by default: exact frames (training sees what prediction decodes), and an epoch of
Weizmann reads 73x faster than decoding it (bench/bench_decode.py), against 13x for JPEG. The
configuration chooses with ``data.cache_format``.

Why JPEG is the small option (measured on the 7 real clips of ../shared/data/clips, short side 128, one
CPU core): an entry is ~10x smaller than raw frames -- 0.23 GB instead of 2.3 GB per hour of
video at 8 fps, 0.81 GB instead of 8.0 GB at the clips' native ~28 fps -- while a 16-frame clip
reads in ~1.5 ms against ~50 ms (37-420 ms per file) for seeking and decoding it from the video;
raw ``.npy`` reads a clip in ~0.05 ms. Choose JPEG when disk space is short. JPEG frames differ from the decoded ones by ~2
grey levels on average (quality 90).

The key hashes the absolute path, size and modification time (ns) of the file and the settings
(fps, short side, start/end of the segment, format), so a changed video or another setting gets
a new entry (and the stale entry of the same file and settings is removed). Both files are
written to a temp file and renamed into place, so several processes (DataLoader workers) may
fill the same entry at once: at worst two decode it, none ever reads a half-written entry.

Decoding streams frame by frame into the entry, so an hour-long video never has to fit in memory.

With an ``encoder`` (a :class:`~vidlearn.features.frames.FrameEncoder`) the cache keeps per-frame
feature rows instead of pixels: ``(N, F)`` float32 ``.npy``, computed once per video on the same
decode grid, for models that read feature sequences; the encoder's settings are part of the key."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import json
import os
import re
import time
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from vidlearn import io as vio
from vidlearn.cache.entry import CachedVideo
from vidlearn.cache.formats import JpegFrames, JpegWriter, NpyWriter
from vidlearn.data.records import VideoRecord
from vidlearn.errors import VideoError
from vidlearn.fsutil import atomic_open, atomic_write_text


class RowEncoder(Protocol):
    """What a feature cache needs of a per-frame encoder (e.g. :class:`vidlearn.features.frames.FrameEncoder`):
    the settings that decide its rows (part of the cache key) and rows for a stream of frames."""

    def key(self) -> dict[str, Any]: ...

    def encode_stream(self, frames: Iterator[tuple[float, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(seconds, frame)`` in -> ``(times (n,), rows (n, F) float32)`` chunks out."""
        ...




CacheFormat = Literal["jpeg", "npy"]


_VERSION = 1


_META_SUFFIX = ".json"


_DATA_SUFFIX = {"jpeg": ".jpgs", "npy": ".npy"}


_STEM_CHARS = re.compile(r"[^A-Za-z0-9_.]+")


@dataclass
class _Counters:
    pid: int = field(default_factory=os.getpid)
    hits: int = 0
    misses: int = 0
    frames_decoded: int = 0
    bytes_written: int = 0
    seconds_decoding: float = 0.0


class FrameCache:
    """Decoded, resized frames on disk, keyed by file identity + decode settings.

    Args:
        root: the cache folder (created when needed); several caches with different settings
            may share it.
        fps: the decode rate (frames per second of the cached frames); None keeps every frame at
            its own time (variable frame rate preserved).
        short_side: the short side of the cached frames in pixels (None: the video's size).
        format: ``"npy"`` (default: exact, fastest) or ``"jpeg"`` (~10x smaller, ~13x faster than decoding).
        quality: JPEG quality (1-100).
        threads: decoder threads when filling an entry (0: FFmpeg chooses).
        memo_size: opened entries kept per process (their memory maps), least recently used out.
        encoder: keep per-frame feature rows ``(N, F)`` float32 instead of frames (npy only).
    """

    def __init__(
        self,
        root: str | Path,
        *,
        fps: float | None,
        short_side: int | None,
        format: CacheFormat = "npy",  # noqa: A002 - the natural name
        quality: int = 90,
        threads: int = 0,
        memo_size: int = 256,
        encoder: RowEncoder | None = None,
    ) -> None:
        if fps is not None and not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive (or None for every frame), got {fps!r}")
        if short_side is not None and int(short_side) < 1:
            raise ValueError(f"short_side must be positive, got {short_side!r}")
        if format not in _DATA_SUFFIX:
            raise ValueError(f"format must be one of {sorted(_DATA_SUFFIX)}, got {format!r}")
        if not 1 <= int(quality) <= 100:
            raise ValueError(f"quality must be in 1..100, got {quality!r}")
        if encoder is not None and format != "npy":
            raise ValueError("a feature cache (encoder) stores npy only")
        self.root = Path(root)
        self.fps = None if fps is None else float(fps)
        self.short_side = None if short_side is None else int(short_side)
        self.format: CacheFormat = format
        self.quality = int(quality)
        self.threads = int(threads)
        self.memo_size = int(memo_size)
        self.encoder = encoder
        self._dtype = np.dtype(np.float32 if encoder is not None else np.uint8)
        self._memo: OrderedDict[str, CachedVideo] = OrderedDict()
        self._counters = _Counters()

    def __repr__(self) -> str:
        features = "" if self.encoder is None else f", encoder={self.encoder!r}"
        return f"FrameCache({str(self.root)!r}, fps={self.fps}, short_side={self.short_side}, format={self.format!r}{features})"

    # ---- pickling (DataLoader workers): memory maps stay behind ---------------------------
    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state["_memo"] = OrderedDict()
        return state

    # ---- keys -------------------------------------------------------------------------------
    def _settings(self, record: VideoRecord) -> dict[str, Any]:
        settings = {
            "version": _VERSION,
            "fps": self.fps,
            "short_side": self.short_side,
            "start": None if record.start is None else float(record.start),
            "end": None if record.end is None else float(record.end),
            "format": self.format,
            "quality": self.quality if self.format == "jpeg" else None,
        }
        if self.encoder is not None:  # frame entries keep their keys: the field is added only here
            settings["encoder"] = self.encoder.key()
        return settings

    def _identity(self, record: VideoRecord) -> dict[str, Any]:
        p = Path(record.path)
        try:
            st = os.stat(p)
        except FileNotFoundError:
            raise VideoError(p, "file does not exist") from None
        except OSError as exc:
            raise VideoError(p, f"cannot read the file ({exc.strerror or exc})") from None
        if not os.path.isfile(p):
            raise VideoError(p, "is not a regular file")
        return {"path": str(p.resolve()), "size": int(st.st_size), "mtime_ns": int(st.st_mtime_ns)}

    @staticmethod
    def _hash(obj: Any, n: int) -> str:
        return hashlib.sha256(json.dumps(obj, sort_keys=True).encode("utf-8")).hexdigest()[:n]

    def _names(self, record: VideoRecord) -> tuple[str, str, dict[str, Any], dict[str, Any]]:
        """(entry name, prefix shared by every version of this file + settings, identity, settings)."""
        ident = self._identity(record)
        settings = self._settings(record)
        stem = _STEM_CHARS.sub("_", Path(ident["path"]).stem)[:40] or "video"
        prefix = f"{stem}-{self._hash({'path': ident['path'], **settings}, 12)}"
        name = f"{prefix}-{self._hash([ident['size'], ident['mtime_ns']], 8)}"
        return name, prefix, ident, settings

    def key(self, record: VideoRecord) -> str:
        """The entry name for a record now (changes when the file or a setting changes)."""
        return self._names(record)[0]

    def _meta_path(self, name: str) -> Path:
        return self.root / f"{name}{_META_SUFFIX}"

    def _data_path(self, name: str) -> Path:
        return self.root / f"{name}{_DATA_SUFFIX[self.format]}"

    # ---- counters ---------------------------------------------------------------------------
    def _count(self) -> _Counters:
        if self._counters.pid != os.getpid():  # a forked worker counts its own
            self._counters = _Counters()
            self._memo.clear()
        return self._counters

    def stats(self) -> dict[str, float | int]:
        """This process's counts: hits (served from disk), misses (decoded), frames decoded,
        bytes written, seconds spent decoding. DataLoader workers each count their own."""
        c = self._count()
        return {
            "pid": c.pid,
            "hits": c.hits,
            "misses": c.misses,
            "frames_decoded": c.frames_decoded,
            "bytes_written": c.bytes_written,
            "seconds_decoding": round(c.seconds_decoding, 6),
        }

    # ---- reading ----------------------------------------------------------------------------
    def contains(self, record: VideoRecord) -> bool:
        """True when the record's current version is cached with these settings."""
        name = self._names(record)[0]
        return name in self._memo or self._open(name) is not None

    def get(self, record: VideoRecord, *, threads: int | None = None) -> CachedVideo:
        """The cached frames of a record, decoding the video (once) if they are not on disk.

        Raises VideoError (naming the file and the reason) for a missing or undecodable video or
        a segment outside it."""
        counters = self._count()
        name, prefix, ident, settings = self._names(record)
        video = self._memo.get(name)
        if video is None:
            video = self._open(name)
            if video is None:
                video = self._fill(record, name, prefix, ident, settings, threads)
                counters.misses += 1
            else:
                counters.hits += 1
            self._memo[name] = video
            while len(self._memo) > self.memo_size:
                self._memo.popitem(last=False)
        else:
            counters.hits += 1
            self._memo.move_to_end(name)
        return video

    def frames_at(self, record: VideoRecord, times: Sequence[float] | np.ndarray) -> np.ndarray:
        """The cached frames (len(times), H, W, 3) uint8 displayed at ``times`` -- seconds from
        the start of the VIDEO, like ``vidlearn.io.read_frames`` (a record's segment starts at
        ``record.start``). Each time gets the last cached frame at or before it, i.e. the video
        is seen at the cache's rate."""
        return self.get(record).at(times)

    def _open(self, name: str) -> CachedVideo | None:
        """An entry from disk, or None if it is absent, incomplete or from another version."""
        meta_path, data_path = self._meta_path(name), self._data_path(name)
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
            if meta.get("version") != _VERSION or meta.get("format") != self.format:
                return None
            if os.stat(data_path).st_size != int(meta["data_bytes"]):
                return None  # a data file from another writer that does not match: refill
            shape = tuple(int(s) for s in meta["shape"])
            times = _unpack(meta["times"], np.float64)
            if self.format == "npy":
                frames = np.load(data_path, mmap_mode="r", allow_pickle=False)
                if frames.shape != shape or frames.dtype != self._dtype:
                    return None
            else:
                data = np.memmap(data_path, dtype=np.uint8, mode="r")
                frames = JpegFrames(data, _unpack(meta["offsets"], np.int64), shape)
                if int(frames._offsets[-1]) != data.size:
                    return None
            if len(times) != shape[0]:
                return None
        except (FileNotFoundError, KeyError, TypeError, ValueError, OSError):
            return None
        return CachedVideo(
            path=str(meta["source"]["path"]),
            start=float(meta["start"]),
            times=times,
            frames=frames,
            duration=float(meta["duration"]),
            key=name,
        )

    # ---- writing ----------------------------------------------------------------------------
    def _fill(
        self,
        record: VideoRecord,
        name: str,
        prefix: str,
        ident: dict[str, Any],
        settings: dict[str, Any],
        threads: int | None,
    ) -> CachedVideo:
        path = Path(record.path)
        start = float(record.start or 0.0)
        end = None if record.end is None else float(record.end)
        counters = self._count()
        t0 = time.perf_counter()
        info = vio.probe(path)
        times: list[float] = []
        data_path = self._data_path(name)
        with atomic_open(data_path, "wb") as fh:
            writer = NpyWriter(fh, path, self._dtype) if self.format == "npy" else JpegWriter(fh, path, self.quality)
            stream = vio.iter_frames(
                path,
                fps=self.fps,
                short_side=self.short_side,
                start=start if start > 0 else None,
                end=end,
                threads=self.threads if threads is None else threads,
            )
            if self.encoder is None:
                for t, frame in stream:
                    writer.add(frame)
                    times.append(float(t) - start)
            else:
                for ts, rows in self.encoder.encode_stream(stream):
                    for row in rows:
                        writer.add(row)
                    times.extend((ts - start).tolist())
            if not times:
                raise VideoError(path, "no frames in the requested range" if (start or end) else "no decodable frames")
            writer.finish()
            data_bytes = fh.tell()
        rel = np.asarray(times, dtype=np.float64)
        video_end = info.duration if info.duration > 0 else start + rel[-1] + _frame_step(rel, self.fps, info.fps)
        seg_end = video_end if end is None else min(end, video_end)
        duration = seg_end - start
        if not duration > 0:
            raise VideoError(path, f"segment {start:g}-{seg_end:g} s is empty (video lasts {video_end:.3f} s)")
        meta = {
            "version": _VERSION,
            "format": self.format,
            "source": ident,
            "settings": settings,
            "start": start,
            "duration": duration,
            "video_duration": info.duration,
            "shape": list(writer.shape),
            "times": _pack(rel, np.float64),
            "data_file": data_path.name,
            "data_bytes": data_bytes,
            "created": time.time(),
        }
        if self.format == "jpeg":
            meta["offsets"] = _pack(np.asarray(writer.offsets), np.int64)  # type: ignore[union-attr]
            meta["quality"] = self.quality
        text = json.dumps(meta, separators=(",", ":"))
        atomic_write_text(self._meta_path(name), text)
        counters.frames_decoded += len(times)
        counters.bytes_written += data_bytes + len(text)
        counters.seconds_decoding += time.perf_counter() - t0
        self._remove_stale(prefix, name)
        video = self._open(name)
        if video is None:  # replaced by a concurrent writer of another version between the two writes
            raise VideoError(path, "the cache entry changed while it was written; try again")
        return video

    def _remove_stale(self, prefix: str, keep: str) -> None:
        """Delete entries of the same file and settings whose file identity is outdated."""
        for meta in self.root.glob(f"{prefix}-*{_META_SUFFIX}"):
            name = meta.name[: -len(_META_SUFFIX)]
            if name == keep:
                continue
            for p in (meta, *(self.root / f"{name}{s}" for s in _DATA_SUFFIX.values())):
                with contextlib.suppress(OSError):
                    p.unlink()

    # ---- housekeeping -----------------------------------------------------------------------
    def _files(self) -> list[Path]:
        if not self.root.is_dir():
            return []
        ours = (_META_SUFFIX, *_DATA_SUFFIX.values())
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
        for meta_path in self.root.glob(f"*{_META_SUFFIX}") if self.root.is_dir() else []:
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


def _pack(values: np.ndarray, dtype: type) -> str:
    """A numeric array as base64 of its little-endian bytes (compact, fast to load from JSON)."""
    return base64.b64encode(np.asarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode("ascii")


def _unpack(text: str, dtype: type) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)


def _frame_step(rel: np.ndarray, fps: float | None, native_fps: float) -> float:
    if fps:
        return 1.0 / fps
    if len(rel) > 1:
        return float(np.median(np.diff(rel)))
    return 1.0 / native_fps if native_fps > 0 else 0.04
