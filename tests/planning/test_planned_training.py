"""Calibration, the planned run and budget-keeping on small generated data with a short budget,
and the `plan` / `train --budget` commands."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vidlearn.config import ExperimentConfig
from vidlearn.data.fingerprint import fingerprint_records, native_decode
from vidlearn.data.sources import load_records
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.planning import make_plan
from vidlearn.planning.planner import train_planned


@pytest.fixture(scope="module")
def motion_data(tmp_path_factory) -> Path:
    """Left vs right motion, 8 videos each, 4 groups, 32 px, 1.2 s."""
    out = tmp_path_factory.mktemp("plan_motion")
    manifest = generate_demo_dataset(out, classes=["left", "right"], videos_per_class=8, num_groups=4, size=32, duration=1.2, seed=1)
    return manifest


def _cli(*args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "vidlearn.cli", *args], capture_output=True, text=True, env=env, timeout=600)


def test_fingerprint_counts_probes_a_bounded_sample_and_names_bad_files(motion_data: Path, tmp_path: Path) -> None:
    records = load_records(motion_data, group="group")
    broken = tmp_path / "broken.mp4"
    broken.write_text("not a video")
    records.append(records[0].__class__(path=broken, target="left", group="g0"))
    fp = fingerprint_records(records, max_probe=6)
    assert fp.n_videos == 17 and fp.classes == {"left": 9, "right": 8} and fp.n_groups == 4
    assert fp.probed == 6 and "6 of 17" in fp.sampling
    assert fp.short_side is not None and fp.short_side.max == 32 and fp.fps is not None
    full = fingerprint_records(records)
    assert [p for p, _ in full.bad] == [str(broken)] and full.bad[0][1]
    assert full.duration is not None and full.duration.min == pytest.approx(1.2, abs=0.1)
    fps, side, why = native_decode(records[:-1], fps=8.0, short_side=128)
    assert side == 32 and fps == 8.0 and "native" in why  # never upscaled


def test_calibration_measures_the_planned_recipe(motion_data: Path, tmp_path: Path) -> None:
    explicit = {"model.name": "r2plus1d_tiny", "data.cache_dir": str(tmp_path / "cache")}
    plan = make_plan(motion_data, budget_s=120, group="group", explicit=explicit)
    cal = plan.calibration
    assert cal is not None and cal.model == "r2plus1d_tiny" and cal.steps >= 1
    assert cal.step_s > 0 and cal.first_pass_s > 0 and cal.eval_s > 0
    assert plan.config.decode.short_side == 32  # the native 32 px, not the default 128
    assert plan.cv == "leave-one-group-out"
    assert plan.predicted_s is not None and plan.predicted_s == pytest.approx(sum(plan.breakdown.values()), abs=0.5)
    # a plan that fits predicts at most the budget; one that does not says so
    assert (plan.predicted_s <= 120) if plan.fits else any("quarter" in n for n in plan.notes)
    # the epochs follow from the measured step time: a budget four times as long never gets fewer
    longer = make_plan(motion_data, budget_s=480, group="group", explicit=explicit)
    assert longer.config.optim.epochs >= plan.config.optim.epochs


@pytest.mark.long
def test_budget_is_kept_and_a_valid_model_is_saved_when_the_estimate_is_wrong(motion_data: Path, tmp_path: Path) -> None:
    """Far too many epochs (an explicit setting, so the plan cannot shorten it): after a fold's
    first epoch the run is cut to the epochs that fit its share of the budget (the time limit
    stops anything left over), and every fold still evaluates and saves its model."""
    budget = 30.0
    explicit = {"model.name": "r2plus1d_tiny", "optim.epochs": 500, "data.cache_dir": str(tmp_path / "cache"),
                "data.num_workers": 0}
    lines: list[str] = []
    started = time.time()
    plan, summary = train_planned(motion_data, tmp_path / "run", budget_s=budget, group="group", cv="kfold:2",
                                  explicit=explicit, progress=False, started=started, echo=lines.append)
    elapsed = time.time() - started
    assert plan.config.optim.epochs == 500
    assert any(line.startswith("time: ") and " of 500 epochs fit the time left" in line for line in lines), lines[-10:]
    assert summary["video"]["n_folds"] == 2
    # each fold's training loop kept to its share of the budget (Lightning checks the time every
    # step). The whole run's wall time is reported, not asserted: set-up and reports around the
    # loops take what the machine's load makes them (docs/results.md: 9 min 56 s of a 10 min budget).
    print(f"wall time {elapsed:.0f} s for a {budget:.0f} s budget")
    from vidlearn.predictors import load

    for fold in (tmp_path / "run" / "folds").iterdir():
        model = load(fold / "model")
        preds, skipped = model.predict([str(p) for p in sorted(Path(motion_data).parent.rglob("*.mp4"))[:2]])
        assert len(preds) == 2 and not skipped and preds[0].label in ("left", "right")
        assert json.loads((fold / "model" / "plan.json").read_text())["choices"]
        loop = json.loads((fold / "eval" / "timing.json").read_text())["training loop"]
        assert loop <= budget / 2 + 5, loop
    run = tmp_path / "run"
    plan_json = json.loads((run / "plan.json").read_text())
    assert any(c["field"] == "optim.epochs" and c["source"] == "you" for c in plan_json["choices"])
    assert "Plan" in (run / "report.html").read_text()


def test_plan_command_writes_a_config_train_takes_and_says_what_you_set(motion_data: Path, tmp_path: Path) -> None:
    out = tmp_path / "plan.yaml"
    res = _cli("plan", str(motion_data), "--group", "group", "--budget", "2m", "--out", str(out), "--no-calibrate",
               "--set", "decode.fps=5")
    assert res.returncode == 0, res.stderr[-2000:]
    assert "decode.short_side" in res.stdout and "never upscaled" in res.stdout
    assert "you: set explicitly" in res.stdout
    cfg = ExperimentConfig.load(out)
    assert cfg.decode.fps == 5 and cfg.decode.short_side == 32
    assert json.loads(out.with_suffix(".plan.json").read_text())["cv"] == "leave-one-group-out"
    again = _cli("plan", str(motion_data), "--group", "group", "--out", str(out), "--no-calibrate")
    assert again.returncode == 2 and "exists" in again.stderr and "Traceback" not in again.stderr
    bad = _cli("plan", str(motion_data), "--budget", "soon", "--out", str(tmp_path / "x.yaml"))
    assert bad.returncode == 2 and "--budget" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
