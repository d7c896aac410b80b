"""The evaluation command: evaluate (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import _ARCH_HELP, _CLASSES_HELP, _WEIGHTS_HELP, _friendly, _model_and_data


@_friendly
def evaluate(
    artifact: Annotated[str, typer.Argument(metavar="MODEL", help="a trained model (directory or .vidlearn file), a baseline model folder or a catalogue name")],
    data: Annotated[Optional[str], typer.Argument(metavar="DATA", help="labelled data to evaluate on")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="report folder")] = Path("eval"),
    group: Annotated[Optional[str], typer.Option(help="manifest column used as group")] = None,
    weights: Annotated[Optional[str], typer.Option(help=_WEIGHTS_HELP)] = None,
    arch: Annotated[Optional[str], typer.Option("--model", help=_ARCH_HELP)] = None,
    classes: Annotated[Optional[Path], typer.Option(help=_CLASSES_HELP)] = None,
    quiet: Annotated[bool, typer.Option(help="no progress bars")] = False,
) -> None:
    """Evaluate a model: clip- and video-level metrics, confusion matrix, per-class table.
    `evaluate MODEL DATA`, or `evaluate --weights NAME|FILE DATA` for pretrained weights."""
    from vidlearn.training.experiment import evaluate_artifact

    source, data = _model_and_data(artifact, data, weights, arch, classes, "DATA")
    metrics = evaluate_artifact(source, data, out, group=group, progress=not quiet)
    v, c = metrics["video"], metrics.get("clip")  # baseline models have no clip level
    if "accuracy" in v:
        clip = f", clip accuracy {c['accuracy']:.3f}" if c else ""
        typer.echo(f"video accuracy {v['accuracy']:.3f} (n={v['n']}){clip}, macro F1 {v['macro']['f1']:.3f}")
    else:
        typer.echo(f"video MAE {v['mae']:.3f}, RMSE {v['rmse']:.3f}, R2 {v['r2']}")
    for s in metrics.get("skipped", []):
        typer.echo(f"skipped {s['path']}: {s['reason']}")
    typer.echo(f"report: {out}")
