"""Model artifacts: round trip, atomic replacement, no pickle, and a clear error for every bad input."""

from __future__ import annotations

import json
import os
import pickle
import shutil
import struct
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

import vidlearn.fsutil as fsutil_mod
import vidlearn.predictors.artifact as artifact_mod
from vidlearn.config import ExperimentConfig
from vidlearn.predictors.artifact import Artifact, load_artifact, save_artifact
from vidlearn.errors import ArtifactError, VidlearnError

CLASSES = ["walk", "run", "jump"]


class TinyVideoNet(nn.Module):
    """Conv3d + BatchNorm (buffers, an int64 counter) + a head whose weight is tied to an aux head."""

    def __init__(self, num_classes: int, width: int = 4) -> None:
        super().__init__()
        self.conv = nn.Conv3d(3, width, kernel_size=3, padding=1)
        self.bn = nn.BatchNorm3d(width)
        self.head = nn.Linear(width, num_classes)
        self.aux = nn.Linear(width, num_classes)
        self.aux.weight = self.head.weight  # tied

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        z = torch.relu(self.bn(self.conv(x))).mean(dim=(2, 3, 4))
        return self.head(z) + 0.5 * self.aux(z)


class OtherNet(nn.Module):
    def __init__(self, num_classes: int, **_: object) -> None:
        super().__init__()
        self.fc = nn.Linear(3, num_classes)


def build_tiny(name: str, *, num_classes: int, **options: object) -> nn.Module:
    assert name == "tiny"
    return TinyVideoNet(num_classes, **options)  # type: ignore[arg-type]


@pytest.fixture()
def config() -> ExperimentConfig:
    return ExperimentConfig().override(["model.name=tiny", "model.options={width: 4}", "sampling.num_frames=4"])


@pytest.fixture()
def trained() -> TinyVideoNet:
    torch.manual_seed(0)
    model = TinyVideoNet(len(CLASSES))
    model.train()
    with torch.no_grad():
        model(torch.randn(4, 3, 4, 8, 8))  # moves BatchNorm running stats away from defaults
    return model.eval()


@pytest.fixture()
def saved(tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig) -> Path:
    return save_artifact(tmp_path / "model", trained, config, CLASSES, metrics={"accuracy": 0.75})


def _clip() -> torch.Tensor:
    return torch.randn(2, 3, 4, 8, 8, generator=torch.Generator().manual_seed(1))


# ---- round trip ----------------------------------------------------------------------------


@pytest.mark.parametrize("single_file", [False, True])
def test_round_trip_gives_identical_outputs(
    tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig, single_file: bool
) -> None:
    path = save_artifact(tmp_path / "model", trained, config, CLASSES, metrics={"accuracy": 0.75}, single_file=single_file)
    assert path == (tmp_path / "model.vidlearn" if single_file else tmp_path / "model")
    art = load_artifact(path)
    assert isinstance(art, Artifact) and art.path == path
    assert art.class_names == CLASSES and art.task == "classification" and art.num_outputs == 3
    assert art.config.model.name == "tiny" and art.config.sampling.num_frames == 4
    assert art.config.task.classes == CLASSES  # the saved config is self-contained
    assert art.metrics == {"accuracy": 0.75}
    for key, value in trained.state_dict().items():
        assert art.state_dict[key].dtype == value.dtype
        assert torch.equal(art.state_dict[key], value), key

    rebuilt = art.build_model(build_tiny)
    assert not rebuilt.training
    assert rebuilt.aux.weight is rebuilt.head.weight  # tying comes from the architecture, still intact
    x = _clip()
    with torch.no_grad():
        assert torch.equal(rebuilt(x), trained(x))


