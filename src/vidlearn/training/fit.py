"""Training on Lightning: one run (train [+ val] records -> checkpoints, logs, evaluation, model
artifact). Cross-validation is ``training.cv``; the run's callbacks are ``training.callbacks``.

A run directory holds:
  checkpoints/last.ckpt, best.ckpt   resumable training state (Lightning, not a model artifact)
  logs/metrics.csv, tb/              per-epoch curves (CSV and TensorBoard)
  model/                             the self-contained artifact (safetensors + JSON)
  eval/                              metrics.json, confusion.png, per_class.md, curves.png
"""

from __future__ import annotations

import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vidlearn.config import CLASS_TASKS, LABEL_TASKS, ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import DivergedModelError
from vidlearn.predictors.evaluation import evaluate_and_report
from vidlearn.progress import Echo
from vidlearn.tasks.task import build_task
from vidlearn.training.finetune import build_task_model, describe_training, report_info
from vidlearn.training.history import merge_log_history, set_aside_log_history
from vidlearn.training.prepare import prepare_config, set_input_stats
from vidlearn.training.callbacks import deadline_horizon, divergence_stop, epoch_lines, resume_epoch_callback
from vidlearn.training.checkpoints import AtomicCheckpointIO, resume_from

__all__ = ["TrainResult", "build_task_model", "evaluate_and_report", "fit", "prepare_config"]


@dataclass
class TrainResult:
    """What a finished run left behind."""

    run_dir: Path
    artifact: Path | None
    metrics: dict[str, Any] | None
    epochs: int
    seconds: float
    skipped: list[tuple[str, str]] = field(default_factory=list)
    train_seconds: float = 0.0  # the part spent in the training loop
    stopped_early: bool = False  # the time limit stopped training before the planned epochs
    localization: dict[str, Any] | None = None  # localization: the validation videos' segment metrics


# Lightning messages that say nothing to a vidlearn user (hardware lines, tips, expected set-ups).
_NOISE = (
    ".*does not have many workers.*",
    ".*The number of training batches.*",
    ".*You defined a `validation_step` but have no `val_dataloader`.*",
    ".*isinstance\\(treespec, LeafSpec\\).*",
    ".*Checkpoint directory .* exists and is not empty.*",
    ".*module\\(s\\) in eval mode at the start of training.*",  # frozen encoders keep eval mode on purpose
    ".*Experiment logs directory .* exists and is not empty.*",  # resume: fit keeps the earlier rows itself
)


def _quiet_lightning() -> None:
    import logging

    for name in ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda", "lightning.fabric.utilities.seed"):
        logging.getLogger(name).setLevel(logging.WARNING)


