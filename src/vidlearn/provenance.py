"""What made a result: package versions recorded in artifacts and reports."""

from __future__ import annotations

import platform
from importlib import metadata


def package_versions(*distributions: str) -> dict[str, str | None]:
    """{"vidlearn", "python", and each named distribution: its installed version or None}."""
    from vidlearn import __version__

    def dist(name: str) -> str | None:
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    return {"vidlearn": __version__, "python": platform.python_version(), **{n: dist(n) for n in distributions}}
