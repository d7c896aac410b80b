"""What every command shares: one line and exit status 2 for a user error, JSON output, and the
MODEL-or-``--weights`` argument of evaluate and predict."""

from __future__ import annotations

import errno
import functools
import json
import os
from pathlib import Path
from typing import Optional

import typer

from vidlearn.errors import ConfigError, VidlearnError

__all__ = ["Command", "Group", "_echo_json", "_friendly", "_model_and_data"]


def _untyped_flags(params: list) -> list:
    """A flag takes no value: its help row shows no `<bool>` type (typer prints one)."""
    for p in params:
        if getattr(p, "is_flag", False) and p.metavar is None:
            p.metavar = ""
    return params


class Command(typer.core.TyperCommand):
    """A vidlearn command: its help shows no type after a flag."""

    def get_params(self, ctx):  # noqa: D102
        return _untyped_flags(super().get_params(ctx))


class Group(typer.core.TyperGroup):
    """The vidlearn group (and `weights`): its help shows no type after a flag."""

    def get_params(self, ctx):  # noqa: D102
        return _untyped_flags(super().get_params(ctx))


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
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
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
