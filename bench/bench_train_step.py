"""Training-step speed on the CPU: default (contiguous NCDHW) vs channels-last-3d memory layout,
per model, forward + backward + AdamW step on a batch of 8 clips of 8x56x56 (medians of 5 steps
after 2 warm-up steps).

    .venv/bin/python bench/bench_train_step.py [--threads 2] [--models a,b]
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from vidlearn.models import build_model

DEFAULT = "r2plus1d_tiny,r3d_tiny,x3d_tiny,c3d_small,frame_cnn_small,lrcn_small"


def step_time(name: str, layout: str, clip=(8, 56, 56), batch: int = 8, reps: int = 5) -> float:
    opts = {"num_frames": clip[0], "img_size": clip[1]} if name.startswith("vit") else {}
    model = build_model(name, num_classes=4, **opts)  # vidlearn applies channels-last-3d to 3-D CNNs
    x = torch.randn(batch, 3, *clip)
    if layout == "contiguous":  # the baseline: PyTorch's default layout
        for prm in model.parameters():
            if prm.ndim == 5:
                prm.data = prm.data.contiguous()
        model._forward_pre_hooks.clear()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    times = []
    for i in range(reps + 2):
        t = time.perf_counter()
        model(x).logsumexp(-1).mean().backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        if i >= 2:
            times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--models", default=DEFAULT)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, {args.threads} threads, batch 8 x 3x8x56x56, s per training step (median of 5)")
    print(f"{'model':<18} {'contiguous':>11} {'vidlearn':>17} {'speed-up':>9}")
    for name in args.models.split(","):
        a = step_time(name, "contiguous")
        b = step_time(name, "vidlearn")
        print(f"{name:<18} {a:>11.3f} {b:>17.3f} {a / b:>8.2f}x")


if __name__ == "__main__":
    main()
