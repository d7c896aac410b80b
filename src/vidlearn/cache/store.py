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

The sidecar carries the CRC32 of the data (``cache.checksum``), checked once per process when an
entry is opened: bytes overwritten in place or zeroed are found, the video is decoded again and a
:class:`DamagedEntryWarning` names it. A cache folder that cannot be written is one ConfigError line.

With an ``encoder`` (a :class:`~vidlearn.features.frames.FrameEncoder`) the cache keeps per-frame
feature rows instead of pixels: ``(N, F)`` float32 ``.npy``, computed once per video on the same
decode grid, for models that read feature sequences; the encoder's settings are part of the key."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import time
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np

from vidlearn import io as vio
from vidlearn.io.decode import FPS_RANGE
from vidlearn.cache.checksum import mark_verified
from vidlearn.cache.checksum import verify as verify_checksum
from vidlearn.cache.entry import CachedVideo, frame_step
from vidlearn.cache.formats import (
    DATA_SUFFIX,
    META_SUFFIX,
    JpegFrames,
    JpegWriter,
    NpyWriter,
    pack_array,
    unpack_array,
)
from vidlearn.cache.housekeeping import CacheFolder
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, VideoError
from vidlearn.fsutil import atomic_open, atomic_write_text


class RowEncoder(Protocol):
    """What a feature cache needs of a per-frame encoder (e.g. :class:`vidlearn.features.frames.FrameEncoder`):
    the settings that decide its rows (part of the cache key) and rows for a stream of frames."""

    def key(self) -> dict[str, Any]: ...

    def encode_stream(self, frames: Iterator[tuple[float, np.ndarray]]) -> Iterator[tuple[np.ndarray, np.ndarray]]:
        """``(seconds, frame)`` in -> ``(times (n,), rows (n, F) float32)`` chunks out."""
        ...


class DamagedEntryWarning(UserWarning):
    """A cache entry whose bytes do not match its checksum: the video is decoded again."""


CacheFormat = Literal["jpeg", "npy"]
_VERSION = 1
_STEM_CHARS = re.compile(r"[^A-Za-z0-9_.]+")


@dataclass
class _Counters:
    pid: int = field(default_factory=os.getpid)
    hits: int = 0
    misses: int = 0
    frames_decoded: int = 0
    bytes_written: int = 0
    seconds_decoding: float = 0.0


class FrameCache(CacheFolder):
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
        verify: check each entry's checksum the first time this process opens it (default True).
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
        verify: bool = True,
    ) -> None:
        if fps is not None and not (np.isfinite(fps) and fps > 0):
            raise ValueError(f"fps must be positive (or None for every frame), got {fps!r}")
        if fps is not None and not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:  # 1e300 would fill the disk with copies
            raise ConfigError(f"decode.fps: the cache decodes at {FPS_RANGE[0]:g} to {FPS_RANGE[1]:g} frames per second, got {fps:g}")
        if short_side is not None and int(short_side) < 1:
            raise ValueError(f"short_side must be positive, got {short_side!r}")
        if format not in DATA_SUFFIX:
            raise ValueError(f"format must be one of {sorted(DATA_SUFFIX)}, got {format!r}")
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
        self.verify = bool(verify)
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
        return self.root / f"{name}{META_SUFFIX}"

    def _data_path(self, name: str) -> Path:
        return self.root / f"{name}{DATA_SUFFIX[self.format]}"

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
            times = unpack_array(meta["times"], np.float64)
            if self.format == "npy":
                frames = np.load(data_path, mmap_mode="r", allow_pickle=False)
                if frames.shape != shape or frames.dtype != self._dtype:
                    return None
            else:
                data = np.memmap(data_path, dtype=np.uint8, mode="r")
                frames = JpegFrames(data, unpack_array(meta["offsets"], np.int64), shape)
                if int(frames._offsets[-1]) != data.size:
                    return None
            if len(times) != shape[0]:
                return None
            offset = frames.offset if self.format == "npy" else 0  # the checksum covers the frames, not the header
            if self.verify and "crc32" in meta and not verify_checksum(data_path, meta["crc32"], offset):
                warnings.warn(f"{meta['source']['path']}: its cache entry {data_path} is damaged (checksum mismatch); "
                              "decoding the video again", DamagedEntryWarning, stacklevel=3)
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
        with self._writing(), atomic_open(data_path, "wb") as fh:
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
        video_end = info.duration if info.duration > 0 else start + rel[-1] + frame_step(rel, self.fps, info.fps)
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
            "times": pack_array(rel, np.float64),
            "data_file": data_path.name,
            "data_bytes": data_bytes,
            "created": time.time(),
        }
        if self.format == "jpeg":
            meta["offsets"] = pack_array(np.asarray(writer.offsets), np.int64)  # type: ignore[union-attr]
            meta["quality"] = self.quality
        meta["crc32"] = writer.crc32
        text = json.dumps(meta, separators=(",", ":"))
        with self._writing():
            atomic_write_text(self._meta_path(name), text)
        mark_verified(data_path)  # computed while writing: no second pass
        counters.frames_decoded += len(times)
        counters.bytes_written += data_bytes + len(text)
        counters.seconds_decoding += time.perf_counter() - t0
        self._remove_stale(prefix, name)
        video = self._open(name)
        if video is None:  # replaced by a concurrent writer of another version between the two writes
            raise VideoError(path, "the cache entry changed while it was written; try again")
        return video

    @contextlib.contextmanager
    def _writing(self) -> Iterator[None]:
        """File-system errors while writing an entry (a read-only or full cache folder) as one
        ConfigError line naming the folder; errors of the video itself pass through."""
        try:
            yield
        except OSError as exc:
            where = exc.filename if isinstance(exc.filename, str) else str(self.root)
            if isinstance(exc.filename, str) and not Path(where).is_relative_to(self.root):
                raise
            raise ConfigError(f"cache folder {self.root}: cannot write an entry ({exc.strerror or exc}); make it "
                              "writable, choose another (data.cache_dir or $VIDLEARN_CACHE) or turn the cache off "
                              "(data.cache=false)") from None
