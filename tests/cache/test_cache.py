"""The decoded-frame cache: decode once, read from disk afterwards; a changed video or setting gets
a new entry; several processes filling the same entry at once all read correct, identical frames."""

from __future__ import annotations

import hashlib
import json
import multiprocessing as mp
import os
from pathlib import Path

import numpy as np
import pytest

import vidlearn.io
from vidlearn.cache import FrameCache, JpegFrames
from vidlearn.data.records import VideoRecord
from vidlearn.errors import VideoError
from vidlearn.io import write_video

FPS = 25
N_FRAMES = 50  # 2 s
H, W = 32, 48
FORMATS = ["jpeg", "npy"]


def grey_video(path: Path, *, base: int = 4, step: int = 5, n: int = N_FRAMES) -> Path:
    """Frame k is uniformly grey at base + step * k, so its index can be read from its pixels."""
    levels = base + step * np.arange(n)
    assert levels.max() <= 255
    frames = np.broadcast_to(levels[:, None, None, None], (n, H, W, 3)).astype(np.uint8)
    return write_video(path, np.ascontiguousarray(frames), FPS)


def frame_index(frames: np.ndarray, *, base: int = 4, step: int = 5) -> np.ndarray:
    """Read the index of each grey frame back from its mean level."""
    means = np.asarray(frames, dtype=np.float64).reshape(len(frames), -1).mean(axis=1)
    return np.rint((means - base) / step).astype(int)


def shown_at(times, rate: float = FPS) -> np.ndarray:
    """Index of the frame (at `rate` fps from 0) displayed at each time."""
    # the decoder counts a frame due within 1e-4 s after a time as shown at that time
    return np.floor((np.asarray(times, dtype=np.float64) + 1e-4) * rate).astype(int)


