"""Calibration: a short run of the real data path and model step of a planned recipe on this
machine. It measures what the planner's budget arithmetic needs (per video: the first pass that
decodes into the cache or computes the per-frame features; per optimiser step on cached data;
per video: scoring all test views), so that the steps are fitted to this machine, not to constants.

The measuring cache is a temporary folder (a warm cache would hide the first-pass cost). The
optimiser steps are timed with the loader workers the recipe trains with: on 2 cores the workers
compete with the model's threads, and steps timed without them were 1.5x short of training's."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Sequence

import torch

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import DataSourceError
from vidlearn.planning.rules import Calibration

__all__ = ["calibrate", "calibration_sample"]


def calibration_sample(records: Sequence[VideoRecord], videos: int, *, bad: set[str] | None = None) -> list[VideoRecord]:
    """Up to `videos` records, round-robin over the targets (classes, or all for regression), no
    known-bad file among them; at least two classes for classification when the data has them."""
    bad = bad or set()
    usable = [r for r in records if str(r.path) not in bad]
    by_target: dict[str, list[VideoRecord]] = {}
    for r in usable:
        by_target.setdefault(str(r.target) if isinstance(r.target, str) else "", []).append(r)
    queues = [list(v) for _, v in sorted(by_target.items())]
    out: list[VideoRecord] = []
    while len(out) < videos and any(queues):
        for q in queues:
            if q and len(out) < videos:
                out.append(q.pop(0))
    return out


def calibrate(records: Sequence[VideoRecord], cfg: ExperimentConfig, *, videos: int = 6, steps: int = 4,
              bad: set[str] | None = None, first_pass_limit: float | None = None) -> Calibration:
    """Measure `cfg`'s recipe on a few of `records` (see the module docs): `videos` decoded (or
    encoded) once, then one warm-up step and `steps` timed optimiser steps at the configured
    batch size, then the test views of two videos scored. With `first_pass_limit` (seconds a
    video), a first pass measured above it on two videos ends the calibration there (the recipe
    cannot fit; ``steps`` is then 0 and the step time unmeasured)."""
    from vidlearn.clips import ClipDataset, build_cache, make_loader
    from vidlearn.tasks.task import build_task
    from vidlearn.training.finetune import build_task_model, lr_groups
    from vidlearn.training.optim import build_optimizer
    from vidlearn.training.prepare import prepare_config

    sample = calibration_sample(records, videos, bad=bad)
    if len(sample) < 2:
        raise DataSourceError("calibration", ["fewer than 2 readable videos to measure the recipe on"])
    workers = int(cfg.data.num_workers)  # the steps are timed with the loader workers training will run
    with tempfile.TemporaryDirectory(prefix="vidlearn-calibrate-") as tmp:
        cfg = prepare_config(cfg, list(sample)).override({"data.cache_dir": tmp, "data.num_workers": 0})
        cache = build_cache(cfg)
        ds = ClipDataset.from_config(sample, cfg, train=True, cache=cache)
        timed = []
        for i in range(len(ds)):  # the first pass: decode into the cache / encode every frame
            t0 = time.perf_counter()
            item = ds.feature_rows(i) if ds.sequences else ds[i]
            if item is not None and i > 0:  # the first video also pays one-off set-up (encoder weights)
                timed.append(time.perf_counter() - t0)
            if first_pass_limit is not None and len(timed) >= 2 and sum(timed) / len(timed) > first_pass_limit:
                first = sum(timed) / len(timed)
                return Calibration(model=cfg.model.name, batch_size=int(cfg.optim.batch_size), num_frames=cfg.sampling.num_frames,
                                   side=int(cfg.decode.short_side), step_s=0.0, first_pass_s=round(first, 4), eval_s=0.0,
                                   videos=len(timed) + 1, steps=0)
        if not timed:
            raise DataSourceError("calibration", [f"none of {len(sample)} sampled videos could be read: {ds.summary()}"])
        first_pass = sum(timed) / len(timed)

        bs = int(cfg.optim.batch_size)
        repeated = [sample[i % len(sample)] for i in range(bs * (steps + 1))]
        train_ds = ClipDataset.from_config(repeated, cfg, train=True, cache=cache)
        loader = make_loader(train_ds, batch_size=bs, shuffle=False, num_workers=workers, seed=cfg.optim.seed, drop_last=True)
        torch.manual_seed(cfg.optim.seed)
        model = build_task_model(cfg)
        model.train()
        task = build_task(cfg.task, loss=cfg.optim.loss, label_smoothing=cfg.optim.label_smoothing)
        opt = build_optimizer(model, cfg.optim, lr_groups=lr_groups(model, cfg))
        durations = []
        t0 = time.perf_counter()
        for k, batch in enumerate(loader):
            if batch is not None:
                opt.zero_grad(set_to_none=True)
                loss = task.loss(model(batch["video"]), batch["target"])
                loss.backward()
                opt.step()
            now = time.perf_counter()
            if k > 0:  # step 0 warms up the kernels
                durations.append(now - t0)
            t0 = now
        step_s = sum(durations) / max(1, len(durations)) if durations else float("nan")

        eval_ds = ClipDataset.from_config(sample[:2], cfg, train=False, views=True, cache=cache)
        model.eval()
        evals = []
        with torch.no_grad():
            for i in range(len(eval_ds)):
                t0 = time.perf_counter()
                item = eval_ds[i]
                if item is None:
                    continue
                x = item["video"]
                model(x)  # the views are the batch
                evals.append(time.perf_counter() - t0)
        eval_s = sum(evals) / max(1, len(evals)) if evals else step_s
    side = cfg.transform.crop_size if not ds.sequences else cfg.decode.short_side
    return Calibration(model=cfg.model.name, batch_size=bs, num_frames=cfg.sampling.num_frames, side=int(side),
                       step_s=round(step_s, 4), first_pass_s=round(first_pass, 4), eval_s=round(eval_s, 4),
                       videos=len(sample), steps=len(durations))
