"""Atomic file and folder writes: a temp file (or folder) beside the target, fsync, then rename (or
an atomic exchange of folders). Nothing half-written is ever read back."""

from __future__ import annotations

import contextlib
import ctypes
import errno
import os
import shutil
import sys
import tempfile
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_open(path: str | Path, mode: str = "wb") -> Iterator[IO]:
    """Open a temp file beside `path`; on success it replaces `path` atomically, on error it is removed."""
    if mode not in ("w", "wb"):
        raise ValueError("atomic_open supports 'w' and 'wb'")
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    os.fchmod(fd, _default_mode())  # mkstemp makes 0600; written files get the usual 0644 (umask)
    try:
        with os.fdopen(fd, mode) as fh:
            yield fh
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def default_file_mode() -> int:
    """The mode a new file gets under the process's umask (0644 under umask 022)."""
    return _default_mode()


def _default_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def atomic_write_bytes(path: str | Path, data: bytes) -> None:
    """Write bytes atomically."""
    with atomic_open(path, "wb") as fh:
        fh.write(data)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write text (UTF-8) atomically. A file name that is not UTF-8 (Linux allows any bytes; Python
    holds them as surrogates, see os.fsdecode) is written as its own bytes, so the text names that file."""
    atomic_write_bytes(path, text.encode("utf-8", "surrogateescape"))


def tmp_path_for(path: str | Path) -> Path:
    """A unique temp path beside `path` for writers that need a file name (e.g. video encoders);
    finish with os.replace(tmp, path)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{target.stem}.", suffix=target.suffix, dir=target.parent)
    os.fchmod(fd, _default_mode())
    os.close(fd)
    return Path(tmp)


def safe_name(name: str) -> str:
    """A file-name-safe form of `name` (letters, digits, '-', '_' and '.'; anything else '_')."""
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in name)


def fsync_file(path: Path) -> None:
    """Flush a file's data to disk."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def fsync_dir(path: Path) -> None:
    """Flush a folder's entries (a rename in it) to disk, where the platform allows."""
    with contextlib.suppress(OSError):  # not every platform/file system allows it
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def exchange_paths(a: Path, b: Path) -> bool:
    """Atomically swap two paths (Linux renameat2 RENAME_EXCHANGE); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    renameat2.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    renameat2.restype = ctypes.c_int
    at_fdcwd, rename_exchange = -100, 2
    if renameat2(at_fdcwd, os.fsencode(a), at_fdcwd, os.fsencode(b), rename_exchange) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.EOPNOTSUPP):
        return False  # kernel or file system without exchange: fall back
    raise OSError(err, f"cannot swap {a} and {b}: {os.strerror(err)}")


def swap_in_dir(new: Path, target: Path) -> None:
    """Put directory ``new`` at ``target``. An existing target is exchanged atomically where the OS
    can (Linux renameat2), else moved aside first and restored if the second rename fails. After
    return, ``new`` holds the old folder (or no longer exists)."""
    if not target.exists():
        os.rename(new, target)
        return
    if exchange_paths(new, target):
        return
    backup = target.parent / f".{target.name}.old-{uuid.uuid4().hex[:8]}"
    os.rename(target, backup)
    try:
        os.rename(new, target)
    except BaseException:
        os.rename(backup, target)
        raise
    shutil.rmtree(backup, ignore_errors=True)


@contextlib.contextmanager
def atomic_dir(target: str | Path) -> Iterator[Path]:
    """Write a folder atomically: yields an empty temp folder beside ``target``; when the block
    ends without an error the folder (0755, its files 0644 under umask 022) replaces ``target`` in
    one step (the old one, if any, is removed); on an error ``target`` is left as it was. The
    caller checks beforehand that an existing ``target`` may be replaced."""
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent))
    try:
        yield tmp
        mode = _default_mode()
        for f in tmp.iterdir():
            if f.is_file():
                os.chmod(f, mode)
        os.chmod(tmp, mode | (mode & 0o444) >> 2)  # searchable where readable: 0755 under umask 022
        fsync_dir(tmp)
        swap_in_dir(tmp, target)
        fsync_dir(target.parent)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)  # the new folder (on failure) or the old one (after a swap)