class DecodeCounter:
    """Wraps vidlearn.io.iter_frames (what the cache decodes with) to count whole-video decodes."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.calls = 0
        self._real = vidlearn.io.iter_frames
        self.fail = False
        monkeypatch.setattr(vidlearn.io, "iter_frames", self)

    def __call__(self, *args, **kwargs):
        if self.fail:
            raise AssertionError("the cache decoded a video it should have read from disk")
        self.calls += 1
        return self._real(*args, **kwargs)


@pytest.fixture
def video(tmp_path: Path) -> Path:
    return grey_video(tmp_path / "videos" / "grey.mp4")


def entries(root: Path) -> list[str]:
    return sorted(p.name for p in root.glob("*.json"))


@pytest.mark.parametrize("fmt", FORMATS)
def test_second_access_reads_from_disk_without_decoding(tmp_path, video, monkeypatch, fmt):
    counter = DecodeCounter(monkeypatch)
    root = tmp_path / "cache"
    record = VideoRecord(video, target="a")
    cache = FrameCache(root, fps=8, short_side=H, format=fmt)
    first = cache.get(record)
    assert counter.calls == 1
    assert cache.stats()["misses"] == 1 and cache.stats()["hits"] == 0
    assert first.frames.shape == (16, H, W, 3)  # 2 s at 8 fps, short side 32 kept
    np.testing.assert_allclose(first.times, np.arange(16) / 8)
    assert first.duration == pytest.approx(2.0, abs=0.05)
    # the frames are those shown at 0, 1/8, 2/8 ... s
    np.testing.assert_array_equal(frame_index(np.asarray(first.frames)), shown_at(np.arange(16) / 8))

    counter.fail = True  # from now on any decode fails the test
    again = FrameCache(root, fps=8, short_side=H, format=fmt)  # a new process would start like this
    second = again.get(record)
    assert again.stats()["hits"] == 1 and again.stats()["misses"] == 0
    np.testing.assert_array_equal(np.asarray(second.frames), np.asarray(first.frames))
    assert cache.get(record) is first  # the opened entry is kept in memory too
    assert cache.stats()["hits"] == 1
    if fmt == "npy":
        assert isinstance(second.frames, np.memmap)
    else:
        assert isinstance(second.frames, JpegFrames)


@pytest.mark.parametrize("fmt", FORMATS)
def test_frames_at_picks_the_cached_frame_shown_at_each_time(tmp_path, video, fmt):
    cache = FrameCache(tmp_path / "cache", fps=8, short_side=H, format=fmt)
    record = VideoRecord(video)
    times = np.array([0.0, 0.1, 0.124, 0.125, 0.5, 1.3, 1.99, 0.2, 0.2, 7.0])  # any order, repeats, past the end
    got = cache.frames_at(record, times)
    assert got.shape == (len(times), H, W, 3) and got.dtype == np.uint8
    grid = np.minimum(np.floor(times * 8 + 1e-6), 15) / 8  # the cached frame at or before each time
    np.testing.assert_array_equal(frame_index(got), shown_at(grid))


def test_native_rate_keeps_every_frame(tmp_path, video):
    cache = FrameCache(tmp_path / "cache", fps=None, short_side=None, format="npy")
    v = cache.get(VideoRecord(video))
    assert v.frames.shape == (N_FRAMES, H, W, 3)
    np.testing.assert_allclose(v.times, np.arange(N_FRAMES) / FPS, atol=1e-6)
    np.testing.assert_array_equal(frame_index(np.asarray(v.frames)), np.arange(N_FRAMES))
    np.testing.assert_array_equal(frame_index(v.at([0.61, 1.0])), [15, 25])


def test_cached_frames_equal_the_decoder_output(tmp_path, video):
    """npy is exact; JPEG is close (uniform frames: within a couple of grey levels)."""
    times, ref = vidlearn.io.decode_clip(video, fps=8, short_side=H)
    raw = FrameCache(tmp_path / "raw", fps=8, short_side=H, format="npy").get(VideoRecord(video))
    np.testing.assert_array_equal(np.asarray(raw.frames), ref)
    jpg = FrameCache(tmp_path / "jpg", fps=8, short_side=H, format="jpeg").get(VideoRecord(video))
    assert np.abs(np.asarray(jpg.frames).astype(int) - ref).max() <= 3


@pytest.mark.parametrize("fmt", FORMATS)
def test_touched_or_modified_video_is_decoded_again(tmp_path, video, monkeypatch, fmt):
    counter = DecodeCounter(monkeypatch)
    root = tmp_path / "cache"
    record = VideoRecord(video)
    FrameCache(root, fps=8, short_side=H, format=fmt).get(record)
    assert counter.calls == 1 and len(entries(root)) == 1

    st = video.stat()
    os.utime(video, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # touched: same bytes, new mtime
    cache = FrameCache(root, fps=8, short_side=H, format=fmt)
    cache.get(record)
    assert counter.calls == 2
    assert cache.stats()["misses"] == 1
    assert len(entries(root)) == 1  # the outdated entry of the same file and settings is gone

    grey_video(video, base=200, step=-4)  # rewritten with other content (and size)
    v = cache.get(record)
    assert counter.calls == 3
    np.testing.assert_array_equal(frame_index(np.asarray(v.frames), base=200, step=-4), shown_at(np.arange(16) / 8))
    assert len(entries(root)) == 1


def test_different_settings_use_different_entries(tmp_path, video, monkeypatch):
    counter = DecodeCounter(monkeypatch)
    root = tmp_path / "cache"
    whole = VideoRecord(video)
    segment = VideoRecord(video, start=0.5, end=1.5)
    a = FrameCache(root, fps=8, short_side=H)
    b = FrameCache(root, fps=5, short_side=H)
    c = FrameCache(root, fps=8, short_side=16)
    d = FrameCache(root, fps=8, short_side=H, format="jpeg")
    shapes = [x.get(whole).frames.shape for x in (a, b, c, d)]
    seg = a.get(segment)
    assert counter.calls == 5
    assert len(entries(root)) == 5
    assert shapes == [(16, H, W, 3), (10, H, W, 3), (16, 16, 24, 3), (16, H, W, 3)]
    # every setting keeps its own entry: reading them all again decodes nothing
    for x in (a, b, c, d):
        FrameCache(x.root, fps=x.fps, short_side=x.short_side, format=x.format).get(whole)
    FrameCache(root, fps=8, short_side=H).get(segment)
    assert counter.calls == 5
    # a segment: times relative to its start, duration of the segment, frames_at in video seconds
    assert seg.start == 0.5 and seg.duration == pytest.approx(1.0)
    np.testing.assert_allclose(seg.times, np.arange(8) / 8)
    np.testing.assert_allclose(seg.video_times, 0.5 + np.arange(8) / 8)
    np.testing.assert_array_equal(frame_index(a.frames_at(segment, [0.5, 1.0, 1.49])), shown_at([0.5, 1.0, 1.375]))


def test_size_info_and_clear(tmp_path, video):
    root = tmp_path / "cache"
    cache = FrameCache(root, fps=8, short_side=H, format="npy")
    assert cache.size_bytes() == 0
    cache.get(VideoRecord(video))
    files = list(root.iterdir())
    assert cache.size_bytes() == sum(p.stat().st_size for p in files) > 16 * H * W * 3
    info = cache.info()
    assert info["entries"] == 1 and info["frames"] == 16
    assert info["seconds"] == pytest.approx(2.0, abs=0.05)
    assert info["bytes_per_hour"] == pytest.approx(info["bytes"] * 3600 / info["seconds"])
    jpeg = FrameCache(root, fps=8, short_side=H, format="jpeg")
    jpeg.get(VideoRecord(video))
    assert jpeg.info()["bytes"] < info["bytes"] / 3  # JPEG entries are several times smaller
    assert cache.clear() == 4  # two entries, data + sidecar each
    assert cache.size_bytes() == 0 and list(root.iterdir()) == []


@pytest.mark.parametrize("name,content,reason", [
    ("empty.mp4", b"", "empty"),
    ("notes.mp4", b"this is a text file, not a video\n" * 20, "not a readable video"),
])
def test_bad_video_raises_a_clear_error_and_leaves_nothing(tmp_path, name, content, reason):
    bad = tmp_path / name
    bad.write_bytes(content)
    cache = FrameCache(tmp_path / "cache", fps=8, short_side=H)
    with pytest.raises(VideoError) as info:
        cache.get(VideoRecord(bad))
    assert name in str(info.value) and reason in info.value.reason
    assert cache.size_bytes() == 0
    with pytest.raises(VideoError, match="does not exist"):
        cache.get(VideoRecord(tmp_path / "missing.mp4"))


def test_segment_outside_the_video_is_a_video_error(tmp_path, video):
    cache = FrameCache(tmp_path / "cache", fps=8, short_side=H)
    with pytest.raises(VideoError, match="grey.mp4"):
        cache.get(VideoRecord(video, start=5.0, end=6.0))


@pytest.mark.parametrize("fmt", FORMATS)
def test_incomplete_entry_is_never_read(tmp_path, video, monkeypatch, fmt):
    """A data file cut short (a crash of an older writer) or a leftover temp file is not served."""
    counter = DecodeCounter(monkeypatch)
    root = tmp_path / "cache"
    record = VideoRecord(video)
    FrameCache(root, fps=8, short_side=H, format=fmt).get(record)
    data = next(p for p in root.iterdir() if p.suffix != ".json")
    data.write_bytes(data.read_bytes()[: data.stat().st_size // 2])
    (root / ".leftover.npy.tmp").write_bytes(b"partial")
    v = FrameCache(root, fps=8, short_side=H, format=fmt).get(record)
    assert counter.calls == 2  # refilled
    np.testing.assert_array_equal(frame_index(np.asarray(v.frames)), shown_at(np.arange(16) / 8))
    meta = json.loads(next(root.glob("*.json")).read_text())
    assert meta["source"]["path"] == str(video.resolve()) and meta["shape"] == [16, H, W, 3]


# ---- several processes filling the same entry at once --------------------------------------------


def _fetch(root: str, path: str, fmt: str, barrier, queue) -> None:
    try:
        cache = FrameCache(root, fps=8, short_side=H, format=fmt)
        barrier.wait(timeout=60)
        v = cache.get(VideoRecord(Path(path)))
        frames = np.asarray(v.frames)
        # read it again through a fresh instance: whatever is on disk now is complete
        again = np.asarray(FrameCache(root, fps=8, short_side=H, format=fmt).get(VideoRecord(Path(path))).frames)
        queue.put((
            os.getpid(),
            cache.stats()["misses"],
            hashlib.sha256(frames.tobytes()).hexdigest(),
            hashlib.sha256(again.tobytes()).hexdigest(),
            frame_index(frames).tolist(),
        ))
    except BaseException as exc:  # noqa: BLE001 - reported to the parent
        queue.put(("error", repr(exc)))


@pytest.mark.parametrize("fmt", FORMATS)
def test_concurrent_processes_fetching_an_uncached_video_all_get_identical_correct_frames(tmp_path, video, fmt):
    n = 4
    ctx = mp.get_context("fork") if "fork" in mp.get_all_start_methods() else mp.get_context("spawn")
    root = tmp_path / "cache"
    barrier = ctx.Barrier(n)
    queue = ctx.Queue()
    procs = [ctx.Process(target=_fetch, args=(str(root), str(video), fmt, barrier, queue)) for _ in range(n)]
    for p in procs:
        p.start()
    results = [queue.get(timeout=120) for _ in range(n)]
    for p in procs:
        p.join(timeout=60)
        assert p.exitcode == 0
    errors = [r for r in results if r[0] == "error"]
    assert not errors, errors
    digests = {r[2] for r in results} | {r[3] for r in results}
    assert len(digests) == 1, "processes read different frames"
    expected = shown_at(np.arange(16) / 8).tolist()
    assert all(r[4] == expected for r in results)
    assert sum(r[1] for r in results) >= 1  # someone decoded it; the others may have too
    # exactly one complete entry, no temp file left behind
    assert len(entries(root)) == 1
    assert not [p.name for p in root.iterdir() if p.name.endswith(".tmp")]
    single = FrameCache(tmp_path / "single", fps=8, short_side=H, format=fmt).get(VideoRecord(video))
    assert hashlib.sha256(np.asarray(single.frames).tobytes()).hexdigest() in digests


def test_the_npy_writer_streams_frames_behind_numpys_own_header(tmp_path) -> None:
    """A stream of unknown length: numpy's header (64-byte aligned) is written with the first
    frame and rewritten with the count at the end; np.load reads every frame back exactly, and
    an empty stream is a valid empty array."""
    import numpy as np

    from vidlearn.cache.formats import NpyWriter

    frames = np.random.default_rng(0).integers(0, 256, (1001, 4, 6, 3), dtype=np.uint8)  # 1 -> 4 digits
    path = tmp_path / "x.npy"
    with open(path, "wb") as fh:
        w = NpyWriter(fh, path)
        for f in frames:
            w.add(f)
        w.finish()
    back = np.load(path, mmap_mode="r", allow_pickle=False)
    assert back.shape == frames.shape and back.dtype == np.uint8 and back.offset % 64 == 0
    assert np.array_equal(back, frames)
    rows = tmp_path / "rows.npy"
    with open(rows, "wb") as fh:
        NpyWriter(fh, rows, np.dtype(np.float32)).finish()
    assert np.load(rows).shape == (0,)
