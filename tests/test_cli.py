"""The command line as a user meets it: every command given bad arguments answers with one line on
stderr and exit status 2 (never a traceback); the help reads like the pipeline; the options mean
the same everywhere; what one command writes, the next reads; the README lists the commands that
`vidlearn --help` lists."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.config import ExperimentConfig
from vidlearn.data.sources import load_records
from vidlearn.data.synthetic import generate_demo_dataset
from vidlearn.errors import ConfigError, listed
from vidlearn.models import build_model
from vidlearn.predictors import load, save_artifact, with_settings
from vidlearn.training.checkpoints import prepare_run_dir

ROOT = Path(__file__).resolve().parents[1]
SMALL = ["model.name=r2plus1d_tiny", "sampling.num_frames=4", "transform.crop_size=32", "decode.short_side=32",
         "decode.fps=8", "sampling.test_views=2", "data.cache=false"]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Demo data (2 classes x 2 videos, 2 s each), a saved model in a run folder that records the
    'right' videos as its training videos, a folder of unlabelled videos, a classical model."""
    root = tmp_path_factory.mktemp("cli")
    data = root / "d"
    generate_demo_dataset(data, classes=["right", "left"], videos_per_class=2, num_groups=2, seed=0)
    records = load_records(data)
    video = next(r.path for r in records if r.target == "right")
    torch.manual_seed(0)
    model = build_model("r2plus1d_tiny", num_classes=2).eval()
    save_artifact(root / "run" / "model", model, ExperimentConfig().override(SMALL), ["left", "right"],
                  training_videos=[str(r.path) for r in records if r.target == "right"])
    (root / "run" / "config.yaml").write_text("{}\n")
    unlabelled = root / "unlabelled"
    unlabelled.mkdir()
    (unlabelled / "a.mp4").write_bytes(Path(video).read_bytes())
    base = root / "base" / "model"
    base.mkdir(parents=True)
    (base / "baseline.json").write_text("{}")
    (base / "model.onnx").write_bytes(b"")
    (root / "a_file").write_text("not a folder")
    return {"root": root, "data": data, "video": Path(video), "run": root / "run", "model": root / "run" / "model",
            "unlabelled": unlabelled, "base": root / "base", "file": root / "a_file"}


