"""The video ResNets use torchvision's parameter names and shapes, and load torchvision checkpoints."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.errors import ArtifactError
from vidlearn.models import build_model, load_torchvision_checkpoint, torchvision_state_dict

# Names and shapes from torchvision/models/video/resnet.py (Kinetics-400 heads), and its model cards'
# parameter counts; written out here, not computed, so that a renamed or reshaped layer fails.
TORCHVISION_KEYS = {
    "r3d_18": {
        "stem.0.weight": (64, 3, 3, 7, 7),
        "stem.1.running_var": (64,),
        "layer1.0.conv1.0.weight": (64, 64, 3, 3, 3),
        "layer1.0.conv1.1.weight": (64,),
        "layer1.1.conv2.0.weight": (64, 64, 3, 3, 3),
        "layer2.0.conv1.0.weight": (128, 64, 3, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1, 1),
        "layer2.0.downsample.1.running_mean": (128,),
        "layer4.1.conv2.1.bias": (512,),
        "fc.weight": (400, 512),
        "fc.bias": (400,),
    },
    "mc3_18": {
        "stem.0.weight": (64, 3, 3, 7, 7),
        "layer1.0.conv1.0.weight": (64, 64, 3, 3, 3),
        "layer2.0.conv1.0.weight": (128, 64, 1, 3, 3),
        "layer3.1.conv2.0.weight": (256, 256, 1, 3, 3),
        "fc.weight": (400, 512),
    },
    "r2plus1d_18": {
        "stem.0.weight": (45, 3, 1, 7, 7),
        "stem.1.weight": (45,),
        "stem.3.weight": (64, 45, 3, 1, 1),
        "stem.4.running_mean": (64,),
        "layer1.0.conv1.0.0.weight": (144, 64, 1, 3, 3),
        "layer1.0.conv1.0.1.weight": (144,),
        "layer1.0.conv1.0.3.weight": (64, 144, 3, 1, 1),
        "layer1.0.conv1.1.weight": (64,),
        "layer2.0.conv1.0.0.weight": (230, 64, 1, 3, 3),
        "layer2.0.conv2.0.0.weight": (230, 128, 1, 3, 3),
        "layer2.0.downsample.0.weight": (128, 64, 1, 1, 1),
        "layer4.1.conv1.0.0.weight": (1152, 512, 1, 3, 3),
        "fc.weight": (400, 512),
    },
}
TORCHVISION_PARAMS = {"r3d_18": 33_371_472, "mc3_18": 11_695_440, "r2plus1d_18": 31_505_325}


@pytest.mark.parametrize("name", sorted(TORCHVISION_KEYS))
def test_parameter_names_shapes_and_counts_match_torchvision(name: str) -> None:
    with torch.device("meta"):
        model = build_model(name, num_classes=400)
    state = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    for key, shape in TORCHVISION_KEYS[name].items():
        assert state.get(key) == shape, f"{key}: {state.get(key)} != {shape}"
    assert sum(p.numel() for p in model.parameters()) == TORCHVISION_PARAMS[name]
    assert not any(k.startswith("head") for k in state)  # the classifier is stored as fc, like torchvision


def test_head_is_an_alias_of_fc() -> None:
    model = build_model("r3d_tiny", num_classes=4)
    assert model.head is model.fc
    new = nn.Linear(model.num_features, 2)
    model.head = new
    assert model.fc is new and model.head is new
    assert "fc.weight" in model.state_dict() and not any(k.startswith("head") for k in model.state_dict())
    assert model(torch.randn(1, 3, 4, 32, 32)).shape == (1, 2)


def _outputs(model: nn.Module, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return model.eval()(x)


def test_checkpoint_round_trip_under_torchvision_names(tmp_path, zoo) -> None:
    torch.manual_seed(0)
    source = zoo.randomize(build_model("r2plus1d_18", num_classes=400, width=8))
    path = tmp_path / "r2plus1d_18_kinetics.pth"
    torch.save(torchvision_state_dict(source), path)
    x = torch.randn(2, 3, 4, 32, 32)

    torch.manual_seed(1)
    same = build_model("r2plus1d_18", num_classes=400, width=8)
    assert not torch.allclose(_outputs(same, x), _outputs(source, x))
    assert load_torchvision_checkpoint(same, path) == []
    torch.testing.assert_close(_outputs(same, x), _outputs(source, x))

    # with dropout the classifier is fc = Sequential(Dropout, Linear): fc.weight maps to fc.1.weight
    dropped = build_model("r2plus1d_18", num_classes=400, width=8, dropout=0.5)
    assert "fc.1.weight" in dropped.state_dict()
    assert load_torchvision_checkpoint(dropped, path) == []
    torch.testing.assert_close(_outputs(dropped, x), _outputs(source, x))
    assert set(torchvision_state_dict(dropped)) == set(torch.load(path, weights_only=True))

    # a model for 5 classes takes the backbone and keeps its own new head
    five = build_model("r2plus1d_18", num_classes=5, width=8)
    head_before = five.fc.weight.clone()
    assert load_torchvision_checkpoint(five, path) == ["fc.bias", "fc.weight"]
    torch.testing.assert_close(five.fc.weight, head_before)
    with torch.no_grad():
        torch.testing.assert_close(five.eval().forward_features(x), same.eval().forward_features(x))
    with pytest.raises(ArtifactError, match="classifier"):
        load_torchvision_checkpoint(five, path, load_head=True)


def test_wrapped_and_ddp_prefixed_checkpoints_load(tmp_path) -> None:
    source = build_model("r3d_18", num_classes=400, width=4)
    path = tmp_path / "wrapped.pth"
    torch.save({"state_dict": {f"module.{k}": v for k, v in torchvision_state_dict(source).items()}, "epoch": 3}, path)
    target = build_model("r3d_18", num_classes=400, width=4)
    load_torchvision_checkpoint(target, path)
    for k, v in source.state_dict().items():
        torch.testing.assert_close(target.state_dict()[k], v)


def test_mismatched_or_bad_checkpoints_name_the_file(tmp_path) -> None:
    r3d = tmp_path / "r3d_18.pth"
    torch.save(torchvision_state_dict(build_model("r3d_18", num_classes=400, width=4)), r3d)
    with pytest.raises(ArtifactError, match=r"r3d_18\.pth.*does not match r2plus1d_18"):
        load_torchvision_checkpoint(build_model("r2plus1d_18", num_classes=400, width=4), r3d)
    with pytest.raises(ArtifactError, match=r"stem\.0\.weight: checkpoint \(4, 3, 3, 7, 7\) vs model \(8, 3, 3, 7, 7\)"):
        load_torchvision_checkpoint(build_model("r3d_18", num_classes=400, width=8), r3d)
    with pytest.raises(ArtifactError, match="missing.pth.*not found"):
        load_torchvision_checkpoint(build_model("r3d_18", num_classes=400, width=4), tmp_path / "missing.pth")
    junk = tmp_path / "junk.pth"
    junk.write_bytes(b"not a checkpoint")
    with pytest.raises(ArtifactError, match="junk.pth"):
        load_torchvision_checkpoint(build_model("r3d_18", num_classes=400, width=4), junk)
    pickled = tmp_path / "pickled.pth"
    torch.save({"model": nn.Linear(2, 2)}, pickled)  # a pickled module is refused (weights_only)
    with pytest.raises(ArtifactError, match="pickled.pth"):
        load_torchvision_checkpoint(build_model("r3d_18", num_classes=400, width=4), pickled)
