"""The deep-model commands: models, train, tune, augment-preview (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import Config, GroupColumn, Quiet, Sets, _echo_json, _friendly, check_suffix
from vidlearn.cli.plan import BUDGET_HELP, train_with_plan
from vidlearn.errors import ConfigError, VidlearnError

_DATA_HELP = "training data: class folders, a CSV manifest (or a folder holding manifest.csv) or a split list"


def _devices(devices: str) -> str:
    """--devices: a positive whole number or 'auto'."""
    value = devices.strip().lower()
    if value == "auto" or (value.isdigit() and int(value) >= 1):
        return value
    raise ConfigError(f"--devices must be a number of devices (1, 2, ...) or auto, got {devices!r}")


@_friendly
def models(
    filter: Annotated[Optional[str], typer.Argument(help="only names containing this (wildcards allowed)")] = None,
    clip: Annotated[str, typer.Option(help="clip size T,H,W for the multiply-add count")] = "16,112,112",
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """List the models: name, family, parameters and multiply-adds for a clip size."""
    from vidlearn.models import list_models, model_info

    try:
        t, h, w = (int(v) for v in clip.split(","))
    except ValueError:
        raise typer.BadParameter("--clip must look like T,H,W, e.g. 16,112,112") from None
    from vidlearn.models import model_family, takes_feature_sequences

    rows = []
    for name in list_models(filter):
        try:
            if takes_feature_sequences(name):  # measured on T rows of the default frame features
                from vidlearn.config import ExperimentConfig
                from vidlearn.features.frames import FrameEncoder

                dim = FrameEncoder.from_config(ExperimentConfig()).dim
                info = model_info(name, clip=(t, 1, 1), in_features=dim)
                rows.append({**info, "note": f"on {t} rows of {dim} features (frame_features), not pixels"})
            else:
                rows.append(model_info(name, clip=(t, h, w)))
        except VidlearnError as exc:  # a model that cannot be built without more options: listed, not measured
            rows.append({"name": name, "family": model_family(name), "params": None, "macs": None, "note": str(exc)})
    if as_json:
        _echo_json(rows)
        return
    typer.echo(f"{'name':<22} {'family':<12} {'params':>10} {'GMACs @' + clip:>20}")
    for r in rows:
        if r["params"] is None:
            typer.echo(f"{r['name']:<22} {r['family']:<12} {'-':>10} {'-':>20}  ({r['note'].split(': ', 1)[-1]})")
            continue
        note = f"  ({r['note']})" if r.get("note") else ""
        typer.echo(f"{r['name']:<22} {r['family']:<12} {r['params'] / 1e6:>9.2f}M {r['macs'] / 1e9:>20.3f}{note}")


@_friendly
def train(
    data: Annotated[Path, typer.Argument(metavar="DATA", help=_DATA_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="run folder (an existing run needs --resume or --overwrite)")],
    model: Annotated[Optional[str], typer.Option(help="model name (see `vidlearn models`)")] = None,
    config: Config = None,
    epochs: Annotated[Optional[int], typer.Option(help="training epochs")] = None,
    task: Annotated[Optional[str], typer.Option(help="classification, regression, multilabel or localization (DATA: a segment annotations CSV path,label,start,end[,group])")] = None,
    cv: Annotated[Optional[str], typer.Option(help="cross-validation: kfold:K or leave-one-group-out")] = None,
    group: GroupColumn = None,
    resume: Annotated[bool, typer.Option("--resume", help="continue the run at --out from its last checkpoint")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace the run at --out (removed first)")] = False,
    devices: Annotated[str, typer.Option(help="number of devices (DDP when > 1), or auto")] = "1",
    set_: Sets = None,
    weights: Annotated[Optional[str], typer.Option(help="initial weights: a checkpoint or a catalogue name (`vidlearn weights list`); a catalogue entry also sets the model and the preprocessing you did not set")] = None,
    quiet: Quiet = False,
    budget: Annotated[Optional[str], typer.Option(help=BUDGET_HELP + "; with no recipe flags the recipe is always planned")] = None,
) -> None:
    """Train a model (with validation, or every cross-validation fold) and save the artifact. With no
    recipe flags (--config, --model, --epochs, --set, --weights), or with --budget, the recipe is
    planned from the data, the machine and the budget (`vidlearn plan` shows it); flags win over it."""
    from vidlearn.training.experiment import build_config, train_on_data

    devices = _devices(devices)
    if budget is not None or not (config or model or epochs or set_ or weights):
        named = {"model.name": model, "optim.epochs": epochs, "task.kind": task, "model.weights": weights}
        result = train_with_plan(data, out, budget=budget, config=config, set_=set_, named=named, task=task, cv=cv,
                                              group=group, devices=devices, resume=resume, overwrite=overwrite, quiet=quiet)
    else:
        cfg = build_config(config, overrides=set_, model=model, epochs=epochs, task=task, weights=weights, echo=typer.echo)
        result = train_on_data(data, cfg, out, cv=cv, group=group, devices=devices, resume=resume, overwrite=overwrite,
                               progress=not quiet, echo=typer.echo)
    if isinstance(result, dict):
        m = result["video"]["metrics"]
        names = {"accuracy": "video accuracy", "map": "video mAP", "mae": "video MAE", "mAP.0.5": "mAP@0.5", "F1.50": "F1@50"}
        shown = [k for k in names if k in m][:2]  # localisation: mAP@0.5 and F1@50
        typer.echo(f"cross-validation {result['protocol']}: "
                   + ", ".join(f"{names[k]} " + ("n/a" if m[k]["mean"] is None else f"{m[k]['mean']:.3f} ± {m[k]['std']:.3f}")
                               for k in shown)
                   + f" over {result['video']['n_folds']} folds"
                   + (f"; pooled mAP@0.5 {result['pooled']['mAP']['0.5']:.3f}" if result.get("pooled") else "")
                   + f" -> {out}/cv_metrics.json")
        return
    if result.artifact is None:
        return  # a non-zero DDP rank
    line = f"trained {result.epochs} epoch(s) in {result.seconds:.0f} s; model: {result.artifact}"
    if result.localization:
        v = result.localization["video"]
        line += f"; validation videos mAP@0.5 {v['mAP']['0.5']:.3f}, F1@50 {v['F1']['50']:.3f}"
    elif result.metrics:
        v = result.metrics["video"]
        name = next(k for k in ("accuracy", "map", "mae") if k in v)
        value = v[name]
        line += f"; validation video {name if name == 'accuracy' else name.upper().replace('MAP', 'mAP')} " + ("n/a" if value is None else f"{value:.3f}")
    typer.echo(line)


@_friendly
def tune(
    data: Annotated[Path, typer.Argument(metavar="DATA", help=_DATA_HELP)],
    out: Annotated[Path, typer.Option("--out", "-o", help="search folder: study.db, trials/, best_config.yaml, trials.csv, plots")],
    trials: Annotated[Optional[int], typer.Option(help="trials in the study in total (a re-run continues until there are this many); default with --budget: as many as fit")] = None,
    space: Annotated[Optional[Path], typer.Option(help="search-space YAML (default: lr, weight decay, model, frames, fps, size, augmentation)")] = None,
    timeout: Annotated[Optional[float], typer.Option(help="start no new trial after this many seconds")] = None,
    jobs: Annotated[int, typer.Option(help="trials run in parallel (worker processes sharing the study)")] = 1,
    group: GroupColumn = None,
    config: Annotated[Optional[Path], typer.Option(help="base experiment config (YAML/JSON) every trial starts from")] = None,
    epochs: Annotated[Optional[int], typer.Option(help="training epochs per trial")] = None,
    pruner: Annotated[str, typer.Option(help="stop bad trials early: median, halving (successive halving) or none")] = "median",
    seed: Annotated[int, typer.Option(help="sampler seed")] = 0,
    set_: Sets = None,
    quiet: Quiet = False,
    budget: Annotated[Optional[str], typer.Option(help="run trials until this time is spent, e.g. 30m, 2h (the whole search, reports included)")] = None,
) -> None:
    """Search hyper-parameters with Optuna (TPE, pruning); resumable; writes best_config.yaml."""
    from vidlearn.training.experiment import build_config
    from vidlearn.training.tune import default_space, format_params, load_space
    from vidlearn.training.tune import tune as run_tune

    budget_s = None
    if budget is not None:
        from vidlearn.planning import parse_budget

        budget_s = parse_budget(budget)
    if trials is None and budget_s is None:
        raise ConfigError("give --trials N, --budget B (e.g. 30m), or both")
    cfg = build_config(config, overrides=set_, epochs=epochs)
    params = load_space(space, base=cfg) if space else default_space(cfg)
    r = run_tune(data, cfg, out, trials=trials or 10_000, space=params, timeout=timeout, jobs=jobs, group=group,
                 pruner=pruner, seed=seed, progress=not quiet, echo=typer.echo, budget=budget_s)
    typer.echo(f"{r.complete} complete, {r.pruned} pruned, {r.failed} failed trial(s) in {r.study_db} ({r.ran} run now)")
    if r.best_trial is None:
        raise VidlearnError(f"no trial completed; see {out}/trials.csv")
    typer.echo(f"best {r.direction_metric} {r.best_value:.4f} (trial {r.best_trial}): {format_params(r.best_params)}")
    typer.echo(f"best config: {r.best_config} (vidlearn train {data} --config {r.best_config} --out RUN); "
               f"its model: {r.best_run}/model; {out}/trials.csv, {out}/history.png, {out}/importance.png")


@_friendly
def augment_preview(
    data: Annotated[Path, typer.Argument(help="class folders, CSV manifest, split list or a video")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the picture: .png/.jpg grid, or .gif with --gif")],
    config: Config = None,
    clips: Annotated[int, typer.Option(help="videos shown")] = 4,
    gif: Annotated[bool, typer.Option("--gif", help="an animated GIF: before | after side by side, frame by frame")] = False,
    seed: Annotated[int, typer.Option(help="random seed of the augmentations")] = 0,
    set_: Sets = None,
) -> None:
    """Show what the model sees: clips before (evaluation transform) and after (training augmentation)."""
    from vidlearn.clips.preview import augment_preview as preview
    from vidlearn.training.experiment import build_config

    check_suffix("--out", out, (".png", ".jpg", ".jpeg", ".gif"))
    if clips < 1:
        raise ConfigError(f"--clips must be at least 1, got {clips}")
    cfg = build_config(config, overrides=set_)
    res = preview(data, cfg, out, clips=clips, gif=gif or None, seed=seed)
    for path, reason in res.skipped:
        typer.echo(f"skipped {path}: {reason}")
    kind = "animated GIF" if res.path.suffix.lower() == ".gif" else "grid"
    typer.echo(f"wrote {res.path}: {kind} of {res.clips} clip(s) before/after augmentation (the same moment), {res.frames} frame(s) each")
    typer.echo("applied: " + (", ".join(res.applied) or "nothing (no augmentation is on)"))
