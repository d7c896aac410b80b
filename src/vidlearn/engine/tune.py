"""Hyper-parameter search with Optuna: what `vidlearn tune` does, as library calls.

Each trial is an ordinary vidlearn experiment: the base `ExperimentConfig` with the trial's
sampled values applied, trained with `fit()` into `OUT/trials/<number>/` on a fixed, group-aware
train/validation split. The objective is the validation video accuracy (classification) or
minus the validation video MAE (regression); it is always maximised.

    from vidlearn.engine.tune import tune, load_space
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
    transform.scale_min: {type: float, low: 0.3, high: 0.9}   # lower end of transform.scale
"""

from __future__ import annotations

import contextlib
import csv
import io
import math
import os
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import optuna
from lightning.pytorch.callbacks import Callback
from optuna.trial import TrialState

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, VidlearnError

__all__ = [
    "DEFAULT_SPACE",
    "PRUNERS",
    "STUDY_NAME",
    "Param",
    "PruningCallback",
    "TuneResult",
    "apply_params",
    "default_space",
    "load_space",
    "make_pruner",
    "parse_space",
    "tune",
]

Echo = Callable[[str], None]

STUDY_NAME = "vidlearn"
PRUNERS = ("median", "halving", "none")
SCALE_MIN = "transform.scale_min"  # the one derived name: the lower end of transform.scale

DEFAULT_SPACE: dict[str, dict[str, Any]] = {
    "optim.lr": {"type": "float", "low": 1e-4, "high": 1e-2, "log": True},
    "optim.weight_decay": {"type": "float", "low": 1e-5, "high": 1e-1, "log": True},
    "model.name": {"type": "categorical", "choices": ["r2plus1d_tiny", "r3d_tiny", "x3d_tiny", "frame_cnn_small"]},
    "sampling.num_frames": {"type": "categorical", "choices": [8, 12, 16]},
    "decode.fps": {"type": "categorical", "choices": [4.0, 8.0, 12.0]},
    "transform.crop_size": {"type": "categorical", "choices": [64, 96, 112]},
    "transform.color_jitter": {"type": "float", "low": 0.0, "high": 0.4},
    SCALE_MIN: {"type": "float", "low": 0.3, "high": 0.9},
}

_KEYS = {
    "float": {"type", "low", "high", "log", "step"},
    "int": {"type", "low", "high", "log", "step"},
    "categorical": {"type", "choices"},
}


# ---- the search space ------------------------------------------------------------------------


@dataclass(frozen=True)
class Param:
    """One searched config field: a float or int range (optionally log-scaled or stepped) or a
    categorical choice. `name` is the dotted config field (or `transform.scale_min`)."""

    name: str
    type: Literal["float", "int", "categorical"]
    low: float | int | None = None
    high: float | int | None = None
    log: bool = False
    step: float | int | None = None
    choices: tuple[Any, ...] = ()

    def suggest(self, trial: optuna.Trial) -> Any:
        """Sample this parameter in `trial`."""
        if self.type == "categorical":
            return trial.suggest_categorical(self.name, list(self.choices))
        if self.type == "int":
            return trial.suggest_int(self.name, int(self.low), int(self.high), step=int(self.step or 1), log=self.log)  # type: ignore[arg-type]
        return trial.suggest_float(self.name, float(self.low), float(self.high), step=self.step, log=self.log)  # type: ignore[arg-type]

    def to_dict(self) -> dict[str, Any]:
        """The YAML form of this parameter (what a space file holds)."""
        if self.type == "categorical":
            return {"type": "categorical", "choices": list(self.choices)}
        out: dict[str, Any] = {"type": self.type, "low": self.low, "high": self.high}
        if self.log:
            out["log"] = True
        if self.step is not None:
            out["step"] = self.step
        return out


def default_space(base: ExperimentConfig | None = None) -> list[Param]:
    """The built-in search space: learning rate, weight decay, model, clip length, fps, input
    size, augmentation strength (colour jitter, smallest random-resized-crop scale)."""
    return parse_space(DEFAULT_SPACE, base=base, source="default search space")


def load_space(path: str | Path, *, base: ExperimentConfig | None = None) -> list[Param]:
    """Read a search-space YAML file; a bad entry raises ConfigError naming the parameter."""
    import yaml

    p = Path(path)
    try:
        text = p.read_text()
    except OSError as exc:
        raise ConfigError(f"{p}: cannot read the search space ({exc.strerror or exc})") from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{p}: not valid YAML: {exc}") from None
    return parse_space(data, base=base, source=str(p))


