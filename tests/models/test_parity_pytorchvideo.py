"""X3D-XS/S/M, Slow R50 and SlowFast R50 are exactly PyTorchVideo 0.1.5's: same state-dict keys and
shapes, same logits on the parity fixtures (../shared/parity, made by running the real reference),
ONNX export, and multiply-adds against the published figures."""

from __future__ import annotations

import importlib.util
import io
import json
import warnings
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
import torch
from torch import nn

from vidlearn.models import build_model, model_info, native_clip, reset_head
from vidlearn.models.slowfast import pack_pathway_indices

PARITY = Path(__file__).resolve().parents[2].parent / "shared" / "parity"
SMALL = ["x3d_xs", "x3d_s", "x3d_m"]
BIG = ["slow_r50", "slowfast_r50"]  # 32-35 M parameters: a few seconds a forward pass on one thread
HEAD_PREFIX = {"x3d_xs": "blocks.5.proj", "x3d_s": "blocks.5.proj", "x3d_m": "blocks.5.proj",
               "slow_r50": "blocks.5.proj", "slowfast_r50": "blocks.6.proj"}  # fmt: skip


def _fixture(name: str) -> dict:
    path = PARITY / f"pytorchvideo_{name}.json"
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


def _reference_model(name: str) -> tuple[nn.Module, torch.Tensor, dict]:
    """The model with the fixture's weights loaded strictly, in eval mode, and the fixture input."""
    fx, w = _fixture(name), _weights()
    model = build_model(name, num_classes=fx["output_shape"][1])
    model.load_state_dict(w.make_state_dict(fx["state_dict"]), strict=True)
    return model.eval(), w.make_input(fx["input"]), fx


def _check_state_dict_matches(name: str) -> None:
    fx = _fixture(name)
    with torch.device("meta"):
        model = build_model(name, num_classes=fx["output_shape"][1])
    ours = {k: (tuple(v.shape), str(v.dtype).removeprefix("torch.")) for k, v in model.state_dict().items()}
    ref = {e["key"]: (tuple(e["shape"]), e.get("dtype", "float32")) for e in fx["state_dict"]}
    assert sorted(set(ref) - set(ours)) == [], "keys of the reference missing here"
    assert sorted(set(ours) - set(ref)) == [], "keys here that the reference does not have"
    assert {k: v for k, v in ours.items() if ref[k] != v} == {}, "shapes/dtypes differ"
    # the fixture's count: parameters and running statistics (not the num_batches_tracked counters)
    assert sum(v.numel() for v in model.state_dict().values() if v.is_floating_point()) == fx["num_parameters"]


def _check_parity(name: str) -> None:
    model, x, fx = _reference_model(name)
    assert tuple(x.shape[2:]) == native_clip(name)
    with torch.no_grad():
        out = model(x)
    ref = torch.tensor(fx["output"]).reshape(fx["output_shape"])
    tol = fx["suggested_tolerance"]
    assert out.shape == ref.shape
    # the tolerance discriminates: another input moves the output far more than it allows
    assert fx["other_input_seed1_max_abs_diff"] > tol["atol"] + tol["rtol"] * ref.abs().max()
    assert torch.allclose(out, ref, atol=tol["atol"], rtol=tol["rtol"]), f"max abs diff {(out - ref).abs().max():.4g}"


@pytest.mark.parametrize("name", SMALL + BIG)
def test_state_dict_keys_shapes_and_dtypes_are_the_reference(name: str) -> None:
    _check_state_dict_matches(name)


@pytest.mark.parametrize("name", SMALL)
def test_x3d_logits_match_pytorchvideo(name: str) -> None:
    _check_parity(name)


@pytest.mark.parametrize("name", BIG)
def test_resnet_logits_match_pytorchvideo(name: str) -> None:
    _check_parity(name)


def test_wrong_checkpoint_or_class_count_fails_loudly() -> None:
    w = _weights()
    x3d_state = w.make_state_dict(_fixture("x3d_xs")["state_dict"])
    with torch.device("meta"):
        slow = build_model("slow_r50", num_classes=400)
        x3d_10 = build_model("x3d_s", num_classes=10)
    with pytest.raises(RuntimeError, match="Missing key"):
        slow.load_state_dict(x3d_state, strict=True, assign=True)
    with pytest.raises(RuntimeError, match=r"size mismatch for blocks\.5\.proj\.weight"):
        x3d_10.load_state_dict(x3d_state, strict=True, assign=True)


def test_wrong_inputs_fail_loudly() -> None:
    model = build_model("slowfast_r50", num_classes=5, width=16).eval()
    with pytest.raises(ValueError, match=r"multiple of alpha=4.*got T=30"):
        model(torch.randn(1, 3, 30, 64, 64))
    x3d = build_model("x3d_tiny", num_classes=5).eval()
    with pytest.raises(ValueError, match=r"clips \(B, 3, T, H, W\), got shape \(1, 3, 32, 32\)"):
        x3d(torch.randn(1, 3, 32, 32))


