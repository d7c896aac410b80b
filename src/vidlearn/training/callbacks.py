"""The Lightning callbacks of a training run (``training.fit``): the epoch of a resumed run for
the loader workers, one log line per epoch, the stop at a diverged loss, and the deadline that
sets the run's length and learning-rate horizon."""

from __future__ import annotations

import time
from typing import Any

import torch

from vidlearn.progress import Echo

__all__ = ["deadline_horizon", "divergence_stop", "epoch_lines", "resume_epoch_callback"]


def resume_epoch_callback(dataset: Any) -> Any:
    """A callback that sets ``dataset``'s epoch from a checkpoint being resumed. Lightning creates
    the loader iterator of the first resumed epoch while it sets up the data, before any epoch
    hook, and loader workers prefetch from it at once: without this they would draw that epoch's
    clips with the epoch of a fresh dataset (0) instead of the epoch being resumed."""
    import lightning as L

    class _ResumeEpoch(L.Callback):
        def on_load_checkpoint(self, trainer, pl_module, checkpoint: dict[str, Any]) -> None:
            progress = checkpoint.get("loops", {}).get("fit_loop", {}).get("epoch_progress", {}).get("current", {})
            if isinstance(progress.get("processed"), int):  # the epoch Lightning resumes at
                dataset.set_epoch(progress["processed"])

    return _ResumeEpoch()


def epoch_lines(echo: Echo) -> Any:
    """A callback that reports each finished epoch in one line (progress in a log, where a
    redrawn bar would leave thousands of states): ``epoch 3/20: train_loss 1.02, ... (4.1 s)``."""
    import lightning as L

    class _EpochLines(L.Callback):
        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.started = time.time()

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            if not trainer.is_global_zero:
                return
            names = ("train_loss", "train_acc", "train_mae", "val_loss", "val_acc", "val_mae")
            metrics = trainer.callback_metrics
            shown = ", ".join(f"{k} {float(metrics[k]):.4g}" for k in names if k in metrics)
            took = time.time() - getattr(self, "started", time.time())
            echo(f"epoch {trainer.current_epoch + 1}/{trainer.max_epochs}: {shown} ({took:.1f} s)")

    return _EpochLines()


def divergence_stop() -> Any:
    """A callback that stops training at the first optimiser step whose loss is not finite (NaN or
    inf): every later step would only spend time on weights that are already lost. ``diverged``
    then holds ``(epoch, step)`` (1-based epoch; the global step of the bad batch)."""
    import lightning as L

    class _DivergenceStop(L.Callback):
        diverged: tuple[int, int] | None = None

        def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx) -> None:
            loss = outputs.get("loss") if isinstance(outputs, dict) else outputs
            if self.diverged is None and isinstance(loss, torch.Tensor) and not bool(torch.isfinite(loss.detach()).all()):
                self.diverged = (trainer.current_epoch + 1, trainer.global_step)
                trainer.should_stop = True

    return _DivergenceStop()


def deadline_horizon(until: float, echo: Echo) -> Any:
    """A callback for a run with a deadline (``train_until``): after each epoch it counts the
    epochs that fit the time left at the last epoch's time (validation included; never more than
    planned) and sets the run's length and the learning-rate schedule's horizon to it. The cosine
    then ends at the deadline instead of Lightning's time limit cutting it while the rate is still
    high: budget-aware schedules beat truncated ones (Li et al., "Budgeted Training", ICLR 2020).
    The horizon follows the measured epochs both ways (a slow first epoch filling the frame cache
    does not shorten the run for good)."""
    import lightning as L

    class _DeadlineHorizon(L.Callback):
        planned: int | None = None
        said = False

        def on_train_epoch_start(self, trainer, pl_module) -> None:
            self.started = time.time()
            if self.planned is None:
                self.planned = int(trainer.max_epochs or 1)

        def on_train_epoch_end(self, trainer, pl_module) -> None:
            took = max(1e-3, time.time() - getattr(self, "started", time.time()))
            done = trainer.current_epoch + 1
            planned = int(self.planned or trainer.max_epochs or done)
            fits = min(planned, max(done, done + int(max(0.0, until - time.time()) * 0.95 // took)))
            if fits == trainer.max_epochs:
                return
            trainer.fit_loop.max_epochs = fits
            for config in trainer.lr_scheduler_configs:
                for schedule in getattr(config.scheduler, "lr_lambdas", []):
                    if hasattr(schedule, "total_steps"):
                        schedule.total_steps = fits * schedule.steps_per_epoch
            if not self.said and fits < planned and trainer.is_global_zero:
                echo(f"time: {fits} of {planned} epochs fit the time left ({took:.1f} s an epoch), so the run and its "
                     "learning-rate schedule end there (re-counted after each epoch)")
                self.said = True

    return _DeadlineHorizon()
