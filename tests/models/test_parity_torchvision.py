"""Parity with torchvision 0.28's video models: r3d_18, mc3_18, r2plus1d_18, s3d, mvit_v2_s, swin3d_t.

The fixtures (../shared/parity beside the repository, made by running torchvision itself) give each
model's state-dict entries, a seeded input and torchvision's output. For each model: the state dict
has exactly the reference's keys, shapes and dtypes; with the fixture's weights, our output (and
onnxruntime's, on the exported graph) equals the reference's within the fixture's tolerance; the
multiply-adds equal the GFLOPS torchvision publishes. The big models' forward passes are opt-in
(`pytest -m slow`).
"""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
from functools import cache
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from vidlearn.errors import ConfigError
from vidlearn.models import build_model, model_info, native_clip
from vidlearn.models.layers import StochasticDepth
from vidlearn.models.swin3d import WindowAttention3d

PARITY = Path(__file__).resolve().parents[2].parent / "shared" / "parity"
SMALL = ["r3d_18", "mc3_18", "r2plus1d_18", "s3d"]  # a forward pass in seconds on one thread
BIG = ["mvit_v2_s", "swin3d_t"]
ALL = [*SMALL, *BIG]
NEW = ["s3d", "mvit_v2_s", "swin3d_t"]
BY_COST = [*SMALL, *(pytest.param(n, marks=pytest.mark.slow) for n in BIG)]


def _fixture(name: str) -> dict:
    path = PARITY / f"torchvision_{name}.json"
    if not path.is_file():
        pytest.skip(f"parity fixture {path} is absent (the shared fixtures live in ../shared/parity beside the repository)")
    return json.loads(path.read_text())


@cache
def _weights_rule() -> ModuleType:
    spec = importlib.util.spec_from_file_location("parity_weights", PARITY / "weights.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _reference_setup(name: str) -> tuple[nn.Module, torch.Tensor, torch.Tensor, dict]:
    """Our model with the fixture's weights (eval), the fixture's input, torchvision's output, tolerance."""
    fx = _fixture(name)
    rule = _weights_rule()
    model = build_model(name, num_classes=fx["output_shape"][1])
    model.load_state_dict(rule.make_state_dict(fx["state_dict"]), strict=True)
    expected = torch.tensor(fx["output"], dtype=torch.float32).reshape(fx["output_shape"])
    return model.eval(), rule.make_input(fx["input"]), expected, fx["suggested_tolerance"]


def _meta_state(entries: list[dict]) -> dict[str, torch.Tensor]:
    dtypes = {"float32": torch.float32, "int64": torch.int64}
    return {e["key"]: torch.empty(e["shape"], dtype=dtypes[e.get("dtype", "float32")], device="meta") for e in entries}


@pytest.mark.parametrize("name", ALL)
def test_state_dict_is_the_references_key_for_key(name: str) -> None:
    fx = _fixture(name)
    with torch.device("meta"):
        model = build_model(name, num_classes=fx["output_shape"][1])  # the reference's default options
    ours = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}
    theirs = {e["key"]: (tuple(e["shape"]), e.get("dtype", "float32")) for e in fx["state_dict"]}
    assert sorted(set(theirs) - set(ours)) == [], "keys of the reference missing here"
    assert sorted(set(ours) - set(theirs)) == [], "keys here the reference does not have"
    assert {k: v for k, v in ours.items() if theirs[k] != v} == {}, "shape or dtype differs"
    # the classifier sits under head_prefix, and that is exactly what `model.head` holds
    prefix = getattr(type(model), "head_prefix", "fc")  # the video ResNets get head_prefix = "fc" on another branch
    head_keys = {k for k in theirs if k == prefix or k.startswith(prefix + ".")}
    assert head_keys == {f"{prefix}.{k}" for k in model.head.state_dict()}
    assert any(theirs[k][0][0] == fx["output_shape"][1] for k in head_keys)  # the one with the classes


