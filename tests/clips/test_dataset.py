"""Torch datasets: the frames at the sampled seconds (from the file or the cache), multi-view
evaluation, reproducible randomness with workers, bad videos skipped and reported (also from
worker processes), the loader, whole-video iteration for features, and the reader's memory."""

from __future__ import annotations

import gc
import json
from pathlib import Path

import numpy as np
import psutil
import pytest
import torch

from vidlearn.config import ExperimentConfig
from vidlearn.cache import FrameCache
from vidlearn.clips import (
    ClipDataset,
    EpochSampler,
    FrameDataset,
    build_cache,
    collate_skip_bad,
    iter_video_frames,
    make_loader,
    read_skip_log,
)
from vidlearn.data.records import VideoRecord
from vidlearn.data.sources import load_manifest
from vidlearn.errors import DataSourceError
from vidlearn.io import read_frames, write_video

FPS = 25
N_FRAMES = 50  # 2 s
H, W = 32, 48


def grey_video(path: Path, *, base: int = 4, step: int = 5, n: int = N_FRAMES) -> Path:
    """Frame k is uniformly grey at base + step * k: its index can be read back from its pixels."""
    levels = base + step * np.arange(n)
    frames = np.broadcast_to(levels[:, None, None, None], (n, H, W, 3)).astype(np.uint8)
    return write_video(path, np.ascontiguousarray(frames), FPS)


def clip_indices(video: torch.Tensor, *, base: int = 4, step: int = 5) -> np.ndarray:
    """Frame index of every frame of a (C, T, H, W) clip normalised with mean 0, std 1."""
    means = video.float().mean(dim=(0, 2, 3)).numpy() * 255.0
    return np.rint((means - base) / step).astype(int)


def shown_at(times, rate: float = FPS) -> np.ndarray:
    # the decoder counts a frame due within 1e-4 s after a time as shown at that time
    return np.floor((np.asarray(times, dtype=np.float64) + 1e-4) * rate).astype(int)


def make_cfg(**over) -> ExperimentConfig:
    """Small clips that keep the grey levels readable: no colour change, unit normalisation."""
    base = {
        "decode.fps": 8,
        "decode.short_side": H,
        "sampling.num_frames": 4,
        "sampling.stride": 2,
        "transform.crop_size": 32,
        "transform.random_resized_crop": False,
        "transform.hflip": False,
        "transform.color_jitter": 0.0,
        "transform.mean": [0.0, 0.0, 0.0],
        "transform.std": [1.0, 1.0, 1.0],
        "data.num_workers": 0,
    }
    base.update(over)
    return ExperimentConfig().override(base)


@pytest.fixture(scope="module")
def videos(tmp_path_factory) -> list[VideoRecord]:
    root = tmp_path_factory.mktemp("videos")
    return [
        VideoRecord(grey_video(root / f"{name}_{i}.mp4"), target=name, group=str(i))
        for i, name in enumerate(["run", "walk", "run", "walk"])
    ]


@pytest.fixture
def bad_set(tmp_path, videos) -> tuple[list[VideoRecord], Path, Path]:
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    text = tmp_path / "readme.mp4"
    text.write_text("these are not the frames you are looking for\n" * 50)
    records = [videos[0], VideoRecord(empty, target="run"), videos[1], VideoRecord(text, target="walk"), videos[2]]
    return records, empty, text


# ---- the frames at the sampled seconds ------------------------------------------------------------


@pytest.mark.parametrize("train", ["random", "segments"])
def test_training_sample_shows_the_frames_at_the_sampled_seconds(videos, train):
    ds = ClipDataset.from_config(videos, make_cfg(**{"sampling.train": train}), train=True)
    for epoch in (0, 3):
        ds.set_epoch(epoch)
        for i in range(len(ds)):
            item = ds[i]
            assert set(item) == {"video", "target", "index"}
            assert item["video"].shape == (3, 4, 32, 32) and item["video"].dtype == torch.float32
            assert item["index"] == i
            (times,) = ds.sample_times(i)
            assert np.all((times >= 0) & (times < 2.0))
            np.testing.assert_array_equal(clip_indices(item["video"]), shown_at(times))