def parse_space(spec: Any, *, base: ExperimentConfig | None = None, source: str = "search space") -> list[Param]:
    """Validate a mapping `{dotted.field: {type: ..., ...}}` into Params. Every bound and choice is
    checked against the config (applied to `base`), so a value the config would reject fails here,
    before any training, with the parameter's name."""
    if not isinstance(spec, Mapping) or not spec:
        got = "an empty file" if not spec else type(spec).__name__
        raise ConfigError(
            f"{source}: a search space is a mapping of config fields to ranges, e.g. "
            f"'optim.lr: {{type: float, low: 1.0e-4, high: 1.0e-2, log: true}}'; got {got}"
        )
    base = base or ExperimentConfig()
    fields = _config_fields(base)
    params = []
    for name, entry in spec.items():
        name = str(name)

        def bad(reason: str, _name: str = name) -> ConfigError:
            return ConfigError(f"{source}: parameter '{_name}': {reason}")

        _check_name(name, fields, bad)
        if not isinstance(entry, Mapping):
            raise bad(
                f"expected a mapping such as {{type: float, low: ..., high: ...}} or {{type: categorical, choices: [...]}}, "
                f"got {entry!r} (a fixed value belongs in the base config or --set)"
            )
        kind = entry.get("type")
        if kind not in _KEYS:
            raise bad(f"'type' must be one of float, int, categorical; got {kind!r}")
        unknown = sorted(set(map(str, entry)) - _KEYS[kind])
        if unknown:
            raise bad(f"unknown key(s) {unknown} for type {kind}; allowed: {sorted(_KEYS[kind])}")
        if kind == "categorical":
            choices = entry.get("choices")
            if not isinstance(choices, (list, tuple)) or not choices:
                raise bad("'choices' must be a non-empty list")
            for c in choices:
                if c is not None and not isinstance(c, (bool, int, float, str)):
                    raise bad(f"choice {c!r} is not a single number, string or boolean")
            if len(set(map(repr, choices))) != len(choices):
                raise bad(f"'choices' has duplicates: {list(choices)}")
            if name == "model.name":
                from vidlearn.models import list_models

                unknown_models = [c for c in choices if c not in list_models()]
                if unknown_models:
                    raise bad(f"unknown model(s) {unknown_models}; `vidlearn models` lists them")
            param = Param(name, "categorical", choices=tuple(choices))
            values: list[Any] = list(choices)
        else:
            low, high = _number(entry.get("low"), "low", kind, bad), _number(entry.get("high"), "high", kind, bad)
            log = entry.get("log", False)
            if not isinstance(log, bool):
                raise bad(f"'log' must be true or false, got {log!r}")
            step = entry.get("step")
            if step is not None:
                step = _number(step, "step", kind, bad)
                if step <= 0:
                    raise bad(f"'step' must be positive, got {step}")
                if log:
                    raise bad("'step' and 'log: true' cannot be combined")
            if not low < high:
                raise bad(f"'low' ({low}) must be below 'high' ({high})")
            if log and low <= 0:
                raise bad(f"'log: true' needs 'low' > 0, got {low}")
            param = Param(name, kind, low=low, high=high, log=log, step=step)
            values = [low, high]
        for value in values:
            try:
                apply_params(base, {name: value})
            except ConfigError as exc:
                raise bad(f"value {value!r} is not allowed: {_reason(exc)}") from None
        params.append(param)
    return params


def _config_fields(cfg: ExperimentConfig) -> dict[str, Any]:
    out: dict[str, Any] = {}

    def walk(prefix: str, node: Any) -> None:
        if isinstance(node, dict) and prefix.count(".") < 1:
            for k, v in node.items():
                walk(f"{prefix}.{k}" if prefix else k, v)
        else:
            out[prefix] = node

    walk("", cfg.to_dict())
    return out


