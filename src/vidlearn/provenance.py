"""What made a result: package versions recorded in artifacts and reports."""

from __future__ import annotations

import platform
from importlib import metadata

__version__ = "0.1.0"  # the one place the version is written (pyproject reads it)


def package_versions(*distributions: str) -> dict[str, str | None]:
    """{"vidlearn", "python", and each named distribution: its installed version or None}."""
    def dist(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"vidlearn": __version__, "python": platform.python_version(), **{n: dist(n) for n in distributions}}
