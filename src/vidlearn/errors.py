"""User-facing errors. Every one names the file (or field) and the reason; the CLI prints them
without a traceback."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

__all__ = ["ArtifactError", "ConfigError", "DataSourceError", "DivergedModelError", "VideoError", "VidlearnError", "first_line", "listed"]


def listed(items: Sequence[object], limit: int = 5, sep: str = ", ") -> str:
    """The first ``limit`` items joined by ``sep``, then "... and N more": how every long list of
    problems, names or keys is cut in a message."""
    shown = sep.join(str(i) for i in items[:limit])
    return shown + (f" ... and {len(items) - limit} more" if len(items) > limit else "")


class VidlearnError(Exception):
    """Base class for errors that are the user's input, not a bug: printed as one clear line.

    ``reason`` is the part that says what is wrong, without the file or field it is about (a
    batch job reports it per item); for a plain error it is the whole message."""

    @property
    def reason(self) -> str:
        return self.__dict__.get("_reason") or (str(self.args[0]) if self.args else type(self).__name__)

    @reason.setter
    def reason(self, value: str) -> None:
        self.__dict__["_reason"] = value


class VideoError(VidlearnError):
    """A video file that cannot be opened or decoded."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class DataSourceError(VidlearnError):
    """A dataset description (folder, CSV manifest, split list) that is wrong; lists every problem."""

    def __init__(self, source: str | Path, problems: list[str]) -> None:
        self.source = str(source)
        self.problems = list(problems)
        self.reason = listed(self.problems, 3, "; ")
        count = "" if len(self.problems) == 1 else f"{len(self.problems)} problems: "
        super().__init__(f"{self.source}: {count}{listed(self.problems, 5, '; ')}")


class ConfigError(VidlearnError):
    """A configuration value that is invalid; the message names the field."""


class DivergedModelError(ConfigError):
    """A trained model whose weights or outputs are not finite (NaN or inf): training diverged,
    and the fix is a training setting. It is the model's problem, never one video's: batch work
    stops on it."""

    FIX = "retrain with a lower optim.lr, optim.grad_clip set, or optim.precision=32"

    @classmethod
    def about(cls, what: str, reason: str) -> "DivergedModelError":
        """``what`` (a model, a run) diverged: ``reason``, then the fix."""
        return cls(f"{what}: {reason}; {cls.FIX}")

    @classmethod
    def outputs(cls, what: str, bad: int, total: int) -> "DivergedModelError":
        """The model gave NaN or inf for ``bad`` of ``total`` inputs."""
        return cls.about(what, f"the model's outputs are not finite (NaN or inf) for {bad} of {total} input(s): its weights diverged in training")


class ArtifactError(VidlearnError):
    """A model artifact that is malformed, foreign or from an incompatible version."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


def first_line(exc: BaseException, limit: int = 300) -> str:
    """The first line of a library exception's message (its type name when it has none), cut to
    ``limit`` characters: what goes after "because" in a one-line error."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:limit]
