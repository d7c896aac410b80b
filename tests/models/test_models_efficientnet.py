"""EfficientNet-Lite0: exact state_dict match with the shipped ImageNet weights, correct ImageNet
predictions on real video frames, and the pretrained / freeze options of the frame models."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest
import torch

from vidlearn.errors import ArtifactError, ConfigError
from vidlearn.models import (
    EFFNET_LITE0_MEAN,
    EFFNET_LITE0_STD,
    EfficientNetLite0,
    build_model,
    efficientnet_lite0_weights_path,
    load_efficientnet_lite0_weights,
)
from vidlearn.models.efficientnet_lite import preprocess_frame

# ImageNet-1k class indices
BOW_TIE, SUIT, WINDSOR_TIE = 457, 834, 906


@pytest.fixture(scope="module")
def imagenet_net() -> EfficientNetLite0:
    return load_efficientnet_lite0_weights(EfficientNetLite0(num_classes=1000)).eval()


def _frame(path: Path, index: int) -> np.ndarray:
    with av.open(str(path)) as container:
        for i, frame in enumerate(container.decode(video=0)):
            if i == index:
                return frame.to_ndarray(format="rgb24")
    raise AssertionError(f"{path} has fewer than {index + 1} frames")


def test_weights_file_ships_with_the_package_and_matches_the_module_exactly() -> None:
    path = efficientnet_lite0_weights_path()
    assert path.is_file() and path.name == "efficientnet-lite0-57934424.pth"
    state = torch.load(path, map_location="cpu", weights_only=True)
    own = EfficientNetLite0(num_classes=1000).state_dict()
    assert list(own) == list(state)  # same names in the same order
    assert all(own[k].shape == v.shape for k, v in state.items())
    # 4.69 M parameters, as the package documents
    assert sum(v.numel() for k, v in state.items() if not k.endswith("num_batches_tracked")) == 4_694_024
    assert EFFNET_LITE0_MEAN == EFFNET_LITE0_STD == (0.5, 0.5, 0.5)


@pytest.mark.parametrize(
    ("clip", "index", "expected", "what"),
    [
        ("carphone_pristine.mp4", 30, BOW_TIE, "a man in a car wearing a red bow tie"),
        ("bikes.mp4", 30, SUIT, "a cyclist in a dark suit and striped tie"),
    ],
)
def test_pretrained_net_classifies_real_video_frames(clips_dir: Path, imagenet_net, clip, index, expected, what) -> None:
    frame = _frame(clips_dir / clip, index)
    x = preprocess_frame(frame)
    assert x.shape == (3, 224, 224) and -1.0 <= x.min() and x.max() <= 1.0
    with torch.no_grad():
        probs = imagenet_net(x[None]).softmax(dim=1)[0]
    top5 = probs.topk(5).indices.tolist()
    assert expected in top5, f"{what}: top-5 {top5}"
    assert probs[top5[0]] > 0.4  # confident
    assert top5[0] in {BOW_TIE, SUIT, WINDSOR_TIE}  # and its best guess is clothing that is in the frame
    # negative control: the same network without the ImageNet weights does not find it
    torch.manual_seed(0)
    with torch.no_grad():
        untrained = EfficientNetLite0(num_classes=1000).eval()(x[None]).softmax(dim=1)[0]
    assert untrained.max() < 0.1


def test_frame_model_with_pretrained_encoder_uses_the_imagenet_features(clips_dir: Path, imagenet_net) -> None:
    frames = [preprocess_frame(_frame(clips_dir / "carphone_pristine.mp4", i)) for i in (0, 30)]
    clip = torch.stack(frames, dim=1)[None]  # (1, 3, T=2, 224, 224)
    model = build_model("frame_effnet_lite0", num_classes=3, pretrained=True, pool="max").eval()
    # the model says how its inputs should be prepared
    assert model.pretrained_cfg["mean"] == EFFNET_LITE0_MEAN and model.pretrained_cfg["crop_size"] == 224
    assert build_model("frame_effnet_lite0", num_classes=3).pretrained_cfg is None
    with torch.no_grad():
        per_frame = imagenet_net.forward_features(torch.stack(frames))
        torch.testing.assert_close(model.forward_frames(clip)[0], per_frame)
        torch.testing.assert_close(model.forward_features(clip)[0], per_frame.amax(dim=0))


def test_pretrained_accepts_a_local_path_and_names_bad_files(tmp_path: Path) -> None:
    state = torch.load(efficientnet_lite0_weights_path(), map_location="cpu", weights_only=True)
    state["_conv_stem.weight"] = state["_conv_stem.weight"] * 2
    local = tmp_path / "lite0_finetuned.pth"
    torch.save(state, local)
    model = build_model("lrcn_effnet_lite0", num_classes=2, pretrained=str(local))
    torch.testing.assert_close(model.encoder._conv_stem.weight, state["_conv_stem.weight"])
    assert not hasattr(model.encoder._fc, "weight")  # the ImageNet classifier is not part of the video model

    with pytest.raises(ArtifactError, match="nothing_here.pth"):
        build_model("frame_effnet_lite0", num_classes=2, pretrained=str(tmp_path / "nothing_here.pth"))
    wrong = tmp_path / "wrong.pth"
    torch.save({"_conv_stem.weight": torch.zeros(8, 3, 3, 3)}, wrong)
    with pytest.raises(ArtifactError, match=r"wrong\.pth: not an EfficientNet-Lite0 state_dict"):
        build_model("frame_effnet_lite0", num_classes=2, pretrained=wrong)
    with pytest.raises(ConfigError, match="frame_cnn_small does not take pretrained"):
        build_model("frame_cnn_small", num_classes=2, pretrained=True)


@pytest.mark.parametrize("name", ["frame_effnet_lite0", "lrcn_effnet_lite0"])
def test_freeze_leaves_encoder_without_gradients_and_statistics_unchanged(name: str) -> None:
    model = build_model(name, num_classes=3, pretrained=True, freeze=True)
    bn = model.encoder._bn0
    running_mean = bn.running_mean.clone()
    model.train()
    assert not model.encoder.training  # a frozen encoder stays in eval mode
    x = torch.randn(2, 3, 2, 32, 32)
    model(x).sum().backward()
    assert all(p.grad is None and not p.requires_grad for p in model.encoder.parameters())
    trainable = [p for p in model.parameters() if p.requires_grad]
    assert trainable and all(p.grad is not None for p in trainable)
    torch.testing.assert_close(bn.running_mean, running_mean)

    unfrozen = build_model(name, num_classes=3, pretrained=True).train()
    unfrozen(x).sum().backward()
    assert unfrozen.encoder._conv_stem.weight.grad is not None
    assert not torch.equal(unfrozen.encoder._bn0.running_mean, running_mean)