def test_cached_sample_shows_the_cached_frames_at_the_sampled_seconds(videos, tmp_path):
    cfg = make_cfg()
    cache = FrameCache(tmp_path / "cache", fps=8, short_side=H)
    ds = ClipDataset.from_config(videos, cfg, train=True, cache=cache)
    for i in range(len(ds)):
        (times,) = ds.sample_times(i)
        grid = np.floor((times + 1e-4) * 8) / 8  # the cache holds the frames shown at k / 8 s
        np.testing.assert_array_equal(clip_indices(ds[i]["video"]), shown_at(grid))
    assert cache.size_bytes() > 0


def test_targets_and_class_index(videos):
    cfg = make_cfg()
    ds = ClipDataset.from_config(videos, cfg, train=False)
    assert ds.class_to_idx == {"run": 0, "walk": 1}
    assert [int(ds[i]["target"]) for i in range(4)] == [0, 1, 0, 1]
    assert ds[0]["target"].dtype == torch.long
    ds = ClipDataset.from_config(videos, cfg, train=False, class_to_idx={"walk": 0, "run": 1})
    assert int(ds[0]["target"]) == 1
    reg = [r.with_target(float(i) / 2) for i, r in enumerate(videos)]
    rds = ClipDataset.from_config(reg, cfg.override(["task.kind=regression"]), train=True)
    t = rds[3]["target"]
    assert t.dtype == torch.float32 and float(t) == 1.5
    with pytest.raises(DataSourceError, match="jump"):
        ClipDataset.from_config([videos[0].with_target("jump")], cfg, train=True, class_to_idx={"run": 0})
    unlabelled = ClipDataset.from_config([videos[0].with_target(None)], cfg, train=False, class_to_idx={"run": 0})
    assert int(unlabelled[0]["target"]) == -1


def test_segment_records_sample_inside_their_segment(videos):
    seg = VideoRecord(videos[0].path, target="run", start=0.8, end=1.6)
    ds = ClipDataset.from_config([seg], make_cfg(**{"sampling.num_frames": 8, "sampling.stride": 1}), train=True)
    for epoch in range(5):
        ds.set_epoch(epoch)
        (times,) = ds.sample_times(0)
        assert times.min() >= 0.8 and times.max() < 1.6
        np.testing.assert_array_equal(clip_indices(ds[0]["video"]), shown_at(times))
    bad = VideoRecord(videos[0].path, target="run", start=3.0, end=4.0)  # past the 2 s video
    ds = ClipDataset.from_config([bad], make_cfg(), train=True)
    assert ds[0] is None and "segment" in ds.skipped[0][1]


# ---- evaluation views -----------------------------------------------------------------------------


@pytest.mark.parametrize("use_cache", [False, True])
def test_multi_view_evaluation_stacks_every_temporal_view_and_crop(videos, tmp_path, use_cache):
    cfg = make_cfg(**{"sampling.test_views": 3, "sampling.test_crops": 3})
    cache = FrameCache(tmp_path / "cache", fps=8, short_side=H) if use_cache else None
    ds = ClipDataset.from_config(videos, cfg, train=False, views=True, cache=cache)
    assert ds.num_views == 9
    item = ds[1]
    assert item["video"].shape == (9, 3, 4, 32, 32)
    views = ds.sample_times(1)
    assert len(views) == 3
    assert views[0][0] == pytest.approx(0.0) and views[-1][-1] > views[0][-1]  # first at the start, last at the end
    for v, times in enumerate(views):
        expected = shown_at(np.floor((times + 1e-4) * 8) / 8) if use_cache else shown_at(times)
        for c in range(3):  # crop c of temporal view v (uniform frames: all crops alike)
            np.testing.assert_array_equal(clip_indices(item["video"][v * 3 + c]), expected)
    # the same views twice: deterministic
    torch.testing.assert_close(ds[1]["video"], item["video"])
    centre = ClipDataset.from_config(videos, cfg, train=False, views=False, cache=cache)
    assert centre[1]["video"].shape == (3, 4, 32, 32)
    (times,) = centre.sample_times(1)
    assert views[0][0] < times[0] < views[-1][0]  # the centre clip lies between the first and last views
    with pytest.raises(ValueError, match="evaluation"):
        ClipDataset.from_config(videos, cfg, train=True, views=True)


# ---- reproducibility --------------------------------------------------------------------------------


def _epoch_batches(loader) -> list[dict]:
    return [b for b in loader]


