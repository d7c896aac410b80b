"""Faults in the frame cache: entries carry a CRC32 checked once per process, so bytes overwritten
in place or zeroed are found (the video is decoded again, with a warning naming it); a cache folder
that cannot be written is one line."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pytest

from vidlearn.cache import FrameCache, checksum
from vidlearn.cache.store import DamagedEntryWarning
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, VidlearnError

from .test_cache import FORMATS, DecodeCounter, H, frame_index, grey_video, shown_at

EXPECTED = shown_at(np.arange(16) / 8)  # the 2 s grey video at 8 fps


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return grey_video(tmp_path / "videos" / "grey.mp4")


def _data_file(root: Path) -> Path:
    return next(p for p in root.iterdir() if p.suffix != ".json")


def _overwrite_in_place(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:  # same file, same size: only the bytes change
        fh.seek(offset)
        fh.write(data)


@pytest.mark.parametrize("fmt", FORMATS)
@pytest.mark.parametrize("damage", ["bytes", "zeros"])
def test_damaged_entry_is_found_rebuilt_and_reported(tmp_path, video, monkeypatch, fmt, damage):
    counter = DecodeCounter(monkeypatch)
    root = tmp_path / "cache"
    record = VideoRecord(video)
    FrameCache(root, fps=8, short_side=H, format=fmt).get(record)
    data = _data_file(root)
    size = data.stat().st_size
    header = 128 if fmt == "npy" else 0  # zero the frames, keep the .npy header that says their shape
    if damage == "bytes":
        _overwrite_in_place(data, header + (size - header) // 2, b"\xff" * 64)
    else:
        _overwrite_in_place(data, header, bytes(size - header))
    assert data.stat().st_size == size
    with pytest.warns(DamagedEntryWarning, match=rf"{video.name}: its cache entry .* is damaged \(checksum mismatch\)"):
        v = FrameCache(root, fps=8, short_side=H, format=fmt).get(record)
    assert counter.calls == 2  # decoded again
    np.testing.assert_array_equal(frame_index(v.at(np.arange(16) / 8)), EXPECTED)


@pytest.mark.parametrize("fmt", FORMATS)
def test_an_entry_is_checksummed_once_per_process(tmp_path, video, monkeypatch, fmt):
    root = tmp_path / "cache"
    record = VideoRecord(video)
    FrameCache(root, fps=8, short_side=H, format=fmt).get(record)
    meta = json.loads(next(root.glob("*.json")).read_text())
    assert isinstance(meta["crc32"], int)
    passes = []
    real = checksum.file_crc32
    monkeypatch.setattr(checksum, "file_crc32", lambda path, offset=0: passes.append(1) or real(path, offset))
    FrameCache(root, fps=8, short_side=H, format=fmt).get(record)  # written by this process: known good
    assert passes == []
    monkeypatch.setattr(checksum, "_VERIFIED", set())  # as a fresh process
    for _ in range(3):
        FrameCache(root, fps=8, short_side=H, format=fmt).get(record)
    assert len(passes) == 1
    assert checksum.crc32(np.asarray(_read_data(root, fmt))) == meta["crc32"]


def _read_data(root: Path, fmt: str) -> np.ndarray:
    data = _data_file(root)
    return np.load(data) if fmt == "npy" else np.fromfile(data, dtype=np.uint8)


def test_verification_can_be_turned_off_and_old_entries_without_a_checksum_still_load(tmp_path, video, monkeypatch):
    counter = DecodeCounter(monkeypatch)
    root = tmp_path / "cache"
    record = VideoRecord(video)
    FrameCache(root, fps=8, short_side=H).get(record)
    meta_path = next(root.glob("*.json"))
    meta = json.loads(meta_path.read_text())
    del meta["crc32"]  # as an older vidlearn wrote it
    meta_path.write_text(json.dumps(meta))
    monkeypatch.setattr(checksum, "_VERIFIED", set())
    v = FrameCache(root, fps=8, short_side=H).get(record)
    assert counter.calls == 1
    np.testing.assert_array_equal(frame_index(v.at(np.arange(16) / 8)), EXPECTED)


@pytest.mark.parametrize("missing", [False, True], ids=["read-only", "cannot-create"])
def test_a_cache_folder_that_cannot_be_written_is_one_line(tmp_path, video, monkeypatch, missing):
    parent = tmp_path / "ro"
    parent.mkdir()
    root = parent / "cache" if missing else parent
    os.chmod(parent, 0o555)
    if os.geteuid() == 0:  # root writes through file modes: fail the way the kernel would for a user
        real_mkstemp, real_mkdir = tempfile.mkstemp, Path.mkdir

        def mkstemp(*args, dir=None, **kwargs):
            if dir is not None and Path(dir).is_relative_to(parent):
                raise PermissionError(13, "Permission denied", os.path.join(dir, ".x.tmp"))
            return real_mkstemp(*args, dir=dir, **kwargs)

        def mkdir(self, *args, **kwargs):
            if self.is_relative_to(parent) and self != parent:
                raise PermissionError(13, "Permission denied", str(self))
            return real_mkdir(self, *args, **kwargs)

        monkeypatch.setattr(tempfile, "mkstemp", mkstemp)
        monkeypatch.setattr(Path, "mkdir", mkdir)
    try:
        with pytest.raises(ConfigError, match=rf"cache folder {root}: cannot write an entry \(Permission denied\)") as err:
            FrameCache(root, fps=8, short_side=H).get(VideoRecord(video))
        assert isinstance(err.value, VidlearnError) and "\n" not in str(err.value)
    finally:
        os.chmod(parent, 0o755)


@pytest.mark.parametrize("fps", [1e-300, 1e300])
def test_a_decode_rate_outside_the_range_is_one_line(tmp_path, fps):
    with pytest.raises(ConfigError, match=r"decode.fps: the cache decodes at 0.01 to 1000 frames per second, got 1e[+-]300"):
        FrameCache(tmp_path / "cache", fps=fps, short_side=H)
