"""`vidlearn weights list | fetch NAME | import FILE --out DIR`: the pretrained-weights catalogue."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import Command, Group, Quiet, _echo_json, _friendly

__all__ = ["weights_app"]

weights_app = typer.Typer(cls=Group, help="The pretrained-weights catalogue: list, fetch (download), import a checkpoint as a model.",
                          no_args_is_help=True)


@weights_app.command("list", cls=Command)
@_friendly
def weights_list(as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False) -> None:
    """The catalogue: name, architecture, classes, size, frames x crop, top-1, whether it is downloaded."""
    from vidlearn.models.download import catalogue_rows, weights_dir

    rows = catalogue_rows()
    if as_json:
        _echo_json(rows)
        return
    typer.echo(f"{'name':<28} {'architecture':<17} {'classes':>7} {'MB':>6} {'clip':>7} {'sampling':>10} {'top-1':>6}  cached")
    for r in rows:
        mb = f"{r['size_mb']:.0f}" if r["size_mb"] else "?"
        top1 = f"{r['top1']:.1f}" if r["top1"] else "-"
        typer.echo(f"{r['name']:<28} {r['architecture']:<17} {r['classes']:>7} {mb:>6} {r['clip']:>7} {r['sampling']:>10} "
                   f"{top1:>6}  {'yes' if r['cached'] else 'no'}")
    typer.echo(f"cache: {weights_dir()} (set VIDLEARN_HOME to move it); `vidlearn weights fetch NAME` downloads one")


@weights_app.command("fetch", cls=Command)
@_friendly
def weights_fetch(
    name: Annotated[str, typer.Argument(help="a catalogue name (see `vidlearn weights list`)")],
    quiet: Quiet = False,
) -> None:
    """Download weights into the cache (resumable, checksum-verified); nothing to do when there."""
    from vidlearn.models.download import fetch_weights

    typer.echo(f"{name}: {fetch_weights(name, progress=not quiet)}")


@weights_app.command("import", cls=Command)
@_friendly
def weights_import(
    file: Annotated[Path, typer.Argument(help="a checkpoint (.pth, .pyth, .ckpt, .safetensors, a Hugging Face folder, ...)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the model folder to write (a vidlearn artifact)")],
    arch: Annotated[Optional[str], typer.Option("--model", help="its architecture (default: from the catalogue, for a catalogue file)")] = None,
    classes: Annotated[Optional[Path], typer.Option(help="its class names, one a line (default: the catalogue's)")] = None,
) -> None:
    """Check a checkpoint strictly against its architecture and save it as a vidlearn model, which
    predict, evaluate, serve and export take."""
    from vidlearn.predictors.pretrained import import_weights

    path, pm = import_weights(file, out, model=arch, classes=classes)
    c = pm.config
    typer.echo(f"{pm.report.message}\nwrote {path}: {c.model.name}, {len(pm.class_names)} classes, "
               f"{c.sampling.num_frames} frames at {c.decode.fps:g} fps, crop {c.transform.crop_size}")