def test_slowfast_builds_the_slow_pathway_with_packpathway_frames() -> None:
    # the fixture README's frames, which a plain stride of 4 (0, 4, 8, 12, ...) would not give
    assert pack_pathway_indices(32, 4).tolist() == [0, 4, 8, 13, 17, 22, 26, 31]
    model = build_model("slowfast_r50", num_classes=3, width=16).eval()
    seen = {}
    model.blocks[0].multipathway_blocks[0].register_forward_pre_hook(lambda m, a: seen.update(slow=a[0]))
    x = torch.randn(1, 3, 32, 32, 32)
    with torch.no_grad():
        model(x)
    torch.testing.assert_close(seen["slow"], x[:, :, [0, 4, 8, 13, 17, 22, 26, 31]], rtol=0, atol=0)


# the reference's head pools: AvgPool3d kernels built for the native clip (x3d: create_x3d's
# (T, ceil(H/32), ceil(W/32)); slow_r50: hub head_pool_kernel_size=(8, 7, 7); slowfast: (8,7,7)/(32,7,7))
REFERENCE_POOL = {"x3d_xs": [(4, 5, 5)], "x3d_s": [(13, 5, 5)], "x3d_m": [(16, 7, 7)],
                  "slow_r50": [(8, 7, 7)], "slowfast_r50": [(8, 7, 7), (32, 7, 7)]}  # fmt: skip


@pytest.mark.parametrize("name", SMALL + BIG)
def test_global_pool_is_the_reference_pool_at_the_native_clip(name: str) -> None:
    with torch.device("meta"):
        model = build_model(name, num_classes=400).eval()
    shapes: list[tuple[int, ...]] = []
    pools = [m for m in model.modules() if isinstance(m, nn.AdaptiveAvgPool3d)]
    for pool in pools:
        pool.register_forward_pre_hook(lambda m, a: shapes.append(tuple(a[0].shape[2:])))
    with torch.no_grad():
        model(torch.empty(1, 3, *native_clip(name), device="meta"))
    assert shapes == REFERENCE_POOL[name]  # the reference's kernel covers the whole map ...
    g = torch.Generator().manual_seed(0)
    for kernel in shapes:  # ... so its average pool is the global average, numerically too
        fmap = torch.randn(2, 16, *kernel, generator=g)
        torch.testing.assert_close(nn.AdaptiveAvgPool3d(1)(fmap), nn.AvgPool3d(kernel, stride=1)(fmap), rtol=1e-6, atol=1e-6)


def test_other_clip_sizes_work() -> None:
    x3d = build_model("x3d_s", num_classes=4).eval()
    with torch.no_grad():
        for clip in [(8, 112, 112), (13, 160, 160), (5, 96, 128)]:
            assert x3d(torch.randn(2, 3, *clip)).shape == (2, 4)
    with torch.device("meta"):
        for name, clip in [("slow_r50", (8, 112, 112)), ("slow_r50", (16, 160, 160)), ("slowfast_r50", (16, 112, 112))]:
            model = build_model(name, num_classes=4).eval()
            assert model(torch.empty(2, 3, *clip)).shape == (2, 4)


@pytest.mark.parametrize("name", SMALL + BIG)
def test_head_is_an_alias_of_the_reference_classifier(name: str) -> None:
    with torch.device("meta"):
        model = build_model(name, num_classes=400)  # the reference's defaults: dropout 0.5
    prefix = HEAD_PREFIX[name]
    assert type(model).head_prefix == prefix
    assert {k for k in model.state_dict() if k.startswith(prefix + ".")} == {f"{prefix}.weight", f"{prefix}.bias"}
    head = model.head
    assert isinstance(head, nn.Sequential) and isinstance(head[0], nn.Dropout) and head[0].p == 0.5
    assert head[1] is model.get_submodule(prefix)
    with torch.device("meta"):
        model.head = nn.Linear(model.num_features, 7)
    assert model.head is model.get_submodule(prefix)  # a Linear head sits where the reference's was
    assert tuple(model.state_dict()[f"{prefix}.weight"].shape) == (7, model.num_features)
    with torch.device("meta"):
        reset_head(model, 3, dropout=0.2)
    assert isinstance(model.head[0], nn.Dropout) and model.head[1].out_features == 3


def _bn_elements(name: str, clip: tuple[int, int, int]) -> int:
    with torch.device("meta"):
        model = build_model(name, num_classes=400).eval()
    total = [0]
    for m in model.modules():
        if isinstance(m, nn.BatchNorm3d):
            m.register_forward_pre_hook(lambda mod, a: total.__setitem__(0, total[0] + a[0].numel()))
    with torch.no_grad():
        model(torch.empty(1, 3, *clip, device="meta"))
    return total[0]