def test_directory_layout_meta_and_extra_files(tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig) -> None:
    png = tmp_path / "confusion.png"
    png.write_bytes(b"\x89PNG\r\n\x1a\nfake")
    metrics_json = tmp_path / "metrics.json"
    metrics_json.write_text('{"accuracy": 0.75}')
    out = save_artifact(
        tmp_path / "runs" / "v1",
        trained,
        config,
        CLASSES,
        metrics={"accuracy": 0.75},
        extra_files={"confusion.png": png, "metrics.json": metrics_json},
    )
    assert sorted(p.name for p in out.iterdir()) == [
        "config.json",
        "confusion.png",
        "meta.json",
        "metrics.json",
        "model.safetensors",
    ]
    assert sorted(p.name for p in out.parent.iterdir()) == ["v1"]  # no temp dirs left beside it
    assert json.loads((out / "config.json").read_text())["model"] == {"name": "tiny", "options": {"width": 4}, "weights": None, "from_weights": []}
    meta = json.loads((out / "meta.json").read_text())
    assert meta["format"] == "vidlearn-model" and meta["format_version"] == 1
    assert meta["class_names"] == CLASSES and meta["task"] == "classification"
    assert meta["metrics"] == {"accuracy": 0.75}
    assert {"vidlearn", "torch", "python", "av"} <= set(meta["versions"])
    assert meta["versions"]["torch"] == torch.__version__
    assert "T" in meta["created"]
    assert meta["input"] == {
        "num_frames": 4,
        "crop_size": config.transform.crop_size,
        "fps": config.decode.fps,
        "short_side": config.decode.short_side,
        "mean": list(config.transform.mean),
        "std": list(config.transform.std),
        "layout": "BCTHW",
    }
    art = load_artifact(out)
    assert set(art.extra_files) == {"confusion.png", "metrics.json"}
    assert art.extra_files["confusion.png"].read_bytes() == png.read_bytes()
    # a file inside the directory loads the directory
    assert load_artifact(out / "model.safetensors").path == out


def test_save_rejects_inconsistent_input(tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig) -> None:
    with pytest.raises(ValueError, match="differ from config.task.classes"):
        save_artifact(tmp_path / "m", trained, config.override(["task.classes=[a, b, c]"]), CLASSES)
    with pytest.raises(ValueError, match="duplicates"):
        save_artifact(tmp_path / "m", trained, config, ["a", "a", "b"])
    with pytest.raises(ValueError, match="reserved"):
        save_artifact(tmp_path / "m", trained, config, CLASSES, extra_files={"meta.json": tmp_path})
    with pytest.raises(ArtifactError, match="does not exist"):
        save_artifact(tmp_path / "m", trained, config, CLASSES, extra_files={"x.png": tmp_path / "nope.png"})
    assert not (tmp_path / "m").exists()


# ---- atomicity -----------------------------------------------------------------------------


def _weights_of(path: Path) -> dict[str, torch.Tensor]:
    return load_artifact(path).state_dict


def _fresh_model() -> TinyVideoNet:
    torch.manual_seed(123)
    return TinyVideoNet(len(CLASSES))


def test_replacing_an_artifact_swaps_in_the_new_one(saved: Path, config: ExperimentConfig) -> None:
    new = _fresh_model()
    save_artifact(saved, new, config, CLASSES, metrics={"accuracy": 0.9})
    art = load_artifact(saved)
    assert art.metrics == {"accuracy": 0.9}
    assert torch.equal(art.state_dict["head.weight"], new.head.weight.detach())
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]


def test_failure_while_writing_leaves_the_old_artifact_intact(
    saved: Path, config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = _weights_of(saved)
    old_meta = (saved / "meta.json").read_text()

    def half_written(tensors: dict, filename: str, metadata: dict | None = None) -> None:
        Path(filename).write_bytes(b"\x00" * 10)  # some bytes, then the process "fails"
        raise OSError("disk full")

    monkeypatch.setattr(artifact_mod, "save_file", half_written)
    with pytest.raises(OSError, match="disk full"):
        save_artifact(saved, _fresh_model(), config, CLASSES, metrics={"accuracy": 0.1})
    assert (saved / "meta.json").read_text() == old_meta
    after = _weights_of(saved)
    assert all(torch.equal(after[k], v) for k, v in before.items())
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]  # temp dir cleaned up


