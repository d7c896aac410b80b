"""Checkpoints in every form users have them: read back exactly, loaded strictly, the head handled
explicitly. Real key layouts come from the parity fixtures (../shared/parity); tensors there are
zero-stride views, so even the 120 M-parameter layouts cost a few kilobytes on disk."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import pytest
import torch
from safetensors.torch import save_file
from torch import nn

from vidlearn.errors import ArtifactError, ConfigError
from vidlearn.models import build_model, list_models, load_pretrained, open_checkpoint, read_checkpoint, torchvision_state_dict
from vidlearn.models.checkpoints import guess_architecture

PARITY = Path(__file__).resolve().parents[2].parent / "shared" / "parity"


def _fixture(name: str) -> dict:
    path = PARITY / f"{name}.json"
    if not path.is_file():
        pytest.skip(f"parity fixture {path} not found (the shared parity folder is absent)")
    return json.loads(path.read_text())


def _weights_rule():
    path = PARITY / "weights.py"
    if not path.is_file():
        pytest.skip(f"{path} not found (the shared parity folder is absent)")
    spec = importlib.util.spec_from_file_location("parity_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # type: ignore[union-attr]
    return module


def _layout(fixture: dict) -> dict[str, torch.Tensor]:
    """The fixture's keys, shapes and dtypes as zero-stride tensors (tiny when saved with torch.save)."""
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    return {e["key"]: torch.zeros(1, dtype=dtypes[e.get("dtype", "float32")]).expand(e["shape"]) if e["shape"] else torch.zeros((), dtype=dtypes[e.get("dtype", "float32")]) for e in fixture["state_dict"]}


def _small(num_classes: int = 400, **options) -> nn.Module:
    torch.manual_seed(0)
    model = build_model("r3d_18", num_classes=num_classes, width=4, **options)
    with torch.no_grad():  # BatchNorm statistics away from their defaults, so a wrong load shows
        for m in model.modules():
            if isinstance(m, nn.BatchNorm3d):
                m.running_mean.uniform_(-0.1, 0.1)
                m.running_var.uniform_(0.5, 1.5)
    return model.eval()