def _check_name(name: str, fields: dict[str, Any], bad: Callable[[str], ConfigError]) -> None:
    if name == SCALE_MIN or (name.startswith("model.options.") and len(name) > len("model.options.")):
        return
    if name not in fields:
        import difflib

        close = difflib.get_close_matches(name, [*fields, SCALE_MIN], n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise bad(f"not a config field{hint}; names are dotted config fields such as optim.lr or model.name")
    if name == "transform.scale":
        raise bad(f"transform.scale is a pair; search its lower end with {SCALE_MIN}")
    if name.startswith("task.") or name.startswith("data."):
        raise bad("task and data settings describe the data, not the model; they cannot be searched")
    if isinstance(fields[name], (list, dict)):
        raise bad("this field is not a single value and cannot be searched")


def _number(value: Any, key: str, kind: str, bad: Callable[[str], ConfigError]) -> float | int:
    if isinstance(value, str):  # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            value = float(value)
        except ValueError:
            pass
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise bad(f"'{key}' must be a number, got {value!r}")
    if kind == "int":
        if float(value) != int(value):
            raise bad(f"'{key}' must be a whole number for type int, got {value!r}")
        return int(value)
    return float(value)


def _reason(exc: ConfigError) -> str:
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip()]
    return "; ".join(lines[1:]) if len(lines) > 1 else (lines[0] if lines else "invalid")


def apply_params(base: ExperimentConfig, params: Mapping[str, Any]) -> ExperimentConfig:
    """`base` with a trial's values applied. `transform.scale_min` sets the lower end of
    transform.scale; a sampled `transform.crop_size` keeps `decode.short_side` consistent (the
    base config's short-side/crop ratio, never below the crop) unless short_side is searched too."""
    values = dict(params)
    over: dict[str, Any] = {}
    if SCALE_MIN in values:
        lo = float(values.pop(SCALE_MIN))
        hi = float(base.transform.scale[1])
        over["transform.scale"] = [lo, max(lo, hi)]
    over.update(values)
    if "transform.crop_size" in values:
        crop = int(values["transform.crop_size"])
        short = values.get("decode.short_side")
        if short is None:
            ratio = max(1.0, base.decode.short_side / base.transform.crop_size)
            short = math.ceil(crop * ratio)
        over["decode.short_side"] = max(int(short), crop)
    return base.override(over)


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


# ---- the search ------------------------------------------------------------------------------


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


@dataclass
class _Job:
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


class _TrialFailed(Exception):
    """A trial that crashed (e.g. a model that cannot take the sampled clip size): recorded as
    failed, the search goes on."""


def _metric_name(kind: str) -> str:
    return "validation video accuracy" if kind == "classification" else "-(validation video MAE)"


def _storage(url: str) -> optuna.storages.RDBStorage:
    return optuna.storages.RDBStorage(url, engine_kwargs={"connect_args": {"timeout": 120}})


def _objective(job: _Job, echo: Echo) -> Callable[[optuna.Trial], float]:
    from vidlearn.engine.train import fit

    base = ExperimentConfig.from_dict(job.base)
    space = [Param(**{**p, "choices": tuple(p["choices"])}) for p in job.space]
    classification = base.task.kind == "classification"

    def objective(trial: optuna.Trial) -> float:
        params = {p.name: p.suggest(trial) for p in space}
        run = Path(job.out) / "trials" / str(trial.number)
        trial.set_user_attr("run_dir", str(run))
        try:
            cfg = apply_params(base, params)
        except ConfigError as exc:
            trial.set_user_attr("error", _reason(exc))
            raise _TrialFailed(_reason(exc)) from None
        cb = PruningCallback(trial, "val_acc" if classification else "val_mae", sign=1.0 if classification else -1.0)
        echo(f"trial {trial.number}: " + _fmt_params(params))
        try:
            result = fit(job.train, cfg, run, val_records=job.val, progress=job.progress, echo=echo, callbacks=[cb])
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
        if classification:
            return float(video["accuracy"])
        return -float(video["mae"])

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


def _run_trials(job: _Job, n_trials: int, timeout: float | None, worker: int, echo: Echo) -> None:
    """Run `n_trials` trials of the shared study (in this process)."""
    from optuna.samplers import TPESampler

    study = optuna.load_study(study_name=STUDY_NAME, storage=_storage(job.storage_url), pruner=make_pruner(job.pruner))
    # Seeded, and re-seeded by the history's length, so a resumed search does not repeat the
    # random start-up points of the first run; each worker process draws its own stream.
    seed = job.seed + 1000 * worker + len(study.trials)
    study.sampler = TPESampler(seed=seed, n_startup_trials=5)
    metric = _metric_name(job.base.get("task", {}).get("kind", "classification"))
    with _quiet_optuna(), _quiet_lightning():
        study.optimize(
            _objective(job, echo), n_trials=n_trials, timeout=timeout, catch=(_TrialFailed,), callbacks=[_announce(echo, metric)]
        )