# PyTorchVideo's docs/source/model_zoo.md (Kinetics-400 table, lines 14-24) gives "Flops (G) x views"
# for one view; per its line 63 the view is one test crop, which for these models is PySlowFast's
# TEST_CROP_SIZE (configs/Kinetics/pytorchvideo/X3D_XS.yaml, X3D_S, X3D_M: 182, 182, 256; Slow and
# SlowFast: 256). fvcore counts a multiply-add as one flop, like our macs.
@pytest.mark.parametrize(
    ("name", "clip", "gflops"),
    [("slow_r50", (8, 256, 256), 54.52), ("slowfast_r50", (32, 256, 256), 65.71)],
)
def test_resnet_macs_match_the_pytorchvideo_model_zoo(name: str, clip: tuple[int, int, int], gflops: float) -> None:
    # conv + linear multiply-adds only, as the published figure: within 0.1 %
    assert model_info(name, clip=clip)["macs"] / 1e9 == pytest.approx(gflops, rel=1e-3)


@pytest.mark.parametrize(
    ("name", "clip", "gflops"),
    [("x3d_xs", (4, 182, 182), 0.91), ("x3d_s", (13, 182, 182), 2.96), ("x3d_m", (16, 256, 256), 6.72)],
)
def test_x3d_macs_match_the_pytorchvideo_model_zoo_counting_batchnorm(name: str, clip: tuple[int, int, int], gflops: float) -> None:
    # The model zoo's X3D figures also count every BatchNorm as 5 flops per element (fvcore's
    # norm_flop_counter, fvcore/nn/jit_handles.py, used for batch_norm in training mode); that
    # is ~8 % of X3D (depthwise convs are cheap) and our counter (FlopCounterMode) skips norms.
    # Without it ours is 0.84 / 2.72 / 6.18 G; with it, within 1 % of the published figure.
    macs = model_info(name, clip=clip)["macs"]
    assert (macs + 5 * _bn_elements(name, clip)) / 1e9 == pytest.approx(gflops, rel=1e-2)
    assert macs / 1e9 < 0.95 * gflops


@pytest.mark.parametrize(("name", "gflops"), [("x3d_xs", 0.60), ("x3d_s", 1.96), ("x3d_m", 4.73)])
def test_x3d_macs_match_the_paper_at_the_native_clip(name: str, gflops: float) -> None:
    # X3D paper (arXiv:2004.04730), table of the expanded models at their training clip
    # (X3D-XS 0.60, X3D-S 1.96, X3D-M 4.73 GFLOPs, 4x160^2 / 13x160^2 / 16x224^2): within 1 %
    assert model_info(name)["macs"] / 1e9 == pytest.approx(gflops, rel=1e-2)


def _onnx_matches(name: str, model: nn.Module | None = None, x: torch.Tensor | None = None) -> None:
    import onnxruntime as ort

    if model is None or x is None:
        model, x, _ = _reference_model(name)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (x,), buf, opset_version=17, dynamo=False, input_names=["video"], output_names=["logits"],
                          dynamic_axes={"video": {0: "batch"}, "logits": {0: "batch"}})  # fmt: skip
    session = ort.InferenceSession(buf.getvalue(), providers=["CPUExecutionProvider"])
    (got,) = session.run(None, {"video": x.numpy()})
    with torch.no_grad():
        expected = model(x).numpy()
    scale = float(np.abs(expected).max())  # logits of the stand-in weights are ~1e4-1e5
    np.testing.assert_allclose(got, expected, rtol=1e-3, atol=1e-4 * scale)


def test_x3d_exports_to_onnx_and_matches_onnxruntime() -> None:
    _onnx_matches("x3d_xs")


def test_narrow_slowfast_exports_its_packpathway_frames_to_onnx() -> None:
    # 32 frames, so the slow pathway's frame choice (0, 4, ..., 26, 31) is part of the graph
    torch.manual_seed(0)
    model = build_model("slowfast_r50", num_classes=5, width=8).eval()
    for m in model.modules():  # order-one BN statistics, so that every frame matters
        if isinstance(m, nn.BatchNorm3d):
            m.weight.data.uniform_(0.5, 1.5)
            m.running_var.uniform_(0.5, 1.5)
    _onnx_matches("slowfast_r50", model, torch.randn(1, 3, 32, 32, 32))


@pytest.mark.slow
@pytest.mark.parametrize("name", ["x3d_s", "x3d_m", *BIG])
def test_big_models_export_to_onnx_and_match_onnxruntime(name: str) -> None:
    _onnx_matches(name)
