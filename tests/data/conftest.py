"""Shared fixtures for the data tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

@pytest.fixture
def weizmann(weizmann_dir: Path) -> Path:
    """The real 4-class Weizmann subset (manifest.csv + videos/<class>/), or skip."""
    if not (weizmann_dir / "videos").is_dir():
        pytest.skip(f"real dataset videos not available at {weizmann_dir}")
    return weizmann_dir


@pytest.fixture
def touch(tmp_path: Path) -> Callable[..., Path]:
    """touch("a/b.mp4", ...) creates (empty) files under tmp_path; returns tmp_path."""

    def make(*names: str) -> Path:
        for name in names:
            p = tmp_path / name
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(b"")
        return tmp_path

    return make