# (command as typed, arguments with {placeholders} from `world`, a part of the one stderr line)
BAD = [
    ("probe", ["probe"], "Missing argument"),
    ("probe", ["probe", "{root}/missing.mp4"], "does not exist"),
    ("check", ["check", "{root}/nothing"], "does not exist"),
    ("check", ["check", "{data}", "--workers", "0"], "--workers"),
    ("frames", ["frames", "{video}", "--out", "{root}/f", "--fps", "0"], "--fps"),
    ("frames", ["frames", "{video}", "--out", "{root}/f", "--size", "0"], "--size"),
    ("frames", ["frames", "{video}", "--out", "{root}/f", "--start", "10", "--end", "12"], "the video is 2.00 s long"),
    ("frames", ["frames", "{video}", "--out", "{root}/f", "--start", "3", "--end", "1"], "--end"),
    ("frames", ["frames", "{video}"], "--out"),
    ("frames", ["frames", "{video}", "--out", "{root}/f", "--bogus"], "No such option"),
    ("demo-data", ["demo-data", "--out", "{root}/x", "--classes", "right,sideways"], "sideways"),
    ("demo-data", ["demo-data"], "--out"),
    ("demo-data", ["demo-data", "--out", "{root}/x", "--videos-per-class", "0"], "--videos-per-class"),
    ("features", ["features", "{data}", "--out", "{root}/x.txt"], ".parquet"),
    ("features", ["features", "{data}", "--out", "{root}/x.parquet", "--kind", "colour"], "colour"),
    ("features", ["features", "{data}", "--out", "{root}/x.parquet", "--task", "sorting"], "sorting"),
    ("baseline", ["baseline", "{root}/missing.parquet", "--out", "{root}/b"], "missing.parquet"),
    ("cluster", ["cluster", "{root}/missing.parquet", "--out", "{root}/c", "--k", "2"], "missing.parquet"),
    ("cluster", ["cluster", "{root}/missing.parquet", "--out", "{root}/c", "--k", "1"], "--k"),
    ("cluster", ["cluster", "{root}/t.parquet", "--out", "{root}/c", "--kind", "a", "--features", "b"], "--kind"),
    ("models", ["models", "--clip", "abc"], "--clip"),
    ("augment-preview", ["augment-preview", "{data}", "--out", "{root}/p.bmp"], ".png"),
    ("augment-preview", ["augment-preview", "{data}", "--out", "{root}/p.png", "--clips", "0"], "--clips"),
    ("plan", ["plan", "{data}", "--budget", "ten", "--out", "{root}/plan.yaml"], "not a duration"),
    ("plan", ["plan", "{data}", "--budget", "0s", "--out", "{root}/plan.yaml"], "between 10 s and 30 days"),
    ("plan", ["plan", "{root}/nothing", "--out", "{root}/plan.yaml"], "does not exist"),
    ("train", ["train", "{data}", "--out", "{root}/r", "--budget", "soon"], "--budget"),
    ("train", ["train", "{data}", "--out", "{root}/r", "--devices", "two"], "--devices"),
    ("train", ["train", "{data}", "--out", "{run}"], "--resume"),
    ("train", ["train", "{data}", "--out", "{root}/r", "--resume", "--overwrite"], "one of them"),
    ("train", ["train", "{data}", "--out", "{root}/r", "--set", "optim.lrr=1"], "did you mean 'optim.lr'"),
    ("train", ["train", "{data}", "--out", "{root}/r", "--epochs", "many"], "--epochs"),
    ("tune", ["tune", "{data}", "--out", "{root}/t"], "--trials"),
    ("tune", ["tune", "{data}", "--out", "{root}/t", "--budget", "1y"], "--budget"),
    ("tune", ["tune", "{data}", "--trials", "1", "--out", "{root}/t", "--set", "foo.bar=1"], "unknown config field"),
    ("weights", ["weights", "fetch", "no.such.weights"], "no.such.weights"),
    ("weights", ["weights", "import", "{root}/missing.pth", "--out", "{root}/w"], "missing.pth"),
    ("weights", ["weights", "list", "--bogus"], "No such option"),
    ("evaluate", ["evaluate", "{run}", "{data}"], "{model}"),
    ("evaluate", ["evaluate", "{model}", "{unlabelled}"], "no label"),
    ("evaluate", ["evaluate", "{model}", "{data}", "--set", "sampling.test_view=2"], "sampling.test_views"),
    ("evaluate", ["evaluate", "{model}", "{data}", "--set", "decode.fps=4"], "fixed by the trained model"),
    ("evaluate", ["evaluate", "{model}", "{data}", "--out", "{root}"], "no evaluation report"),
    ("predict", ["predict", "{model}", "{video}", "--out", "{root}/p.txt"], ".csv"),
    ("predict", ["predict", "{model}", "{video}", "--top-k", "0"], "--top-k"),
    ("predict", ["predict", "{model}", "{video}", "--set", "optim.lr=0.1"], "training setting"),
    ("predict", ["predict", "{base}", "{video}", "--set", "sampling.test_views=2"], "classical model"),
    ("export", ["export", "{base}", "--out", "{root}/m.onnx"], "already is ONNX"),
    ("export", ["export", "{model}", "--out", "{root}/m.txt"], ".onnx"),
    ("serve", ["serve", "{model}", "--port", "70000"], "--port"),
    ("serve", ["serve", "{root}/missing_model"], "does not exist"),
    ("serve", ["serve", "{model}", "--set", "sampling.test_view=1"], "did you mean"),
    ("demo", ["demo", "--out", "{file}"], "a_file"),
    ("demo", ["demo", "--bogus"], "No such option"),
    ("demo", ["demo", "--out", "{root}/d", "--budget", "soon"], "--budget"),
    ("(none)", ["trian"], "Did you mean 'train'"),
]


