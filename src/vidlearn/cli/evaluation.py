"""The evaluation command: evaluate (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import (
    ArchOpt,
    ClassesOpt,
    Config,
    GroupColumn,
    ModelArg,
    Quiet,
    Sets,
    WeightsOpt,
    _friendly,
    _model_and_data,
    default_eval_out,
    with_pipeline,
)


@_friendly
def evaluate(
    artifact: ModelArg,
    data: Annotated[Optional[str], typer.Argument(metavar="DATA", help="labelled data to evaluate on (class folders or a manifest with labels)")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="report folder (default: eval-<DATA name> in the current folder)")] = None,
    group: GroupColumn = None,
    weights: WeightsOpt = None,
    arch: ArchOpt = None,
    classes: ClassesOpt = None,
    config: Config = None,
    set_: Sets = None,
    quiet: Quiet = False,
) -> None:
    """Evaluate a model: clip- and video-level metrics, confusion matrix, per-class table.
    `evaluate MODEL DATA`, or `evaluate --weights NAME|FILE DATA` for pretrained weights."""
    from vidlearn.training.experiment import evaluate_artifact

    source, data = _model_and_data(artifact, data, weights, arch, classes, "DATA")
    source = with_pipeline(source, config, set_)
    default = out is None
    out = default_eval_out(data) if out is None else out
    metrics = evaluate_artifact(source, data, out, group=group, progress=not quiet, echo=typer.echo)
    v, c = metrics["video"], metrics.get("clip")  # baseline models have no clip level
    if v.get("task") == "localization":
        maps = ", ".join(f"mAP@{t} {m:.3f}" for t, m in v["mAP"].items())
        typer.echo(f"{maps} (n={v['n']} videos, {v['n_segments']} segments); frame accuracy {v['frame_accuracy']:.3f}, "
                   f"edit {v['edit']:.3f}, " + ", ".join(f"F1@{k} {f:.3f}" for k, f in v["F1"].items()))
    elif "accuracy" in v:
        clip = f", clip accuracy {c['accuracy']:.3f}" if c else ""
        typer.echo(f"video accuracy {v['accuracy']:.3f} (n={v['n']}){clip}, macro F1 {v['macro']['f1']:.3f}")
    elif "map" in v:
        typer.echo(f"video mAP {v['map'] if v['map'] is not None else float('nan'):.3f} (n={v['n']}), "
                   f"micro F1 {v['micro']['f1']:.3f}, macro F1 {v['macro']['f1']:.3f}")
    else:
        typer.echo(f"video MAE {v['mae']:.3f}, RMSE {v['rmse']:.3f}, R2 {v['r2']}")
    for s in metrics.get("skipped", []):
        typer.echo(f"skipped {s['path']}: {s['reason']}")
    typer.echo(f"report: {out}" + (" (the default --out: eval-<DATA name>)" if default else ""))
