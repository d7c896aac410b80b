"""What every command shares: one line and exit status 2 for a user error, JSON output, and the
MODEL-or-``--weights`` argument of evaluate and predict."""

from __future__ import annotations

import errno
import functools
import json
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer
from typer import _click as click

from vidlearn.errors import ConfigError, VidlearnError

__all__ = [
    "Command", "Config", "Group", "GroupColumn", "Kind", "Quiet", "Sets", "_echo_json", "_friendly", "_model_and_data",
    "check_suffix", "default_eval_out", "needs_extra", "with_pipeline",
]


def _untyped_flags(params: list) -> list:
    """A flag takes no value: its help row shows no `<bool>` type (typer prints one)."""
    for p in params:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    return params


def _one_line(text: str) -> str:
    return "; ".join(line.strip() for line in str(text).strip().splitlines() if line.strip())


class Command(typer.core.TyperCommand):
    """A vidlearn command: its help shows no type after a flag."""

    def get_params(self, ctx):
        return _untyped_flags(super().get_params(ctx))


class Group(typer.core.TyperGroup):
    """The vidlearn group (and `weights`): its help shows no type after a flag, and a usage error
    (a missing argument, an unknown option, a value of the wrong type) is one line on stderr with
    exit status 2, as every other user error."""

    def get_params(self, ctx):
        return _untyped_flags(super().get_params(ctx))

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        try:
            rv = super().main(args, prog_name, complete_var, standalone_mode=False, **extra)
        except click.exceptions.NoArgsIsHelpError as exc:  # `vidlearn` / `vidlearn weights` alone: the help (printed)
            sys.exit(exc.exit_code)
        except click.exceptions.ClickException as exc:
            ctx = getattr(exc, "ctx", None)
            where = f"{ctx.command_path}: " if ctx is not None else ""
            hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
            typer.secho(f"error: {where}{_one_line(exc.format_message())}{hint}", err=True, fg=typer.colors.RED)
            sys.exit(exc.exit_code)
        except typer.Abort:
            typer.secho("aborted", err=True)
            sys.exit(1)
        sys.exit(rv if isinstance(rv, int) else 0)


# options that mean the same on every command that has them: one definition each, so that a
# command gains one with one line
Config = Annotated[Optional[Path], typer.Option(
    help="experiment config (YAML/JSON): its fields are the defaults under --set")]
Sets = Annotated[Optional[list[str]], typer.Option(
    "--set", help="override a config field: section.field=value (e.g. sampling.test_views=5); repeatable")]
Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="no progress bars")]
GroupColumn = Annotated[Optional[str], typer.Option(
    "--group", help="the manifest column that holds each video's group (e.g. actor), for group-aware splits")]
KIND_HELP = "feature families, comma-separated: color, shape, motion, deep and/or deep:ARTIFACT"
Kind = Annotated[Optional[str], typer.Option("--kind", help=KIND_HELP)]


def check_suffix(option: str, path: Path, allowed: tuple[str, ...]) -> None:
    """A file name says what is written: a suffix outside `allowed` is refused (ConfigError)."""
    if path.suffix.lower() not in allowed:
        raise ConfigError(f"{option} {path}: the suffix picks the format; give one of {', '.join(allowed)}")


def needs_extra(what: str, modules: tuple[str, ...], extra: str) -> None:
    """Refuse `what` (one line) when an optional extra's package is not installed."""
    import importlib.util

    missing = [m for m in modules if importlib.util.find_spec(m) is None]
    if missing:
        raise ConfigError(f"{what} needs the optional '{extra}' extra ({', '.join(missing)} is not installed): "
                          f"pip install 'vidlearn[{extra}]'")


# what the file system says that a user can act on (a full disk, a quota, a read-only folder)
_STORAGE_ERRORS = {errno.ENOSPC: "no space left on the device", errno.EDQUOT: "disk quota exceeded",
                   errno.EROFS: "the file system is read-only", errno.EACCES: "permission denied"}


def _friendly(fn):
    """Turn VidlearnError (and a full disk, a quota or a read-only folder) into one clear line and
    exit status 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except VidlearnError as exc:
            typer.secho(f"error: {_one_line(str(exc))}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        except OSError as exc:
            if exc.errno not in _STORAGE_ERRORS:
                raise
            where = os.path.dirname(os.fsdecode(exc.filename)) if exc.filename else "the output folder"
            typer.secho(f"error: {where or '.'}: {_STORAGE_ERRORS[exc.errno]} (nothing half-written was kept)", err=True,
                        fg=typer.colors.RED)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


_WEIGHTS_HELP = "pretrained weights instead of a trained MODEL: a catalogue name (r3d_18.kinetics400) or a checkpoint file"
_ARCH_HELP = "with --weights FILE that is not from the catalogue: its architecture (see `vidlearn models`)"
_CLASSES_HELP = "with --weights FILE that is not from the catalogue: its class names, one a line, in output order"

# a trained model, or pretrained weights in its place (evaluate, predict): see `_model_and_data`
ModelArg = Annotated[str, typer.Argument(metavar="MODEL", help="a trained model (directory or .vidlearn file), a baseline model folder or a catalogue name")]
WeightsOpt = Annotated[Optional[str], typer.Option(help=_WEIGHTS_HELP)]
ArchOpt = Annotated[Optional[str], typer.Option("--model", help=_ARCH_HELP)]
ClassesOpt = Annotated[Optional[Path], typer.Option(help=_CLASSES_HELP)]


def _model_and_data(model: str, data: Optional[str], weights: Optional[str], arch: Optional[str], classes: Optional[Path], what: str):
    """(predictor or artifact path, data): `MODEL DATA`, or `--weights W DATA` (then the one
    positional argument is the data)."""
    if weights is None:
        if data is None:
            raise ConfigError(f"give the MODEL and the {what} (or --weights NAME|FILE and the {what})")
        if arch or classes:
            raise ConfigError("--model and --classes go with --weights (a trained MODEL has its own)")
        return model, data
    if data is not None:
        raise ConfigError(f"--weights takes the place of MODEL: give only the {what} ({model!r} and {data!r} were given)")
    from vidlearn.predictors.pretrained import predictor_from_weights

    return predictor_from_weights(weights, model=arch, classes=classes), model


def with_pipeline(source, config: Optional[Path], sets: Optional[list[str]]):
    """The model to run: `source` (a path, a catalogue name or a loaded model) with the
    prediction-time fields of --config/--set applied (`vidlearn.predictors.with_settings`)."""
    if config is None and not sets:
        return source
    from vidlearn.predictors import is_baseline_model, load, with_settings

    if isinstance(source, (str, Path)) and is_baseline_model(source):
        raise ConfigError(f"--config/--set: {source} is a classical model, which has no clip settings to change "
                          "(its features are fixed by its training table)")
    model = load(source) if isinstance(source, (str, Path)) else source
    return with_settings(model, config, sets)


def default_eval_out(data: str) -> Path:
    """`evaluate`'s report folder when --out is not given: ``eval-<DATA name>`` in the current
    folder (the manifest's folder name for a manifest.csv)."""
    p = Path(data)
    name = p.parent.name if p.stem == "manifest" and p.parent.name else p.stem
    return Path(f"eval-{name or 'data'}")