@pytest.mark.parametrize("exchange", ["fails", "unsupported"])
def test_failure_while_swapping_leaves_the_old_artifact_intact(
    saved: Path, config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch, exchange: str
) -> None:
    old_meta = (saved / "meta.json").read_text()
    real_rename = os.rename

    def no_exchange(a: Path, b: Path) -> bool:
        if exchange == "fails":
            raise OSError("I/O error during rename")
        return False  # the fallback: move the old one aside, then rename the new one in

    def failing_rename(src: os.PathLike, dst: os.PathLike) -> None:
        if Path(src).name.endswith(".tmp") and Path(dst) == saved:
            raise OSError("I/O error during rename")
        real_rename(src, dst)

    monkeypatch.setattr(fsutil_mod, "exchange_paths", no_exchange)
    monkeypatch.setattr(fsutil_mod.os, "rename", failing_rename)
    with pytest.raises(OSError, match="I/O error"):
        save_artifact(saved, _fresh_model(), config, CLASSES, metrics={"accuracy": 0.1})
    monkeypatch.undo()
    assert (saved / "meta.json").read_text() == old_meta
    assert load_artifact(saved).metrics == {"accuracy": 0.75}
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]


def test_fallback_replacement_without_exchange(saved: Path, config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fsutil_mod, "exchange_paths", lambda a, b: False)
    save_artifact(saved, _fresh_model(), config, CLASSES, metrics={"accuracy": 0.9})
    assert load_artifact(saved).metrics == {"accuracy": 0.9}
    assert sorted(p.name for p in saved.parent.iterdir()) == ["model"]


