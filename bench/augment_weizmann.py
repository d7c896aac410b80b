"""Benchmark: does training augmentation help a from-scratch model on Weizmann (4 classes, 9 actors)?

Leave-one-actor-out cross-validation (9 folds, each trained from scratch for the same epochs and
tested once on the held-out actor) via ``vidlearn.training.cv.cross_validate``, for a few
augmentation variants that differ ONLY in the ``transform`` section:

  none       no augmentation: short-side resize + random crop (no random-resized crop, no flip)
  default    vidlearn's default training transform: random-resized crop (0.5-1) + horizontal flip
  augmented  default + colour jitter 0.3 / hue 0.05, grayscale 0.1, blur 0.2, random erasing 0.25,
             speed change 0.8-1.25, temporal jitter, RandAugment n=2 m=9, mixup 0.2 / cutmix 1.0,
             label smoothing 0.1

Prints a table (video accuracy mean ± std over folds, clip accuracy, per-fold video accuracy,
minutes) and writes ``<out>/summary.json``; every fold's run folder (checkpoints, eval report)
stays under ``<out>/<variant>/``, so an interrupted benchmark resumes where it stopped (``--resume``).

    .venv/bin/python bench/augment_weizmann.py                      # default + augmented, 30 epochs
    .venv/bin/python bench/augment_weizmann.py --variants none,default,augmented --epochs 40
    .venv/bin/python bench/augment_weizmann.py --folds 2 --epochs 2  # a quick smoke run
    .venv/bin/python bench/augment_weizmann.py --set model.name=c3d_tiny --set optim.lr=3e-3

Long: each variant trains 9 models. Run it when the machine is quiet.
"""

from __future__ import annotations

import argparse
import json
import platform
import sys
import time
from pathlib import Path

import numpy as np

from vidlearn.config import ExperimentConfig
from vidlearn.data.sources import load_records
from vidlearn.training.cv import cross_validate

REPO = Path(__file__).resolve().parents[1]
DEFAULT_DATA = REPO.parent / "shared" / "data" / "weizmann4" / "manifest.csv"

# the experiment every variant shares (small enough for CPU)
BASE = {
    "decode.fps": 10.0,
    "decode.short_side": 80,
    "sampling.num_frames": 12,
    "sampling.test_views": 3,
    "transform.crop_size": 64,
    "model.name": "r2plus1d_tiny",
    "optim.epochs": 30,
    "optim.batch_size": 8,
    "optim.lr": 1e-3,
    "data.val_fraction": 0.0,
}

VARIANTS: dict[str, dict[str, object]] = {
    "none": {"transform.random_resized_crop": False, "transform.hflip": False},
    "default": {},
    "augmented": {
        "transform.color_jitter": 0.3,
        "transform.hue": 0.05,
        "transform.grayscale_p": 0.1,
        "transform.blur_p": 0.2,
        "transform.erase_p": 0.25,
        "transform.speed": [0.8, 1.25],
        "transform.temporal_jitter": True,
        "transform.randaugment_n": 2,
        "transform.randaugment_m": 9,
        "transform.mixup_alpha": 0.2,
        "transform.cutmix_alpha": 1.0,
        "optim.label_smoothing": 0.1,
    },
}


def _fmt(x: float | None) -> str:
    return "-" if x is None else f"{x:.3f}"


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="Weizmann manifest (path,label,actor)")
    ap.add_argument("--group", default="actor", help="manifest column of the held-out groups")
    ap.add_argument("--out", type=Path, default=REPO / "bench" / "out" / "augment_weizmann")
    ap.add_argument("--variants", default="default,augmented", help=f"comma-separated, of {', '.join(VARIANTS)}")
    ap.add_argument("--epochs", type=int, default=None, help="training epochs per fold (default 30)")
    ap.add_argument("--folds", type=int, default=None, help="only the first N actors' folds (a quick run)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--workers", type=int, default=None, help="DataLoader workers (default: the config's)")
    ap.add_argument("--set", dest="overrides", action="append", default=[], help="extra config override for every variant")
    ap.add_argument("--resume", action="store_true", help="skip folds already finished in --out")
    ap.add_argument("--progress", action="store_true", help="progress bars")
    args = ap.parse_args(argv)

    names = [v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [v for v in names if v not in VARIANTS]
    if unknown:
        ap.error(f"unknown variant(s) {unknown}; known: {', '.join(VARIANTS)}")
    if not args.data.is_file():
        print(f"Weizmann manifest not found: {args.data}", file=sys.stderr)
        return 2

    records = load_records(args.data, group=args.group)
    if args.folds:
        keep = sorted({r.group for r in records}, key=str)[: max(2, args.folds)]
        records = [r for r in records if r.group in keep]
    base = dict(BASE)
    base["optim.seed"] = args.seed
    base["data.cache_dir"] = str(args.out / "frame_cache")
    if args.epochs:
        base["optim.epochs"] = args.epochs
    if args.workers is not None:
        base["data.num_workers"] = args.workers

    rows = []
    for name in names:
        cfg = ExperimentConfig().override(base).override(VARIANTS[name])
        if args.overrides:
            cfg = cfg.override(list(args.overrides))
        started = time.time()
        print(f"== {name}: {len(records)} videos, {len({r.group for r in records})} actors, {cfg.optim.epochs} epochs", flush=True)
        summary = cross_validate(
            records, cfg, args.out / name, cv="leave-one-group-out", resume=args.resume, progress=args.progress,
            echo=lambda line: print("   " + line, flush=True),
        )
        video, clip = summary["video"]["metrics"], summary["clip"]["metrics"]
        rows.append(
            {
                "variant": name,
                "video_acc_mean": video["accuracy"]["mean"],
                "video_acc_std": video["accuracy"]["std"],
                "clip_acc_mean": clip["accuracy"]["mean"],
                "per_fold": video["accuracy"]["values"],
                "folds": summary["folds"],
                "minutes": (time.time() - started) / 60,
                "transform": cfg.to_dict()["transform"],
            }
        )

    print()
    print(f"Weizmann leave-one-{args.group}-out, from scratch ({cfg.model.name}, {cfg.optim.epochs} epochs, "
          f"{cfg.sampling.num_frames} frames @ {cfg.decode.fps:g} fps, crop {cfg.transform.crop_size})")
    print("| variant | video acc (mean ± std) | clip acc | per-fold video acc | minutes |")
    print("|---|---:|---:|---|---:|")
    for r in rows:
        folds = " ".join(_fmt(v) for v in r["per_fold"])
        print(f"| {r['variant']} | {_fmt(r['video_acc_mean'])} ± {_fmt(r['video_acc_std'])} | {_fmt(r['clip_acc_mean'])} | {folds} | {r['minutes']:.1f} |")
    if len(rows) > 1:
        ref = rows[0]["video_acc_mean"]
        for r in rows[1:]:
            diff = [b - a for a, b in zip(rows[0]["per_fold"], r["per_fold"]) if a is not None and b is not None]
            if diff:
                print(f"{r['variant']} - {rows[0]['variant']}: {r['video_acc_mean'] - ref:+.3f} "
                      f"(per fold: better {sum(d > 0 for d in diff)}, worse {sum(d < 0 for d in diff)}, "
                      f"same {sum(d == 0 for d in diff)}; mean paired diff {np.mean(diff):+.3f})")
    args.out.mkdir(parents=True, exist_ok=True)
    meta = {"python": platform.python_version(), "machine": platform.machine(), "command": " ".join(sys.argv)}
    (args.out / "summary.json").write_text(json.dumps({"meta": meta, "rows": rows}, indent=2))
    print(f"wrote {args.out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
