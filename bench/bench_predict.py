"""CPU inference speed of prediction, as a multiple of real time on a 25 fps clip.

Measures, for the default model (r2plus1d_tiny, the demo configuration), on a real 25 fps clip
(../shared/data/clips/bikes.mp4, 640x272, 10 s) looped to 40 s:
  - vidlearn `Predictor.timeline` (the video decoded once, streamed through a bounded buffer,
    windows batched), seconds of video per second of compute;
  - baseline: the naive loop that calls `read_frames` for each window separately (seeking and
    decoding every window again) and runs the model window by window;
  - `Predictor.predict_video` (multi-view, one decode pass) per video.

The model weights are random (speed does not depend on them); the preprocessing is the demo's.

    .venv/bin/python bench/bench_predict.py [--threads 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

REPO = Path(__file__).resolve().parents[1]
CLIP = REPO.parent / "shared" / "data" / "clips" / "bikes.mp4"


def long_clip(out: Path) -> Path:
    """bikes.mp4 looped 4 times (40 s at 25 fps), encoded once and reused."""
    from vidlearn.io import decode_clip, write_video

    if out.is_file():
        return out
    _, frames = decode_clip(CLIP)
    write_video(out, np.concatenate([frames] * 4), 25.0)
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    if not CLIP.is_file():
        sys.exit(f"{CLIP}: not found (the shared data folder is absent)")
    torch.set_num_threads(args.threads)
    from vidlearn.demo import scratch_config
    from vidlearn.predictors.deep import DeepPredictor
    from vidlearn.training.fit import build_task_model
    from vidlearn.io import probe, read_frames

    cfg = scratch_config().override({"task.classes": ["a", "b", "c", "d", "e"]})
    predictor = DeepPredictor(build_task_model(cfg), cfg, cfg.task.classes)
    video = long_clip(REPO / "bench" / "out" / "bikes_40s.mp4")
    info = probe(video)
    fps, n = cfg.decode.fps, cfg.sampling.num_frames
    span = (n - 1) / fps + 1 / fps
    hop = span / 2

    def timeline() -> int:
        return len(predictor.timeline(video))

    def naive() -> int:
        count = 0
        t = 0.0
        with torch.no_grad():
            while t + span <= info.duration + 1e-6:
                times = t + np.arange(n) / fps
                frames = read_frames(video, times, short_side=cfg.decode.short_side)
                x = predictor.window_transform(torch.from_numpy(frames).permute(0, 3, 1, 2))
                predictor.model(x.unsqueeze(0)).softmax(-1)
                count += 1
                t += hop
        return count

    def per_video() -> int:
        predictor.predict_video(video)
        return 1

    rows = []
    for name, fn in (("vidlearn timeline (decode once, batched)", timeline), ("baseline: read_frames per window", naive), ("vidlearn predict_video (multi-view)", per_video)):
        fn()  # warm-up
        times, count = [], 0
        for _ in range(args.repeats):
            t = time.perf_counter()
            count = fn()
            times.append(time.perf_counter() - t)
        med = statistics.median(times)
        rows.append((name, count, med, info.duration / med))
    print(f"# predict speed: {platform.processor() or platform.machine()}, {args.threads} torch threads, torch {torch.__version__}")
    print(f"# video: {video.name}, {info.width}x{info.height}, {info.fps:g} fps, {info.duration:.1f} s; model {cfg.model.name}, "
          f"{n} frames at {fps:g} fps, short side {cfg.decode.short_side}, crop {cfg.transform.crop_size}")
    print(f"{'method':<44} {'windows':>8} {'seconds':>8} {'x real time':>12}")
    for name, count, med, rt in rows:
        print(f"{name:<44} {count:>8} {med:>8.2f} {rt:>11.1f}x")
    base = rows[1][2]
    print(f"timeline vs baseline: {base / rows[0][2]:.2f}x faster")


if __name__ == "__main__":
    main()