@pytest.mark.parametrize("name", BY_COST)
def test_output_equals_torchvision(name: str) -> None:
    model, x, expected, tol = _reference_setup(name)
    fx = _fixture(name)
    # the fixture discriminates: another input moves the output far beyond the tolerance
    assert fx["other_input_seed1_max_abs_diff"] > 10 * tol["atol"]
    with torch.no_grad():
        out = model(x)
    assert out.shape == expected.shape
    diff = (out - expected).abs().max().item()
    assert torch.allclose(out, expected, atol=tol["atol"], rtol=tol["rtol"]), f"max abs diff {diff:.3g} vs atol {tol['atol']:.3g}"


def _export(model: nn.Module, x: torch.Tensor) -> bytes:
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # tracer warnings about shapes evaluated at export time
        torch.onnx.export(
            model, (x,), buf, opset_version=17, dynamo=False, input_names=["video"], output_names=["logits"],
            dynamic_axes={"video": {0: "batch"}, "logits": {0: "batch"}},
        )  # fmt: skip
    return buf.getvalue()


@pytest.mark.slow
@pytest.mark.parametrize("name", ALL)
def test_onnx_export_reproduces_torchvision(name: str) -> None:
    ort = pytest.importorskip("onnxruntime")
    model, x, expected, tol = _reference_setup(name)
    session = ort.InferenceSession(_export(model, x), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"video": x.numpy()})
    assert got.shape == tuple(expected.shape)
    np.testing.assert_allclose(got, expected.numpy(), atol=tol["atol"], rtol=tol["rtol"])


# torchvision's "GFLOPS" (`_ops` in each Weights' meta) are multiply-adds in units of 1e9, measured by
# its test/common_extended_utils.py (conv, mm, addmm, bmm, matmul) on 16 frames through the weights'
# own transforms (112x112 crops for the ResNets, 224x224 for the others); FlopCounterMode / 2 counts
# the same operations, so the figures agree to their rounding.
PUBLISHED_GMACS = {
    # https://pytorch.org/vision/stable/models/generated/torchvision.models.video.r3d_18.html ("GFLOPS 40.70")
    "r3d_18": (40.70, (16, 112, 112)),
    # https://pytorch.org/vision/stable/models/generated/torchvision.models.video.mc3_18.html ("GFLOPS 43.34")
    "mc3_18": (43.34, (16, 112, 112)),
    # torchvision/models/video/s3d.py, S3D_Weights.KINETICS400_V1 meta "_ops": 17.979
    "s3d": (17.979, (16, 224, 224)),
    # torchvision/models/video/mvit.py, MViT_V2_S_Weights.KINETICS400_V1 meta "_ops": 64.224
    "mvit_v2_s": (64.224, (16, 224, 224)),
    # torchvision/models/video/swin_transformer.py, Swin3D_T_Weights.KINETICS400_V1 meta "_ops": 43.882
    "swin3d_t": (43.882, (16, 224, 224)),
}


@pytest.mark.parametrize("name", sorted(PUBLISHED_GMACS))
def test_multiply_adds_equal_torchvisions_published_gflops(name: str) -> None:
    published, clip = PUBLISHED_GMACS[name]
    macs = model_info(name, clip=clip)["macs"]
    # the published figures are rounded to 2 or 3 decimals: 1e-4 relative is that rounding, no more
    assert macs / 1e9 == pytest.approx(published, rel=1e-4)


@pytest.mark.parametrize("name", NEW)
def test_native_clip_is_the_fixtures_input(name: str) -> None:
    fx = _fixture(name)
    assert native_clip(name) == tuple(fx["input"]["shape"][2:]) == (16, 224, 224)


@pytest.mark.filterwarnings("ignore:.*copying from a non-meta parameter")  # meta tensors: shapes only, on purpose
@pytest.mark.parametrize("name", NEW)
def test_a_wrong_checkpoint_fails_loudly(name: str) -> None:
    fx = _fixture(name)
    with torch.device("meta"):
        model = build_model(name, num_classes=400)
    model.load_state_dict(_meta_state(fx["state_dict"]), strict=True)  # the right one loads
    other = _fixture("swin3d_t" if name != "swin3d_t" else "mvit_v2_s")
    with pytest.raises(RuntimeError, match="Missing key"):
        model.load_state_dict(_meta_state(other["state_dict"]), strict=True)
    entries = [dict(e) for e in fx["state_dict"]]
    victim = next(e for e in entries if len(e["shape"]) >= 2 and not e["key"].startswith(type(model).head_prefix))
    victim["shape"] = [victim["shape"][0] + 1, *victim["shape"][1:]]
    with pytest.raises(RuntimeError, match="size mismatch for " + victim["key"].replace(".", r"\.")):
        model.load_state_dict(_meta_state(entries), strict=True)


