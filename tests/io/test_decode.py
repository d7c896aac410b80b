"""Decoding: probing real files, exact frames at given seconds, variable frame rate, non-zero
start times, rotation, resampling, and clear errors for bad input."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path

import av
import numpy as np
import pytest

from vidlearn.errors import VideoError
from vidlearn.io import decode_clip, iter_frames, output_size, probe, read_frames, write_video

# From ../shared/data/README.md: file -> (width, height, fps, frames)
REAL_CLIPS = {
    "bigbuckbunny.mp4": (1280, 720, 25.0, 132),
    "bikes.mp4": (640, 272, 25.0, 250),
    "carphone_pristine.mp4": (176, 144, 29.97, 120),
    "carphone_distorted.mp4": (176, 144, 29.97, 120),
    "decord_flipping_a_pancake.mkv": (426, 240, 30.0, 310),
    "mmaction2_demo_kinetics_armwrestling.mp4": (340, 256, 28.0, 280),
    "mmaction2_tests_test.mp4": (340, 256, 30.0, 300),
}


def _write_timed(path: Path, times: list[float], size=(48, 64), rotation: int | None = None, step: int = 20) -> Path:
    """An H.264 mp4 whose frame i has grey level step*i and is shown at times[i] (seconds)."""
    h, w = size
    with av.open(str(path), "w") as c:
        s = c.add_stream("libx264", rate=25)
        s.width, s.height, s.pix_fmt = w, h, "yuv420p"
        s.codec_context.time_base = Fraction(1, 1000)
        s.time_base = Fraction(1, 1000)
        s.options = {"crf": "0"}
        if rotation is not None:
            s.set_display_rotation(rotation)
        for i, t in enumerate(times):
            img = np.full((h, w, 3), step * i, np.uint8)
            if rotation is not None:
                img[:, : w // 2, 0] = 255  # left half red
            f = av.VideoFrame.from_ndarray(img, format="rgb24")
            f.pts = int(round(t * 1000))
            f.time_base = Fraction(1, 1000)
            for p in s.encode(f):
                c.mux(p)
        for p in s.encode():
            c.mux(p)
    return path


def _level(frame: np.ndarray, step: int = 20) -> int:
    return int(round(frame.mean() / step))


@pytest.mark.parametrize("name", sorted(REAL_CLIPS))
def test_probe_real_clips_match_the_dataset_table(clips_dir: Path, name: str) -> None:
    w, h, fps, frames = REAL_CLIPS[name]
    info = probe(clips_dir / name)
    assert (info.width, info.height) == (w, h)
    assert info.fps == pytest.approx(fps, abs=0.01)
    assert info.num_frames == frames
    assert info.frames_exact
    assert info.duration == pytest.approx(frames / fps, rel=0.03)
    assert info.codec == "h264"


def test_probe_counts_frames_when_matroska_has_no_count(clips_dir: Path) -> None:
    path = clips_dir / "decord_flipping_a_pancake.mkv"
    with av.open(str(path)) as c:
        assert c.streams.video[0].frames == 0  # the header really lacks it
    info = probe(path)
    assert info.container.startswith("matroska")
    assert info.num_frames == 310
    assert info.has_audio  # this clip carries an audio track


def test_read_frames_equals_sequential_decode_on_real_clips(clips_dir: Path) -> None:
    rng = np.random.default_rng(0)
    for name in ("bikes.mp4", "decord_flipping_a_pancake.mkv", "carphone_pristine.mp4"):
        times, frames = decode_clip(clips_dir / name, short_side=48)
        idx = np.sort(rng.choice(len(times), size=12, replace=False))
        # ask a little after each frame's start: the same frame is still on screen
        got = read_frames(clips_dir / name, times[idx] + 0.3 / 30, short_side=48)
        for g, i in zip(got, idx):
            np.testing.assert_array_equal(g, frames[i], err_msg=f"{name} frame {i}")


def test_read_frames_any_order_and_repeats(clips_dir: Path) -> None:
    path = clips_dir / "mmaction2_tests_test.mp4"
    times = [5.0, 0.0, 9.9, 5.0, 2.5]
    got = read_frames(path, times, short_side=32)
    sorted_got = read_frames(path, sorted(times), short_side=32)
    by_time = {t: f for t, f in zip(sorted(times), sorted_got)}
    for t, f in zip(times, got):
        np.testing.assert_array_equal(f, by_time[t])
    assert got.shape == (5, 32, 42, 3)


def test_read_frames_past_the_end_gives_the_last_frame(tmp_path: Path) -> None:
    path = _write_timed(tmp_path / "v.mp4", [i / 25 for i in range(10)])
    got = read_frames(path, [100.0])
    assert _level(got[0]) == 9


def test_variable_frame_rate_and_nonzero_start(tmp_path: Path) -> None:
    # the stream starts at 1.5 s and frames are irregularly spaced
    shown = [1.5, 1.54, 1.58, 1.7, 2.0, 2.04, 2.5, 2.6]
    path = _write_timed(tmp_path / "vfr.mp4", shown)
    info = probe(path)
    assert info.start_time == pytest.approx(1.5)
    rel = [t - 1.5 for t in shown]
    # the frame displayed at time t is the last one whose start <= t
    queries = [0.0, 0.05, 0.15, 0.19, 0.21, 0.5, 0.55, 1.0, 1.05, 1.2]
    expect = [int(np.searchsorted(rel, q + 1e-9, side="right") - 1) for q in queries]
    got = read_frames(path, queries)
    assert [_level(f) for f in got] == expect
    # sequential iteration reports times relative to the first frame
    ts = [t for t, _ in iter_frames(path)]
    assert ts == pytest.approx(rel)


def test_iter_frames_resamples_to_a_target_rate(tmp_path: Path) -> None:
    path = _write_timed(tmp_path / "v.mp4", [i / 25 for i in range(50)], step=5)  # 2 s at 25 fps
    out = list(iter_frames(path, fps=5))
    assert [round(t, 6) for t, _ in out] == [round(k / 5, 6) for k in range(10)]
    assert [_level(f, 5) for _, f in out] == [5 * k for k in range(10)]  # frames shown at k/5 s
    up = list(iter_frames(path, fps=50))  # upsampling repeats frames
    assert len(up) == 100 and [_level(f, 5) for _, f in up][:4] == [0, 0, 1, 1]


def test_output_size_in_ffmpeg_keeps_aspect(clips_dir: Path) -> None:
    assert output_size(340, 256, short_side=128) == (170, 128)
    assert output_size(256, 340, short_side=128) == (128, 170)
    got = read_frames(clips_dir / "bikes.mp4", [1.0], short_side=64)
    assert got.shape == (1, 64, 151, 3)
    got = read_frames(clips_dir / "bikes.mp4", [1.0], size=(32, 24))
    assert got.shape == (1, 24, 32, 3)


def test_rotation_metadata_gives_upright_frames(tmp_path: Path) -> None:
    path = _write_timed(tmp_path / "rot.mp4", [0, 0.04, 0.08], size=(32, 64), rotation=90)
    info = probe(path)
    assert info.rotation == 90
    assert info.display_size == (32, 64)
    frame = read_frames(path, [0.0])[0]
    assert frame.shape == (64, 32, 3)  # portrait, as a player shows it
    # rotated 90 degrees counter-clockwise: the stored left half ends up at the bottom
    assert frame[48:, :, 0].mean() > 200 and frame[:16, :, 0].mean() < 100


def test_write_video_round_trip_and_odd_sizes(tmp_path: Path) -> None:
    frames = np.random.default_rng(0).integers(0, 255, (6, 31, 45, 3), dtype=np.uint8)
    path = write_video(tmp_path / "odd.mp4", frames, fps=12.5)
    info = probe(path)
    assert (info.width, info.height, info.num_frames) == (46, 32, 6)
    assert info.fps == pytest.approx(12.5)
    assert not list(tmp_path.glob(".*"))  # no temp file left behind


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "empty"), (b"hello, I am a text file" * 20, "not a readable video")],
)
def test_bad_files_get_a_clear_error_naming_the_file(tmp_path: Path, content: bytes, reason: str) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(content)
    for fn in (lambda: probe(bad), lambda: read_frames(bad, [0.0]), lambda: decode_clip(bad)):
        with pytest.raises(VideoError) as err:
            fn()
        assert str(bad) in str(err.value) and reason in str(err.value)


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(VideoError, match="does not exist"):
        probe(tmp_path / "nope.mp4")
    with pytest.raises(VideoError, match="directory"):
        probe(tmp_path)


def test_read_frames_rejects_nonsense_times(tmp_path: Path) -> None:
    path = _write_timed(tmp_path / "v.mp4", [0, 0.04])
    with pytest.raises(ValueError):
        read_frames(path, [])
    with pytest.raises(ValueError):
        read_frames(path, [float("nan")])


def test_a_training_clip_takes_the_skip_nonreference_fast_path(clips_dir: Path, monkeypatch) -> None:
    import vidlearn.io.decode as dec

    path = clips_dir / "mmaction2_tests_test.mp4"  # H.264 with B-frames (non-reference frames)
    times = 3.0 + np.arange(16) / 8.0
    expected = read_frames(path, times, short_side=32)  # may use either path

    def general_path_used(*a, **k):
        raise AssertionError("the general path ran for a short window")

    monkeypatch.setattr(dec, "_keyframe_times", general_path_used)
    np.testing.assert_array_equal(read_frames(path, times, short_side=32), expected)
    _, frames = decode_clip(path, short_side=32)
    np.testing.assert_array_equal(expected[0], frames[90])  # 3.0 s at 30 fps


@pytest.mark.parametrize(
    "name, codec, fps",
    [
        ("vp9.webm", "libvpx-vp9", 29.97),
        ("vp8.webm", "libvpx", 25.0),
        ("mpeg4.avi", "mpeg4", 29.97),
        ("mjpeg.avi", "mjpeg", 15.0),
        ("ffv1.mkv", "ffv1", 12.5),
        ("h264.mov", "libx264", 24.0),
    ],
)
def test_other_containers_and_codecs_probe_and_read_exactly(clips_dir: Path, tmp_path: Path, name: str, codec: str, fps: float) -> None:
    """A real clip re-encoded into WebM (VP9, VP8), AVI (MPEG-4 part 2, Motion JPEG), Matroska
    (FFV1) and QuickTime: exact frame count (WebM/Matroska headers have none), rate and size, and
    frames read at random seconds equal a sequential decode of the same file."""
    from vidlearn.io import check_video

    _, source = decode_clip(clips_dir / "carphone_pristine.mp4")
    path = write_video(tmp_path / name, source[:60], fps, codec=codec)
    info = probe(path)
    assert (info.width, info.height, info.num_frames) == (176, 144, 60)
    assert info.fps == pytest.approx(fps, rel=1e-3) and info.duration == pytest.approx(60 / fps, rel=1e-2)
    times, frames = decode_clip(path)
    assert len(frames) == 60 and np.all(np.diff(times) > 0)
    rng = np.random.default_rng(0)
    for _ in range(4):
        ts = np.sort(rng.uniform(0.0, info.duration, 4))
        got = read_frames(path, ts)
        for t, frame in zip(ts, got):
            assert np.array_equal(frame, frames[int(np.searchsorted(times, t, side="right")) - 1])
    assert check_video(path).ok