def _filled(args: list[str], world: dict[str, Path]) -> list[str]:
    return [a.format(**{k: str(v) for k, v in world.items()}) for a in args]


def _commands() -> set[str]:
    """Every command of the app, sub-commands as `weights fetch`."""
    import typer.main

    group = typer.main.get_command(app)
    names = set()
    for name, cmd in group.commands.items():
        subs = getattr(cmd, "commands", None)
        names |= {f"{name} {s}" for s in subs} if subs else {name}
    return names


def test_the_table_covers_every_command() -> None:
    covered = set()
    for _, args, _ in BAD:
        covered |= {" ".join(args[:2]) if args[0] == "weights" else args[0]}
    missing = _commands() - covered
    assert not missing, f"add bad-argument cases for {sorted(missing)}"


@pytest.mark.parametrize(("command", "args", "expected"), BAD, ids=[f"{c}:{' '.join(a[1:3])}" for c, a, _ in BAD])
def test_bad_arguments_get_one_line_and_exit_2(world: dict[str, Path], command: str, args: list[str], expected: str) -> None:
    res = CliRunner().invoke(app, _filled(args, world))
    lines = res.stderr.strip().splitlines()
    assert res.exit_code == 2, (res.exit_code, res.stdout, res.stderr, res.exception)
    assert "Traceback" not in res.output and len(lines) == 1 and lines[0].startswith("error: "), res.stderr
    assert expected.format(**{k: str(v) for k, v in world.items()}) in lines[0], lines[0]
    assert "=True" not in lines[0] and "None" not in lines[0]


@pytest.mark.parametrize("args", [["frames", "{video}", "--out", "{root}/f", "--fps", "0"], ["train", "{data}", "--out", "{root}/r", "--devices", "two"],
                                  ["no-such-command"]])
def test_python_dash_m_vidlearn_gives_the_same_one_line(world: dict[str, Path], args: list[str]) -> None:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "src")}
    res = subprocess.run([sys.executable, "-m", "vidlearn", *_filled(args, world)], capture_output=True, text=True, env=env, timeout=120)
    assert res.returncode == 2 and "Traceback" not in res.stderr
    assert len(res.stderr.strip().splitlines()) == 1 and res.stderr.startswith("error: "), res.stderr


