"""The bundled demo (`vidlearn demo`, `make demo`): generate the seeded motion dataset, probe and
check it, plan a recipe for it and this machine within a time budget (what `vidlearn train DATA`
does with no recipe flags) and train it with a group-aware validation split, picture a few
sampled clips, evaluate, and predict on a few videos (plus a timeline)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from vidlearn.config import ExperimentConfig

DEMO_BUDGET_S = 90.0
"""The demo's time budget for planning, training and evaluating (the whole `vidlearn demo` takes
about 20 s more: generating and checking the videos, the pictures and predictions)."""
DEMO_SETTINGS: dict[str, Any] = {"model.name": "feature_rnn", "frame_features.kinds": ["motion"]}
"""The one choice the demo makes for the planner: the model family it would pick on this machine
(a GRU over per-frame optical-flow rows: the classes differ only by motion, and the ImageNet
encoder's rows take longer than the budget for 240 videos), fixed so that the demo trains the same
family on a loaded or a faster machine. The planner chooses everything else (docs/results.md)."""
DEMO_VIDEOS_PER_CLASS = 48

SCRATCH_CONFIG = {
    "decode": {"fps": 12.0, "short_side": 64},
    "sampling": {"num_frames": 8, "stride": 1, "test_views": 2},
    "transform": {"crop_size": 56, "random_resized_crop": False, "hflip": False},
    "model": {"name": "r2plus1d_tiny"},
    "optim": {"epochs": 25, "batch_size": 8, "lr": 0.003, "weight_decay": 0.05, "warmup_epochs": 2},
    "data": {"num_workers": 2, "val_fraction": 0.25},
}
"""A 3-D CNN from scratch on the demo's videos (`r2plus1d_tiny`, 64 px, 8 frames at 12 fps, 25
epochs): held-out-group accuracy 0.85-0.87 in about 2 min. No horizontal flip: left and right
motion are two of the demo's classes. No colour augmentation: the groups differ only in
background and noise (object colours are drawn per clip), and with colour jitter + grayscale this
recipe stalled at chance (docs/results.md, "The demo task")."""


def scratch_config(cache_dir: Path | None = None) -> ExperimentConfig:
    """`SCRATCH_CONFIG` as a configuration (the tests' and benchmarks' known-good clip recipe)."""
    cfg = ExperimentConfig.from_dict(SCRATCH_CONFIG, source="demo scratch config")
    if cache_dir is not None:
        cfg = cfg.override({"data.cache_dir": str(cache_dir)})
    return cfg


def run_demo(out: str | Path, *, budget_s: float = DEMO_BUDGET_S, echo: Callable[[str], None] = print,
             progress: bool = True) -> dict:
    """Run the whole path on generated data; returns a summary dict (also written to out/summary.json)."""
    from vidlearn.data.sampling import build_train_sampler
    from vidlearn.data.sources import load_records
    from vidlearn.data.synthetic import generate_demo_dataset
    from vidlearn.deploy.predict import plot_timeline
    from vidlearn.io import check_videos, probe, read_frames
    from vidlearn.io.images import clip_grid, save_image
    from vidlearn.planning import format_seconds, train_planned
    from vidlearn.predictors.deep import DeepPredictor
    from vidlearn.tasks.metrics import write_metrics

    started = time.time()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    data_dir = out / "data"
    manifest = data_dir / "manifest.csv"
    echo(f"1. demo dataset -> {data_dir}")
    if not manifest.is_file():
        generate_demo_dataset(data_dir, videos_per_class=DEMO_VIDEOS_PER_CLASS)
    records = load_records(manifest, group="group")
    classes = sorted({r.target for r in records})
    echo(f"   {len(records)} videos, classes {', '.join(map(str, classes))}, {len({r.group for r in records})} groups")

    info = probe(records[0].path)
    echo(f"2. probe {Path(info.path).name}: {info.width}x{info.height}, {info.fps:g} fps, {info.num_frames} frames, {info.duration:.2f} s")
    results = check_videos([r.path for r in records], progress=False)
    bad = [r for r in results if not r.ok]
    echo(f"   check: {len(results)} videos, {len(bad)} bad")

    echo(f"3. plan a recipe for this data and machine within {format_seconds(budget_s)}, then train it "
         "(what `vidlearn train DATA --budget` does; group-aware validation split)")
    settings = {**DEMO_SETTINGS, "data.cache_dir": str(out / "cache")}
    plan, result = train_planned(manifest, out / "run", budget_s=budget_s, group="group", explicit=settings,
                                 overwrite=True, progress=progress, echo=lambda line: echo(f"   {line}"))
    cfg = plan.config
    video = result.metrics["video"] if result.metrics else {}
    echo(f"4. validation: video accuracy {video.get('accuracy', float('nan')):.3f}, "
         f"clip accuracy {result.metrics['clip']['accuracy']:.3f} -> {out / 'run' / 'eval'}")

    sampler = build_train_sampler(cfg.sampling, cfg.decode, cfg.transform)
    rng = np.random.default_rng(0)
    shown = [next(r for r in records if r.target == c) for c in classes]
    clips = [read_frames(r.path, sampler(probe(r.path).duration, rng), short_side=cfg.decode.short_side) for r in shown]
    grid = save_image(clip_grid(clips, [str(r.target) for r in shown]), out / "sampled_clips.png")
    echo(f"5. sampled clips ({cfg.sampling.num_frames} frames at {cfg.decode.fps:g} fps, as the model sees them) -> {grid}")

    predictor = DeepPredictor.load(result.artifact)
    preds, _ = predictor.predict([r.path for r in shown], top_k=2)
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
        "family": plan.family,
        "budget_s": budget_s,
        "epochs": result.epochs,
        "artifact": str(result.artifact),
        "validation": result.metrics,
        "seconds": round(time.time() - started, 1),
    }
    write_metrics(out / "summary.json", summary)
    echo(f"done in {summary['seconds']:.0f} s: model {result.artifact}, report {out / 'run' / 'eval'}")
    return summary
