"""Hyper-parameter search: a real (tiny) Optuna search on generated videos writes study.db,
trials.csv, best_config.yaml (which `vidlearn train --config` takes unchanged) and the plots; a
re-run continues the study instead of starting again, and re-runs a trial that a killed search
left behind; the pruning callback stops a bad trial; a bad search-space file is refused with the
parameter's name; --jobs runs trials in parallel worker processes."""

from __future__ import annotations

import csv
from pathlib import Path
from types import SimpleNamespace

import optuna
import pytest
import yaml
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.config import ExperimentConfig
from vidlearn.data.sources import load_records
from vidlearn.data.splits import train_val_test_split
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.training.experiment import build_config
from vidlearn.training.fit import fit
from vidlearn.training.tune import (
    STUDY_NAME,
    PruningCallback,
    apply_params,
    default_space,
    load_space,
    make_pruner,
    parse_space,
    tune,
)
from vidlearn.errors import ConfigError

SPACE = {
    "optim.lr": {"type": "float", "low": 1e-3, "high": 1e-2, "log": True},
    "model.name": {"type": "categorical", "choices": ["r2plus1d_tiny", "frame_cnn_small"]},
    "sampling.num_frames": {"type": "int", "low": 4, "high": 6},
}


@pytest.fixture(scope="module")
def data(tmp_path_factory) -> Path:
    """Left vs right motion, 6 videos per class in 3 groups, 32 px, 1 s."""
    out = tmp_path_factory.mktemp("tune_data")
    return generate_demo_dataset(out, classes=["left", "right"], videos_per_class=6, num_groups=3, size=32, duration=1.0)


