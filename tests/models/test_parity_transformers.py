"""videomae_base and timesformer_base against Hugging Face transformers 5.23 (VideoMAE /
TimeSformer ForVideoClassification): state-dict layout, from_hf_config, recorded outputs, MACs, ONNX.

The reference outputs come from the parity fixtures beside the repo (../shared/parity, see its
README.md); tests that need them skip when that folder is absent. transformers itself is never
imported here. The full-size forward passes (a few seconds each even on 2 threads) are `slow`.
"""

from __future__ import annotations

import copy
import importlib.util
import io
import json
import math
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

from vidlearn.errors import ConfigError
from vidlearn.models import build_model, from_hf_config, model_info, reset_head
from vidlearn.models.videomae import sinusoid_table

PARITY = Path(__file__).resolve().parents[2].parent / "shared" / "parity"
FIXTURES = {"videomae_base": "transformers_videomae_base", "timesformer_base": "transformers_timesformer_base"}
# same code, test size: 2 layers of width 32 on 4 x 32 x 32 clips
TINY = {
    "num_frames": 4,
    "image_size": 32,
    "patch_size": 8,
    "hidden_size": 32,
    "num_hidden_layers": 2,
    "num_attention_heads": 4,
    "intermediate_size": 64,
}


def _fixture(name: str) -> dict:
    path = PARITY / f"{FIXTURES[name]}.json"
    if not path.is_file():
        pytest.skip(f"parity fixture {path} is absent (the shared/parity folder beside the repo)")
    return json.loads(path.read_text())


def _weights() -> ModuleType:
    path = PARITY / "weights.py"
    if not path.is_file():
        pytest.skip(f"{path} is absent (the shared/parity folder beside the repo)")
    spec = importlib.util.spec_from_file_location("parity_weights", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _tiny(name: str, num_classes: int = 3, **options) -> nn.Module:
    """A test-size model with every parameter re-drawn (seeded) at order-one scale."""
    torch.manual_seed(0)
    model = build_model(name, num_classes=num_classes, **{**TINY, **options})
    g = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for key, p in model.named_parameters():
            if p.ndim == 1 and key.endswith("weight"):
                p.copy_(0.5 + torch.rand(p.shape, generator=g))
            elif p.ndim == 1:
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
            else:
                p.copy_(torch.randn(p.shape, generator=g) / math.sqrt(math.prod(p.shape[1:])))
    return model.eval()


def _clip(batch: int = 2) -> torch.Tensor:
    return torch.randn(batch, 3, TINY["num_frames"], TINY["image_size"], TINY["image_size"], generator=torch.Generator().manual_seed(2))


def _layout(model: nn.Module) -> dict[str, tuple[tuple[int, ...], str]]:
    return {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}


# --- state-dict layout and from_hf_config (fast: built on the meta device) ---------------------------


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_state_dict_keys_shapes_and_dtypes_are_the_references(name: str) -> None:
    fixture = _fixture(name)
    expected = {e["key"]: (tuple(e["shape"]), e.get("dtype", "float32")) for e in fixture["state_dict"]}
    with torch.device("meta"):
        model = build_model(name, num_classes=fixture["output_shape"][1])
    ours = _layout(model)
    assert sorted(set(expected) - set(ours)) == [], "keys the reference has and we lack"
    assert sorted(set(ours) - set(expected)) == [], "keys we have and the reference lacks"
    assert ours == expected
    assert list(ours) == list(expected)  # even the order
    assert sum(p.numel() for p in model.parameters()) == fixture["num_parameters"]
    assert type(model).head_prefix == "classifier" and model.head is model.classifier


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_from_hf_config_builds_the_fixture_model(name: str) -> None:
    fixture = _fixture(name)
    config = fixture["hf_config"]
    with torch.device("meta"):
        model = from_hf_config(config)
    assert model.model_name == name
    assert {k: list(s) for k, (s, _) in _layout(model).items()} == {e["key"]: e["shape"] for e in fixture["state_dict"]}
    assert model.id2label == {int(k): v for k, v in config["id2label"].items()}
    assert model.input_size == (config["num_frames"], config["image_size"], config["image_size"])


def _videomae_config(**changes) -> dict:
    base = {"model_type": "videomae", "hidden_size": 32, "num_hidden_layers": 1, "num_attention_heads": 4, "intermediate_size": 64,
            "image_size": 32, "patch_size": 8, "num_frames": 4, "tubelet_size": 2, "id2label": {"0": "a", "1": "b"}}  # fmt: skip
    return {**base, **changes}


def test_from_hf_config_maps_fields_to_options() -> None:
    model = from_hf_config(_videomae_config(qkv_bias=False, use_mean_pooling=False, layer_norm_eps=1e-6))  # pre-5 name
    keys = model.state_dict()
    assert "videomae.encoder.layer.0.attention.attention.query.bias" not in keys
    assert "fc_norm.weight" not in keys and "videomae.layernorm.weight" in keys
    assert model.videomae.layernorm.eps == 1e-6 and model.head.out_features == 2
    tsf = from_hf_config({"model_type": "timesformer", "num_frames": 2, "image_size": [32, 32], "patch_size": 16, "hidden_size": 16,
                          "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32, "num_labels": 5})  # fmt: skip
    assert tsf.model_name == "timesformer_base" and tsf.id2label is None and tsf.head.out_features == 5
    assert tsf(torch.randn(1, 3, 2, 32, 32)).shape == (1, 5)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"model_type": "vivit"}, "model_type"),
        ({"model_type": None}, "model_type"),
        ({"num_channels": 1}, "num_channels"),
        ({"hidden_act": "relu"}, "hidden_act"),
        ({"hidden_dropout_prob": 0.1}, "hidden_dropout_prob"),
        ({"attention_probs_dropout_prob": 0.1}, "attention_probs_dropout_prob"),
        ({"image_size": [32, 48]}, "image_size"),
        ({"patch_size": 0}, "patch_size"),
        ({"num_labels": 3}, "num_labels"),
        ({"id2label": {"0": "a", "2": "b"}}, "id2label"),
        ({"num_attention_heads": 5}, "num_attention_heads"),
    ],
)
def test_from_hf_config_rejects_unsupported_fields_naming_them(changes: dict, field: str) -> None:
    with pytest.raises(ConfigError, match=field):
        from_hf_config(_videomae_config(**changes))


