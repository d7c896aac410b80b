"""Running trials of a shared Optuna study in one process: the objective (one `fit()` per trial),
the pruning callback and pruners, and the worker-process entry point."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from lightning.pytorch.callbacks import Callback
from optuna.trial import TrialState

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.training.tune_space import Param, format_params_short, param_reason, apply_params
from vidlearn.progress import Echo

__all__ = ["PRUNERS", "STUDY_NAME", "PruningCallback", "make_pruner"]


STUDY_NAME = "vidlearn"
PRUNERS = ("median", "halving", "none")


# ---- pruning -------------------------------------------------------------------------------


class PruningCallback(Callback):
    """Reports the validation metric to an Optuna trial after every validation epoch and stops the
    training with `optuna.TrialPruned` when the trial's pruner says so. `sign` = -1 turns a metric
    to minimise (val_mae) into the maximised objective's orientation."""

    def __init__(self, trial: Any, monitor: str = "val_acc", *, sign: float = 1.0) -> None:
        super().__init__()
        self.trial = trial
        self.monitor = monitor
        self.sign = sign

    def on_validation_end(self, trainer: Any, pl_module: Any) -> None:  # noqa: D102
        if getattr(trainer, "sanity_checking", False):
            return
        value = trainer.callback_metrics.get(self.monitor)
        if value is None:
            return
        epoch = int(trainer.current_epoch)
        score = self.sign * float(value)
        self.trial.report(score, step=epoch)
        if self.trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch + 1} ({self.monitor} {float(value):.4f})")


def make_pruner(name: str) -> optuna.pruners.BasePruner:
    """'median' (MedianPruner: stop a trial below the median of earlier trials at the same epoch,
    after 3 finished trials and from the second epoch on), 'halving' (SuccessiveHalvingPruner) or 'none'."""
    key = name.strip().lower().replace("_", "-")
    if key == "median":
        return optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1)
    if key in ("halving", "successive-halving", "successivehalving", "sha"):
        return optuna.pruners.SuccessiveHalvingPruner(min_resource=1, reduction_factor=3)
    if key in ("none", "off", "nop"):
        return optuna.pruners.NopPruner()
    raise ConfigError(f"--pruner: unknown pruner '{name}'; choose one of {', '.join(PRUNERS)}")


# ---- trials --------------------------------------------------------------------------------


@dataclass
class TrialJob:
    """Everything a worker needs, picklable (sent to worker processes)."""

    storage_url: str
    out: str
    base: dict[str, Any]
    space: list[dict[str, Any]]
    train: list[VideoRecord]
    val: list[VideoRecord]
    pruner: str
    seed: int
    progress: bool
    deadline: float | None = None  # time.time() by which every trial's training has stopped (tune --budget)


class _TrialFailed(Exception):
    """A trial that crashed (e.g. a model that cannot take the sampled clip size): recorded as
    failed, the search goes on."""


@dataclass(frozen=True)
class Objective:
    """What a search of one task maximises: ``sign`` x the validation videos' ``video_key`` metric;
    after each epoch the pruner sees ``epoch_sign`` x the logged ``epoch_monitor``."""

    name: str
    video_key: str
    sign: float
    epoch_monitor: str
    epoch_sign: float


# multilabel: the per-epoch micro F1 is at thresholds that are chosen only after training (and is
# often 0 for every trial early on), so the pruner watches the smooth validation loss instead
OBJECTIVES = {
    "classification": Objective("validation video accuracy", "accuracy", 1.0, "val_acc", 1.0),
    "regression": Objective("-(validation video MAE)", "mae", -1.0, "val_mae", -1.0),
    "multilabel": Objective("validation video mAP", "map", 1.0, "val_loss", -1.0),
}


def objective_of(kind: str) -> Objective:
    """The objective of a search of task ``kind``; a ConfigError for a task that is not tuned."""
    if kind not in OBJECTIVES:
        raise ConfigError(f"task.kind: tuning is for {', '.join(OBJECTIVES)}; {kind} is not tuned yet")
    return OBJECTIVES[kind]


def metric_name(kind: str) -> str:
    """What a search of task ``kind`` maximises, in words."""
    return objective_of(kind).name


def study_storage(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})


