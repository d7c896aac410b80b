"""Experiments from data descriptions: what `vidlearn train` and `vidlearn evaluate` do, as
library calls (records from DATA, a group-aware validation split or cross-validation, training,
evaluation, reports)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidlearn.config import ExperimentConfig
from vidlearn.errors import ConfigError
from vidlearn.training.fit import Echo, TrainResult, cross_validate, fit


def build_config(
    config_file: str | Path | None = None,
    *,
    overrides: list[str] | None = None,
    model: str | None = None,
    epochs: int | None = None,
    task: str | None = None,
) -> ExperimentConfig:
    """The configuration from an optional YAML/JSON file, then named options, then `key=value` overrides."""
    cfg = ExperimentConfig.load(config_file) if config_file else ExperimentConfig()
    named: dict[str, Any] = {}
    if model:
        named["model.name"] = model
    if epochs:
        named["optim.epochs"] = epochs
    if task:
        named["task.kind"] = task
    if named:
        cfg = cfg.override(named)
    if overrides:
        cfg = cfg.override(list(overrides))
    _check_model(cfg)
    return cfg


def _check_model(cfg: ExperimentConfig) -> None:
    from vidlearn.models import list_models

    if cfg.model.name not in list_models():
        import difflib

        close = difflib.get_close_matches(cfg.model.name, list_models(), n=3)
        hint = f" (did you mean {', '.join(close)}?)" if close else ""
        raise ConfigError(f"model.name: unknown model '{cfg.model.name}'{hint}; `vidlearn models` lists them")


def train_on_data(
    data: str | Path,
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    cv: str | None = None,
    group: str | None = None,
    devices: int | str = 1,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = print,
) -> TrainResult | dict[str, Any]:
    """Train on DATA: with `cv`, every fold (returns the CV summary); otherwise one run with a
    group-aware stratified validation split of `cfg.data.val_fraction` (returns the TrainResult)."""
    from vidlearn.data.sources import load_records
    from vidlearn.data.splits import train_val_test_split

    records = load_records(data, task=cfg.task.kind, group=group)
    if cv:
        return cross_validate(records, cfg, out, cv=cv, devices=devices, resume=resume, progress=progress, echo=echo)
    if cfg.data.val_fraction > 0:
        split = train_val_test_split(records, val=cfg.data.val_fraction, seed=cfg.optim.seed)
        train, val = split.train, split.val
    else:
        train, val = records, []
    echo(f"training on {len(train)} video(s), validating on {len(val)}")
    return fit(train, cfg, out, val_records=val or None, devices=devices, resume=resume, progress=progress, echo=echo)


def evaluate_artifact(
    artifact: str | Path, data: str | Path, out: str | Path, *, group: str | None = None, progress: bool = True
) -> dict[str, Any]:
    """Evaluate any saved model on DATA (a deep model: multi-view, clip- and video-level; a
    classical one: video level, on features computed as for its training table); writes the
    report files to `out`."""
    from vidlearn.data.sources import load_records
    from vidlearn.predictors import load

    model = load(artifact)
    records = load_records(data, task=model.task, group=group)
    if model.task == "classification":
        unknown = sorted({str(r.target) for r in records} - set(model.class_names))
        if unknown:
            raise ConfigError(f"{data}: classes {unknown} are not among the model's classes {model.class_names}")
    return model.evaluate(records, out, data_name=str(data), progress=progress)