def _out(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


# ---- forms --------------------------------------------------------------------------------


def _write(form: str, state: dict[str, torch.Tensor], tmp: Path, config: dict | None = None) -> Path:
    """Write `state` as a user would have it in `form`; returns the path to hand to the reader."""
    config = config or {"model_type": "test"}
    if form == "torchvision_pth":
        torch.save(state, tmp / "model.pth")
        return tmp / "model.pth"
    if form == "pytorchvideo_pyth":
        torch.save({"model_state": state, "epoch": 200, "optimizer_state": {"state": {}, "param_groups": []}}, tmp / "X.pyth")
        return tmp / "X.pyth"
    if form == "wrapped":
        torch.save({"state_dict": state, "epoch": 3, "best_acc": 0.5, "arch": "r3d_18"}, tmp / "ckpt.pt")
        return tmp / "ckpt.pt"
    if form == "nested_ddp":
        torch.save({"model": {"model_state_dict": {f"module.{k}": v for k, v in state.items()}}, "step": 7}, tmp / "ddp.pt")
        return tmp / "ddp.pt"
    if form == "lightning":
        torch.save(
            {
                "epoch": 1, "global_step": 10, "pytorch-lightning_version": "2.6.6",
                "state_dict": {**{f"model.{k}": v for k, v in state.items()}, "criterion.weight": torch.ones(3)},
                "loops": {}, "callbacks": {"ModelCheckpoint{'monitor': 'val_loss'}": {"best_model_score": torch.tensor(0.3)}},
                "optimizer_states": [{"state": {}, "param_groups": [{"lr": 0.1}]}], "lr_schedulers": [],
                "hparams_name": "kwargs", "hyper_parameters": {"lr": 0.1, "classes": ["a", "b"]},
            },
            tmp / "last.ckpt",
        )  # fmt: skip
        return tmp / "last.ckpt"
    if form in ("hf_safetensors", "hf_bin", "hf_sharded"):
        folder = tmp / "hf"
        folder.mkdir()
        (folder / "config.json").write_text(json.dumps(config))
        if form == "hf_bin":
            torch.save(state, folder / "pytorch_model.bin")
        elif form == "hf_safetensors":
            save_file({k: v.contiguous() for k, v in state.items()}, str(folder / "model.safetensors"), metadata={"format": "pt"})
        else:
            keys = list(state)
            shards = {"model-00001-of-00002.safetensors": keys[: len(keys) // 2], "model-00002-of-00002.safetensors": keys[len(keys) // 2:]}
            for shard, part in shards.items():
                save_file({k: state[k].contiguous() for k in part}, str(folder / shard))
            index = {"metadata": {}, "weight_map": {k: shard for shard, part in shards.items() for k in part}}
            (folder / "model.safetensors.index.json").write_text(json.dumps(index))
        return folder
    if form == "safetensors":
        save_file({k: v.contiguous() for k, v in state.items()}, str(tmp / "weights.safetensors"))
        return tmp / "weights.safetensors"
    raise AssertionError(form)


FORMS = {
    "torchvision_pth": "state_dict", "pytorchvideo_pyth": "pytorchvideo", "wrapped": "wrapped", "nested_ddp": "wrapped",
    "lightning": "lightning", "hf_safetensors": "huggingface", "hf_bin": "huggingface", "hf_sharded": "huggingface",
    "safetensors": "safetensors",
}  # fmt: skip


@pytest.mark.parametrize("form", sorted(FORMS))
def test_each_form_reads_back_exactly_and_loads(tmp_path: Path, form: str) -> None:
    source = _small()
    state = torchvision_state_dict(source)
    path = _write(form, state, tmp_path)
    ckpt = open_checkpoint(path)
    assert ckpt.format == FORMS[form]
    assert list(ckpt.state_dict) == list(state) or set(ckpt.state_dict) == set(state)  # safetensors sorts its keys
    for k, v in state.items():
        assert torch.equal(ckpt.state_dict[k], v), k
    if FORMS[form] == "huggingface":
        assert ckpt.config == {"model_type": "test"}
    assert set(read_checkpoint(path)) == set(state)

    target = build_model("r3d_18", num_classes=400, width=4, dropout=0.3)  # dropout: the head is fc.1.*
    report = load_pretrained(target, path)
    assert report.head == "loaded" and report.tensors == len(state) and report.format == FORMS[form]
    x = torch.randn(1, 3, 4, 32, 32, generator=torch.Generator().manual_seed(3))
    torch.testing.assert_close(_out(target, x), _out(source, x), rtol=0, atol=0)


@pytest.mark.parametrize("single_file", [False, True])
def test_vidlearn_artifacts_read_directly(tmp_path: Path, single_file: bool) -> None:
    from vidlearn.config import ExperimentConfig
    from vidlearn.predictors.artifact import save_artifact  # the real writer; the reader does not import it

    model = _small(num_classes=3, dropout=0.2)
    cfg = ExperimentConfig().override(["model.name=r3d_18", "model.options={width: 4, dropout: 0.2}"])
    path = save_artifact(tmp_path / "art", model, cfg, ["a", "b", "c"], single_file=single_file)
    ckpt = open_checkpoint(path)
    assert ckpt.format == "vidlearn" and ckpt.config["meta"]["class_names"] == ["a", "b", "c"]
    assert ckpt.config["config"]["model"]["name"] == "r3d_18"
    assert set(ckpt.state_dict) == set(model.state_dict())  # vidlearn names: fc.1.weight with dropout
    target = build_model("r3d_18", num_classes=3, width=4)  # no dropout: fc.weight
    assert load_pretrained(target, path).head == "loaded"
    x = torch.randn(1, 3, 4, 32, 32)
    torch.testing.assert_close(_out(target, x), _out(model, x), rtol=0, atol=0)


FIXTURE_FORMS = {
    "torchvision_r3d_18": "torchvision_pth", "torchvision_mc3_18": "torchvision_pth", "torchvision_r2plus1d_18": "wrapped",
    "torchvision_s3d": "torchvision_pth", "torchvision_mvit_v2_s": "nested_ddp", "torchvision_swin3d_t": "lightning",
    "pytorchvideo_x3d_xs": "pytorchvideo_pyth", "pytorchvideo_x3d_s": "pytorchvideo_pyth", "pytorchvideo_x3d_m": "pytorchvideo_pyth",
    "pytorchvideo_slow_r50": "pytorchvideo_pyth", "pytorchvideo_slowfast_r50": "pytorchvideo_pyth",
    "transformers_videomae_base": "hf_bin", "transformers_timesformer_base": "hf_bin",
}  # fmt: skip


@pytest.mark.parametrize("fixture_name", sorted(FIXTURE_FORMS))
def test_real_key_layouts_read_back_unchanged(tmp_path: Path, fixture_name: str) -> None:
    """Every reference's real key layout survives its checkpoint form: no key is stripped or lost
    (e.g. HF's `videomae.` prefix, PyTorchVideo's `blocks.5.proj`), shapes and dtypes intact."""
    fixture = _fixture(fixture_name)
    layout = _layout(fixture)
    path = _write(FIXTURE_FORMS[fixture_name], layout, tmp_path, fixture.get("hf_config"))
    ckpt = open_checkpoint(path)
    assert [(k, list(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in ckpt.state_dict.items()] == [
        (e["key"], e["shape"], e.get("dtype", "float32")) for e in fixture["state_dict"]
    ]
    if "hf_config" in fixture:
        assert ckpt.config == fixture["hf_config"]

    # once the architecture is in the zoo (reference-compatible models declare head_prefix), the
    # layout loads strictly into it, classifier included
    arch = fixture_name.split("_", 1)[1]
    if arch not in list_models():
        pytest.skip(f"{arch} is not registered in this build")
    with torch.device("meta"):
        model = build_model(arch, num_classes=400)
    if not hasattr(type(model), "head_prefix"):
        pytest.skip(f"the registered {arch} is not the reference-compatible one (no head_prefix)")
    report = load_pretrained(model, ckpt)
    assert report.head == "loaded" and report.tensors == len(layout)


def test_fixture_weights_through_a_torchvision_file_reproduce_the_reference(tmp_path: Path) -> None:
    """End to end: the reference's mc3_18 outputs from a .pth file via build_model(weights=...)."""
    fixture, rule = _fixture("torchvision_mc3_18"), _weights_rule()
    path = tmp_path / "mc3_18-a90a0ba3.pth"
    torch.save(rule.make_state_dict(fixture["state_dict"]), path)
    model = build_model("mc3_18", num_classes=400, weights=path).eval()
    assert model.weights_report.head == "loaded" and model.weights_report.tensors == len(fixture["state_dict"])
    out = _out(model, rule.make_input(fixture["input"]))
    ref = torch.tensor(fixture["output"]).reshape(fixture["output_shape"])
    tol = fixture["suggested_tolerance"]
    assert torch.allclose(out, ref, atol=tol["atol"], rtol=tol["rtol"]), (out - ref).abs().max()


# ---- strictness ---------------------------------------------------------------------------


def test_missing_extra_and_reshaped_keys_fail_naming_the_file(tmp_path: Path) -> None:
    state = torchvision_state_dict(_small())
    missing = tmp_path / "missing_one.pth"
    torch.save({k: v for k, v in state.items() if k != "layer1.0.conv1.0.weight"}, missing)
    with pytest.raises(ArtifactError, match=r"missing_one\.pth: does not match r3d_18: missing layer1\.0\.conv1\.0\.weight"):
        load_pretrained(build_model("r3d_18", num_classes=400, width=4), missing)
    extra = tmp_path / "extra.pth"
    torch.save({**state, "extra.weight": torch.zeros(2)}, extra)
    with pytest.raises(ArtifactError, match=r"extra\.pth: does not match r3d_18: unexpected extra\.weight"):
        load_pretrained(build_model("r3d_18", num_classes=400, width=4), extra)
    with pytest.raises(ArtifactError, match=r"stem\.0\.weight: checkpoint \(4, 3, 3, 7, 7\) vs model \(8, 3, 3, 7, 7\).*and \d+ more"):
        load_pretrained(build_model("r3d_18", num_classes=400, width=8), extra.with_name("missing_one.pth"))


def test_old_checkpoints_without_num_batches_tracked_load(tmp_path: Path) -> None:
    source = _small()
    path = tmp_path / "old.pth"
    torch.save({k: v for k, v in source.state_dict().items() if not k.endswith("num_batches_tracked")}, path)
    target = build_model("r3d_18", num_classes=400, width=4)
    assert load_pretrained(target, path).head == "loaded"
    x = torch.randn(1, 3, 4, 32, 32)
    torch.testing.assert_close(_out(target, x), _out(source, x), rtol=0, atol=0)


def test_another_architecture_is_refused_and_recognised(tmp_path: Path) -> None:
    mc3 = tmp_path / "mc3_18-a90a0ba3.pth"
    torch.save(_layout(_fixture("torchvision_mc3_18")), mc3)  # same key names as r3d_18, other shapes
    with torch.device("meta"):
        r3d = build_model("r3d_18", num_classes=400)
    with pytest.raises(ArtifactError, match=r"mc3_18-a90a0ba3\.pth: does not match r3d_18: .*look like a mc3_18 checkpoint"):
        load_pretrained(r3d, mc3)
    s3d = tmp_path / "s3d.pth"
    torch.save(_layout(_fixture("torchvision_s3d")), s3d)  # an architecture with other names altogether
    with pytest.raises(ArtifactError, match=r"s3d\.pth: does not match r3d_18: missing stem\.0\.weight.* and \d+ more"):
        load_pretrained(r3d, s3d)
    assert guess_architecture(_layout(_fixture("torchvision_r2plus1d_18")))[0] == "r2plus1d_18"


def test_unsafe_and_malformed_files_are_refused(tmp_path: Path) -> None:
    model = build_model("r3d_18", num_classes=400, width=4)
    pickled = tmp_path / "pickled.pth"
    torch.save({"model": nn.Linear(2, 2)}, pickled)
    with pytest.raises(ArtifactError, match=r"pickled\.pth: refused: .*Python objects.*torch\.nn\.modules\.linear\.Linear.*weights_only"):
        read_checkpoint(pickled)
    numbers = tmp_path / "numbers.pth"
    torch.save({"epoch": 3, "lr": 0.1}, numbers)
    with pytest.raises(ArtifactError, match=r"numbers\.pth: expected a state dict .*'epoch' \(int\)"):
        read_checkpoint(numbers)
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ArtifactError, match=r"junk\.pth: not a readable torch checkpoint"):
        load_pretrained(model, junk)
    with pytest.raises(ArtifactError, match=r"nothing\.pth: checkpoint file not found"):
        read_checkpoint(tmp_path / "nothing.pth")
    (tmp_path / "folder").mkdir()
    with pytest.raises(ArtifactError, match=r"folder: a folder without a checkpoint"):
        read_checkpoint(tmp_path / "folder")
    bad_st = tmp_path / "bad.safetensors"
    bad_st.write_bytes((20).to_bytes(8, "little") + b'{"a": 1, "x": [}   ')
    with pytest.raises(ArtifactError, match=r"bad\.safetensors"):
        read_checkpoint(bad_st)
    with pytest.raises(ConfigError, match="unknown weights 'r3d18.kinetics'; did you mean: r3d_18.kinetics400"):
        load_pretrained(model, "r3d18.kinetics")


# ---- the classifier -----------------------------------------------------------------------


def test_head_is_replaced_when_classes_differ_and_says_so(tmp_path: Path) -> None:
    source = _small()
    path = tmp_path / "k400.pth"
    torch.save(torchvision_state_dict(source), path)
    five = build_model("r3d_18", num_classes=5, width=4)
    before = five.fc.weight.clone()
    report = load_pretrained(five, path)
    assert report.head == "replaced" and report.skipped == ("fc.bias", "fc.weight")
    assert report.message.startswith("head replaced: checkpoint has 400 classes, the model 5")
    assert report.tensors == len(source.state_dict()) - 2
    torch.testing.assert_close(five.fc.weight, before)
    x = torch.randn(1, 3, 4, 32, 32)
    with torch.no_grad():
        torch.testing.assert_close(five.eval().forward_features(x), source.forward_features(x), rtol=0, atol=0)
    with pytest.raises(ArtifactError, match=r"k400\.pth: the checkpoint's classifier .*does not fit r3d_18's head"):
        load_pretrained(build_model("r3d_18", num_classes=5, width=4), path, head="load")

    same = build_model("r3d_18", num_classes=400, width=4)
    fresh = same.fc.weight.clone()
    assert load_pretrained(same, path, head="new").head == "replaced"
    torch.testing.assert_close(same.fc.weight, fresh)

    backbone_only = tmp_path / "backbone.pth"
    torch.save({k: v for k, v in source.state_dict().items() if not k.startswith("fc.")}, backbone_only)
    report = load_pretrained(build_model("r3d_18", num_classes=5, width=4), backbone_only)
    assert report.head == "kept" and report.message.startswith("head kept: the checkpoint has no classifier under fc")


class _Net(nn.Module):
    """A model whose classifier has two Linear layers, with or without a leading Dropout."""

    head_prefix = "classifier"

    def __init__(self, dropout: bool) -> None:
        super().__init__()
        self.trunk = nn.Linear(6, 4)
        layers = [nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 3)]
        self.classifier = nn.Sequential(*([nn.Dropout(0.5)] if dropout else []), *layers)

    @property
    def head(self) -> nn.Module:
        return self.classifier

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.classifier(self.trunk(x))


def test_multi_layer_heads_pair_in_natural_order_from_a_sorted_file(tmp_path: Path) -> None:
    torch.manual_seed(0)
    source = _Net(dropout=False).eval()
    path = tmp_path / "net.safetensors"  # safetensors stores keys sorted: classifier.0.bias first
    save_file(source.state_dict(), str(path))
    target = _Net(dropout=True).eval()  # classifier.1.* and classifier.3.*
    report = load_pretrained(target, path)
    assert report.head == "loaded" and report.tensors == 6
    x = torch.randn(2, 6)
    torch.testing.assert_close(target(x), source(x), rtol=0, atol=0)
    memory = load_pretrained(_Net(dropout=True), source.state_dict())  # an in-memory state dict
    assert memory.path is None and "<state dict>" in memory.message


def test_build_model_with_weights_path_and_missing_names(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = _small()
    path = tmp_path / "r3d.pth"
    torch.save(torchvision_state_dict(source), path)
    model = build_model("r3d_18", num_classes=7, width=4, weights=str(path))
    assert model.weights_report.head == "replaced" and model.fc.out_features == 7
    monkeypatch.setenv("VIDLEARN_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))  # no torch-hub copy either
    expected = tmp_path / "home" / "weights" / "r3d_18-b3b3357e.pth"
    with pytest.raises(ConfigError, match=rf"vidlearn weights fetch r3d_18\.kinetics400.*{expected}"):
        build_model("r3d_18", num_classes=400, weights="r3d_18.kinetics400")
    with pytest.raises(ConfigError, match="r3d_18.kinetics400 are weights for r3d_18, not mc3_18"):
        build_model("mc3_18", num_classes=400, weights="r3d_18.kinetics400")
    with pytest.raises(ConfigError, match="weights file not found"):
        build_model("r3d_18", num_classes=400, weights=str(tmp_path / "nope.pth"))
