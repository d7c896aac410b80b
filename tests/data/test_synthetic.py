"""The demo dataset generator: real mp4 files, classes that differ only by motion, bad files."""

from __future__ import annotations

import csv
import hashlib
import re
from collections import Counter
from pathlib import Path

import av
import numpy as np
import pytest

from vidlearn.data import synthetic
from vidlearn.data.synthetic import (
    DEFAULT_CLASSES,
    MOTIONS,
    SPEED_RANGE,
    draw_clip_spec,
    generate_demo_dataset,
    make_video,
    object_alpha,
    render_clip,
    write_bad_videos,
)
from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.io import check_video, decode_clip, probe, read_frames

FPS = 25.0
SIZE = 64
FRAMES = 50  # 2 s at 25 fps


def _rows(manifest: Path) -> list[dict[str, str]]:
    with open(manifest, newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


@pytest.fixture(scope="module")
def demo(tmp_path_factory) -> Path:
    """The default dataset (5 classes x 12 videos x 50 frames at 64x64); returns the manifest."""
    return generate_demo_dataset(tmp_path_factory.mktemp("demo"))


def _circular_drift(frames: np.ndarray, axis: str, fps: float) -> float:
    """Velocity (px/s, + = right/down) of what moves against the temporal median, measured as the
    slope of the unwrapped circular centroid (the object wraps around the frame edges)."""
    f = frames.astype(np.float32)
    diff = np.abs(f - np.median(f, axis=0)).sum(-1)  # (T, H, W)
    size = diff.shape[2] if axis == "x" else diff.shape[1]
    profile = diff.sum(axis=1 if axis == "x" else 2)  # (T, size)
    profile = np.maximum(profile - np.median(profile, axis=1, keepdims=True), 0.0)
    phase = np.exp(2j * np.pi * (np.arange(size) + 0.5) / size)
    centre = np.unwrap(np.angle((profile * phase).sum(1))) * size / (2 * np.pi)
    return float(np.polyfit(np.arange(len(centre)) / fps, centre, 1)[0])


# --------------------------------------------------------------------------- the dataset on disk


def test_manifest_lists_every_video_with_label_group_and_target(demo: Path):
    assert demo.name == "manifest.csv"
    with open(demo, newline="", encoding="utf-8") as fh:
        assert next(csv.reader(fh)) == ["path", "label", "group", "target"]
    rows = _rows(demo)
    assert len(rows) == len(DEFAULT_CLASSES) * 12
    assert Counter(r["label"] for r in rows) == {c: 12 for c in DEFAULT_CLASSES}
    # every class has videos in every group: a group says nothing about the class
    assert Counter((r["label"], r["group"]) for r in rows) == {(c, f"g{g}"): 3 for c in DEFAULT_CLASSES for g in range(4)}
    for r in rows:
        rel = Path(r["path"])
        assert not rel.is_absolute()
        assert rel.parts[:2] == ("videos", r["label"])
        assert re.fullmatch(rf"{r['group']}_{r['label']}_\d+\.mp4", rel.name)
        assert (demo.parent / rel).is_file()
    assert len({r["path"] for r in rows}) == len(rows)
    # nothing else was left behind (no temp files)
    on_disk = {p.relative_to(demo.parent).as_posix() for p in demo.parent.rglob("*") if p.is_file()}
    assert on_disk == {r["path"] for r in rows} | {"manifest.csv"}


def test_manifest_loads_as_records(demo: Path):
    from vidlearn.data.sources import load_manifest

    records = load_manifest(demo)
    assert len(records) == 60
    assert {r.target for r in records} == set(DEFAULT_CLASSES)
    assert {r.group for r in records} == {"g0", "g1", "g2", "g3"}
    speeds = load_manifest(demo, task="regression")
    assert all(isinstance(r.target, float) for r in speeds)


def test_targets_are_speeds_that_vary_within_each_class(demo: Path):
    rows = _rows(demo)
    lo, hi = SPEED_RANGE
    by_class: dict[str, list[float]] = {}
    for r in rows:
        v = float(r["target"])
        assert lo <= v <= hi
        by_class.setdefault(r["label"], []).append(v)
    for cls, values in by_class.items():
        assert len(set(values)) == len(values), cls
        assert np.std(values) > 0.1 * (hi - lo), cls


def test_every_video_decodes_with_the_expected_frames_fps_and_size(demo: Path):
    for r in _rows(demo):
        info = probe(demo.parent / r["path"])
        assert (info.width, info.height) == (SIZE, SIZE), r["path"]
        assert info.num_frames == FRAMES, r["path"]
        assert info.fps == pytest.approx(FPS), r["path"]
        assert info.duration == pytest.approx(2.0, abs=0.05), r["path"]
        assert info.codec == "h264"
        assert not info.has_audio


def test_right_moves_right_and_left_moves_left_at_the_target_speed(demo: Path):
    rows = [r for r in _rows(demo) if r["label"] in ("right", "left") and int(r["path"][-7:-4]) < 6]
    assert len(rows) == 12
    for r in rows:
        _, frames = decode_clip(demo.parent / r["path"])
        vx = _circular_drift(frames, "x", FPS)
        vy = _circular_drift(frames, "y", FPS)
        expected = float(r["target"]) * (1 if r["label"] == "right" else -1)
        assert np.sign(vx) == np.sign(expected), (r["path"], vx)
        assert vx == pytest.approx(expected, rel=0.25), r["path"]
        assert abs(vy) < 0.2 * abs(expected), (r["path"], vy)


def test_a_single_frame_does_not_tell_the_classes_apart(demo: Path):
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import GroupKFold, StratifiedKFold, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    rows = _rows(demo)
    feats, labels, groups = [], [], []
    for r in rows:
        first = read_frames(demo.parent / r["path"], [0.0])[0].astype(np.float64)
        feats.append(np.r_[first.mean(axis=(0, 1)), first.std(axis=(0, 1))])
        labels.append(r["label"])
        groups.append(r["group"])
    x, y, g = np.asarray(feats), np.asarray(labels), np.asarray(groups)
    clf = make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))
    # the class, from one frame, with group-wise CV: near chance (0.2 for 5 classes)
    acc_class = cross_val_score(clf, x, y, groups=g, cv=GroupKFold(n_splits=4)).mean()
    assert acc_class < 0.5
    # the same features do see appearance: the group (palette) is easy to tell (control)
    acc_group = cross_val_score(clf, x, g, cv=StratifiedKFold(n_splits=4, shuffle=True, random_state=0)).mean()
    assert acc_group > 0.7


