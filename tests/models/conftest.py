"""Fixtures for the model-zoo tests: tiny per-model options and clip sizes, so that every registered
model runs in a fraction of a second on a CPU. Helpers come as the `zoo` fixture (test folders here are
not packages, so test modules cannot import each other)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch
from torch import nn

from vidlearn.models import build_model

CLIP = (4, 32, 32)  # T, H, W used by the fast tests
# options that keep a model's graph (layer types and wiring) but shrink its channels
TINY_OPTIONS: dict[str, dict] = {
    "c3d": {"width": 8, "fc_dim": 64},
    "r3d_18": {"width": 8},
    "mc3_18": {"width": 8},
    "r2plus1d_18": {"width": 8},
    "feature_rnn": {"in_features": 12},
    "slow_r50": {"width": 8},
    "slowfast_r50": {"width": 16},
    "vit_tiny_video": {"num_frames": CLIP[0], "img_size": CLIP[1], "patch_size": 8, "depth": 2},
    **{name: {"num_frames": CLIP[0], "image_size": CLIP[1], "patch_size": 8, "hidden_size": 32, "num_hidden_layers": 2,
              "num_attention_heads": 4, "intermediate_size": 64} for name in ("videomae_base", "timesformer_base")},
}
# options that a model needs at its default size
REQUIRED_OPTIONS: dict[str, dict] = {"feature_rnn": {"in_features": 64}}


def tiny_model(name: str, num_classes: int = 5, **options) -> nn.Module:
    """Build `name` at test size (seeded)."""
    torch.manual_seed(0)
    return build_model(name, num_classes=num_classes, **{**TINY_OPTIONS.get(name, {}), **options})


def tiny_input(model: nn.Module, batch: int = 2, clip: tuple[int, int, int] = CLIP) -> torch.Tensor:
    """A seeded random input of the shape `model` takes."""
    g = torch.Generator().manual_seed(1)
    in_features = getattr(model, "in_features", None)
    if in_features is not None:
        return torch.randn(batch, clip[0], in_features, generator=g)
    return torch.randn(batch, 3, *clip, generator=g)


def randomize(model: nn.Module) -> nn.Module:
    """Give BatchNorm statistics/affine and the classifier random values of order one, so that outputs
    are not tiny (default inits make some logits ~1e-10, which would make any comparison vacuous)."""
    g = torch.Generator().manual_seed(2)
    with torch.no_grad():
        for m in model.modules():
            if isinstance(m, nn.modules.batchnorm._BatchNorm):
                m.running_mean.copy_(0.1 * torch.randn(m.running_mean.shape, generator=g))
                m.running_var.copy_(0.5 + torch.rand(m.running_var.shape, generator=g))
                m.weight.copy_(0.5 + torch.rand(m.weight.shape, generator=g))
                m.bias.copy_(0.1 * torch.randn(m.bias.shape, generator=g))
        for m in model.head.modules():
            if isinstance(m, nn.Linear):
                m.weight.copy_(torch.randn(m.weight.shape, generator=g) / m.in_features**0.5)
    return model


@pytest.fixture(autouse=True)
def _one_thread():
    """These tensors are tiny: one intra-op thread is faster than two on a shared 2-core machine."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def zoo() -> SimpleNamespace:
    """The helpers: zoo.tiny_model(name, num_classes, **options), zoo.tiny_input(model, batch, clip),
    zoo.randomize(model), zoo.CLIP, zoo.REQUIRED_OPTIONS."""
    return SimpleNamespace(
        tiny_model=tiny_model, tiny_input=tiny_input, randomize=randomize, CLIP=CLIP, REQUIRED_OPTIONS=REQUIRED_OPTIONS
    )