def test_missing_optional_extras_name_the_pip_command(world: dict[str, Path], monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("fastapi", "uvicorn", "ray"):
        monkeypatch.setitem(sys.modules, name, None)  # as if not installed: find_spec answers None
    res = CliRunner().invoke(app, ["serve", str(world["model"])])
    assert res.exit_code == 2 and res.stderr.strip().endswith("pip install 'vidlearn[serve]'"), res.stderr
    res = CliRunner().invoke(app, ["predict", str(world["model"]), str(world["video"]), "--ray", "local"])
    assert res.exit_code == 2 and "pip install 'vidlearn[ray]'" in res.stderr and len(res.stderr.splitlines()) == 1


def test_help_lists_the_commands_in_pipeline_order_under_panels() -> None:
    res = CliRunner().invoke(app, ["-h"])
    assert res.exit_code == 0
    text = res.stdout
    panels = ["Data", "Features and baselines", "Deep models", "Evaluation", "Deployment", "Demo"]
    at = [text.index(f"─ {p} ") for p in panels]
    assert at == sorted(at)
    order = ["probe", "check", "frames", "demo-data", "features", "baseline", "cluster", "train", "evaluate", "predict",
             "export", "serve", "demo"]
    rows = [m.group(1) for m in re.finditer(r"^│ ([a-z][a-z-]+) ", text, re.M)]
    assert [r for r in rows if r in order] == order
    summary = " ".join(text.split("╭")[0].split())
    assert all(name in summary for name in {c.split()[0] for c in _commands()})
    assert "<bool>" not in text and "<bool>" not in CliRunner().invoke(app, ["cluster", "--help"]).stdout
    assert CliRunner().invoke(app, ["--version"]).stdout.startswith("vidlearn ")


def test_the_readme_command_section_matches_the_help() -> None:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Command line", 1)[1].split("\n## ", 1)[0]
    listed_there = set(re.findall(r"^vidlearn ([a-z][a-z-]*(?: (?:list|fetch|import))?)", section, re.M))
    listed_there = {n.split()[0] if not n.startswith("weights") else n for n in listed_there}
    want = {c if c.startswith("weights") else c.split()[0] for c in _commands()}
    assert listed_there == want


def test_demo_data_out_is_read_as_data_by_the_next_command(tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["demo-data", "--out", str(tmp_path / "d"), "--classes", "right,left",
                                   "--videos-per-class", "2", "--groups", "2"])
    assert res.exit_code == 0, res.output
    records = load_records(tmp_path / "d", group="group")  # the folder: through its manifest.csv
    assert sorted({r.target for r in records}) == ["left", "right"] and {r.group for r in records} == {"g0", "g1"}


def test_a_run_folder_is_continued_replaced_or_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    (run / "checkpoints").mkdir(parents=True)
    prepare_run_dir(run, resume=True, overwrite=False)
    assert run.is_dir()
    with pytest.raises(ConfigError, match="--resume to continue it or --overwrite"):
        prepare_run_dir(run, resume=False, overwrite=False)
    prepare_run_dir(run, resume=False, overwrite=True)
    assert not run.exists()
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "thesis.tex").write_text("mine")
    with pytest.raises(ConfigError, match="not a vidlearn run"):
        prepare_run_dir(mine, resume=False, overwrite=True)
    assert (mine / "thesis.tex").read_text() == "mine"


def test_evaluate_warns_about_training_videos_and_names_its_default_folder(world: dict[str, Path], tmp_path: Path,
                                                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    res = CliRunner().invoke(app, ["evaluate", str(world["model"]), str(world["data"]), "--quiet",
                                   "--set", "sampling.test_views=1"])
    assert res.exit_code == 0, res.output
    assert "warning: 2 of 4 video(s)" in res.stdout and "were used to train this model" in res.stdout
    assert "report: eval-d (the default --out" in res.stdout
    metrics = json.loads((tmp_path / "eval-d" / "metrics.json").read_text())
    assert metrics["video"]["n"] == 4


def test_prediction_settings_change_the_views_and_nothing_else(world: dict[str, Path], tmp_path: Path) -> None:
    model = load(world["model"], device="cpu")
    tuned = with_settings(model, overrides=["sampling.test_views=5"])
    assert tuned.config.sampling.test_views == 5 and model.config.sampling.test_views == 2
    assert len(tuned.sampler(2.0, None)) == 5 and tuned.training_videos == model.training_videos
    cfg = tmp_path / "c.yaml"
    cfg.write_text("sampling: {test_views: 3}\noptim: {lr: 0.5}\n")  # a training-only field of a file is ignored
    assert with_settings(model, cfg).config.sampling.test_views == 3
    res = CliRunner().invoke(app, ["predict", str(world["model"]), str(world["video"]), "--set", "sampling.test_views=1",
                                   "--out", str(tmp_path / "p.json"), "--quiet"])
    assert res.exit_code == 0, res.output
    assert len(json.loads((tmp_path / "p.json").read_text())["predictions"]) == 1


def test_features_refuses_a_suffix_it_would_not_write(world: dict[str, Path], tmp_path: Path) -> None:
    res = CliRunner().invoke(app, ["features", str(world["data"]), "--out", str(tmp_path / "x.txt")])
    assert res.exit_code == 2 and not (tmp_path / "x.txt").exists()


def test_long_lists_are_cut_one_way() -> None:
    assert listed(list("abcdefg"), 3) == "a, b, c ... and 4 more"
    assert listed(["x"], 3) == "x"