def test_from_hf_config_rejects_timesformer_attention_types_it_does_not_implement() -> None:
    config = {"model_type": "timesformer", "attention_type": "space_only", "num_labels": 2}
    with pytest.raises(ConfigError, match="attention_type"):
        from_hf_config(config)
    with pytest.raises(ConfigError, match="drop_path_rate"):
        from_hf_config({**config, "attention_type": "divided_space_time", "drop_path_rate": 0.1})
    with pytest.raises(ConfigError, match="config.json mapping"):
        from_hf_config([("model_type", "timesformer")])  # type: ignore[arg-type]


# --- behaviour of the test-size models (same code) ---------------------------------------------------


def test_sinusoid_table_is_vaswanis_formula() -> None:
    table = sinusoid_table(50, 8)
    assert table.shape == (1, 50, 8) and table.dtype == torch.float32
    table = table[0].double()
    p = torch.arange(50, dtype=torch.float64)
    for j in range(4):
        angle = p / 10000 ** (2 * j / 8)
        torch.testing.assert_close(table[:, 2 * j], torch.sin(angle).float().double())
        torch.testing.assert_close(table[:, 2 * j + 1], torch.cos(angle).float().double())
    assert "videomae.embeddings.position_embeddings" not in build_model("videomae_base", num_classes=2, **TINY).state_dict()


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_contract_head_alias_and_features(name: str) -> None:
    model = _tiny(name)
    x = _clip()
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, TINY["hidden_size"]) == (2, model.num_features)
        torch.testing.assert_close(model(x), model.classifier(feats))
        assert model(x).std() > 0.1  # order-one logits: the comparisons here mean something
        model.head = nn.Linear(model.num_features, 7)
        assert model.classifier is model.head and model(x).shape == (2, 7)
        assert set(model.state_dict()) >= {"classifier.weight", "classifier.bias"}
        reset_head(model, 4, dropout=0.3).eval()
        assert isinstance(model.classifier, nn.Sequential) and model(x).shape == (2, 4)
        # a clip's prediction does not depend on the rest of its batch
        torch.testing.assert_close(model(x)[1:], model(x[1:]), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("name", sorted(FIXTURES))
@pytest.mark.parametrize("shape", [(1, 3, 2, 32, 32), (1, 3, 4, 32, 48), (1, 1, 4, 32, 32), (1, 4, 3, 32, 32)])
def test_a_clip_of_another_size_is_a_clear_error(name: str, shape: tuple[int, ...]) -> None:
    model = _tiny(name)
    with pytest.raises(ValueError, match=r"built for clips of 3x4x32x32"):
        model(torch.randn(shape))


def test_checkpoints_with_pre_5_videomae_bias_names_load_strictly() -> None:
    model = _tiny("videomae_base")
    legacy = {k.replace("attention.query.bias", "attention.q_bias").replace("attention.value.bias", "attention.v_bias"): v
              for k, v in model.state_dict().items()}  # fmt: skip
    assert any(k.endswith("q_bias") for k in legacy) and not any(k.endswith("query.bias") for k in legacy)
    fresh = build_model("videomae_base", num_classes=3, **TINY).eval()
    fresh.load_state_dict(legacy, strict=True)
    x = _clip()
    with torch.no_grad():
        torch.testing.assert_close(fresh(x), model(x), rtol=0, atol=0)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_a_wrong_checkpoint_fails_loudly(name: str) -> None:
    model = _tiny(name)
    state = model.state_dict()
    other = _tiny("timesformer_base" if name == "videomae_base" else "videomae_base").state_dict()
    with pytest.raises(RuntimeError, match="Missing key"):
        copy.deepcopy(model).load_state_dict(other, strict=True)
    wrong_classes = {**state, "classifier.weight": torch.zeros(5, TINY["hidden_size"]), "classifier.bias": torch.zeros(5)}
    with pytest.raises(RuntimeError, match="size mismatch for classifier.weight"):
        model.load_state_dict(wrong_classes, strict=True)


@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_tiny_model_exports_to_onnx_and_matches_onnxruntime(name: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    model = _tiny(name)
    _check_onnx(ort, model, _clip(1), _clip(3), rtol=1e-4, atol=1e-5)


def _check_onnx(ort: ModuleType, model: nn.Module, x1: torch.Tensor, x3: torch.Tensor, rtol: float, atol: float) -> None:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about the shape check, evaluated at export time
        torch.onnx.export(model, (x1,), buf, opset_version=17, dynamo=False, input_names=["video"], output_names=["logits"],
                          dynamic_axes={"video": {0: "batch"}, "logits": {0: "batch"}})  # fmt: skip
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"video": x3.numpy()})
    with torch.no_grad():
        expected = model(x3).numpy()
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=rtol, atol=atol)


