"""Shared fixtures: where the real data lives, and skipping with a reason when it does not."""

from __future__ import annotations

from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__import__("os").environ.get("VIDLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))
CLIPS = SHARED_DATA / "clips"
WEIZMANN = SHARED_DATA / "weizmann4"


@pytest.fixture(scope="session")
def clips_dir() -> Path:
    """../shared/data/clips: real clips in several containers (skip when absent)."""
    if not CLIPS.is_dir():
        pytest.skip(f"real clips not found at {CLIPS} (the shared data folder is absent)")
    return CLIPS


@pytest.fixture(scope="session")
def weizmann_dir() -> Path:
    """../shared/data/weizmann4: 36 labelled real videos (skip when absent)."""
    if not (WEIZMANN / "manifest.csv").is_file():
        pytest.skip(f"Weizmann data not found at {WEIZMANN} (the shared data folder is absent)")
    return WEIZMANN
