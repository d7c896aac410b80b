"""Shared fixtures for the data tests."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

WEIZMANN = Path("/work/shared/data/weizmann4")


@pytest.fixture
def weizmann() -> Path:
    """The real 4-class Weizmann subset (manifest.csv + videos/<class>/), or skip."""
    if not (WEIZMANN / "manifest.csv").is_file() or not (WEIZMANN / "videos").is_dir():
        pytest.skip(f"real dataset not available at {WEIZMANN}")
    return WEIZMANN


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