def test_randomness_comes_from_seed_epoch_and_index(videos):
    cfg = make_cfg(**{"transform.random_resized_crop": True, "transform.hflip": True, "transform.color_jitter": 0.3})
    a = ClipDataset.from_config(videos, cfg, train=True)
    b = ClipDataset.from_config(videos, cfg, train=True)
    torch.testing.assert_close(a[2]["video"], b[2]["video"])
    np.testing.assert_array_equal(a.sample_times(2)[0], b.sample_times(2)[0])
    b.set_epoch(1)
    assert not torch.equal(a[2]["video"], b[2]["video"])
    other = ClipDataset.from_config(videos, cfg.override(["optim.seed=7"]), train=True)
    assert not torch.equal(a[2]["video"], other[2]["video"])


def test_loader_is_reproducible_with_workers_and_epochs_differ(videos):
    cfg = make_cfg(**{"transform.random_resized_crop": True, "transform.hflip": True})
    runs = {}
    for workers in (0, 2):
        ds = ClipDataset.from_config(videos, cfg, train=True)
        loader = make_loader(ds, batch_size=2, shuffle=True, num_workers=workers, seed=3)
        assert loader.persistent_workers == (workers > 0)
        runs[workers] = [_epoch_batches(loader) for _ in range(2)]  # each iteration is the next epoch
        assert ds.epoch == 1
    for epoch in range(2):
        for x, y in zip(runs[0][epoch], runs[2][epoch], strict=True):
            torch.testing.assert_close(x["video"], y["video"])
            assert torch.equal(x["index"], y["index"]) and torch.equal(x["target"], y["target"])
    first = torch.cat([b["video"] for b in runs[0][0]])
    second = torch.cat([b["video"] for b in runs[0][1]])
    assert not torch.equal(first, second)
    orders = [torch.cat([b["index"] for b in run]).tolist() for run in runs[0]]
    assert sorted(orders[0]) == sorted(orders[1]) == [0, 1, 2, 3]


def test_set_epoch_before_iterating_wins_and_then_epochs_advance(videos):
    """A resumed run sets the epoch it resumes at; the loader then shows that epoch's clips."""
    cfg = make_cfg()
    reference = ClipDataset.from_config(videos, cfg, train=True)

    def expected(epoch: int) -> list[np.ndarray]:
        reference.set_epoch(epoch)
        return [clip_indices(reference[i]["video"]) for i in range(len(reference))]

    assert any((a != b).any() for a, b in zip(expected(3), expected(4)))  # the epochs differ
    ds = ClipDataset.from_config(videos, cfg, train=True)
    loader = make_loader(ds, batch_size=4, shuffle=False, num_workers=2, seed=0)
    ds.set_epoch(3)
    for epoch in (3, 4):  # set explicitly, then advanced by iterating again
        (batch,) = list(loader)
        assert ds.epoch == epoch
        got = [clip_indices(v) for v in batch["video"]]
        for g, e in zip(got, expected(epoch), strict=True):
            np.testing.assert_array_equal(g, e)
    loader.sampler.set_epoch(3)  # what Lightning calls
    (batch,) = list(loader)
    assert ds.epoch == 3
    np.testing.assert_array_equal(clip_indices(batch["video"][1]), expected(3)[1])


def test_epoch_sampler_set_epoch_and_order():
    s = EpochSampler(10, shuffle=True, seed=1)
    e0, e1 = list(s), list(s)
    assert sorted(e0) == list(range(10)) and e0 != e1
    s.set_epoch(0)
    assert list(s) == e0
    assert list(EpochSampler(5, shuffle=False, seed=1)) == [0, 1, 2, 3, 4]


# ---- bad videos ---------------------------------------------------------------------------------------


def test_collate_skip_bad():
    good = {"video": torch.zeros(3, 2, 4, 4), "target": torch.tensor(1), "index": 0}
    assert collate_skip_bad([None, None]) is None
    batch = collate_skip_bad([None, good, None, good])
    assert batch["video"].shape == (2, 3, 2, 4, 4) and batch["index"].tolist() == [0, 0]