def test_single_file_failure_leaves_the_old_file_intact(
    tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = save_artifact(tmp_path / "m.vidlearn", trained, config, CLASSES, single_file=True)
    old = path.read_bytes()

    def half_written(tensors: dict, filename: str, metadata: dict | None = None) -> None:
        Path(filename).write_bytes(old[: len(old) // 2])
        raise OSError("disk full")

    monkeypatch.setattr(artifact_mod, "save_file", half_written)
    with pytest.raises(OSError):
        save_artifact(path, _fresh_model(), config, CLASSES, single_file=True)
    assert path.read_bytes() == old
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m.vidlearn"]


def test_refuses_to_replace_a_folder_that_is_not_an_artifact(
    tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig
) -> None:
    user_dir = tmp_path / "project"
    user_dir.mkdir()
    (user_dir / "notes.txt").write_text("precious")
    with pytest.raises(ArtifactError, match="not a vidlearn model directory.*refusing"):
        save_artifact(user_dir, trained, config, CLASSES)
    assert (user_dir / "notes.txt").read_text() == "precious"
    (tmp_path / "afile").write_text("x")
    with pytest.raises(ArtifactError, match="not a directory"):
        save_artifact(tmp_path / "afile", trained, config, CLASSES)
    empty = tmp_path / "empty"
    empty.mkdir()
    assert load_artifact(save_artifact(empty, trained, config, CLASSES)).class_names == CLASSES


# ---- no pickle -----------------------------------------------------------------------------


def _check_safetensors_layout(path: Path) -> dict:
    data = path.read_bytes()
    (header_len,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + header_len])
    end = max(info["data_offsets"][1] for key, info in header.items() if key != "__metadata__")
    assert 8 + header_len + end == len(data)  # header + raw tensor bytes and nothing else
    return header


@pytest.mark.parametrize("single_file", [False, True])
def test_written_files_are_json_and_safetensors_only(
    tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig, single_file: bool
) -> None:
    path = save_artifact(tmp_path / "model", trained, config, CLASSES, metrics={"accuracy": 0.5}, single_file=single_file)
    files = [path] if single_file else sorted(path.iterdir())
    for f in files:
        raw = f.read_bytes()
        assert not raw.startswith((b"\x80", b"PK")), f"{f.name} looks like a pickle / torch zip"
        assert b"cnumpy" not in raw and b"ctorch" not in raw and b"torch._utils" not in raw
        if f.suffix == ".json":
            json.loads(raw)
        else:
            header = _check_safetensors_layout(f)
            assert set(header) - {"__metadata__"} == set(trained.state_dict())
            if single_file:
                meta = json.loads(header["__metadata__"]["vidlearn.meta"])
                assert meta["format"] == "vidlearn-model"
                assert json.loads(header["__metadata__"]["vidlearn.config"])["model"]["name"] == "tiny"


def test_loading_never_unpickles(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("pickle used while loading an artifact")

    for name in ("load", "loads", "Unpickler"):
        monkeypatch.setattr(pickle, name, forbidden)
    monkeypatch.setattr(torch, "load", forbidden)
    art = load_artifact(saved)
    art.build_model(build_tiny)


class _Boom:
    """Unpickling this runs os.mkdir(marker): a stand-in for malicious code in a pickle."""

    def __init__(self, marker: Path) -> None:
        self.marker = str(marker)

    def __reduce__(self):  # noqa: ANN204
        return (os.mkdir, (self.marker,))


@pytest.mark.parametrize("as_torch_save", [True, False], ids=["torch.save", "pickle"])
def test_pickle_disguised_as_safetensors_is_rejected_without_running_it(
    saved: Path, tmp_path: Path, as_torch_save: bool
) -> None:
    marker = tmp_path / "code_ran"
    weights = saved / "model.safetensors"
    if as_torch_save:
        torch.save({"state_dict": _Boom(marker)}, weights)
    else:
        weights.write_bytes(pickle.dumps({"state_dict": _Boom(marker)}))

    # the file really runs code when unpickled ...
    control = tmp_path / "control.pt"
    shutil.copyfile(weights, control)
    if as_torch_save:
        torch.load(control, weights_only=False)
    else:
        pickle.loads(control.read_bytes())
    assert marker.exists()
    marker.rmdir()

    # ... but loading it as an artifact does not
    with pytest.raises(ArtifactError, match="model.safetensors: not a valid safetensors file"):
        load_artifact(saved)
    assert not marker.exists()
    single = tmp_path / "evil.vidlearn"
    shutil.copyfile(control, single)
    with pytest.raises(ArtifactError, match="not a valid safetensors file"):
        load_artifact(single)
    assert not marker.exists()


# ---- errors --------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["config.json", "meta.json", "model.safetensors"])
def test_missing_file(saved: Path, name: str) -> None:
    (saved / name).unlink()
    with pytest.raises(ArtifactError, match=f"missing {name}") as err:
        load_artifact(saved)
    assert err.value.path == str(saved)
    assert isinstance(err.value, VidlearnError)


def test_missing_path_and_empty_directory(tmp_path: Path) -> None:
    with pytest.raises(ArtifactError, match="does not exist"):
        load_artifact(tmp_path / "nowhere")
    with pytest.raises(ArtifactError, match="missing config.json, meta.json, model.safetensors"):
        load_artifact(tmp_path)


@pytest.mark.parametrize(
    "content",
    [b"", b"hello, this is not a model", struct.pack("<Q", 10**12) + b"{}", struct.pack("<Q", 4) + b"{bad"],
    ids=["empty", "text", "huge-header", "bad-header"],
)
def test_weights_file_that_is_not_safetensors(saved: Path, content: bytes) -> None:
    (saved / "model.safetensors").write_bytes(content)
    with pytest.raises(ArtifactError, match="not a valid safetensors file") as err:
        load_artifact(saved)
    assert err.value.path == str(saved / "model.safetensors")


def test_truncated_weights(saved: Path) -> None:
    f = saved / "model.safetensors"
    f.write_bytes(f.read_bytes()[:-16])
    with pytest.raises(ArtifactError, match="not a valid safetensors file"):
        load_artifact(saved)


def _edit_meta(saved: Path, **changes: object) -> None:
    meta = json.loads((saved / "meta.json").read_text())
    meta.update(changes)
    (saved / "meta.json").write_text(json.dumps(meta))


def test_foreign_format(saved: Path) -> None:
    _edit_meta(saved, format="some-other-tool")
    with pytest.raises(ArtifactError, match="format is 'some-other-tool', expected 'vidlearn-model'") as err:
        load_artifact(saved)
    assert err.value.path == str(saved / "meta.json")


def test_newer_format_version(saved: Path) -> None:
    _edit_meta(saved, format_version=2)
    with pytest.raises(ArtifactError, match="format_version 2 is newer.*upgrade vidlearn"):
        load_artifact(saved)


@pytest.mark.parametrize(
    "changes, match",
    [
        ({"format_version": "1"}, "format_version must be a positive integer"),
        ({"class_names": "walk,run"}, "class_names must be a list of strings"),
        ({"task": "segmentation"}, "task must be"),
    ],
)
def test_invalid_meta_fields(saved: Path, changes: dict, match: str) -> None:
    _edit_meta(saved, **changes)
    with pytest.raises(ArtifactError, match=match):
        load_artifact(saved)


@pytest.mark.parametrize("name", ["meta.json", "config.json"])
def test_corrupt_json(saved: Path, name: str) -> None:
    (saved / name).write_text('{"format": "vidlearn-model", ')
    with pytest.raises(ArtifactError, match="not valid JSON") as err:
        load_artifact(saved)
    assert err.value.path == str(saved / name)
    (saved / name).write_bytes(b"\xff\xfe\x00garbage")
    with pytest.raises(ArtifactError, match="not UTF-8|not valid JSON"):
        load_artifact(saved)


def test_meta_that_is_not_an_object(saved: Path) -> None:
    (saved / "meta.json").write_text("[1, 2]")
    with pytest.raises(ArtifactError, match="must be a JSON object"):
        load_artifact(saved)


def test_invalid_config(saved: Path) -> None:
    cfg = json.loads((saved / "config.json").read_text())
    cfg["sampling"]["num_frames"] = 0
    cfg["bogus_section"] = {}
    (saved / "config.json").write_text(json.dumps(cfg))
    with pytest.raises(ArtifactError, match="invalid configuration") as err:
        load_artifact(saved)
    assert "sampling.num_frames" in str(err.value) and "bogus_section" in str(err.value)


def test_weights_that_do_not_match_the_architecture(saved: Path) -> None:
    art = load_artifact(saved)
    with pytest.raises(ArtifactError, match=r"weights do not match model 'tiny'.*another shape.*conv.weight"):
        art.build_model(lambda name, num_classes, **o: TinyVideoNet(num_classes, width=6))
    with pytest.raises(ArtifactError, match=r"missing in the file \(fc.weight, fc.bias\).*unexpected in the file"):
        art.build_model(lambda name, num_classes, **o: OtherNet(num_classes))
    with pytest.raises(ArtifactError, match=r"head.weight: file \(3, 4\) vs model \(5, 4\)"):
        art.build_model(lambda name, num_classes, **o: TinyVideoNet(5, **o))


def test_single_file_errors(tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig) -> None:
    plain = tmp_path / "weights.safetensors"
    save_file({"w": torch.ones(2)}, str(plain))
    with pytest.raises(ArtifactError, match="without vidlearn metadata"):
        load_artifact(plain)

    path = save_artifact(tmp_path / "m", trained, config, CLASSES, single_file=True)
    tensors = {k: v.contiguous() for k, v in load_artifact(path).state_dict.items()}
    header_meta = _check_safetensors_layout(path)["__metadata__"]
    meta, cfg_text = json.loads(header_meta["vidlearn.meta"]), header_meta["vidlearn.config"]

    newer = tmp_path / "newer.vidlearn"
    save_file(tensors, str(newer), metadata={"vidlearn.meta": json.dumps({**meta, "format_version": 9}), "vidlearn.config": cfg_text})
    with pytest.raises(ArtifactError, match="format_version 9 is newer"):
        load_artifact(newer)

    broken = tmp_path / "broken.vidlearn"
    save_file(tensors, str(broken), metadata={"vidlearn.meta": "{not json", "vidlearn.config": cfg_text})
    with pytest.raises(ArtifactError, match="metadata 'vidlearn.meta' is not valid JSON"):
        load_artifact(broken)

    with pytest.raises(ValueError, match="extra_files need the directory form"):
        save_artifact(tmp_path / "x", trained, config, CLASSES, single_file=True, extra_files={"a.png": plain})


def test_artifact_copied_elsewhere_still_loads(saved: Path, tmp_path: Path) -> None:
    moved = tmp_path / "elsewhere" / "copy"
    shutil.copytree(saved, moved)
    assert load_artifact(moved).class_names == CLASSES


def test_regression_artifact_has_one_output(tmp_path: Path, config: ExperimentConfig) -> None:
    cfg = config.override(["task.kind=regression"])
    torch.manual_seed(0)
    model = TinyVideoNet(1).eval()
    art = load_artifact(save_artifact(tmp_path / "reg", model, cfg, [], metrics={"mae": 0.3}))
    assert art.task == "regression" and art.class_names == [] and art.num_outputs == 1
    rebuilt = art.build_model(build_tiny)
    x = _clip()
    with torch.no_grad():
        assert torch.equal(rebuilt(x), model(x))


def test_vidlearn_load_gives_a_predictor_and_rejects_foreign_files(tmp_path) -> None:
    import vidlearn
    from vidlearn.config import ExperimentConfig
    from vidlearn.predictors.artifact import save_artifact
    from vidlearn.errors import ArtifactError
    from vidlearn.models import build_model

    cfg = ExperimentConfig().override({"model.name": "r3d_tiny", "task.classes": ["a", "b"]})
    model = build_model("r3d_tiny", num_classes=2)
    save_artifact(tmp_path / "m", model, cfg, ["a", "b"])
    predictor = vidlearn.load(tmp_path / "m")
    assert predictor.class_names == ["a", "b"] and predictor.config.model.name == "r3d_tiny"
    (tmp_path / "junk.vidlearn").write_bytes(b"\x80\x04not safetensors")
    with pytest.raises(ArtifactError):
        vidlearn.load(tmp_path / "junk.vidlearn")


@pytest.mark.parametrize("umask", [0o022, 0o077])
def test_saved_artifacts_get_the_usual_file_modes(tmp_path: Path, trained: TinyVideoNet, config: ExperimentConfig, umask: int) -> None:
    import stat

    extra = tmp_path / "notes.txt"
    extra.write_text("x")
    os.chmod(extra, 0o600)
    old = os.umask(umask)
    try:
        folder = save_artifact(tmp_path / "model", trained, config, CLASSES, extra_files={"notes.txt": extra})
        single = save_artifact(tmp_path / "one", trained, config, CLASSES, single_file=True)
    finally:
        os.umask(old)
    file_mode, dir_mode = 0o666 & ~umask, 0o777 & ~umask
    assert stat.S_IMODE(folder.stat().st_mode) == dir_mode
    assert {p.name: stat.S_IMODE(p.stat().st_mode) for p in folder.iterdir()} == dict.fromkeys(
        ["config.json", "meta.json", "model.safetensors", "notes.txt"], file_mode)
    assert stat.S_IMODE(single.stat().st_mode) == file_mode
