"""User-facing errors. Every one names the file (or field) and the reason; the CLI prints them
without a traceback."""

from __future__ import annotations

from pathlib import Path


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
        self.reason = "; ".join(self.problems[:3]) + (f" ... and {len(self.problems) - 3} more" if len(self.problems) > 3 else "")
        shown = "\n  ".join(self.problems[:50])
        more = f"\n  ... and {len(self.problems) - 50} more" if len(self.problems) > 50 else ""
        super().__init__(f"{self.source}: {len(self.problems)} problem(s)\n  {shown}{more}")


class ConfigError(VidlearnError):
    """A configuration value that is invalid; the message names the field."""


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
