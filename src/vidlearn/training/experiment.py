"""Experiments from data descriptions: what `vidlearn train` and `vidlearn evaluate` do, as
library calls (records from DATA, a group-aware validation split or cross-validation, training,
evaluation, reports)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vidlearn.config import ExperimentConfig, explicit_fields, override_keys
from vidlearn.errors import ConfigError
from vidlearn.training.finetune import apply_weights_preprocessing
from vidlearn.progress import Echo

if TYPE_CHECKING:
    from vidlearn.training.fit import TrainResult


def build_config(
    config_file: str | Path | ExperimentConfig | None = None,
    *,
    overrides: list[str] | None = None,
    model: str | None = None,
    epochs: int | None = None,
    task: str | None = None,
    weights: str | None = None,
    echo: Echo | None = None,
) -> ExperimentConfig:
    """The configuration from an optional YAML/JSON file (or a config object), then named options,
    then `key=value` overrides. With weights (``weights`` / ``model.weights``) from the catalogue,
    or a pretrained EfficientNet-Lite0 encoder, every preprocessing field the user did not set
    (in the file, the options or the overrides) takes the weights' value; ``model.from_weights``
    lists those fields."""
    if isinstance(config_file, ExperimentConfig):
        cfg = config_file
    else:
        cfg = ExperimentConfig.load(config_file) if config_file else ExperimentConfig()
    explicit = explicit_fields(cfg) | override_keys(overrides)  # what the user set, before any default is filled in
    named: dict[str, Any] = {}
    if model:
        named["model.name"] = model
    if epochs:
        named["optim.epochs"] = epochs
    if task:
        named["task.kind"] = task
    if weights:
        named["model.weights"] = weights
    explicit |= set(named)
    if named:
        cfg = cfg.override(named)
    if overrides:
        cfg = cfg.override(list(overrides))
    if cfg.model.weights and "model.name" not in explicit:  # `--weights r3d_18.kinetics400` alone names the model
        from vidlearn.models.preprocessing import catalogue_entry

        entry = catalogue_entry(cfg.model.weights)
        if entry is not None:
            cfg = cfg.override({"model.name": entry.architecture})
    _check_model(cfg)
    cfg, source = apply_weights_preprocessing(cfg, explicit)
    if source and echo is not None:
        echo(f"preprocessing from {source}: " + (", ".join(f"{k}={_short(cfg, k)}" for k in cfg.model.from_weights) or "none (all set explicitly)"))
    return cfg


def _short(cfg: ExperimentConfig, key: str) -> str:
    section, name = key.split(".")
    value = getattr(getattr(cfg, section), name)
    return "[" + ", ".join(f"{v:g}" for v in value) + "]" if isinstance(value, (list, tuple)) else f"{value:g}" if isinstance(value, float) else str(value)


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
    overwrite: bool = False,
    progress: bool = True,
    echo: Echo = print,
    deadline: float | None = None,
    plan: dict[str, Any] | None = None,
) -> TrainResult | dict[str, Any]:
    """Train on DATA: with `cv`, every fold (returns the CV summary); otherwise one run with a
    group-aware stratified validation split of `cfg.data.val_fraction` (returns the TrainResult).
    A run that exists at `out` is continued with `resume`, replaced with `overwrite`, else refused.

    `deadline` (a `time.time()` value) bounds the whole run, evaluation included: training stops
    early when it would run past it (the folds share what is left). `plan`: the planner's plan
    (a dict), saved in the run, the artifact(s) and report.html."""
    from vidlearn.data.sources import load_records
    from vidlearn.data.splits import train_val_test_split
    from vidlearn.training.checkpoints import claim_run_dir
    from vidlearn.training.cv import cross_validate
    from vidlearn.training.fit import fit  # Lightning: imported once a run starts, so a bad option is refused in a second

    claim_run_dir(Path(out), resume=resume, overwrite=overwrite)

    if cfg.task.kind == "localization":  # segment annotations -> windows (training.localization)
        from vidlearn.training.localization import cross_validate_localization, train_localization

        if cv:
            return cross_validate_localization(data, cfg, out, cv=cv, group=group, devices=devices, resume=resume,
                                               progress=progress, echo=echo)

        return train_localization(data, cfg, out, group=group, devices=devices, resume=resume, progress=progress, echo=echo)
    records = load_records(data, task=cfg.task.kind, group=group)
    if cv:
        return cross_validate(records, cfg, out, cv=cv, devices=devices, resume=resume, progress=progress, echo=echo,
                              deadline=deadline, plan=plan)
    if cfg.data.val_fraction > 0:
        split = train_val_test_split(records, val=cfg.data.val_fraction, seed=cfg.optim.seed)
        train, val = split.train, split.val
    else:
        train, val = records, []
    echo(f"training on {len(train)} video(s), validating on {len(val)}")
    until = None
    if deadline is not None:  # leave the plan's estimate of what follows the training loop (else 10 %)
        import time

        after = (plan or {}).get("breakdown", {})
        rest = sum(v for k, v in after.items() if k in ("evaluation", "set-up, reports, artifacts")) if after else 0.1 * (deadline - time.time())
        until = deadline - max(2.0, float(rest))
    return fit(train, cfg, out, val_records=val or None, devices=devices, resume=resume, progress=progress, echo=echo,
               train_until=until, plan=plan)


def evaluate_artifact(
    artifact: Any, data: str | Path, out: str | Path, *, group: str | None = None, progress: bool = True,
    echo: Echo = print,
) -> dict[str, Any]:
    """Evaluate any saved model on DATA (a deep model: multi-view, clip- and video-level; a
    classical one: video level, on features computed as for its training table); writes the
    report files to `out` (a new folder, or one an earlier evaluation wrote). `artifact`: a path,
    a catalogue name, or a loaded Predictor. Unlabelled data is refused; videos the model was
    trained on are counted in a warning."""
    from vidlearn.data.sources import load_records
    from vidlearn.predictors import load

    report = Path(out)
    if report.is_dir() and any(report.iterdir()) and not (report / "metrics.json").is_file():
        raise ConfigError(f"--out {report}: a folder that holds no evaluation report (no metrics.json); "
                          "give a new folder, or one that an earlier evaluation wrote")
    model = load(artifact) if isinstance(artifact, (str, Path)) else artifact  # a path/name, or a loaded Predictor
    if model.task == "localization":  # segment annotations: detection and segmentation metrics
        from vidlearn.data.annotations import load_annotations
        from vidlearn.predictors.localization_eval import evaluate_localization

        return evaluate_localization(model, load_annotations(data, group=group), out, data_name=str(data), progress=progress)
    records = load_records(data, task=model.task, group=group)
    unlabelled = sum(r.target is None for r in records)
    if unlabelled:
        what = "all" if unlabelled == len(records) else f"{unlabelled} of {len(records)}"
        raise ConfigError(f"{data}: {what} video(s) have no label, and evaluation compares predictions with labels "
                          "(class folders, or a manifest with a label/target column); `vidlearn predict` takes unlabelled videos")
    trained = set(getattr(model, "training_videos", None) or [])
    seen = sum(os.path.realpath(str(r.path)) in trained for r in records)
    if seen:
        echo(f"warning: {seen} of {len(records)} video(s) in {data} were used to train this model; "
             "its scores on them overstate how it does on new videos")
    if model.task in ("classification", "multilabel"):
        from vidlearn.data.records import split_labels

        given = {label for r in records for label in split_labels(r.target)} if model.task == "multilabel" else {str(r.target) for r in records}
        unknown = sorted(given - set(model.class_names))
        if unknown:
            raise ConfigError(f"{data}: classes {unknown} are not among the model's classes {model.class_names}")
    return model.evaluate(records, out, data_name=str(data), progress=progress)