def _objective(job: TrialJob, echo: Echo) -> Callable[[optuna.Trial], float]:
    from vidlearn.training.fit import fit

    base = ExperimentConfig.from_dict(job.base)
    space = [Param(**{**p, "choices": tuple(p["choices"])}) for p in job.space]
    goal = objective_of(base.task.kind)

    def objective(trial: optuna.Trial) -> float:
        params = {p.name: p.suggest(trial) for p in space}
        run = Path(job.out) / "trials" / str(trial.number)
        trial.set_user_attr("run_dir", str(run))
        try:
            cfg = apply_params(base, params)
        except ConfigError as exc:
            trial.set_user_attr("error", param_reason(exc))
            raise _TrialFailed(param_reason(exc)) from None
        cb = PruningCallback(trial, goal.epoch_monitor, sign=goal.epoch_sign)
        echo(f"trial {trial.number}: " + format_params_short(params))
        try:
            result = fit(job.train, cfg, run, val_records=job.val, progress=job.progress, echo=echo, callbacks=[cb],
                         train_until=job.deadline)
        except optuna.TrialPruned:
            raise
        except (VidlearnError, KeyboardInterrupt, ImportError):
            # the user's data/config, Ctrl-C, a broken installation: not this trial's fault, so it
            # does not count and its values are tried again when the search is resumed
            _mark_interrupted(trial, params)
            raise
        except Exception as exc:  # noqa: BLE001 - a crashed configuration fails this trial only
            reason = f"{exc.__class__.__name__}: {exc}".strip().splitlines()[0][:300]
            trial.set_user_attr("error", reason)
            raise _TrialFailed(reason) from exc
        if not result.metrics:
            trial.set_user_attr("error", "no validation metrics")
            raise _TrialFailed("no validation metrics")
        video = result.metrics["video"]
        trial.set_user_attr("epochs", result.epochs)
        value = video.get(goal.video_key)
        if value is None:  # e.g. no class with a positive validation video for mAP
            trial.set_user_attr("error", f"the validation videos give no {goal.video_key}")
            raise _TrialFailed(f"the validation videos give no {goal.video_key}")
        return goal.sign * float(value)

    return objective


def _mark_interrupted(trial: optuna.Trial, params: dict[str, Any]) -> None:
    with contextlib.suppress(Exception):
        trial.set_user_attr("interrupted", True)
        trial.study.enqueue_trial(params)


def _announce(echo: Echo, metric: str) -> Callable[[optuna.Study, optuna.trial.FrozenTrial], None]:
    def callback(study: optuna.Study, t: optuna.trial.FrozenTrial) -> None:
        if t.state == TrialState.COMPLETE:
            echo(f"trial {t.number} finished: {metric} {t.value:.4f}")
        elif t.state == TrialState.PRUNED:
            step = t.last_step if t.last_step is not None else -1
            echo(f"trial {t.number} pruned after epoch {step + 1}")
        elif t.state == TrialState.FAIL:
            echo(f"trial {t.number} failed: {t.user_attrs.get('error', 'see the log above')}")

    return callback


def run_trials(job: TrialJob, n_trials: int, timeout: float | None, worker: int, echo: Echo) -> None:
    """Run `n_trials` trials of the shared study (in this process)."""
    from optuna.samplers import TPESampler

    study = optuna.load_study(study_name=STUDY_NAME, storage=study_storage(job.storage_url), pruner=make_pruner(job.pruner))
    # Seeded, and re-seeded by the history's length, so a resumed search does not repeat the
    # random start-up points of the first run; each worker process draws its own stream.
    seed = job.seed + 1000 * worker + len(study.trials)
    study.sampler = TPESampler(seed=seed, n_startup_trials=5)
    metric = metric_name(job.base.get("task", {}).get("kind", "classification"))
    with quiet_optuna(), _quiet_lightning():
        study.optimize(
            _objective(job, echo), n_trials=n_trials, timeout=timeout, catch=(_TrialFailed,), callbacks=[_announce(echo, metric)]
        )


def worker_main(job: TrialJob, n_trials: int, timeout: float | None, worker: int, threads: int) -> str | None:
    """Entry point of a worker process: returns an error message instead of raising user errors."""
    import torch

    torch.set_num_threads(threads)

    def echo(msg: str) -> None:
        print(f"[worker {worker}] {msg}", flush=True)

    try:
        run_trials(job, n_trials, timeout, worker, echo)
    except VidlearnError as exc:
        return str(exc)
    except KeyboardInterrupt:
        return "interrupted"
    return None


@contextlib.contextmanager
def quiet_optuna() -> Iterator[None]:
    """Optuna's own per-trial INFO lines off (tune prints its own), restored afterwards."""
    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.ERROR)
    try:
        yield
    finally:
        optuna.logging.set_verbosity(level)


@contextlib.contextmanager
def _quiet_lightning() -> Iterator[None]:
    """Lightning's per-Trainer INFO lines (devices, tips, 'fit stopped') off during the trials."""
    import logging

    loggers = [logging.getLogger(n) for n in ("lightning.pytorch", "lightning.fabric", "lightning")]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.WARNING)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels):
            lg.setLevel(level)
