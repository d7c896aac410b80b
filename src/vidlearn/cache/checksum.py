"""Checksums of cache entries: the CRC32 (``zlib.crc32``) of an entry's data bytes -- the frames
or rows after a ``.npy`` header, the whole ``.jpgs`` blob -- computed while the entry is written and
stored in its JSON sidecar (``"crc32"``) when it is complete.

An entry is checked the first time a process opens it: one pass over its bytes (CRC32 runs at
several GB/s, far less than decoding the video again), after which the data file's identity
(device, inode, size, modification and change times) is remembered as verified, so later opens in
the same process -- and DataLoader workers forked after it -- do not read it again. A file
rewritten in place gets a new modification/change time and is checked again. Entries written by a
vidlearn without checksums have no ``"crc32"`` and are used unchecked."""

from __future__ import annotations

import os
import zlib
from pathlib import Path
from typing import Any

__all__ = ["crc32", "file_crc32", "is_verified", "mark_verified", "verify"]

_VERIFIED: set[tuple[Any, ...]] = set()


def crc32(data: Any, value: int = 0) -> int:
    """The running CRC32 of a bytes-like object (a numpy array or memory map included)."""
    return zlib.crc32(memoryview(data).cast("B"), value) & 0xFFFFFFFF


def _identity(path: Path) -> tuple[Any, ...]:
    st = os.stat(path)
    return (str(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def is_verified(path: Path) -> bool:
    """Whether this process has already found ``path`` (as it is now) to match its checksum."""
    try:
        return _identity(path) in _VERIFIED
    except OSError:
        return False


def mark_verified(path: Path) -> None:
    """Remember ``path`` (as it is now) as matching its checksum, e.g. right after writing it."""
    try:
        _VERIFIED.add(_identity(path))
    except OSError:
        pass


def file_crc32(path: Path, offset: int = 0) -> int:
    """The CRC32 of ``path`` from ``offset`` to its end: read whole when small, else in 4 MiB
    chunks (reading is about 3x faster than checksumming a fresh memory map, whose every page
    would fault in)."""
    chunk = 4 << 20
    with open(path, "rb", buffering=0) as fh:
        fh.seek(offset)
        if os.fstat(fh.fileno()).st_size - offset <= chunk:
            return crc32(fh.readall())
        buf, value = memoryview(bytearray(chunk)), 0
        while n := fh.readinto(buf):
            value = crc32(buf[:n], value)
    return value


def verify(path: Path, expected: int, offset: int = 0) -> bool:
    """Whether the bytes of ``path`` from ``offset`` on have the CRC32 ``expected``; one pass
    over them the first time per process, nothing after that."""
    try:
        ident = _identity(path)
        if ident in _VERIFIED:
            return True
        if file_crc32(path, offset) != int(expected) & 0xFFFFFFFF:
            return False
    except OSError:
        return False
    _VERIFIED.add(ident)
    return True
