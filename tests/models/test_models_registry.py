"""The registry: listing and filtering, clear errors, options, and model_info (params and MACs)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.errors import ConfigError, VidlearnError
from vidlearn.models import build_model, list_models, model_family, model_info, model_options, register_model
from vidlearn.models.base import VideoClassifier, make_head
from vidlearn.models.registry import _REGISTRY


def test_list_models_filters_by_family_glob_and_substring() -> None:
    everything = list_models()
    assert everything == sorted(everything) and len(everything) == len(set(everything))
    assert {"vit_tiny_video", "mvit_v2_s", "swin3d_t"} <= set(list_models("transformer"))
    assert not set(list_models("transformer")) & set(list_models("3d"))
    assert set(list_models("frame")) == {"frame_cnn_small", "frame_effnet_lite0"}
    assert {"lrcn_small", "lrcn_effnet_lite0", "feature_rnn"} == set(list_models("recurrent"))
    three_d = list_models("3d")
    assert {"r2plus1d_tiny", "r3d_18", "c3d", "x3d_tiny"} <= set(three_d)
    assert not set(three_d) & set(list_models("frame"))
    assert list_models("r2plus1d*") == ["r2plus1d_18", "r2plus1d_tiny"]
    assert set(list_models("tiny")) == {"r3d_tiny", "r2plus1d_tiny", "x3d_tiny", "vit_tiny_video"}
    assert list_models("no_such_model*") == []
    assert all(model_family(n) == "3d" for n in three_d)


def test_unknown_model_name_is_a_clear_error_with_close_names() -> None:
    with pytest.raises(ConfigError) as err:
        build_model("r2plus1d_tny", num_classes=3)
    msg = str(err.value)
    assert "r2plus1d_tny" in msg and "did you mean" in msg and "r2plus1d_tiny" in msg
    assert isinstance(err.value, VidlearnError)  # the CLI prints it as one line


def test_wrong_options_name_the_option_and_list_accepted_ones() -> None:
    with pytest.raises(ConfigError, match=r"r3d_tiny does not take widht.*accepted: .*width"):
        build_model("r3d_tiny", num_classes=3, widht=8)
    with pytest.raises(ConfigError, match="feature_rnn needs in_features"):
        build_model("feature_rnn", num_classes=3)
    with pytest.raises(ConfigError, match="pool must be one of"):
        build_model("frame_cnn_small", num_classes=3, pool="median")
    with pytest.raises(ConfigError, match="num_classes"):
        build_model("r3d_tiny", num_classes=0)
    with pytest.raises(ConfigError, match="dropout"):
        build_model("r3d_tiny", num_classes=2, dropout=1.5)


def test_model_options_reports_builder_keywords() -> None:
    opts = model_options("lrcn_small")
    assert opts["rnn"] == "lstm" and opts["bidirectional"] is False and "hidden" in opts and "dropout" in opts
    assert model_options("frame_effnet_lite0")["pretrained"] is False


def test_register_model_accepts_keyword_only_builders_and_rejects_others() -> None:
    class Mini(VideoClassifier):
        def __init__(self, num_classes: int, dropout: float) -> None:
            super().__init__()
            self.num_features = 3
            self.head = make_head(3, num_classes, dropout)

        def forward_features(self, x: torch.Tensor) -> torch.Tensor:
            return x.mean(dim=(3, 4)).mean(dim=2)

    try:

        @register_model(family="frame")
        def _test_mini(*, num_classes: int, dropout: float = 0.0) -> nn.Module:
            """A test model."""
            return Mini(num_classes, dropout)

        assert "_test_mini" in list_models("frame")
        assert build_model("_test_mini", num_classes=2)(torch.zeros(1, 3, 2, 4, 4)).shape == (1, 2)
        with pytest.raises(ValueError, match="registered twice"):
            register_model(family="frame")(_test_mini)
    finally:
        _REGISTRY.pop("_test_mini", None)

    def positional(num_classes: int, dropout: float = 0.0) -> nn.Module:
        raise AssertionError

    with pytest.raises(TypeError, match="keyword-only"):
        register_model(family="3d")(positional)
    with pytest.raises(ValueError, match="family"):
        register_model(family="2.5d")


def test_model_info_counts_parameters_and_multiply_adds() -> None:
    info = model_info("r3d_tiny", clip=(8, 64, 64), num_classes=10)
    assert info["name"] == "r3d_tiny" and info["family"] == "3d" and info["clip"] == (8, 64, 64)
    model = build_model("r3d_tiny", num_classes=10)
    assert info["params"] == sum(p.numel() for p in model.parameters())
    # the stem conv alone: 16 out channels * (3*3*7*7) weights at 8*32*32 output positions
    assert info["macs"] > 16 * 3 * 3 * 7 * 7 * 8 * 32 * 32
    # a fully convolutional 3D net costs ~4x at 2x the spatial size
    bigger = model_info(model, clip=(8, 128, 128))
    assert bigger["name"] == "r3d_tiny" and bigger["params"] == info["params"]
    assert 3.5 < bigger["macs"] / info["macs"] < 4.5


def test_model_info_counts_a_linear_layer_exactly() -> None:
    # feature_rnn with a plain RNN: per step (F*H + H*H) multiply-adds, plus the H*C head
    f, h, t, c = 12, 16, 5, 3
    info = model_info("feature_rnn", clip=(t, 1, 1), num_classes=c, in_features=f, hidden=h, rnn="rnn")
    assert info["macs"] == t * (f * h + h * h) + h * c
    lstm = model_info("feature_rnn", clip=(t, 1, 1), num_classes=c, in_features=f, hidden=h, rnn="lstm")
    assert lstm["macs"] == 4 * t * (f * h + h * h) + h * c  # LSTMs are counted too (4 gates)


@pytest.mark.parametrize(("name", "gmacs"), [("r3d_18", 40.70), ("mc3_18", 43.34), ("r2plus1d_18", 40.52)])
def test_model_info_matches_torchvision_documented_cost(name: str, gmacs: float) -> None:
    # torchvision's model cards give these GFLOPS (multiply-adds) at 16x112x112, 400 classes
    info = model_info(name, clip=(16, 112, 112), num_classes=400)
    assert abs(info["macs"] / 1e9 - gmacs) < 0.01