@pytest.mark.parametrize("name", NEW)
def test_a_wrong_input_shape_fails_loudly(name: str) -> None:
    with torch.device("meta"):
        model = build_model(name, num_classes=3).eval()
        for bad in (torch.empty(1, 3, 224, 224), torch.empty(1, 1, 16, 224, 224)):
            with pytest.raises(ValueError, match=r"\(B, 3, T, H, W\)"):
                model(bad)


@pytest.mark.parametrize("name", NEW)
def test_other_clip_sizes_run(name: str) -> None:
    # odd sizes: Swin pads to whole patches/windows and shrinks windows; MViT's relative-position tables
    # are interpolated; S3D's pools fit a map smaller than the reference's kernels
    torch.manual_seed(0)
    model = build_model(name, num_classes=3).eval()
    with torch.no_grad():
        out = model(torch.randn(2, 3, 5, 50, 70))
    assert out.shape == (2, 3) and torch.isfinite(out).all()


def test_s3d_classifier_on_pooled_features_equals_torchvisions_order() -> None:
    # torchvision: AvgPool3d((2, 7, 7), stride 1) -> 1x1x1 conv at every pooled position -> mean.
    # Here: the same pool -> mean -> the same conv. Check where the pooled map is larger than 1x1x1.
    torch.manual_seed(0)
    model = build_model("s3d", num_classes=7).eval()
    fmap = torch.randn(2, 1024, 4, 9, 8)  # a feature map of a 32x288x256 clip
    conv = model.classifier[1]
    with torch.no_grad():
        reference = conv(F.avg_pool3d(fmap, (2, 7, 7), stride=1)).mean(dim=(2, 3, 4))
        ours = model.head(F.avg_pool3d(fmap, (2, 7, 7), stride=1).mean(dim=(2, 3, 4)))
    torch.testing.assert_close(ours, reference, rtol=1e-5, atol=1e-5)


def test_swin_relative_position_index_is_torchvisions() -> None:
    # the fixture's stand-in weights set this int64 buffer to zeros (weights.py), and torchvision ran
    # with those, so the parity test does not see the computed index: check it against its definition
    # (pairs of positions in an 8x7x7 window, offsets shifted to >= 0, flattened over (15, 13, 13)).
    index = WindowAttention3d(96, (8, 7, 7), (0, 0, 0), 3).relative_position_index
    coords = torch.cartesian_prod(torch.arange(8), torch.arange(7), torch.arange(7))  # (392, 3), t-major
    d = coords[:, None, :] - coords[None, :, :] + torch.tensor([7, 6, 6])
    assert index.dtype == torch.int64 and index.shape == (392, 392)
    assert torch.equal(index, d[..., 0] * 13 * 13 + d[..., 1] * 13 + d[..., 2])


@pytest.mark.parametrize(("name", "default", "count"), [("mvit_v2_s", 0.2, 16), ("swin3d_t", 0.1, 12)])
def test_stochastic_depth_option_and_its_reference_default(name: str, default: float, count: int) -> None:
    with torch.device("meta"):
        model = build_model(name, num_classes=3)
    # one per block, rising linearly from 0 to the option's value (torchvision's rule)
    probs = [m.p for m in model.modules() if isinstance(m, StochasticDepth)]
    assert probs == pytest.approx([default * i / (count - 1) for i in range(count)])
    with pytest.raises(ConfigError, match="stochastic_depth_prob"):
        build_model(name, num_classes=3, stochastic_depth_prob=1.5)
    torch.manual_seed(0)
    x = torch.randn(4, 3, 4, 32, 32)
    model = build_model(name, num_classes=3, stochastic_depth_prob=0.9).train()
    model.head = nn.Linear(model.num_features, 3)
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))  # blocks are dropped at random in training