def _worker_main(job: _Job, n_trials: int, timeout: float | None, worker: int, threads: int) -> str | None:
    """Entry point of a worker process: returns an error message instead of raising user errors."""
    import torch

    torch.set_num_threads(threads)

    def echo(msg: str) -> None:
        print(f"[worker {worker}] {msg}", flush=True)

    try:
        _run_trials(job, n_trials, timeout, worker, echo)
    except VidlearnError as exc:
        return str(exc)
    except KeyboardInterrupt:
        return "interrupted"
    return None


@contextlib.contextmanager
def _quiet_optuna() -> Iterator[None]:
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


@contextlib.contextmanager
def _exclusive(out: Path) -> Iterator[None]:
    """One search per folder at a time (the stale-trial clean-up relies on it)."""
    try:
        import fcntl
    except ImportError:  # pragma: no cover - Windows: no lock
        yield
        return
    fh = open(out / ".tune.lock", "w")  # noqa: SIM115
    try:
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise ConfigError(f"{out}: another `vidlearn tune` is running on this folder") from None
        yield
    finally:
        fh.close()


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
) -> TuneResult:
    """Search hyper-parameters on DATA until `trials` trials have finished in OUT's study (this
    call runs only the missing ones), then write OUT/trials.csv, OUT/best_config.yaml,
    OUT/history.png, OUT/importance.png and OUT/report.html. `cfg` is the base configuration every trial starts
    from (epochs, batch size, ... are taken from it); `space` defaults to `default_space(cfg)`."""
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
    metric = _metric_name(cfg.task.kind)
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
        storage = _storage(url)
        with _quiet_optuna():
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
        job = _Job(url, str(out_dir), cfg.to_dict(), space_dicts, split.train, split.val, pruner, seed, progress)
        before = _started(study.get_trials(deepcopy=False))
        try:
            if remaining and jobs == 1:
                _run_trials(job, remaining, timeout, 0, echo)
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


def _run_parallel(job: _Job, n_trials: int, timeout: float | None, jobs: int, echo: Echo) -> None:
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
        futures = [pool.submit(_worker_main, job, n, timeout, i, threads) for i, n in enumerate(shares) if n]
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


# ---- reports --------------------------------------------------------------------------------


def write_reports(
    study: optuna.Study, base: ExperimentConfig, out: Path, *, metric: str, seed: int = 0, echo: Echo | None = None
) -> dict[str, Path]:
    """trials.csv (every trial), best_config.yaml (base + best values: `vidlearn train --config`
    takes it as is), history.png, importance.png and the self-contained report.html (which only
    warns through `echo`, default stderr, when it cannot be written). Returns the files written."""
    trials = study.get_trials(deepcopy=False)
    files = {"trials": _write_trials_csv(trials, out / "trials.csv")}
    complete = [t for t in trials if t.state == TrialState.COMPLETE]
    if complete:
        best = study.best_trial
        cfg = apply_params(base, best.params)
        cfg.save(out / "best_config.yaml")
        files["best_config"] = out / "best_config.yaml"
    files["history"] = plot_history(trials, out / "history.png", metric=metric)
    importances: dict[str, float] = {}
    note = "needs at least 2 completed trials"
    if len(complete) >= 2:
        try:
            from optuna.importance import FanovaImportanceEvaluator, get_param_importances

            importances = get_param_importances(study, evaluator=FanovaImportanceEvaluator(seed=seed))
        except (ValueError, RuntimeError) as exc:
            text = str(exc)
            note = (
                "cannot be computed: every completed trial has the same value" if "variance" in text
                else f"cannot be computed: {text.splitlines()[0][:80] if text else exc.__class__.__name__}"
            )
    files["importance"] = plot_importance(importances, out / "importance.png", note=note)
    report = write_tune_report(study, out, files, metric=metric, importances=importances, echo=echo)
    if report is not None:
        files["report"] = report
    return files