def fit(
    train_records: list[VideoRecord],
    cfg: ExperimentConfig,
    run_dir: str | Path,
    *,
    val_records: list[VideoRecord] | None = None,
    eval_records: list[VideoRecord] | None = None,
    devices: int | str = 1,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = print,
    callbacks: list | None = None,
    train_until: float | None = None,
    plan: dict[str, Any] | None = None,
) -> TrainResult:
    """Train one model, evaluate it (on `eval_records`, default the validation records) and save
    the artifact. With `resume`, training continues from `run_dir/checkpoints/last.ckpt`.

    `train_until` (a `time.time()` value) stops the training loop then (Lightning's max_time):
    evaluation and the artifact follow as usual, from the weights reached. `plan` (the planner's
    plan, a dict) is saved as plan.json in the run and the artifact and shown in report.html."""
    import lightning as L
    from lightning.pytorch.callbacks import (
        EarlyStopping,
        ModelCheckpoint,
        TQDMProgressBar,
    )
    from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger

    from vidlearn.clips import ClipDataset, build_cache, make_loader
    from vidlearn.training.module import VideoModule
    from vidlearn.training.optim import class_weights, positive_weights

    started = time.time()
    _quiet_lightning()
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    cfg = prepare_config(cfg, train_records)
    cfg.save(run / "config.yaml")
    if plan is not None:
        import json

        from vidlearn.fsutil import atomic_write_text

        atomic_write_text(run / "plan.json", json.dumps(plan, indent=2, default=str))
    L.seed_everything(cfg.optim.seed, workers=True, verbose=False)
    cache = build_cache(cfg)
    classes = cfg.task.classes
    class_to_idx = {c: i for i, c in enumerate(classes)} if cfg.task.kind in LABEL_TASKS else None

    skip_log = run / "skipped.jsonl"
    train_ds = ClipDataset.from_config(train_records, cfg, train=True, class_to_idx=class_to_idx, cache=cache, skip_log=skip_log)
    workers = cfg.data.num_workers
    bs = min(cfg.optim.batch_size, len(train_records))
    train_dl = make_loader(train_ds, batch_size=bs, shuffle=True, num_workers=workers, seed=cfg.optim.seed, drop_last=len(train_records) > bs)
    val_dl = None
    if val_records:
        val_ds = ClipDataset.from_config(val_records, cfg, train=False, class_to_idx=class_to_idx, cache=cache, skip_log=skip_log)
        val_dl = make_loader(val_ds, batch_size=cfg.optim.batch_size, shuffle=False, num_workers=workers, seed=cfg.optim.seed)

    weights = None
    if cfg.task.kind in CLASS_TASKS and cfg.optim.class_weights:
        weights = class_weights([class_to_idx[r.target] for r in train_records], len(classes))  # type: ignore[index]
    elif cfg.task.kind == "multilabel" and cfg.optim.class_weights:
        from vidlearn.tasks.multilabel import multi_hot

        weights = positive_weights(multi_hot([r.target for r in train_records], classes))
        echo("positive weights (negatives / positives a class): " + ", ".join(f"{c} {w:.2f}" for c, w in zip(classes, weights.tolist())))
    model = build_task_model(cfg)
    if getattr(model, "weights_report", None) is not None:
        echo(f"weights: {model.weights_report.message}")
    if cfg.model.from_weights:
        echo(f"preprocessing from the weights: {', '.join(cfg.model.from_weights)}")
    if cfg.model.weights or cfg.finetune != type(cfg.finetune)():
        echo(describe_training(cfg, model))
    if train_ds.sequences:
        if cache is None:
            echo("note: data.cache is off, so every clip re-encodes the frame features of its whole video (slow)")
        set_input_stats(model, train_ds, progress=progress, echo=echo)
    module = VideoModule(model, cfg, class_weights=weights)

    ckpt_dir = run / "checkpoints"
    task = build_task(cfg.task)
    monitor = (task.monitor, task.mode)
    checkpoint = ModelCheckpoint(
        dirpath=ckpt_dir,
        filename="best",
        monitor=monitor[0] if val_dl is not None else None,
        mode=monitor[1],
        save_last=True,
        save_top_k=1,
        enable_version_counter=False,
    )
    divergence = divergence_stop()
    trainer_callbacks: list = [checkpoint, resume_epoch_callback(train_ds), divergence]
    if cfg.optim.early_stopping and val_dl is not None:
        trainer_callbacks.append(EarlyStopping(monitor="val_loss", patience=cfg.optim.early_stopping, mode="min"))
    from vidlearn.progress import interactive

    bar = progress and interactive()
    if bar:
        trainer_callbacks.append(TQDMProgressBar(leave=False))
    elif progress:
        trainer_callbacks.append(epoch_lines(echo))
    if train_until is not None:
        trainer_callbacks.append(deadline_horizon(train_until, echo))
    trainer_callbacks += list(callbacks or [])  # e.g. tuning's pruning callback
    precision = cfg.optim.precision
    if precision == "auto":
        precision = ("bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed") if torch.cuda.is_available() else "32-true"
    elif precision == "32":
        precision = "32-true"
    n_dev = int(devices) if str(devices).isdigit() else devices
    max_time = None
    if train_until is not None:
        import datetime

        max_time = datetime.timedelta(seconds=max(1.0, train_until - time.time()))
    trainer = L.Trainer(
        max_time=max_time,
        plugins=[AtomicCheckpointIO()],  # no truncated last.ckpt on a full disk
        max_epochs=cfg.optim.epochs,
        accelerator="auto",
        devices=n_dev,
        # a backbone frozen for the first epochs leaves parameters without gradients, which DDP must be told
        strategy=("ddp_find_unused_parameters_true" if cfg.finetune.freeze_backbone_epochs else "ddp") if isinstance(n_dev, int) and n_dev > 1 else "auto",
        precision=precision,
        accumulate_grad_batches=cfg.optim.accumulate,
        gradient_clip_val=cfg.optim.grad_clip or None,
        callbacks=trainer_callbacks,
        logger=[CSVLogger(run, name="logs", version=""), TensorBoardLogger(run, name="tb", version="", default_hp_metric=False)],
        enable_progress_bar=bar,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        deterministic="warn" if cfg.optim.deterministic else False,  # torch's deterministic kernels where it has them
        default_root_dir=run,
    )
    ckpt_path = resume_from(ckpt_dir, module, echo) if resume else None
    if ckpt_path is not None and trainer.is_global_zero:
        set_aside_log_history(run / "logs")
    loop_started = time.time()
    with warnings.catch_warnings():
        for message in _NOISE:
            warnings.filterwarnings("ignore", message=message)
        trainer.fit(module, train_dataloaders=train_dl, val_dataloaders=val_dl, ckpt_path=ckpt_path)
    train_seconds = time.time() - loop_started
    if trainer.is_global_zero:
        merge_log_history(run / "logs")
    epochs = int(trainer.current_epoch)
    planned_epochs = int(trainer.fit_loop.max_epochs or cfg.optim.epochs)  # fewer when the deadline shortened the run
    stopped = max_time is not None and epochs < planned_epochs and not any(
        isinstance(c, EarlyStopping) and c.stopped_epoch for c in trainer_callbacks)
    if divergence.diverged is not None:
        stopped = False  # not the time limit
    if stopped:
        echo(f"time limit: training stopped after {trainer.global_step} step(s), in epoch {epochs + 1} of {planned_epochs} "
             "(the estimate was short); evaluating and saving the weights reached")
    skipped = train_ds.skipped + (val_ds.skipped if val_dl is not None else [])
    if not trainer.is_global_zero:
        return TrainResult(run, None, None, epochs, time.time() - started, skipped, train_seconds=train_seconds, stopped_early=stopped)

    best = Path(checkpoint.best_model_path) if checkpoint.best_model_path else None
    if best and best.is_file() and val_dl is not None:
        state = torch.load(best, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
    model = module.model.cpu().eval()
    if divergence.diverged is not None:
        epoch, step = divergence.diverged
        where = f"training diverged: the loss was not finite at step {step} (epoch {epoch} of {cfg.optim.epochs})"
        if not all(bool(torch.isfinite(p).all()) for p in model.parameters()):
            raise DivergedModelError.about(str(run), f"{where}, and no checkpoint before it has finite weights")
        echo(f"{where}, so it stopped there; the best checkpoint before it is evaluated ({DivergedModelError.FIX} avoids it)")
    if cfg.task.kind == "multilabel" and val_records and not cfg.task.thresholds:
        from vidlearn.predictors.evaluation import choose_task_thresholds

        thresholds = choose_task_thresholds(model, val_records, cfg, cache=cache)
        cfg = cfg.override({"task.thresholds": thresholds})
        echo("thresholds chosen on the validation videos: " + ", ".join(f"{c} {t:.2f}" for c, t in zip(classes, thresholds)))
    metrics = None
    targets = eval_records if eval_records is not None else val_records
    files: dict[str, Path] = {}
    if targets:
        metrics, files = evaluate_and_report(model, targets, cfg, run / "eval", cache=cache, progress=progress)
        skipped += [(s["path"], s["reason"]) for s in metrics.get("skipped", [])]
    curves = _plot_curves(run)
    if curves:
        files["curves"] = curves
    if plan is not None:
        files["plan"] = run / "plan.json"
    from vidlearn.predictors.artifact import save_artifact

    artifact = save_artifact(
        run / "model", model, cfg, classes if cfg.task.kind in LABEL_TASKS else [],
        metrics=metrics["video"] if metrics else None,
        extra_files={f"{k}{v.suffix}": v for k, v in files.items()} or None,
        training_videos=[str(r.path) for r in train_records],
    )
    from vidlearn.reports import (
        write_run_report,  # eval/report.html; a failure only warns
    )

    from vidlearn.reports.plan_section import plan_section

    write_run_report(
        run / "eval", title=f"Training report: {run.name}", metrics=metrics or {}, config=cfg, echo=echo,
        sections=[plan_section(plan)] if plan is not None else None,
        timing={"total": time.time() - started, "training loop": train_seconds},
        info={"model": cfg.model.name, "epochs": epochs, "training videos": len(train_records), "evaluation videos": len(targets or []),
              **report_info(cfg, model)},
    )
    if cache is not None:
        ci = cache.info()
        echo(f"frame cache {cache.root}: {ci['entries']} video(s), {ci['bytes'] / 1e6:.1f} MB ({cache.format}, {cfg.decode.fps:g} fps, short side {cfg.decode.short_side})")
    if skipped:
        echo(f"{len(set(skipped))} video(s) skipped: " + "; ".join(f"{p}: {r}" for p, r in sorted(set(skipped))[:10]))
    return TrainResult(run, artifact, metrics, epochs, time.time() - started, sorted(set(skipped)), train_seconds=train_seconds, stopped_early=stopped)


def _plot_curves(run: Path) -> Path | None:
    csv = run / "logs" / "metrics.csv"
    if not csv.is_file():
        return None
    from vidlearn.tasks.plots import plot_learning_curves

    try:
        return plot_learning_curves(csv, run / "eval" / "curves.png")
    except Exception:  # noqa: BLE001 - a missing picture must not fail a finished training
        return None