@pytest.fixture(scope="module", autouse=True)
def one_torch_thread():
    """Tiny models gain nothing from intra-op threads; on a busy machine they only thrash."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("tune_cache")


@pytest.fixture()
def base_file(tmp_path: Path, cache_dir: Path) -> Path:
    """A tiny base config: 32 px, 4 frames, 2 epochs, no loader workers, a frame cache for these tests."""
    cfg = ExperimentConfig.from_dict({
        "decode": {"fps": 8.0, "short_side": 32},
        "sampling": {"num_frames": 4, "test_views": 1},
        "transform": {"crop_size": 32, "hflip": False},
        "optim": {"epochs": 2, "batch_size": 4, "warmup_epochs": 0},
        "data": {"num_workers": 0, "val_fraction": 0.25, "cache_dir": str(cache_dir)},
    })
    path = tmp_path / "base.yaml"
    cfg.save(path)
    return path


@pytest.fixture()
def space_file(tmp_path: Path) -> Path:
    path = tmp_path / "space.yaml"
    path.write_text(yaml.safe_dump(SPACE))
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as fh:
        return list(csv.DictReader(fh))


def _quiet(_: str) -> None:
    pass


# ---- a real search --------------------------------------------------------------------------


def test_search_writes_reports_resumes_and_best_config_trains_unchanged(data: Path, base_file: Path, space_file: Path, tmp_path: Path) -> None:
    out = tmp_path / "search"
    base = build_config(base_file)
    first = tune(data, base, out, trials=2, space=load_space(space_file, base=base), group="group", echo=_quiet)
    assert first.ran == 2 and first.complete == 2
    assert (out / "study.db").is_file()
    assert len(_rows(out / "trials.csv")) == 2

    # the same command with --trials 3 runs only the one missing trial
    args = ["tune", str(data), "--trials", "3", "--out", str(out), "--space", str(space_file), "--config", str(base_file),
            "--group", "group", "--quiet"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    assert "2 trial(s) already finished; running 1 more" in res.output
    assert "trial 2:" in res.output and "trial 3:" not in res.output
    assert "best validation video accuracy" in res.output

    rows = _rows(out / "trials.csv")
    assert len(rows) == 3 and [r["number"] for r in rows] == ["0", "1", "2"]
    assert all(r["state"] == "COMPLETE" for r in rows)
    assert len({r["optim.lr"] for r in rows}) == 3, "a resumed search must not repeat the first trials' values"
    for r in rows:
        assert 0.0 <= float(r["value"]) <= 1.0
        assert r["model.name"] in ("r2plus1d_tiny", "frame_cnn_small") and 4 <= int(r["sampling.num_frames"]) <= 6
        assert (Path(r["run_dir"]) / "model" / "model.safetensors").is_file()
    for png in ("history.png", "importance.png"):
        assert (out / png).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", png
    report = (out / "report.html").read_text()
    assert all(f'id="{sid}"' in report for sid in ("summary", "best", "history", "importance", "trials", "config")) and "<img" in report

    # best_config.yaml is an ordinary experiment config: `vidlearn train --config` reads it as is
    best = max(rows, key=lambda r: float(r["value"]))
    loaded = ExperimentConfig.load(out / "best_config.yaml")
    cfg = build_config(out / "best_config.yaml")
    assert cfg == loaded
    assert cfg.optim.lr == pytest.approx(float(best["optim.lr"]))
    assert cfg.model.name == best["model.name"] and cfg.sampling.num_frames == int(best["sampling.num_frames"])
    assert cfg.decode.short_side == 32 and cfg.optim.epochs == 2  # the base config is kept
    assert f"best validation video accuracy {float(best['value']):.4f}" in res.output

    # a killed search leaves a RUNNING trial: the next run marks it interrupted (not counted)
    # and runs its values again
    study = optuna.load_study(study_name=STUDY_NAME, storage=f"sqlite:///{out / 'study.db'}")
    ghost = study.ask()
    ghost.suggest_float("optim.lr", 1e-3, 1e-2, log=True)
    ghost.suggest_categorical("model.name", ["r2plus1d_tiny", "frame_cnn_small"])
    ghost.suggest_int("sampling.num_frames", 4, 6)
    res = CliRunner().invoke(app, [*args[:3], "4", *args[4:]])
    assert res.exit_code == 0, res.output
    assert "trial 3 was interrupted" in res.output and "running 1 more" in res.output
    rows = _rows(out / "trials.csv")
    assert [r["state"] for r in rows][:4] == ["COMPLETE", "COMPLETE", "COMPLETE", "INTERRUPTED"]
    assert rows[4]["state"] in ("COMPLETE", "PRUNED")  # the median pruner may stop it: 3 trials are done
    assert rows[4]["optim.lr"] == rows[3]["optim.lr"] and rows[4]["model.name"] == rows[3]["model.name"]

    # --timeout: no new trial starts once it has passed; the reports are still written
    res = CliRunner().invoke(app, [*args[:3], "10", *args[4:], "--timeout", "0.000001"])
    assert res.exit_code == 0, res.output
    assert "(0 run now)" in res.output and len(_rows(out / "trials.csv")) == 5

    # one search per folder at a time
    import fcntl

    with open(out / ".tune.lock", "w") as fh:
        fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(ConfigError, match="another `vidlearn tune` is running"):
            tune(data, base, out, trials=10, space=load_space(space_file, base=base), group="group", echo=_quiet)


def test_an_interrupted_search_does_not_count_the_interrupted_trial(data: Path, base_file: Path, space_file: Path, tmp_path: Path, monkeypatch) -> None:
    import vidlearn.training.fit as train_mod
    from vidlearn.training.fit import TrainResult

    def ctrl_c(*args, **kwargs):
        raise KeyboardInterrupt

    def instant(train, cfg, run, **kwargs):  # a stand-in for training: the resume logic is under test
        return TrainResult(Path(run), None, {"video": {"accuracy": 0.5}}, 1, 0.0)

    out = tmp_path / "search"
    base = build_config(base_file)
    space = load_space(space_file, base=base)
    monkeypatch.setattr(train_mod, "fit", ctrl_c)
    with pytest.raises(KeyboardInterrupt):
        tune(data, base, out, trials=2, space=space, group="group", echo=_quiet)
    rows = _rows(out / "trials.csv")  # written even though the search was interrupted
    assert [r["state"] for r in rows] == ["INTERRUPTED"]

    monkeypatch.setattr(train_mod, "fit", instant)
    result = tune(data, base, out, trials=2, space=space, group="group", echo=_quiet)
    assert result.ran == 2 and result.complete == 2
    rows = _rows(out / "trials.csv")
    assert [r["state"] for r in rows] == ["INTERRUPTED", "COMPLETE", "COMPLETE"]
    assert rows[1]["optim.lr"] == rows[0]["optim.lr"]  # the interrupted values are run again first


# ---- pruning --------------------------------------------------------------------------------


class FakeTrial:
    def __init__(self, prune: bool) -> None:
        self.prune = prune
        self.reports: list[tuple[float, int]] = []

    def report(self, value: float, step: int) -> None:
        self.reports.append((value, step))

    def should_prune(self) -> bool:
        return self.prune


def test_pruning_callback_reports_each_epoch_and_raises_trial_pruned() -> None:
    import torch

    trainer = SimpleNamespace(sanity_checking=False, current_epoch=2, callback_metrics={"val_acc": torch.tensor(0.25)})
    keep = FakeTrial(prune=False)
    PruningCallback(keep, "val_acc").on_validation_end(trainer, None)
    assert keep.reports == [(0.25, 2)]

    bad = FakeTrial(prune=True)
    with pytest.raises(optuna.TrialPruned, match="epoch 3"):
        PruningCallback(bad, "val_acc").on_validation_end(trainer, None)
    assert bad.reports == [(0.25, 2)]

    # regression: the maximised objective is -MAE, so the reported value is negated
    reg = FakeTrial(prune=False)
    trainer.callback_metrics = {"val_mae": torch.tensor(3.0)}
    PruningCallback(reg, "val_mae", sign=-1.0).on_validation_end(trainer, None)
    assert reg.reports == [(-3.0, 2)]

    # no report during the sanity check, nor when the metric is missing
    quiet = FakeTrial(prune=True)
    PruningCallback(quiet).on_validation_end(SimpleNamespace(sanity_checking=True, current_epoch=0, callback_metrics={"val_acc": 1.0}), None)
    PruningCallback(quiet).on_validation_end(SimpleNamespace(sanity_checking=False, current_epoch=0, callback_metrics={}), None)
    assert quiet.reports == []


def test_a_pruned_trial_stops_training_after_its_first_epoch(data: Path, base_file: Path, tmp_path: Path) -> None:
    cfg = build_config(base_file, overrides=["optim.epochs=5"])
    split = train_val_test_split(load_records(data, group="group"), val=0.25, seed=0)
    trial = FakeTrial(prune=True)
    with pytest.raises(optuna.TrialPruned):
        fit(split.train, cfg, tmp_path / "run", val_records=split.val, progress=False, echo=_quiet, callbacks=[PruningCallback(trial)])
    assert [step for _, step in trial.reports] == [0]


def test_pruner_names() -> None:
    assert isinstance(make_pruner("median"), optuna.pruners.MedianPruner)
    assert isinstance(make_pruner("halving"), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("successive_halving"), optuna.pruners.SuccessiveHalvingPruner)
    assert isinstance(make_pruner("none"), optuna.pruners.NopPruner)
    with pytest.raises(ConfigError, match="hyperband"):
        make_pruner("hyperband")


# ---- the search space -----------------------------------------------------------------------


def test_default_space_covers_the_documented_knobs() -> None:
    names = {p.name for p in default_space()}
    assert names == {"optim.lr", "optim.weight_decay", "model.name", "sampling.num_frames", "decode.fps",
                     "transform.crop_size", "transform.color_jitter", "transform.scale_min"}


def test_apply_params_keeps_short_side_consistent_and_sets_the_scale_minimum() -> None:
    base = ExperimentConfig.from_dict({"decode": {"short_side": 128}, "transform": {"crop_size": 112, "scale": [0.5, 1.0]}})
    cfg = apply_params(base, {"transform.crop_size": 64, "transform.scale_min": 0.3, "optim.lr": 0.002})
    assert cfg.transform.crop_size == 64 and cfg.decode.short_side == 74  # 64 * 128/112, rounded up
    assert tuple(cfg.transform.scale) == (0.3, 1.0) and cfg.optim.lr == 0.002
    both = apply_params(base, {"transform.crop_size": 96, "decode.short_side": 64})
    assert both.decode.short_side == 96  # never below the crop


@pytest.mark.parametrize(
    ("entry", "words"),
    [
        ({"optim.lrr": {"type": "float", "low": 0.001, "high": 0.01}}, ["optim.lrr", "did you mean optim.lr"]),
        ({"optim.lr": {"type": "float", "low": 0.01, "high": 0.001}}, ["optim.lr", "below"]),
        ({"optim.lr": {"type": "float", "low": 0.0, "high": 0.01}}, ["optim.lr", "0.0", "greater than 0"]),
        ({"optim.lr": {"type": "float", "low": 0.0, "high": 0.01, "log": True}}, ["optim.lr", "log"]),
        ({"optim.lr": {"type": "uniform", "low": 0.001, "high": 0.01}}, ["optim.lr", "'type'"]),
        ({"optim.lr": 0.01}, ["optim.lr", "mapping"]),
        ({"optim.lr": {"type": "float", "low": "small", "high": 0.01}}, ["optim.lr", "'low' must be a number"]),
        ({"optim.lr": {"type": "float", "min": 0.001, "high": 0.01}}, ["optim.lr", "unknown key", "min"]),
        ({"sampling.num_frames": {"type": "int", "low": 4.5, "high": 8}}, ["sampling.num_frames", "whole number"]),
        ({"model.name": {"type": "categorical", "choices": "r3d_tiny"}}, ["model.name", "choices"]),
        ({"model.name": {"type": "categorical", "choices": ["r3d_tiny", "r4d_huge"]}}, ["model.name", "r4d_huge"]),
        ({"transform.color_jitter": {"type": "float", "low": 0.0, "high": 2.0}}, ["transform.color_jitter", "2.0"]),
        ({"transform.scale": {"type": "float", "low": 0.2, "high": 0.9}}, ["transform.scale", "transform.scale_min"]),
        ({"task.kind": {"type": "categorical", "choices": ["regression"]}}, ["task.kind", "cannot be searched"]),
    ],
)
def test_a_bad_space_entry_names_the_parameter(entry: dict, words: list[str]) -> None:
    with pytest.raises(ConfigError) as info:
        parse_space(entry, source="space.yaml")
    msg = str(info.value)
    assert msg.startswith("space.yaml: parameter "), msg
    for w in words:
        assert w in msg, (w, msg)


def test_space_file_yaml_quirks_and_cli_error(data: Path, tmp_path: Path) -> None:
    good = tmp_path / "good.yaml"
    good.write_text("optim.lr: {type: float, low: 1e-4, high: 1e-2, log: true}\n")  # YAML 1.1 reads 1e-4 as a string
    (p,) = load_space(good)
    assert (p.low, p.high, p.log) == (1e-4, 1e-2, True)
    bad = tmp_path / "space.yaml"
    bad.write_text("optim.lr: {type: float, low: 1e-4, high: 1e-2}\nmodel.name: {type: categorical, choices: [r3d_tiny, nope_net]}\n")
    res = CliRunner().invoke(app, ["tune", str(data), "--trials", "2", "--out", str(tmp_path / "s"), "--space", str(bad)])
    assert res.exit_code == 2
    assert "parameter 'model.name'" in res.output and "nope_net" in res.output
    assert "Traceback" not in res.output
    assert not (tmp_path / "s" / "study.db").exists()  # refused before any work
    empty = tmp_path / "empty.yaml"
    empty.write_text("")
    with pytest.raises(ConfigError, match="empty"):
        load_space(empty)


# ---- parallel trials ------------------------------------------------------------------------


@pytest.mark.long
def test_jobs_run_trials_in_parallel_worker_processes(data: Path, base_file: Path, space_file: Path, tmp_path: Path, capfd) -> None:
    out = tmp_path / "search"
    base = build_config(base_file)
    lines: list[str] = []
    result = tune(data, base, out, trials=2, jobs=2, space=load_space(space_file, base=base), group="group", echo=lines.append)
    printed = capfd.readouterr().out  # the workers print their own lines
    assert any("in 2 worker processes" in ln for ln in lines)
    assert "[worker 0] trial" in printed and "[worker 1] trial" in printed
    assert result.ran == 2 and result.complete == 2
    rows = _rows(out / "trials.csv")
    assert len(rows) == 2 and all(r["state"] == "COMPLETE" for r in rows)
    assert rows[0]["optim.lr"] != rows[1]["optim.lr"]  # each worker samples its own values
    assert ExperimentConfig.load(out / "best_config.yaml").decode.short_side == 32


def test_a_regression_search_maximises_minus_the_validation_mae(data: Path, base_file: Path, tmp_path: Path) -> None:
    """The demo manifest's numeric target (speed): every trial's value is minus its run's
    validation video MAE, the best trial is the one with the smallest MAE, and best_config.yaml
    keeps the regression task."""
    import json

    base = build_config(base_file, overrides=["task.kind=regression"])
    space = parse_space({"optim.lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True}}, base=base)
    result = tune(data, base, tmp_path / "search", trials=3, space=space, group="group", pruner="none", echo=_quiet)
    assert result.complete == 3 and result.direction_metric == "-(validation video MAE)"
    rows = _rows(tmp_path / "search" / "trials.csv")
    maes = []
    for r in rows:
        metrics = json.loads((Path(r["run_dir"]) / "eval" / "metrics.json").read_text())
        assert metrics["video"]["task"] == "regression"
        maes.append(metrics["video"]["mae"])
        assert float(r["value"]) == pytest.approx(-metrics["video"]["mae"], rel=1e-6)
    assert result.best_value == pytest.approx(-min(maes), rel=1e-6)
    assert ExperimentConfig.load(tmp_path / "search" / "best_config.yaml").task.kind == "regression"


def test_a_multilabel_search_maximises_the_validation_video_map(base_file: Path, tmp_path: Path) -> None:
    """Label sets (the multi-label demo data): every trial's value is its run's validation video
    mAP (threshold-free), the best trial has the highest, and best_config.yaml keeps the task."""
    import json

    from vidlearn.data.synthetic_multilabel import generate_multilabel_dataset

    data = generate_multilabel_dataset(tmp_path / "ml", videos_per_set=2, num_groups=2, size=32, duration=1.0, seed=0)
    base = build_config(base_file, overrides=["task.kind=multilabel", "data.val_fraction=0.5"])
    space = parse_space({"optim.lr": {"type": "float", "low": 1e-3, "high": 3e-2, "log": True}}, base=base)
    result = tune(data, base, tmp_path / "search", trials=2, space=space, group="group", pruner="median", echo=_quiet)
    assert result.complete == 2 and result.direction_metric == "validation video mAP"
    values = []
    for r in _rows(tmp_path / "search" / "trials.csv"):
        video = json.loads((Path(r["run_dir"]) / "eval" / "metrics.json").read_text())["video"]
        assert video["task"] == "multilabel" and 0.0 <= video["map"] <= 1.0
        assert float(r["value"]) == pytest.approx(video["map"], rel=1e-6)
        values.append(video["map"])
    assert result.best_value == pytest.approx(max(values), rel=1e-6)
    assert ExperimentConfig.load(tmp_path / "search" / "best_config.yaml").task.kind == "multilabel"


def test_a_task_that_is_not_tuned_is_one_line_naming_the_tuned_ones(data: Path, base_file: Path, tmp_path: Path) -> None:
    base = build_config(base_file, overrides=["task.kind=localization"])
    with pytest.raises(ConfigError, match="tuning is for classification, regression, multilabel; localization is not tuned yet"):
        tune(data, base, tmp_path / "search", trials=1, echo=_quiet)
