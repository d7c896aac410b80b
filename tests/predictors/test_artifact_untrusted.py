"""Artifacts from untrusted files: the configuration, metadata and safetensors header are checked
against each other (on the meta device, no memory spent) before the model is built; each refusal
is one ArtifactError line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file, save_file

import vidlearn
from vidlearn.config import ExperimentConfig
from vidlearn.errors import ArtifactError
from vidlearn.models import build_model
from vidlearn.predictors.artifact import load_artifact, save_artifact

CLASSES = ["a", "b"]


@pytest.fixture()
def saved(tmp_path: Path) -> Path:
    torch.manual_seed(0)
    cfg = ExperimentConfig().override({"model.name": "r3d_tiny", "model.options": {"width": 8}, "task.classes": CLASSES})
    return save_artifact(tmp_path / "m", build_model("r3d_tiny", num_classes=2, width=8), cfg, CLASSES)


def _edit(path: Path, **changes: object) -> None:
    data = json.loads(path.read_text())
    for dotted, value in changes.items():
        *parents, last = dotted.split("__")
        node = data
        for key in parents:
            node = node[key]
        node[last] = value
    path.write_text(json.dumps(data))


def _meta_only_builds() -> tuple[list[str], object]:
    """A build_fn that records on which device each model is built."""
    devices: list[str] = []

    def build(name: str, **kwargs: object) -> torch.nn.Module:
        device = torch.empty(0).device.type  # the factory default: "meta" inside `with torch.device("meta")`
        devices.append(device)
        if device != "meta" and kwargs.get("width", 0) > 64:  # type: ignore[operator]
            raise AssertionError(f"a {kwargs} model was built for real before its shapes were checked")
        return build_model(name, **kwargs)  # type: ignore[arg-type]

    return devices, build


def test_a_wider_model_than_the_weights_is_refused_on_the_meta_device(saved: Path) -> None:
    _edit(saved / "config.json", model__options__width=4096)  # 7.7 GB of parameters if built
    devices, build = _meta_only_builds()
    art = load_artifact(saved)
    with pytest.raises(ArtifactError, match=r"weights do not match model 'r3d_tiny'.*another shape") as err:
        art.build_model(build)
    assert devices == ["meta"] and "\n" not in str(err.value)
    _edit(saved / "config.json", model__options__width=32)  # small enough to build even without the check
    with pytest.raises(ArtifactError, match="another shape"):
        vidlearn.load(saved)


def test_the_whole_path_still_builds_a_checked_model(saved: Path) -> None:
    devices, build = _meta_only_builds()
    model = load_artifact(saved).build_model(build)
    assert devices == ["meta", "cpu"]
    assert all(p.device.type == "cpu" for p in model.parameters())
    expected = load_file(str(saved / "model.safetensors"))
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())


@pytest.mark.parametrize(("changes", "match"), [
    ({"num_outputs": 10**12}, r"meta\.json: num_outputs 1000000000000 is more than the limit"),
    ({"num_outputs": 3}, r"meta\.json: 2 class name\(s\) for 3 outputs"),
    ({"num_outputs": "2"}, r"meta\.json: num_outputs must be a positive integer, got '2'"),
    ({"class_names": ["a"], "num_outputs": 2}, r"meta\.json: 1 class name\(s\) for 2 outputs"),
    ({"class_names": ["a", "a"]}, "class_names has duplicates"),
])
def test_outputs_that_disagree_with_the_classes_are_refused_when_loading(saved: Path, changes: dict, match: str) -> None:
    _edit(saved / "meta.json", **changes)
    with pytest.raises(ArtifactError, match=match):
        load_artifact(saved)


def test_an_option_of_the_wrong_type_is_one_line(saved: Path) -> None:
    _edit(saved / "config.json", model__options__width="16")
    with pytest.raises(ArtifactError, match=r"config\.json: model\.options\.width: r3d_tiny expects an integer, got '16' \(str\)"):
        vidlearn.load(saved)


def test_a_builder_that_fails_on_the_options_is_one_line(saved: Path) -> None:
    def build(name: str, **kwargs: object) -> torch.nn.Module:
        raise TypeError("'<' not supported between instances of 'str' and 'int'")

    with pytest.raises(ArtifactError, match=r"cannot build model 'r3d_tiny' with options \{'width': 8\}: TypeError"):
        load_artifact(saved).build_model(build)


def test_a_header_over_the_size_limit_is_refused_before_reading_data(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VIDLEARN_MAX_MODEL_ELEMENTS", "1000")
    read: list[str] = []
    import safetensors

    real = safetensors.safe_open

    class Spy:
        def __init__(self, *a: object, **k: object) -> None:
            self.inner = real(*a, **k)

        def __enter__(self) -> Spy:
            self.handle = self.inner.__enter__()
            return self

        def __exit__(self, *exc: object) -> None:
            self.inner.__exit__(*exc)

        def get_tensor(self, key: str) -> torch.Tensor:
            read.append(key)
            return self.handle.get_tensor(key)

        def __getattr__(self, name: str) -> object:
            return getattr(self.handle, name)

    import vidlearn.predictors.artifact as artifact_mod

    monkeypatch.setattr(artifact_mod, "safe_open", Spy)
    with pytest.raises(ArtifactError, match=r"model\.safetensors: holds .* tensor elements, more than the limit 1e\+03"):
        load_artifact(saved)
    assert read == []
    monkeypatch.setenv("VIDLEARN_MAX_MODEL_ELEMENTS", "lots")
    with pytest.raises(vidlearn.errors.ConfigError, match="VIDLEARN_MAX_MODEL_ELEMENTS"):
        load_artifact(saved)


def test_a_model_over_the_size_limit_is_refused_on_the_meta_device(saved: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    art = load_artifact(saved)
    monkeypatch.setenv("VIDLEARN_MAX_MODEL_ELEMENTS", "1000")
    devices, build = _meta_only_builds()
    with pytest.raises(ArtifactError, match=r"model 'r3d_tiny' .* would hold .* elements, more than the limit"):
        art.build_model(build)
    assert devices == ["meta"]


def test_a_tensor_of_another_dtype_is_refused(saved: Path) -> None:
    weights = load_file(str(saved / "model.safetensors"))
    key = next(k for k in weights if k.endswith("num_batches_tracked"))
    weights[key] = weights[key].float()
    first = next(k for k in weights if weights[k].is_floating_point() and k != key)
    weights[first] = weights[first].to(torch.int32)
    save_file(weights, str(saved / "model.safetensors"), metadata={"format": "pt"})
    with pytest.raises(ArtifactError, match=r"2 with another dtype .*: file int32 vs model float32"):
        load_artifact(saved).build_model()
    weights[first] = weights[first].to(torch.float16)  # float precision may differ: copied on load
    weights[key] = weights[key].long()
    save_file(weights, str(saved / "model.safetensors"), metadata={"format": "pt"})
    load_artifact(saved).build_model()


def test_single_file_artifacts_are_checked_too(saved: Path, tmp_path: Path) -> None:
    art = load_artifact(saved)
    single = save_artifact(tmp_path / "one", art.build_model(), art.config, CLASSES, single_file=True)
    from safetensors import safe_open

    with safe_open(str(single), framework="pt") as fh:
        metadata = dict(fh.metadata())
        tensors = {k: fh.get_tensor(k) for k in fh.keys()}
    meta = json.loads(metadata["vidlearn.meta"])
    metadata["vidlearn.meta"] = json.dumps({**meta, "class_names": ["a"]})
    save_file(tensors, str(single), metadata=metadata)
    with pytest.raises(ArtifactError, match=r"one\.vidlearn: 1 class name\(s\) for 2 outputs"):
        load_artifact(single)


def test_a_weights_option_in_the_saved_config_reads_no_other_file(saved: Path, tmp_path: Path) -> None:
    _edit(saved / "config.json", model__options__weights=str(tmp_path / "elsewhere" / "secret.pt"))
    model = load_artifact(saved).build_model()  # the artifact's own weights; the path is never opened
    expected = load_file(str(saved / "model.safetensors"))
    assert all(torch.equal(v, expected[k]) for k, v in model.state_dict().items())
