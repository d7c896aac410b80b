"""The demo (`make demo`) runs the whole path: data, probe, check, picture, training, evaluation,
artifact, predictions and a timeline — and its model works on a group of videos it never saw."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vidlearn.demo import DEMO_VIDEOS_PER_CLASS, run_demo


@pytest.mark.long
def test_demo_runs_the_whole_path_and_its_model_generalises(tmp_path: Path) -> None:
    """The full demo, as `make demo` runs it (about 50 s here): a planned recipe within its 90 s
    budget. Its validation group is held out, and a single frame says nothing about the class, so
    accuracy above chance (0.2) is motion learnt from other groups' videos: measured 0.867."""
    lines: list[str] = []
    summary = run_demo(tmp_path / "demo", echo=lines.append, progress=False)
    out = tmp_path / "demo"
    for rel in ("data/manifest.csv", "sampled_clips.png", "timeline.png", "summary.json", "run/model/model.safetensors",
                "run/eval/report.html", "run/eval/confusion.png"):
        assert (out / rel).is_file(), rel
    assert summary["videos"] == 5 * DEMO_VIDEOS_PER_CLASS
    assert any(line.startswith("6. predictions") for line in lines)
    assert any("predicted wall time" in line for line in lines)  # the plan is shown
    assert (out / "run" / "plan.json").is_file() and summary["family"] == "motion_features"
    video = summary["validation"]["video"]
    assert video["n"] == summary["videos"] // 4  # one of the four groups
    assert video["accuracy"] >= 0.6, f"the demo model should generalise to the held-out group, got {video['accuracy']}"
    assert json.loads((out / "summary.json").read_text())["validation"]["video"]["accuracy"] == video["accuracy"]
