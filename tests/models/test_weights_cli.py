"""`vidlearn weights list | fetch | import` and `--weights` on predict/evaluate, with stand-in
checkpoints (seeded, made from the architecture's own state dict) under a temporary $VIDLEARN_HOME.
Downloads go to a local HTTP server on 127.0.0.1 only."""

from __future__ import annotations

import dataclasses
import hashlib
import socket
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.models import build_model, torchvision_state_dict
from vidlearn.models import weights as catalogue
from vidlearn.models.download import weights_path
from vidlearn.models.weights import WeightsFile, get_weights, kinetics400_classes
from vidlearn.predictors.artifact import load_artifact


def _download_tests():  # the local HTTP server of test_download.py (tests are not a package: --import-mode=importlib)
    import importlib.util

    spec = importlib.util.spec_from_file_location("_vidlearn_download_tests", Path(__file__).with_name("test_download.py"))
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


Server = _download_tests().Server


@pytest.fixture
def home(tmp_path: Path, monkeypatch) -> Path:
    monkeypatch.setenv("VIDLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no real hub cache is used
    return tmp_path / "home"


def _invoke(*args: str):
    return CliRunner().invoke(app, list(args), catch_exceptions=False)


def stand_in(arch: str, seed: int = 0) -> dict[str, torch.Tensor]:
    """A checkpoint-shaped state dict for `arch` (400 classes): its own keys, seeded values."""
    torch.manual_seed(seed)
    return build_model(arch, num_classes=400).state_dict()


def put_stand_in(name: str, seed: int = 0) -> Path:
    """Write a stand-in checkpoint where the cache expects catalogue entry `name`, in the
    publisher's form (torchvision: a plain state dict; PyTorchVideo: {"model_state": ...})."""
    entry = get_weights(name)
    target = weights_path(entry)
    target.parent.mkdir(parents=True, exist_ok=True)
    if entry.files[0].url.startswith("https://download.pytorch.org"):
        torch.manual_seed(seed)
        torch.save(torchvision_state_dict(build_model(entry.architecture, num_classes=400)), target)
    else:
        torch.save({"model_state": stand_in(entry.architecture, seed)}, target)
    return target


def test_list_shows_the_catalogue_and_what_is_cached(home: Path) -> None:
    put_stand_in("x3d_xs.kinetics400")
    out = _invoke("weights", "list").output
    lines = {line.split()[0]: line for line in out.splitlines() if line.split() and ".kinetics400" in line.split()[0]}
    assert set(lines) == {e.name for e in catalogue.list_weights()}
    assert lines["x3d_xs.kinetics400"].endswith("yes") and lines["r3d_18.kinetics400"].endswith("no")
    assert "16x112" in lines["r3d_18.kinetics400"] and "63.2" in lines["r3d_18.kinetics400"] and " 400 " in lines["r3d_18.kinetics400"]
    assert str(home / "weights") in out


@pytest.fixture
def served(home: Path, monkeypatch):
    """x3d_xs.kinetics400 served from 127.0.0.1 (its URL and checksum replaced in the catalogue)."""
    server = Server()
    server.thread.start()
    data = b"stand-in weights " * 50_000
    entry = get_weights("x3d_xs.kinetics400")
    local = dataclasses.replace(entry, files=(WeightsFile(f"{server.url}/X3D_XS.pyth", "X3D_XS.pyth", hashlib.sha256(data).hexdigest()),))
    server.files["X3D_XS.pyth"] = data
    monkeypatch.setitem(catalogue._BY_NAME, entry.name, local)
    monkeypatch.setattr(catalogue, "_ENTRIES", tuple(local if e.name == entry.name else e for e in catalogue._ENTRIES))
    yield server, data
    server.httpd.shutdown()


def test_fetch_downloads_resumes_and_verifies(served, home: Path) -> None:
    server, data = served
    server.drop_after["X3D_XS.pyth"] = 300_000  # the first response breaks off: resumed with a Range request
    result = _invoke("weights", "fetch", "x3d_xs.kinetics400", "--quiet")
    assert result.exit_code == 0, result.output
    target = home / "weights" / "X3D_XS.pyth"
    assert target.read_bytes() == data and str(target) in result.output
    assert any(rng for _, rng in server.requests)
    assert _invoke("weights", "fetch", "x3d_xs.kinetics400", "--quiet").exit_code == 0  # cached: no new request
    assert len(server.requests) == 2


def test_fetch_offline_fails_at_once_naming_where_to_put_the_file(home: Path, monkeypatch) -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    entry = get_weights("r3d_18.kinetics400")
    local = dataclasses.replace(entry, files=(dataclasses.replace(entry.files[0], url=f"http://127.0.0.1:{port}/r3d_18-b3b3357e.pth"),))
    monkeypatch.setitem(catalogue._BY_NAME, entry.name, local)
    result = CliRunner().invoke(app, ["weights", "fetch", "r3d_18.kinetics400", "--quiet"])
    assert result.exit_code == 2
    assert "cannot download" in result.output and str(home / "weights" / "r3d_18-b3b3357e.pth") in result.output
    assert "Traceback" not in result.output


def test_predict_with_missing_weights_says_how_to_get_them(home: Path) -> None:
    result = CliRunner().invoke(app, ["predict", "--weights", "x3d_xs.kinetics400", "video.mp4"])
    assert result.exit_code == 2
    assert "vidlearn weights fetch x3d_xs.kinetics400" in result.output and str(home / "weights" / "X3D_XS.pyth") in result.output


def test_import_checks_strictly_and_writes_an_artifact(home: Path, tmp_path: Path) -> None:
    ckpt = put_stand_in("x3d_xs.kinetics400", seed=1)
    out = tmp_path / "x3d_model"
    result = _invoke("weights", "import", str(ckpt), "--out", str(out))
    assert result.exit_code == 0, result.output
    assert "head included (400 classes)" in result.output
    art = load_artifact(out)
    assert art.class_names == list(kinetics400_classes())
    pre = get_weights("x3d_xs.kinetics400").preprocessing
    assert (art.config.sampling.num_frames, art.config.transform.crop_size, art.config.transform.mean) == (pre.num_frames, pre.crop_size, pre.mean)
    assert "transform.mean" in art.config.model.from_weights
    saved = torch.load(ckpt, weights_only=True)["model_state"]
    assert all(torch.equal(saved[k], art.state_dict[k]) for k in saved)
    # any other file: the architecture and the classes must be given, and it must fit them
    other = tmp_path / "mine.pth"
    torch.save(stand_in("r3d_18"), other)
    bad = CliRunner().invoke(app, ["weights", "import", str(other), "--out", str(tmp_path / "m2")])
    assert bad.exit_code == 2 and "give it with --model" in bad.output
    classes = tmp_path / "classes.txt"
    classes.write_text("\n".join(f"c{i}" for i in range(400)))
    bad = CliRunner().invoke(app, ["weights", "import", str(other), "--model", "mc3_18", "--classes", str(classes), "--out", str(tmp_path / "m3")])
    assert bad.exit_code == 2 and "mine.pth: does not match mc3_18" in bad.output and "Traceback" not in bad.output
    classes.write_text("a\nb\n")
    bad = CliRunner().invoke(app, ["weights", "import", str(other), "--model", "r3d_18", "--classes", str(classes), "--out", str(tmp_path / "m4")])
    assert bad.exit_code == 2 and "classifier" in bad.output and "does not fit" in bad.output


def test_predict_with_kinetics_weights_prints_a_kinetics_class(home: Path, clips_dir: Path, tmp_path: Path) -> None:
    """No training: stand-in r3d_18 weights at the catalogue's expected path, a real clip, and
    the answer is one of the 400 Kinetics names from the catalogue (the r3d_18 preprocessing:
    16 frames at 15 fps, 112 px crops)."""
    put_stand_in("r3d_18.kinetics400", seed=2)
    clip = next(iter(sorted(clips_dir.glob("*.mp4"))))
    result = _invoke("predict", "--weights", "r3d_18.kinetics400", str(clip), "--top-k", "3", "--out", str(tmp_path / "p.csv"))
    assert result.exit_code == 0, result.output
    line = next(line for line in result.output.splitlines() if line.startswith(str(clip)))
    names = [part.rsplit(" ", 1)[0] for part in line.split(": ", 1)[1].split(", ")]
    assert len(names) == 3 and set(names) <= set(kinetics400_classes())
    # the same model by its catalogue name in MODEL's place
    again = _invoke("predict", "r3d_18.kinetics400", str(clip), "--top-k", "3")
    assert line in again.output