def _block_diff(a: np.ndarray, b: np.ndarray, k: int = 4) -> float:
    """Mean absolute difference of k x k block means (insensitive to how the noise was coded)."""
    t, h, w, c = a.shape

    def blocks(x):
        return x.astype(np.float32).reshape(t, h // k, k, w // k, k, c).mean(axis=(2, 4))

    return float(np.abs(blocks(a) - blocks(b)).mean())


def _generate_recording_frames(monkeypatch, out: Path, **kwargs) -> tuple[Path, dict[str, bytes]]:
    """Generate, recording a digest of the frames handed to the encoder for each file."""
    seen: dict[str, bytes] = {}
    real = synthetic.write_video

    def recording(path, frames, fps, **kw):
        seen[Path(path).relative_to(out).as_posix()] = hashlib.sha256(np.ascontiguousarray(frames).tobytes()).digest()
        return real(path, frames, fps, **kw)

    monkeypatch.setattr(synthetic, "write_video", recording)
    manifest = generate_demo_dataset(out, **kwargs)
    monkeypatch.undo()
    return manifest, seen


def test_same_seed_regenerates_the_same_frames_and_other_seeds_differ(demo: Path, tmp_path: Path, monkeypatch):
    args = dict(classes=["right", "blink"], videos_per_class=2, num_groups=2)
    m1, frames1 = _generate_recording_frames(monkeypatch, tmp_path / "one", **args)
    m2, frames2 = _generate_recording_frames(monkeypatch, tmp_path / "two", **args)
    m3, frames3 = _generate_recording_frames(monkeypatch, tmp_path / "three", seed=1, **args)
    assert m1.read_text() == m2.read_text()
    assert m1.read_text() != m3.read_text()
    rows = _rows(m1)
    assert [r["path"] for r in rows] == [r["path"] for r in _rows(m3)] == list(frames1)
    # byte-identical frames before encoding
    assert frames1 == frames2
    assert all(frames1[k] != frames3[k] for k in frames1)
    # decoded: the same video. libx264 is not bit-reproducible on tiny noisy frames (its lookahead),
    # so the pixel noise may be coded differently; 4x4 block means agree to about a grey level,
    # while another seed differs by tens.
    for r in rows:
        _, a = decode_clip(m1.parent / r["path"])
        _, b = decode_clip(m2.parent / r["path"])
        _, c = decode_clip(m3.parent / r["path"])
        assert a.shape == b.shape == c.shape == (FRAMES, SIZE, SIZE, 3)
        assert _block_diff(a, b) < 4.0, r["path"]
        assert _block_diff(a, c) > 15.0, r["path"]
    # a clip depends on (seed, class, k), not on which other classes were generated: the default
    # dataset holds the same right/g0 clip
    _, small = decode_clip(m1.parent / "videos/right/g0_right_000.mp4")
    _, full = decode_clip(demo.parent / "videos/right/g0_right_000.mp4")
    assert _block_diff(small, full) < 4.0


def test_rerunning_into_the_same_folder_rewrites_it_identically(tmp_path: Path):
    args = dict(classes=["grow"], videos_per_class=2, num_groups=1, size=32, duration=0.4)
    manifest = generate_demo_dataset(tmp_path, **args)
    first = manifest.read_text()
    frames = decode_clip(tmp_path / _rows(manifest)[0]["path"])[1]
    assert generate_demo_dataset(tmp_path, **args) == manifest
    assert manifest.read_text() == first
    assert _block_diff(decode_clip(tmp_path / _rows(manifest)[0]["path"])[1], frames) < 4.0
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["g0_grow_000.mp4", "g0_grow_001.mp4", "manifest.csv"]


def test_an_interrupted_run_leaves_no_manifest(tmp_path: Path, monkeypatch):
    calls = []
    real = synthetic.write_video

    def failing(path, frames, fps, **kw):
        calls.append(path)
        if len(calls) == 3:
            raise KeyboardInterrupt
        return real(path, frames, fps, **kw)

    monkeypatch.setattr(synthetic, "write_video", failing)
    with pytest.raises(KeyboardInterrupt):
        generate_demo_dataset(tmp_path, classes=["left"], videos_per_class=4, num_groups=2, size=32, duration=0.4)
    assert not (tmp_path / "manifest.csv").exists()
    assert sorted(p.name for p in tmp_path.rglob("*") if p.is_file()) == ["g0_left_000.mp4", "g1_left_001.mp4"]


def test_other_sizes_rates_and_optional_classes(tmp_path: Path):
    manifest = generate_demo_dataset(
        tmp_path, classes=["up", "down"], videos_per_class=2, num_groups=2, size=48, fps=10.0, duration=1.5, seed=7
    )
    rows = _rows(manifest)
    assert [r["label"] for r in rows] == ["up", "up", "down", "down"]
    for r in rows:
        info = probe(manifest.parent / r["path"])
        assert (info.width, info.height, info.num_frames) == (48, 48, 15)
        assert info.fps == pytest.approx(10.0)
        # speeds scale with the frame size
        assert SPEED_RANGE[0] * 48 / 64 <= float(r["target"]) <= SPEED_RANGE[1] * 48 / 64


@pytest.mark.parametrize(
    "kwargs, field",
    [
        (dict(classes=["right", "sideways"]), "sideways"),
        (dict(classes=[]), "classes"),
        (dict(classes=["left", "left"]), "classes"),
        (dict(videos_per_class=0), "videos_per_class"),
        (dict(videos_per_class=2, num_groups=3), "num_groups"),
        (dict(fps=0.0), "fps"),
        (dict(size=63), "size"),
        (dict(size=8), "size"),
        (dict(duration=-1.0), "duration"),
    ],
)
def test_bad_arguments_are_clear_errors_and_write_nothing(tmp_path: Path, kwargs, field):
    with pytest.raises(ConfigError, match=field):
        generate_demo_dataset(tmp_path / "out", **kwargs)
    assert not (tmp_path / "out").exists()


def test_cli_demo_data_takes_classes_and_groups(tmp_path: Path):
    from typer.testing import CliRunner

    from vidlearn.cli import app

    res = CliRunner().invoke(app, ["demo-data", str(tmp_path / "d"), "--classes", "right, up", "--videos-per-class", "3", "--groups", "3"])
    assert res.exit_code == 0, res.output
    rows = _rows(tmp_path / "d" / "manifest.csv")
    assert [r["label"] for r in rows] == ["right"] * 3 + ["up"] * 3
    assert [r["group"] for r in rows] == ["g0", "g1", "g2"] * 2
    bad = CliRunner().invoke(app, ["demo-data", str(tmp_path / "x"), "--classes", "right,sideways"])
    assert bad.exit_code != 0 and "sideways" in bad.output and "Traceback" not in bad.output
    assert not (tmp_path / "x").exists()


# --------------------------------------------------------------------------- clips in memory


@pytest.mark.parametrize("kind", MOTIONS)
def test_make_video_returns_frames_and_a_positive_speed(kind: str):
    frames, target = make_video(kind, size=SIZE, fps=FPS, duration=2.0, rng=np.random.default_rng(0))
    assert frames.shape == (FRAMES, SIZE, SIZE, 3) and frames.dtype == np.uint8
    assert SPEED_RANGE[0] <= target <= SPEED_RANGE[1]
    # textured and noisy, not flat
    assert frames[0].std() > 10
    assert np.abs(frames[1].astype(int) - frames[0]).mean() > 2  # per-frame noise
    again, target2 = make_video(kind, size=SIZE, fps=FPS, duration=2.0, rng=np.random.default_rng(0))
    np.testing.assert_array_equal(frames, again)
    assert target2 == target


def test_make_video_rejects_an_unknown_kind():
    with pytest.raises(VidlearnError, match="jump"):
        make_video("jump", size=SIZE, fps=FPS, duration=2.0, rng=np.random.default_rng(0))


def test_with_equal_generators_the_first_frames_of_all_kinds_are_identical():
    """Appearance is drawn identically for every kind: only the motion differs."""
    first = {k: make_video(k, rng=np.random.default_rng(42))[0][0] for k in MOTIONS}
    for kind in MOTIONS:
        if kind == "blink":
            continue
        np.testing.assert_array_equal(first[kind], first["right"], err_msg=kind)
    # blink shows the same frame, or the same without the object (it may start hidden)
    alpha = object_alpha(draw_clip_spec("right", rng=np.random.default_rng(42)))[0]
    differs = np.any(first["blink"] != first["right"], axis=-1)
    assert not differs[alpha == 0].any()


def _centre_and_orientation(alpha: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Per frame: circular centroid x, y (unwrapped, px), area, orientation of the major axis (rad)."""
    t, s, _ = alpha.shape
    phase = np.exp(2j * np.pi * (np.arange(s) + 0.5) / s)
    area = alpha.sum(axis=(1, 2))
    cx = np.unwrap(np.angle((alpha.sum(1) * phase).sum(1))) * s / (2 * np.pi)
    cy = np.unwrap(np.angle((alpha.sum(2) * phase).sum(1))) * s / (2 * np.pi)
    angles = []
    for i in range(t):
        # second moments about the (wrapped) centre
        grid = np.arange(s) + 0.5
        dx = np.mod(grid - cx[i] + s / 2, s) - s / 2
        dy = np.mod(grid - cy[i] + s / 2, s) - s / 2
        w = alpha[i]
        mxx = (w * dx[None, :] ** 2).sum()
        myy = (w * dy[:, None] ** 2).sum()
        mxy = (w * dx[None, :] * dy[:, None]).sum()
        angles.append(0.5 * np.arctan2(2 * mxy, mxx - myy))
    return cx, cy, area, np.unwrap(np.asarray(angles), period=np.pi)


@pytest.mark.parametrize("kind, vx, vy", [("right", 1, 0), ("left", -1, 0), ("down", 0, 1), ("up", 0, -1)])
def test_translations_move_the_object_at_the_target_speed(kind: str, vx: int, vy: int):
    for seed in range(3):
        spec = draw_clip_spec(kind, rng=np.random.default_rng(seed))
        cx, cy, area, _ = _centre_and_orientation(object_alpha(spec))
        t = np.arange(spec.num_frames) / spec.fps
        assert np.polyfit(t, cx, 1)[0] == pytest.approx(vx * spec.speed, abs=0.5)
        assert np.polyfit(t, cy, 1)[0] == pytest.approx(vy * spec.speed, abs=0.5)
        assert area.std() < 0.05 * area.mean()
        # and it is visible in the rendered frames, measured the way a user would
        frames = render_clip(spec)
        measured = _circular_drift(frames, "x" if vx else "y", spec.fps)
        assert measured == pytest.approx((vx or vy) * spec.speed, rel=0.25)


def test_rotate_spins_in_place_with_tips_at_the_target_speed():
    for seed in range(3):
        spec = draw_clip_spec("rotate", rng=np.random.default_rng(seed))
        cx, cy, area, angle = _centre_and_orientation(object_alpha(spec))
        t = np.arange(spec.num_frames) / spec.fps
        assert np.ptp(cx) < 0.5 and np.ptp(cy) < 0.5
        assert area.std() < 0.05 * area.mean()
        omega = abs(np.polyfit(t, angle, 1)[0])
        assert omega * spec.semi_major == pytest.approx(spec.speed, rel=0.1)
        assert abs(angle[-1] - angle[0]) > np.pi / 2  # clearly visible: more than a quarter turn


def test_grow_scales_up_and_restarts_small():
    for seed in range(3):
        spec = draw_clip_spec("grow", rng=np.random.default_rng(seed))
        cx, cy, area, _ = _centre_and_orientation(object_alpha(spec))
        steps = np.diff(area)
        assert (steps > 0).mean() > 0.8  # mostly growing ...
        assert area.max() > 2.5 * area.min()  # ... a lot
        assert np.ptp(cx) < 0.5 and np.ptp(cy) < 0.5


def test_blink_shows_and_hides_the_object_in_place():
    for seed in range(3):
        spec = draw_clip_spec("blink", rng=np.random.default_rng(seed))
        alpha = object_alpha(spec)
        area = alpha.sum(axis=(1, 2))
        shown = area > 0
        assert shown.any() and (~shown).any()
        assert np.ptp(area[shown]) < 1e-3  # the object itself does not change
        assert np.count_nonzero(np.diff(shown.astype(int))) >= 1


def test_object_size_distribution_is_the_same_for_grow_and_the_others():
    """At a random instant, the object's size is distributed alike in every class."""
    rng = np.random.default_rng(0)
    sizes = {k: [] for k in ("right", "rotate", "grow")}
    for kind in sizes:
        for _ in range(40):
            spec = draw_clip_spec(kind, duration=2.0, rng=rng)
            alpha = object_alpha(spec)
            sizes[kind].append(alpha[rng.integers(spec.num_frames)].sum())
    med = {k: np.median(v) for k, v in sizes.items()}
    assert med["grow"] == pytest.approx(med["right"], rel=0.3)
    assert med["rotate"] == pytest.approx(med["right"], rel=0.3)


# --------------------------------------------------------------------------- bad files


def test_bad_videos_are_what_they_say(tmp_path: Path):
    bad = write_bad_videos(tmp_path)
    assert set(bad) == {"empty", "notavideo", "audio_only", "one_frame", "truncated", "corrupt"}
    for name, path in bad.items():
        assert path.is_file() and path.parent == tmp_path, name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in bad.values())  # no temp files

    assert bad["empty"].stat().st_size == 0

    text = bad["notavideo"].read_bytes().decode("utf-8")
    assert bad["notavideo"].suffix == ".mp4" and "not a video" in text
    with pytest.raises(av.error.FFmpegError):
        av.open(str(bad["notavideo"])).close()

    with av.open(str(bad["audio_only"])) as c:
        assert len(c.streams.video) == 0
        assert len(c.streams.audio) == 1
        assert sum(f.samples for f in c.decode(audio=0)) > 8000  # ~1 s at 16 kHz

    with av.open(str(bad["one_frame"])) as c:
        assert len(list(c.decode(video=0))) == 1

    # truncated: the index (first, faststart) promises 60 frames, the data holds far fewer
    info = probe(bad["truncated"])
    assert info.num_frames == 60
    assert check_video(bad["truncated"]).frames < 40

    # corrupt: intact index and full size, garbled data in the middle
    info = probe(bad["corrupt"])
    assert info.num_frames == 60
    assert bad["corrupt"].stat().st_size > 2 * bad["truncated"].stat().st_size

    for name, path in bad.items():
        assert not check_video(path).ok, name


def test_bad_videos_can_be_rewritten_in_place(tmp_path: Path):
    first = write_bad_videos(tmp_path)
    text = first["notavideo"].read_bytes()
    second = write_bad_videos(tmp_path)
    assert first == second
    assert second["notavideo"].read_bytes() == text
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(p.name for p in second.values())
