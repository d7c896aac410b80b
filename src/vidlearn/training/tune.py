"""Hyper-parameter search with Optuna: what `vidlearn tune` does, as library calls. This module
runs the study (split, resume, interrupted trials, parallel workers); the search space is in
`tune_space`, one process's trials and the pruning in `tune_trials`, the files in `tune_report`
(their public names are importable from here too).

Each trial is an ordinary vidlearn experiment: the base `ExperimentConfig` with the trial's
sampled values applied, trained with `fit()` into `OUT/trials/<number>/` on a fixed, group-aware
train/validation split. The objective is the validation video accuracy (classification) or
minus the validation video MAE (regression); it is always maximised.

    from vidlearn.training.tune import tune, load_space
    result = tune("data/", cfg, "search/", trials=20, space=load_space("space.yaml"))
    result.best_value, result.best_params, result.best_config   # OUT/best_config.yaml

The study lives in SQLite (`OUT/study.db`, study name "vidlearn"): running the same search again
continues it until `trials` trials have finished in total. Trials that a killed search left
"running" are marked failed (user attribute `interrupted`), do not count, and their parameters
are queued to be tried again. Bad trials are stopped early from their per-epoch validation
curve (`PruningCallback` reports to Optuna; MedianPruner or SuccessiveHalving decide).
With `jobs` > 1, that many worker processes share the SQLite study.

Search-space format (YAML file, one entry per dotted config field; see docs/tuning.md):

    optim.lr: {type: float, low: 1.0e-4, high: 1.0e-2, log: true}
    model.name: {type: categorical, choices: [r2plus1d_tiny, r3d_tiny]}
    sampling.num_frames: {type: int, low: 4, high: 16, step: 4}
    transform.scale_min: {type: float, low: 0.3, high: 0.9}   # lower end of transform.scale"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import optuna
from optuna.trial import TrialState

from vidlearn.config import ExperimentConfig
from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.training.tune_report import write_reports
from vidlearn.training.tune_space import (
    DEFAULT_SPACE,
    Param,
    apply_params,
    default_space,
    format_params,
    load_space,
    parse_space,
)
from vidlearn.training.tune_trials import (
    PRUNERS,
    STUDY_NAME,
    Echo,
    PruningCallback,
    TrialJob,
    metric_name,
    quiet_optuna,
    run_trials,
    study_storage,
    worker_main,
    make_pruner,
)

__all__ = [
    "DEFAULT_SPACE",
    "PRUNERS",
    "STUDY_NAME",
    "Param",
    "PruningCallback",
    "TuneResult",
    "apply_params",
    "default_space",
    "format_params",
    "load_space",
    "make_pruner",
    "parse_space",
    "tune",
]



@dataclass
class TuneResult:
    """What a search left behind (`best_*` are None when no trial completed)."""

    out: Path
    study_db: Path
    direction_metric: str
    best_value: float | None
    best_params: dict[str, Any]
    best_trial: int | None
    best_config: Path | None
    best_run: Path | None
    complete: int
    pruned: int
    failed: int
    ran: int
    files: dict[str, Path] = field(default_factory=dict)


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One search per folder at a time (the stale-trial clean-up relies on it): a `filelock`
    lock on OUT/.tune.lock (flock on POSIX, msvcrt on Windows), released when the search ends."""
    from filelock import FileLock, Timeout

    lock = FileLock(out / ".tune.lock", timeout=0)
    try:
        lock.acquire()
    except Timeout:
        raise ConfigError(f"{out}: another `vidlearn tune` is running on this folder") from None
    try:
        yield
    finally:
        lock.release()


def _finished(trials: Sequence[optuna.trial.FrozenTrial]) -> list[optuna.trial.FrozenTrial]:
    """Trials that count towards the total: complete, pruned, or failed by themselves."""
    return [
        t for t in trials
        if t.state in (TrialState.COMPLETE, TrialState.PRUNED)
        or (t.state == TrialState.FAIL and not t.user_attrs.get("interrupted"))
    ]


def _started(trials: Sequence[optuna.trial.FrozenTrial]) -> int:
    return sum(t.state != TrialState.WAITING for t in trials)


def _recover_interrupted(study: optuna.Study, space: list[Param], echo: Echo) -> None:
    """Trials left RUNNING by a killed search: mark them failed/interrupted and queue their
    parameters again (only safe under the folder lock: nobody else runs this study)."""
    storage = study._storage  # noqa: SLF001 - optuna has no public API to fail a foreign trial
    names = {p.name for p in space}
    waiting = [t.params for t in study.get_trials(deepcopy=False, states=(TrialState.WAITING,))]
    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        storage.set_trial_user_attr(t._trial_id, "interrupted", True)  # noqa: SLF001
        storage.set_trial_state_values(t._trial_id, TrialState.FAIL)  # noqa: SLF001
        if set(t.params) == names and t.params not in waiting:
            study.enqueue_trial(t.params)
            waiting.append(t.params)
        echo(f"trial {t.number} was interrupted: it will be run again")