def write_tune_report(
    study: optuna.Study,
    out: Path,
    files: Mapping[str, Path],
    *,
    metric: str,
    importances: Mapping[str, float] | None = None,
    echo: Echo | None = None,
) -> Path | None:
    """OUT/report.html: the best value and parameters, the history and importance plots, one row
    per trial (linked to the trial's own report) and best_config.yaml. Returns its path, or None
    after a one-line warning when it could not be written (the search itself has succeeded)."""
    try:
        from vidlearn.reports import Section, image_html, table_html, text_html, write_html_report

        trials = [t for t in study.get_trials(deepcopy=False) if t.state != TrialState.WAITING]
        complete = [t for t in trials if t.state == TrialState.COMPLETE]
        best = study.best_trial if complete else None
        states = [_state(t) for t in trials]
        metrics: dict[str, Any] = {
            "best value": None if best is None else best.value,
            "best trial": None if best is None else best.number,
            "trials": len(trials),
            **{state.lower(): states.count(state) for state in dict.fromkeys(states)},
        }
        info = {"objective": f"{metric} (maximised)", "task": study.user_attrs.get("task"), "study": str(out / "study.db")}
        sections = []
        if best is not None:
            rows = [[name, _fmt(value)] for name, value in best.params.items()]
            note = text_html(f"Trial {best.number}: {metric} = {_fmt(best.value)}.")
            sections.append(Section("best", "Best parameters", note + table_html(["parameter", "value"], rows, numeric=[False, False])))
        else:
            sections.append(Section("best", "Best parameters", '<p class="note">No trial has completed yet.</p>'))
        sections.append(Section("history", "Optimisation history", image_html(files["history"], "optimisation history")))
        imp = ""
        if importances:
            imp = table_html(["parameter", "importance"], [[k, v] for k, v in sorted(importances.items(), key=lambda kv: -kv[1])], numeric=[False, True])
        sections.append(Section("importance", "Parameter importance", image_html(files["importance"], "parameter importance") + imp))
        sections.append(Section("trials", f"Trials ({len(trials)})", _trials_table(trials, out)))
        if files.get("best_config") is not None and Path(files["best_config"]).is_file():
            text = Path(files["best_config"]).read_text(encoding="utf-8")
            sections.append(Section("config", "Best configuration (best_config.yaml)", text_html(text, pre=True)))
        secs = [t.duration.total_seconds() for t in trials if t.duration is not None]
        timing = {"all trials (sum)": sum(secs)} if secs else None
        return write_html_report(
            out, title=f"Tuning report: {Path(out).resolve().name}", metrics=metrics, sections=sections, info=info, timing=timing,
        )
    except Exception as exc:  # noqa: BLE001 - a missing report must not fail a finished search
        import sys

        (echo or (lambda s: print(s, file=sys.stderr)))(f"warning: {out / 'report.html'} not written ({exc.__class__.__name__}: {exc})")
        return None


def _state(t: optuna.trial.FrozenTrial) -> str:
    return "INTERRUPTED" if t.state == TrialState.FAIL and t.user_attrs.get("interrupted") else t.state.name


def _trials_table(trials: Sequence[optuna.trial.FrozenTrial], out: Path) -> str:
    """One row per trial (as in trials.csv); the trial number links to the trial's report."""
    from html import escape

    from vidlearn.reports import table_html

    names: list[str] = []
    for t in trials:
        names += [n for n in t.params if n not in names]
    rows = []
    for t in trials:
        number = escape(str(t.number))
        run_dir = t.user_attrs.get("run_dir")
        if run_dir:
            report = Path(run_dir) / "eval" / "report.html"
            if report.is_file():
                href = Path(os.path.relpath(report.resolve(), Path(out).resolve())).as_posix()
                number = f'<a href="{escape(href)}">{number}</a>'
        secs = t.duration.total_seconds() if t.duration is not None else None
        rows.append([
            number, escape(_state(t)), "—" if t.value is None else escape(_fmt(t.value)),
            "—" if secs is None else f"{secs:.1f}", str(len(t.intermediate_values)),
            *[escape(_fmt(t.params[n])) if n in t.params else "—" for n in names],
            escape(str(t.user_attrs.get("error", ""))[:200]),
        ])
    heads = ["trial", "state", "value", "seconds", "epochs reported", *names, "error"]
    numbers = [all(isinstance(t.params.get(n, 0), (int, float)) and not isinstance(t.params.get(n), bool) for t in trials) for n in names]
    numeric = [True, False, True, True, True, *numbers, False]
    return table_html(heads, rows, numeric=numeric, raw=True)


