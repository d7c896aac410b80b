"""What each family does with time: pooling consensus, recurrent readout, 3D nets, the video ViT."""

from __future__ import annotations

import pytest
import torch

from vidlearn.errors import ConfigError
from vidlearn.models import FeatureRNN, build_model
from vidlearn.models.frame import TemporalPool


def _reverse_time(x: torch.Tensor) -> torch.Tensor:
    return x.flip(2)


def test_temporal_pool_modes() -> None:
    x = torch.randn(2, 5, 8)
    torch.testing.assert_close(TemporalPool(8, "mean")(x), x.mean(1))
    torch.testing.assert_close(TemporalPool(8, "max")(x), x.amax(1))
    attention = TemporalPool(8, "attention")
    # a convex combination of the frames: inside their range, and one frame is returned as is
    out = attention(x)
    assert ((out >= x.amin(1) - 1e-6) & (out <= x.amax(1) + 1e-6)).all()
    torch.testing.assert_close(attention(x[:, :1]), x[:, 0])
    # the weights are learned: a different scorer weights the frames differently
    with torch.no_grad():
        attention.score[-1].weight.mul_(50)
    assert not torch.allclose(attention(x), out)
    with pytest.raises(ValueError, match="pool"):
        TemporalPool(8, "median")
    # meanstd: the mean, then the spread over time (near 0 for a still clip)
    both = TemporalPool(8, "meanstd")
    assert both.out_dim == 16
    torch.testing.assert_close(both(x), torch.cat([x.mean(1), x.std(1, unbiased=False)], 1), rtol=1e-4, atol=1e-3)
    still = x[:, :1].expand(2, 5, 8)
    assert both(still)[:, 8:].abs().max() < 2e-3


def test_meanstd_frame_model_head_takes_twice_the_width_and_trains(zoo) -> None:
    model = zoo.tiny_model("frame_cnn_small", num_classes=3, pool="meanstd")
    assert model.num_features == 2 * model.frame_dim and model.head.in_features == model.num_features
    x = zoo.tiny_input(model, batch=2)
    assert model.forward_features(x).shape == (2, model.num_features)
    still = x[:, :, :1].expand_as(x).contiguous()  # every frame the same: the gradient stays finite
    model(still).sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


@pytest.mark.parametrize("pool", ["mean", "max", "attention", "meanstd"])
def test_frame_models_are_order_free_consensus(pool: str, zoo) -> None:
    model = zoo.randomize(zoo.tiny_model("frame_cnn_small", pool=pool)).eval()
    x = zoo.tiny_input(model)
    with torch.no_grad():
        torch.testing.assert_close(model(_reverse_time(x)), model(x), rtol=1e-4, atol=1e-5)
        # but not blind: changing one frame changes the output
        y = x.clone()
        y[:, :, 1] = torch.randn_like(y[:, :, 1]) * 3
        assert not torch.allclose(model(y), model(x), atol=1e-4)


@pytest.mark.parametrize("name", ["lrcn_small", "r2plus1d_tiny", "r3d_tiny", "x3d_tiny", "c3d_small", "vit_tiny_video"])
def test_temporal_models_see_frame_order(name: str, zoo) -> None:
    model = zoo.randomize(zoo.tiny_model(name)).eval()
    x = zoo.tiny_input(model)
    with torch.no_grad():
        assert not torch.allclose(model(_reverse_time(x)), model(x), atol=1e-4)


