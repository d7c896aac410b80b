"""The bundled demo (`vidlearn demo`, `make demo`): generate the seeded motion dataset, probe and
check it, picture a few sampled clips, train the default model with a group-aware validation
split, evaluate it, and predict on a few videos (plus a timeline)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch

from vidlearn.config import ExperimentConfig

DEMO_CONFIG = {
    "decode": {"fps": 12.0, "short_side": 64},
    "sampling": {"num_frames": 8, "stride": 1, "test_views": 2},
    "transform": {"crop_size": 56, "random_resized_crop": False, "hflip": False},
    "model": {"name": "r2plus1d_tiny"},
    "optim": {"epochs": 25, "batch_size": 8, "lr": 0.003, "weight_decay": 0.05, "warmup_epochs": 2},
    "data": {"num_workers": 2, "val_fraction": 0.25},
}
"""No horizontal flip: left and right motion are two of the demo's classes. No colour augmentation:
the groups differ only in background and noise (object colours are drawn per clip), and with
colour jitter + grayscale this recipe stalled at chance (docs/results.md, "The demo task")."""
DEMO_VIDEOS_PER_CLASS = 48


def demo_config(cache_dir: Path | None = None) -> ExperimentConfig:
    """The configuration the demo trains with."""
    cfg = ExperimentConfig.from_dict(DEMO_CONFIG, source="demo config")
    if cache_dir is not None:
        cfg = cfg.override({"data.cache_dir": str(cache_dir)})
    return cfg


def run_demo(out: str | Path, *, epochs: int | None = None, echo: Callable[[str], None] = print, progress: bool = True) -> dict:
    """Run the whole path on generated data; returns a summary dict (also written to out/summary.json)."""
    from vidlearn.io.images import clip_grid, save_image
    from vidlearn.data.sampling import build_train_sampler
    from vidlearn.data.sources import load_records
    from vidlearn.data.synthetic import generate_demo_dataset
    from vidlearn.deploy.predict import plot_timeline
    from vidlearn.predictors.deep import DeepPredictor
    from vidlearn.training.experiment import train_on_data
    from vidlearn.io import check_videos, probe, read_frames
    from vidlearn.tasks.metrics import write_metrics

    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, torch.get_num_threads()))
    data_dir = out / "data"
    manifest = data_dir / "manifest.csv"
    echo(f"1. demo dataset -> {data_dir}")
    if not manifest.is_file():
        generate_demo_dataset(data_dir, videos_per_class=DEMO_VIDEOS_PER_CLASS)
    records = load_records(manifest, group="group")
    classes = sorted({r.target for r in records})
    echo(f"   {len(records)} videos, classes {classes}, {len({r.group for r in records})} groups")

    info = probe(records[0].path)
    echo(f"2. probe {Path(info.path).name}: {info.width}x{info.height}, {info.fps:g} fps, {info.num_frames} frames, {info.duration:.2f} s")
    results = check_videos([r.path for r in records], progress=False)
    bad = [r for r in results if not r.ok]
    echo(f"   check: {len(results)} videos, {len(bad)} bad")

    cfg = demo_config(out / "cache")
    if epochs:
        cfg = cfg.override({"optim.epochs": epochs})
    sampler = build_train_sampler(cfg.sampling, cfg.decode, cfg.transform)
    rng = np.random.default_rng(0)
    shown = [next(r for r in records if r.target == c) for c in classes]
    clips = [read_frames(r.path, sampler(probe(r.path).duration, rng), short_side=cfg.decode.short_side) for r in shown]
    grid = save_image(clip_grid(clips, [str(r.target) for r in shown]), out / "sampled_clips.png")
    echo(f"3. sampled clips ({cfg.sampling.num_frames} frames at {cfg.decode.fps:g} fps) -> {grid}")

    echo(f"4. training {cfg.model.name} for {cfg.optim.epochs} epochs (group-aware validation split)")
    result = train_on_data(manifest, cfg, out / "run", group="group", overwrite=True,  # the demo's own run
                           progress=progress, echo=echo)
    video = result.metrics["video"] if result.metrics else {}
    echo(f"5. validation: video accuracy {video.get('accuracy', float('nan')):.3f}, "
         f"clip accuracy {result.metrics['clip']['accuracy']:.3f} -> {out / 'run' / 'eval'}")

    predictor = DeepPredictor.load(result.artifact)
    sample = [shown[i].path for i in range(len(shown))]
    preds, _ = predictor.predict(sample, top_k=2)
    echo("6. predictions with the saved model:")
    for r, p in zip(shown, preds):
        echo(f"   {Path(p.path).name}: {p.label} ({p.score:.2f})  [true: {r.target}]")
    windows = predictor.timeline(shown[0].path, top_k=len(classes))
    timeline_png = plot_timeline(windows, predictor, out / "timeline.png")
    echo(f"   timeline of {Path(shown[0].path).name}: {len(windows)} windows -> {timeline_png}")

    summary = {
        "videos": len(records),
        "classes": classes,
        "model": cfg.model.name,
        "epochs": result.epochs,
        "artifact": str(result.artifact),
        "validation": result.metrics,
        "seconds": round(time.time() - started, 1),
    }
    write_metrics(out / "summary.json", summary)
    echo(f"done in {summary['seconds']:.0f} s: model {result.artifact}, report {out / 'run' / 'eval'}")
    return summary
