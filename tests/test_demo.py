"""The demo (`make demo`) runs the whole path: data, probe, check, picture, training, evaluation,
artifact, predictions and a timeline."""

from __future__ import annotations

from pathlib import Path

from vidlearn.demo import run_demo


def test_demo_runs_the_whole_path(tmp_path: Path) -> None:
    lines: list[str] = []
    summary = run_demo(tmp_path / "demo", epochs=2, echo=lines.append, progress=False)
    out = tmp_path / "demo"
    for rel in ("data/manifest.csv", "sampled_clips.png", "timeline.png", "summary.json", "run/model/model.safetensors", "run/eval/report.html"):
        assert (out / rel).is_file(), rel
    assert summary["epochs"] == 2 and summary["videos"] == 120
    assert any(line.startswith("6. predictions") for line in lines)