def _write_trials_csv(trials: Sequence[optuna.trial.FrozenTrial], path: Path) -> Path:
    from vidlearn.fsutil import atomic_write_text

    trials = [t for t in trials if t.state != TrialState.WAITING]  # queued, not run yet
    names: list[str] = []
    for t in trials:
        names += [n for n in t.params if n not in names]
    buf = io.StringIO()
    w = csv.writer(buf)
    w.writerow(["number", "state", "value", "seconds", "epochs_reported", *names, "run_dir", "error"])
    for t in trials:
        secs = t.duration.total_seconds() if t.duration is not None else ""
        state = _state(t)
        w.writerow([
            t.number, state, "" if t.value is None else t.value, f"{secs:.1f}" if secs != "" else "",
            len(t.intermediate_values), *[t.params.get(n, "") for n in names],
            t.user_attrs.get("run_dir", ""), t.user_attrs.get("error", ""),
        ])
    atomic_write_text(path, buf.getvalue())
    return path


def _new_figure(width: float, height: float):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(width, height), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)  # an explicit Agg canvas: no pyplot, no GUI backend
    return fig


def _save_png(fig, path: Path) -> Path:
    from vidlearn.fsutil import atomic_write_bytes

    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    atomic_write_bytes(path, buf.getvalue())
    return path


def plot_history(trials: Sequence[optuna.trial.FrozenTrial], path: Path, *, metric: str) -> Path:
    """Objective per trial (completed: dots, pruned: crosses at their last reported value) and
    the best so far."""
    fig = _new_figure(7, 4)
    ax = fig.add_subplot(1, 1, 1)
    done = [t for t in trials if t.state == TrialState.COMPLETE]
    if done:
        xs, ys = [t.number for t in done], [float(t.value) for t in done]  # type: ignore[arg-type]
        ax.plot(xs, ys, "o", color="tab:blue", label="completed")
        best, run = [], -math.inf
        for y in ys:
            run = max(run, y)
            best.append(run)
        ax.step(xs, best, where="post", color="tab:red", label="best so far")
    pruned = [t for t in trials if t.state == TrialState.PRUNED and t.intermediate_values]
    if pruned:
        ax.plot([t.number for t in pruned], [t.intermediate_values[max(t.intermediate_values)] for t in pruned],
                "x", color="tab:gray", label="pruned (last epoch)")
    if not done and not pruned:
        ax.text(0.5, 0.5, "no finished trial yet", ha="center", va="center", transform=ax.transAxes)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("trial")
    ax.set_ylabel(metric)
    ax.set_title("optimisation history")
    ax.grid(alpha=0.3)
    if done or pruned:
        ax.legend(loc="best", fontsize=8)
    return _save_png(fig, path)


def plot_importance(importances: Mapping[str, float], path: Path, *, note: str = "") -> Path:
    """Horizontal bars of the parameters' importances (fANOVA, summing to 1)."""
    items = sorted(importances.items(), key=lambda kv: kv[1])
    fig = _new_figure(7, max(2.5, 0.45 * len(items) + 1.2))
    ax = fig.add_subplot(1, 1, 1)
    if items:
        ax.barh([k for k, _ in items], [v for _, v in items], color="tab:blue")
        for i, (_, v) in enumerate(items):
            ax.text(v, i, f" {v:.2f}", va="center", fontsize=8)
        ax.set_xlabel("importance (fANOVA)")
        ax.set_xlim(0, max(1e-9, max(v for _, v in items)) * 1.2)
    else:
        ax.text(0.5, 0.5, f"parameter importance {note}", wrap=True, ha="center", va="center", transform=ax.transAxes)
        ax.set_axis_off()
    ax.set_title("parameter importance")
    return _save_png(fig, path)


def _fmt_params(params: Mapping[str, Any]) -> str:
    return ", ".join(f"{k}={_fmt(v)}" for k, v in params.items())


def _fmt(v: Any) -> str:
    if isinstance(v, float):
        return f"{v:.4g}"
    return str(v)


def format_params(params: Mapping[str, Any]) -> str:
    """`a=1, b=0.001` for printing a trial's values."""
    return _fmt_params(params)