@pytest.mark.parametrize("use_cache", [False, True])
def test_bad_videos_are_skipped_and_reported_from_worker_processes(bad_set, tmp_path, use_cache):
    records, empty, text = bad_set
    cache = FrameCache(tmp_path / "cache", fps=8, short_side=H) if use_cache else None
    log_path = tmp_path / "run" / "skipped.jsonl"
    ds = ClipDataset.from_config(records, make_cfg(), train=True, cache=cache, skip_log=log_path)
    loader = make_loader(ds, batch_size=1, shuffle=False, num_workers=2, seed=0)
    for _epoch in range(2):
        batches = list(loader)
        good = [b for b in batches if b is not None]
        assert len(batches) == 5 and len(good) == 3  # two all-bad batches came back as None
        assert sorted(int(b["index"]) for b in good) == [0, 2, 4]
    # the main process never loaded a sample: everything it knows came from the workers' log
    assert ds._skipped == []
    skipped = dict(ds.skipped)
    assert set(skipped) == {str(empty), str(text)}
    assert "empty" in skipped[str(empty)]
    assert "not a readable video" in skipped[str(text)]
    summary = ds.summary()
    assert summary.startswith("2 of 5 videos skipped: ")
    assert str(empty) in summary and str(text) in summary and "empty (0 bytes)" in summary
    lines = read_skip_log(log_path)
    assert {e["path"] for e in lines} == {str(empty), str(text)}
    assert all(e["dataset"] == ds.token and e["reason"] for e in lines)
    # another dataset writing to the same log does not see these entries
    other = ClipDataset.from_config(records[:1], make_cfg(), train=True, skip_log=log_path)
    assert other.skipped == [] and other.summary() == "0 of 1 video skipped"


def test_workers_reports_reach_the_dataset_without_a_skip_log(bad_set):
    records, empty, text = bad_set
    ds = ClipDataset.from_config(records, make_cfg(), train=False, views=True)
    batches = list(make_loader(ds, batch_size=2, shuffle=False, num_workers=2, seed=0))
    assert sum(len(b["index"]) for b in batches if b is not None) == 3
    assert sorted(p for p, _ in ds.skipped) == sorted([str(empty), str(text)])
    private = ds._log_path
    assert private.is_file()
    del ds, batches
    gc.collect()
    assert not private.exists()  # the private log goes with the dataset


def test_bad_videos_in_one_batch_leave_the_good_ones(bad_set, tmp_path):
    records, empty, text = bad_set
    ds = ClipDataset.from_config(records, make_cfg(), train=False, views=True)
    batches = list(make_loader(ds, batch_size=5, shuffle=False, num_workers=0, seed=0))
    assert len(batches) == 1 and batches[0]["video"].shape == (3, 3, 3, 4, 32, 32)
    assert batches[0]["index"].tolist() == [0, 2, 4]
    assert [p for p, _ in ds.skipped] == [str(empty), str(text)]
    assert ds[1] is None  # remembered: not decoded again


def test_skip_log_tolerates_a_cut_line(tmp_path):
    p = tmp_path / "skipped.jsonl"
    p.write_text(json.dumps({"dataset": "x", "index": 1, "path": "a.mp4", "reason": "bad"}) + "\n{\"datas")
    assert [e["path"] for e in read_skip_log(p)] == ["a.mp4"]
    assert read_skip_log(tmp_path / "absent.jsonl") == []


# ---- whole videos for features --------------------------------------------------------------------------


@pytest.mark.parametrize("use_cache", [False, True])
def test_iter_video_frames_yields_every_frame_and_skips_bad_videos(bad_set, tmp_path, use_cache):
    records, empty, text = bad_set
    records = [*records, VideoRecord(records[0].path, start=0.5, end=1.0)]
    cache = FrameCache(tmp_path / "cache", fps=8, short_side=H) if use_cache else None
    fd = FrameDataset(records, fps=8, short_side=H, cache=cache)
    out = list(fd)
    assert [r.path for r, _, _ in out] == [records[0].path, records[2].path, records[4].path, records[0].path]
    for record, times, frames in out[:3]:
        assert frames.shape == (16, H, W, 3)
        np.testing.assert_allclose(times, np.arange(16) / 8)
    seg_times, seg_frames = out[3][1], out[3][2]
    np.testing.assert_allclose(seg_times, 0.5 + np.arange(4) / 8)  # seconds of the video
    assert (np.rint((seg_frames.reshape(4, -1).mean(1) - 4) / 5).astype(int) == shown_at(seg_times)).all()
    assert fd.summary().startswith("2 of 6 videos skipped") and str(empty) in fd.summary() and str(text) in fd.summary()
    reported = []
    list(iter_video_frames(records, fps=8, short_side=H, cache=cache, on_skip=lambda r, why: reported.append(r.path)))
    assert reported == [empty, text]


