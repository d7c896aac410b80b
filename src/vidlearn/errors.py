"""User-facing errors. Every one names the file (or field) and the reason; the CLI prints them
without a traceback."""

from __future__ import annotations

from pathlib import Path


class VidlearnError(Exception):
    """Base class for errors that are the user's input, not a bug: printed as one clear line."""


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
