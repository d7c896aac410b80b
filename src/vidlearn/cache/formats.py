"""How cache entries are stored on disk: memory-mapped `.npy` (exact; frames uint8 or feature rows float32) written frame by frame with a header rewritten once the count is known, or a `.jpgs` blob of JPEG frames with an offset table (`JpegFrames` decodes on access).

The `.npy` header is numpy's own (`numpy.lib.format.write_array_header_1_0`): numpy pads it so
that the length of the first axis can grow in place, which is what a stream of frames needs.
`numpy.lib.format.open_memmap` is not used to write: it needs the shape up front, and the number
of frames of a video is known only once it has been decoded to the end (containers' counts are
estimates), so it would mean a second pass or a second copy of every frame."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import IO, Any

import numpy as np

from vidlearn.cache.checksum import crc32
from vidlearn.errors import VideoError

META_SUFFIX = ".json"  # an entry's sidecar, written last (the commit marker)
DATA_SUFFIX = {"jpeg": ".jpgs", "npy": ".npy"}  # its data file, by format


class JpegFrames:
    """A read-only, array-like view of JPEG-compressed frames ``(N, H, W, 3)`` uint8: indexing
    (an int, a slice or an array of indices) decodes only the frames asked for."""

    def __init__(self, data: np.ndarray, offsets: np.ndarray, shape: tuple[int, int, int, int]) -> None:
        self._data = data
        self._offsets = np.asarray(offsets, dtype=np.int64)
        self.shape = tuple(int(s) for s in shape)
        if len(self._offsets) != self.shape[0] + 1:
            raise ValueError("JpegFrames: offsets must have N + 1 entries")

    dtype = np.dtype(np.uint8)
    ndim = 4

    @property
    def nbytes(self) -> int:
        """Bytes the frames take decoded."""
        return int(np.prod(self.shape))

    def __len__(self) -> int:
        return self.shape[0]

    def _decode_into(self, i: int, out: np.ndarray) -> None:
        import cv2

        buf = self._data[self._offsets[i] : self._offsets[i + 1]]
        img = cv2.imdecode(np.asarray(buf), cv2.IMREAD_COLOR)
        if img is None or img.shape != out.shape:
            raise ValueError(f"cached frame {i} is damaged")
        cv2.cvtColor(img, cv2.COLOR_BGR2RGB, dst=out)

    def __getitem__(self, key: Any) -> np.ndarray:
        n = self.shape[0]
        if isinstance(key, (int, np.integer)):
            i = int(key) + (n if key < 0 else 0)
            if not 0 <= i < n:
                raise IndexError(f"frame {key} out of range for {n} frames")
            out = np.empty(self.shape[1:], dtype=np.uint8)
            self._decode_into(i, out)
            return out
        idx = np.arange(n)[key] if isinstance(key, slice) else np.asarray(key, dtype=np.int64).reshape(-1)
        if idx.size and (idx.min() < -n or idx.max() >= n):
            raise IndexError(f"frame index out of range for {n} frames")
        idx = np.where(idx < 0, idx + n, idx)
        out = np.empty((len(idx), *self.shape[1:]), dtype=np.uint8)
        done: dict[int, int] = {}
        for j, i in enumerate(idx.tolist()):
            if i in done:  # repeated frames (short videos, clamped times) decode once
                out[j] = out[done[i]]
            else:
                self._decode_into(i, out[j])
                done[i] = j
        return out

    def __array__(self, dtype=None, copy=None) -> np.ndarray:
        arr = self[:]
        return arr if dtype is None else arr.astype(dtype)

    def __repr__(self) -> str:
        return f"JpegFrames(shape={self.shape}, bytes={int(self._offsets[-1])})"


class NpyWriter:
    """Streams frames (or feature rows) into a .npy file: numpy's header for zero frames is
    written with the first frame (it keeps room for the count to grow), and rewritten in place
    with the real count by `finish`."""

    def __init__(self, fh: IO[bytes], path: Path, dtype: np.dtype = np.dtype(np.uint8)) -> None:
        self.fh = fh
        self.path = path
        self.dtype = np.dtype(dtype).newbyteorder("<") if np.dtype(dtype).itemsize > 1 else np.dtype(dtype)
        self.frame_shape: tuple[int, ...] | None = None
        self.count = 0
        self.crc32 = 0  # of the data after the header (see cache.checksum)
        self._header_bytes = 0

    def add(self, frame: np.ndarray) -> None:
        frame = np.ascontiguousarray(frame, dtype=self.dtype)
        if self.frame_shape is None:
            self.frame_shape = frame.shape
            self._write_header()
        elif frame.shape != self.frame_shape:
            raise VideoError(self.path, f"frame size changed mid-video ({self.frame_shape} -> {frame.shape})")
        self.fh.write(memoryview(frame).cast("B"))
        self.crc32 = crc32(frame, self.crc32)
        self.count += 1

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.count, *(self.frame_shape or ()))

    def _write_header(self) -> None:
        """numpy's .npy header for the frames so far, at the start of the file; it keeps its
        length whatever the count (numpy reserves the digits), so frames are never moved."""
        start = self.fh.tell()
        self.fh.seek(0)
        np.lib.format.write_array_header_1_0(
            self.fh, {"descr": np.lib.format.dtype_to_descr(self.dtype), "fortran_order": False, "shape": self.shape}
        )
        end = self.fh.tell()
        if self._header_bytes and end != self._header_bytes:  # pragma: no cover - numpy's promise
            raise VideoError(self.path, "the .npy header changed length while the cache entry was written")
        self._header_bytes = end
        self.fh.seek(max(start, end))

    def finish(self) -> None:
        self._write_header()


class JpegWriter:
    """Streams frames as concatenated JPEG images, keeping their offsets."""

    def __init__(self, fh: IO[bytes], path: Path, quality: int) -> None:
        import cv2

        self._cv2 = cv2
        self.fh = fh
        self.path = path
        self.params = [cv2.IMWRITE_JPEG_QUALITY, int(quality)]
        self.offsets: list[int] = [0]
        self.frame_shape: tuple[int, ...] | None = None
        self.crc32 = 0  # of the whole blob (see cache.checksum)

    def add(self, frame: np.ndarray) -> None:
        if self.frame_shape is None:
            self.frame_shape = frame.shape
        elif frame.shape != self.frame_shape:
            raise VideoError(self.path, f"frame size changed mid-video ({self.frame_shape} -> {frame.shape})")
        bgr = self._cv2.cvtColor(np.ascontiguousarray(frame), self._cv2.COLOR_RGB2BGR)
        ok, buf = self._cv2.imencode(".jpg", bgr, self.params)
        if not ok:
            raise VideoError(self.path, "JPEG encoding of a frame failed")
        self.fh.write(memoryview(buf).cast("B"))
        self.crc32 = crc32(buf, self.crc32)
        self.offsets.append(self.offsets[-1] + int(buf.size))

    @property
    def shape(self) -> tuple[int, ...]:
        return (len(self.offsets) - 1, *(self.frame_shape or ()))

    def finish(self) -> None:
        pass


def pack_array(values: np.ndarray, dtype: type) -> str:
    """A numeric array as base64 of its little-endian bytes (compact, fast to load from JSON)."""
    return base64.b64encode(np.asarray(values, dtype=np.dtype(dtype).newbyteorder("<")).tobytes()).decode("ascii")


def unpack_array(text: str, dtype: type) -> np.ndarray:
    return np.frombuffer(base64.b64decode(text), dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