@pytest.mark.parametrize("rnn", ["lstm", "gru"])
@pytest.mark.parametrize("bidirectional", [False, True])
def test_lrcn_rnn_options(rnn: str, bidirectional: bool, zoo) -> None:
    model = zoo.tiny_model("lrcn_small", rnn=rnn, bidirectional=bidirectional, hidden=24, width=8)
    assert isinstance(model.temporal.rnn, {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[rnn])
    assert model.temporal.rnn.bidirectional is bidirectional
    assert model.num_features == 24 * (2 if bidirectional else 1)
    x = zoo.tiny_input(model)
    assert model.forward_features(x).shape == (2, model.num_features)


def test_feature_rnn_readouts_on_feature_sequences() -> None:
    torch.manual_seed(0)
    model = FeatureRNN(10, 4, rnn="lstm", hidden=6, bidirectional=True).eval()
    x = torch.randn(3, 7, 10)
    assert model(x).shape == (3, 4)
    with torch.no_grad():
        out, _ = model.temporal.rnn(x)
        # last readout = forward direction at the last step + backward direction at the first step
        torch.testing.assert_close(model.forward_features(x), torch.cat([out[:, -1, :6], out[:, 0, 6:]], 1))
        # "last" depends on everything before it: changing the first step changes the embedding
        y = x.clone()
        y[:, 0] += 1
        assert not torch.allclose(model.forward_features(y)[:, :6], model.forward_features(x)[:, :6])
    mean = FeatureRNN(10, 4, rnn="rnn", hidden=6, readout="mean").eval()
    with torch.no_grad():
        out, _ = mean.temporal.rnn(x)
        torch.testing.assert_close(mean.forward_features(x), out.mean(1))
    with pytest.raises(ValueError, match="rnn must be one of"):
        FeatureRNN(10, 4, rnn="transformer")
    # through the registry: in_features is required and the input is (B, T, F)
    built = build_model("feature_rnn", num_classes=2, in_features=10)
    assert built(x).shape == (3, 2)


def test_video_vit_rejects_clips_of_another_size() -> None:
    model = build_model("vit_tiny_video", num_classes=3, num_frames=4, img_size=32, patch_size=8, depth=1)
    assert model(torch.randn(1, 3, 4, 32, 32)).shape == (1, 3)
    with pytest.raises(ValueError, match=r"built for clips of 3x4x32x32.*got 3x8x32x32"):
        model(torch.randn(1, 3, 8, 32, 32))
    with pytest.raises(ValueError, match="got 3x4x64x64"):
        model(torch.randn(1, 3, 4, 64, 64))
    with pytest.raises(ConfigError, match="multiple of patch_size"):
        build_model("vit_tiny_video", num_classes=3, img_size=30, patch_size=8)


def test_video_vit_options() -> None:
    tiny = {"num_frames": 4, "img_size": 32, "patch_size": 8}
    cls = build_model("vit_tiny_video", num_classes=3, dim=48, heads=4, depth=3, **tiny)
    assert cls.num_features == 48 and len(cls.blocks) == 3 and cls.cls_token is not None
    # separate learned position embeddings: 2 temporal positions (tubelet 2), 4x4 spatial
    assert cls.pos_time.shape == (1, 2, 1, 48) and cls.pos_space.shape == (1, 1, 16, 48)
    mean = build_model("vit_tiny_video", num_classes=3, dim=48, heads=4, depth=1, pool="mean", **tiny)
    assert mean.cls_token is None
    assert mean(torch.randn(2, 3, 4, 32, 32)).shape == (2, 3)
    with pytest.raises(ConfigError, match="divisible by heads"):
        build_model("vit_tiny_video", num_classes=3, dim=50, heads=4, **tiny)


def test_c3d_and_x3d_take_short_clips_and_x3d_has_squeeze_excite() -> None:
    for t in (1, 3, 8):
        assert build_model("c3d_small", num_classes=2).eval()(torch.randn(1, 3, t, 32, 32)).shape == (1, 2)
    with_se = build_model("x3d_tiny", num_classes=2)
    without = build_model("x3d_tiny", num_classes=2, se=False)
    count = lambda m: sum(type(b).__name__ == "SqueezeExcite3d" for b in m.modules())  # noqa: E731
    assert count(with_se) > 0 and count(without) == 0
    assert any(isinstance(m, torch.nn.SiLU) for m in with_se.modules())
    depthwise = [m for m in with_se.modules() if isinstance(m, torch.nn.Conv3d) and m.groups > 1 and m.kernel_size == (3, 3, 3)]
    assert depthwise and all(m.groups == m.in_channels for m in depthwise)