def test_build_cache_follows_the_config(tmp_path, monkeypatch):
    assert build_cache(make_cfg(**{"data.cache": False})) is None
    cache = build_cache(make_cfg(**{"data.cache_dir": str(tmp_path / "c")}))
    assert cache is not None and cache.fps == 8 and cache.short_side == H and cache.format == "npy"
    assert build_cache(make_cfg(**{"data.cache_dir": str(tmp_path / "c"), "data.cache_format": "jpeg"})).format == "jpeg"
    monkeypatch.setenv("VIDLEARN_CACHE", str(tmp_path / "env"))
    assert build_cache(make_cfg()).root == tmp_path / "env"
    with pytest.raises(ValueError, match="short_side"):
        ClipDataset.from_config([], make_cfg(), train=True, cache=FrameCache(tmp_path, fps=8, short_side=64))


# ---- the real data -------------------------------------------------------------------------------------


def test_weizmann_loader_batches_and_a_cached_epoch_repeats_the_first(weizmann_dir, tmp_path):
    records = load_manifest(weizmann_dir / "manifest.csv")
    assert len(records) == 36
    cfg = ExperimentConfig().override({
        "decode.short_side": 64,
        "sampling.num_frames": 8,
        "transform.crop_size": 56,
        "optim.seed": 5,
    })
    cache = FrameCache(tmp_path / "cache", fps=cfg.decode.fps, short_side=64)

    def run_epoch() -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        ds = ClipDataset.from_config(records, cfg, train=True, cache=cache, skip_log=tmp_path / "skipped.jsonl")
        loader = make_loader(ds, batch_size=8, shuffle=True, num_workers=2, seed=5)
        videos, indices = [], []
        for batch in loader:
            assert batch["video"].shape[1:] == (3, 8, 56, 56) and batch["video"].dtype == torch.float32
            assert batch["target"].dtype == torch.long and set(batch["target"].tolist()) <= {0, 1, 2, 3}
            videos.append(batch["video"])
            indices.append(batch["index"])
        assert ds.summary() == "0 of 36 videos skipped"
        return videos, indices

    first, idx1 = run_epoch()  # fills the cache
    assert [v.shape[0] for v in first] == [8, 8, 8, 8, 4]
    assert sorted(torch.cat(idx1).tolist()) == list(range(36))
    assert len(list(cache.root.glob("*.json"))) == 36
    on_disk = {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.root.iterdir()}
    second, idx2 = run_epoch()  # same seed, epoch 0 again: read from the cache
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b)
    assert all(torch.equal(a, b) for a, b in zip(idx1, idx2, strict=True))
    # nothing was decoded or rewritten the second time
    assert {p.name: (p.stat().st_ino, p.stat().st_mtime_ns) for p in cache.root.iterdir()} == on_disk
    # the cached frames are the video's frames at the cache's 1/8 s grid (JPEG: within a few levels)
    for i in (0, 17, 35):
        record = records[i]
        times = np.linspace(0.0, cache.get(record).duration - 0.07, 6)
        direct = read_frames(record.path, np.floor((times + 1e-4) * 8) / 8, short_side=64).astype(float)
        assert np.abs(cache.frames_at(record, times) - direct).mean() < 4.0
        assert np.abs(cache.frames_at(records[(i + 9) % 36], times) - direct).mean() > 6.0  # another video


# ---- the reader's memory ---------------------------------------------------------------------------------


def test_reading_a_thousand_clips_does_not_grow_memory(videos):
    path = videos[0].path
    rng = np.random.default_rng(0)
    starts = rng.uniform(0.0, 1.2, size=1100)

    def read(k: int) -> None:
        times = starts[k] + np.arange(8) / 8
        frames = read_frames(path, times, short_side=H, threads=1)
        assert frames.shape == (8, H, W, 3)

    for k in range(100):  # warm-up: allocator pools, codec tables
        read(k)
    gc.collect()
    proc = psutil.Process()
    before = proc.memory_info().rss
    for k in range(100, 1100):
        read(k)
    gc.collect()
    grown = proc.memory_info().rss - before
    assert grown < 50 * 2**20, f"RSS grew by {grown / 2**20:.1f} MB over 1000 clips"