# --- multiply-adds against the published figures (fast: counted on the meta device) -----------------


def test_videomae_macs_match_the_papers_figure() -> None:
    # VideoMAE paper (Tong et al. 2022, arXiv:2203.12602), Kinetics-400 comparison table: ViT-B,
    # 16x224x224, "180 GFLOPs x 5 x 3 views", 87 M params; fvcore-style FLOPs, i.e. multiply-adds per view.
    # Ours: 180.34 G (the counter sees the patch Conv3d, every Linear and both attention matmuls).
    info = model_info("videomae_base")
    assert info["clip"] == (16, 224, 224) and info["params"] == 86_534_800
    assert info["macs"] == pytest.approx(180e9, rel=0.01)


def test_timesformer_macs_match_the_published_figure() -> None:
    # TimeSformer paper (Bertasius et al. 2021, arXiv:2102.05095) Table 1, divided space-time: 121.4 M
    # params, 0.59 TFLOPs; mmaction2 configs/recognition/timesformer/metafile.yml
    # (timesformer_divST_8xb8-8x32x1-15e_kinetics400-rgb): "FLOPs: 588G", "params: 122M". Both are for the
    # 3 spatial crops of the test protocol (1 clip x 3 crops): 588 G / 3 = 196 G multiply-adds per clip.
    # Ours counts 188.43 G: our last block skips the MLP of the 1568 patch tokens (2 x 1568 x 768 x 3072
    # = 7.40 G), whose output nothing reads; with it, 195.83 G = the published figure within 0.1 %.
    info = model_info("timesformer_base")
    assert info["clip"] == (8, 224, 224) and info["params"] == 121_566_352
    skipped = 2 * 1568 * 768 * 3072
    assert info["macs"] + skipped == pytest.approx(588e9 / 3, rel=0.01)
    assert info["macs"] == pytest.approx(588e9 / 3, rel=0.05)


# --- the recorded reference outputs (slow: full-size forward passes) ---------------------------------


def _reference_model(name: str) -> tuple[nn.Module, torch.Tensor, torch.Tensor, dict]:
    fixture, weights = _fixture(name), _weights()
    model = build_model(name, num_classes=fixture["output_shape"][1])
    model.load_state_dict(weights.make_state_dict(fixture["state_dict"]), strict=True)
    ref = torch.tensor(fixture["output"], dtype=torch.float32).reshape(fixture["output_shape"])
    return model.eval(), weights.make_input(fixture["input"]), ref, fixture


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_output_matches_transformers(name: str) -> None:
    model, x, ref, fixture = _reference_model(name)
    with torch.no_grad():
        out = model(x)
    tol = fixture["suggested_tolerance"]
    diff = (out - ref).abs().max().item()
    assert torch.allclose(out, ref, atol=tol["atol"], rtol=tol["rtol"]), f"max abs diff {diff:.3g} > {tol}"
    # the tolerance separates models: another input moves the output by far more than it allows
    assert fixture["other_input_seed1_max_abs_diff"] > 100 * tol["atol"]


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(FIXTURES))
def test_full_size_model_exports_to_onnx(name: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    model, x, _, fixture = _reference_model(name)
    tol = fixture["suggested_tolerance"]
    _check_onnx(ort, model, x, x, rtol=tol["rtol"], atol=tol["atol"])