def tune(
    data: str | Path,
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    trials: int,
    space: Sequence[Param] | None = None,
    timeout: float | None = None,
    jobs: int = 1,
    group: str | None = None,
    pruner: str = "median",
    seed: int = 0,
    progress: bool = False,
    echo: Echo = print,
    budget: float | None = None,
) -> TuneResult:
    """Search hyper-parameters on DATA until `trials` trials have finished in OUT's study (this
    call runs only the missing ones), then write OUT/trials.csv, OUT/best_config.yaml,
    OUT/history.png, OUT/importance.png and OUT/report.html. `cfg` is the base configuration every trial starts
    from (epochs, batch size, ... are taken from it); `space` defaults to `default_space(cfg)`.

    `budget` (seconds) bounds the whole search: no trial starts in its last 15 %, and a running
    trial's training stops at 90 % of it (then it is evaluated), leaving time for the reports."""
    import time

    started = time.time()
    from vidlearn.data.sources import load_records
    from vidlearn.data.splits import train_val_test_split

    if trials < 1:
        raise ConfigError(f"--trials must be at least 1, got {trials}")
    if jobs < 1:
        raise ConfigError(f"--jobs must be at least 1, got {jobs}")
    if timeout is not None and timeout <= 0:
        raise ConfigError(f"--timeout must be positive, got {timeout}")
    make_pruner(pruner)  # a bad name fails before any work
    params = list(space) if space is not None else default_space(cfg)
    if not params:
        raise ConfigError("the search space is empty")
    metric = metric_name(cfg.task.kind)  # a ConfigError for a task that is not tuned
    out_dir = Path(out)
    out_dir.mkdir(parents=True, exist_ok=True)

    records = load_records(data, task=cfg.task.kind, group=group)
    fraction = cfg.data.val_fraction or 0.2
    split = train_val_test_split(records, val=fraction, seed=cfg.optim.seed)
    if not split.val:
        raise ConfigError(f"{data}: no validation videos after a {fraction:.0%} split; tuning needs a validation set")
    n_groups = len({r.group for r in split.val if r.group is not None})
    echo(
        f"tuning on {len(split.train)} training and {len(split.val)} validation video(s)"
        + (f" ({n_groups} held-out group(s))" if n_groups else "")
    )

    db = out_dir / "study.db"
    url = f"sqlite:///{db.resolve()}"
    space_dicts = [{**asdict(p), "choices": list(p.choices)} for p in params]
    with _exclusive(out_dir):
        storage = study_storage(url)
        with quiet_optuna():
            study = optuna.create_study(
                storage=storage, study_name=STUDY_NAME, direction="maximize", load_if_exists=True, pruner=make_pruner(pruner)
            )
        old_task = study.user_attrs.get("task")
        if old_task and old_task != cfg.task.kind:
            raise ConfigError(f"{db}: this study tunes {old_task}, not {cfg.task.kind}; use another --out")
        if not old_task:
            study.set_user_attr("task", cfg.task.kind)
            study.set_user_attr("space", {p.name: p.to_dict() for p in params})
            study.set_user_attr("base_config", cfg.to_dict())
        else:
            if study.user_attrs.get("space") != {p.name: p.to_dict() for p in params}:
                echo("warning: the search space differs from the one this study started with")
            if study.user_attrs.get("base_config") != cfg.to_dict():
                echo("warning: the base config differs from the one this study started with")
        _recover_interrupted(study, params, echo)
        done = len(_finished(study.get_trials(deepcopy=False)))
        remaining = max(0, trials - done)
        if done:
            echo(f"{db}: {done} trial(s) already finished; running {remaining} more")
        deadline = None
        if budget is not None:
            left = budget - (time.time() - started)
            timeout = min(timeout, 0.85 * left) if timeout is not None else 0.85 * left
            deadline = started + 0.9 * budget
        job = TrialJob(url, str(out_dir), cfg.to_dict(), space_dicts, split.train, split.val, pruner, seed, progress, deadline)
        before = _started(study.get_trials(deepcopy=False))
        try:
            if remaining and jobs == 1:
                run_trials(job, remaining, timeout, 0, echo)
            elif remaining:
                _run_parallel(job, remaining, timeout, min(jobs, remaining), echo)
        finally:
            study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
            files = write_reports(study, cfg, out_dir, metric=metric, seed=seed, echo=echo)
        all_trials = study.get_trials(deepcopy=False)
        ran = _started(all_trials) - before
    complete = [t for t in all_trials if t.state == TrialState.COMPLETE]
    result = TuneResult(
        out=out_dir, study_db=db, direction_metric=metric, best_value=None, best_params={}, best_trial=None,
        best_config=files.get("best_config"), best_run=None,
        complete=len(complete), pruned=sum(t.state == TrialState.PRUNED for t in all_trials),
        failed=sum(t.state == TrialState.FAIL and not t.user_attrs.get("interrupted") for t in all_trials), ran=ran, files=files,
    )
    if complete:
        best = study.best_trial
        result.best_value, result.best_params, result.best_trial = best.value, dict(best.params), best.number
        result.best_run = Path(best.user_attrs.get("run_dir", out_dir / "trials" / str(best.number)))
    return result


def _run_parallel(job: TrialJob, n_trials: int, timeout: float | None, jobs: int, echo: Echo) -> None:
    """`jobs` worker processes (spawned, so no forked torch/Lightning state) share the SQLite
    study; the trials are divided between them up front, so the total is exact."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    threads = max(1, cores // jobs)
    shares = [n_trials // jobs + (1 if i < n_trials % jobs else 0) for i in range(jobs)]
    echo(f"running {n_trials} trial(s) in {jobs} worker processes ({threads} torch thread(s) each)")
    from concurrent.futures.process import BrokenProcessPool

    errors = []
    with ProcessPoolExecutor(max_workers=jobs, mp_context=mp.get_context("spawn")) as pool:
        futures = [pool.submit(worker_main, job, n, timeout, i, threads) for i, n in enumerate(shares) if n]
        for f in futures:
            try:
                err = f.result()
            except BrokenProcessPool:
                err = (
                    "--jobs: a worker process died (out of memory? killed?); the finished trials are kept. "
                    "Calling tune(jobs>1) from a script needs the `if __name__ == '__main__':` guard"
                )
            if err:
                errors.append(err)
    if errors:
        if all(e == "interrupted" for e in errors):
            raise KeyboardInterrupt
        raise VidlearnError(next(e for e in errors if e != "interrupted"))
