"""Every registered model honours the contract: shapes, embedding, head, gradients, regression."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from vidlearn.models import build_model, list_models, native_clip, reset_head

ALL = list_models()


def test_the_zoo_has_every_family_and_model() -> None:
    expected = {
        "frame_cnn_small", "frame_effnet_lite0", "lrcn_small", "lrcn_effnet_lite0", "feature_rnn",
        "c3d", "c3d_small", "r3d_18", "mc3_18", "r2plus1d_18", "r3d_tiny", "r2plus1d_tiny",
        "x3d_tiny", "x3d_s", "vit_tiny_video",
    }  # fmt: skip
    assert expected <= set(ALL)


@pytest.mark.parametrize("name", ALL)
def test_builds_at_default_size(name: str, zoo) -> None:
    # on the meta device: the real default-size graph is built and run for shapes, without the cost
    with torch.device("meta"):
        model = build_model(name, num_classes=7, **zoo.REQUIRED_OPTIONS.get(name, {})).eval()
        clip = native_clip(name) or (16, 112, 112)
        x = torch.empty(2, clip[0], model.in_features) if hasattr(model, "in_features") else torch.empty(2, 3, *clip)
        assert model(x).shape == (2, 7)
        assert model.forward_features(x).shape == (2, model.num_features)
    assert sum(p.numel() for p in model.parameters()) > 0


@pytest.mark.parametrize("name", ALL)
def test_forward_features_head_and_backward(name: str, zoo) -> None:
    model = zoo.tiny_model(name, num_classes=5).train()
    x = zoo.tiny_input(model, batch=2)
    out = model(x)
    assert out.shape == (2, 5)
    assert torch.isfinite(out).all()
    model.eval()
    with torch.no_grad():
        feats = model.forward_features(x)
        assert feats.shape == (2, model.num_features)
        # forward is exactly head(forward_features): the embedding is what the head sees
        torch.testing.assert_close(model(x), model.head(feats))
    model.train()
    model(x).logsumexp(dim=1).sum().backward()
    trainable = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
    assert trainable
    no_grad = [n for n, p in trainable if p.grad is None]
    assert not no_grad, f"parameters without gradient: {no_grad[:5]}"
    assert all(torch.isfinite(p.grad).all() for _, p in trainable)
    assert any(p.grad.abs().sum() > 0 for n, p in trainable if not n.startswith(("head", "fc")))


@pytest.mark.parametrize("name", ALL)
def test_regression_output_and_replaceable_head(name: str, zoo) -> None:
    model = zoo.tiny_model(name, num_classes=1).eval()
    x = zoo.tiny_input(model, batch=3)
    with torch.no_grad():
        assert model(x).shape == (3, 1)
        model.head = nn.Linear(model.num_features, 9)
        assert model(x).shape == (3, 9)
        reset_head(model, 2, dropout=0.5)
        assert isinstance(model.head, nn.Sequential) and isinstance(model.head[0], nn.Dropout)
        assert model(x).shape == (3, 2)


@pytest.mark.parametrize("name", ALL)
def test_dropout_option_puts_dropout_before_the_classifier(name: str, zoo) -> None:
    model = zoo.tiny_model(name, num_classes=4, dropout=0.5)
    x = zoo.tiny_input(model, batch=2)
    if name.startswith("c3d"):  # C3D's dropout sits after fc6 and fc7, inside the embedding
        assert sum(isinstance(m, nn.Dropout) and m.p == 0.5 for m in model.modules()) == 2
    else:
        assert isinstance(model.head, nn.Sequential) and model.head[0].p == 0.5
    zoo.randomize(model).train()
    with torch.no_grad():
        assert not torch.equal(model(x), model(x))  # stochastic in training
        model.eval()
        torch.testing.assert_close(model(x), model(x))  # deterministic in evaluation


def test_batch_items_are_independent_in_eval(zoo) -> None:
    # a clip's prediction must not depend on the other clips in its batch (no batch statistics at eval)
    for name in ("r2plus1d_tiny", "frame_cnn_small", "vit_tiny_video", "lrcn_small"):
        model = zoo.randomize(zoo.tiny_model(name)).eval()
        x = zoo.tiny_input(model, batch=3)
        with torch.no_grad():
            torch.testing.assert_close(model(x)[1:2], model(x[1:2]), rtol=1e-4, atol=1e-5)


def test_tiny_default_model_learns_motion_direction_from_scratch() -> None:
    # classes differ only by the direction a square moves: no single frame tells them apart
    torch.manual_seed(0)
    g = torch.Generator().manual_seed(0)

    def batch(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        t_len, size = 8, 32
        y = torch.randint(0, 2, (n,), generator=g)
        x = 0.1 * torch.randn(n, 3, t_len, size, size, generator=g)
        for i in range(n):
            r0 = int(torch.randint(4, size - 8, (1,), generator=g))
            c0 = int(torch.randint(0, size - 4 - 2 * (t_len - 1), (1,), generator=g))
            for t in range(t_len):
                c = c0 + 2 * (t if y[i] == 0 else t_len - 1 - t)
                x[i, :, t, r0 : r0 + 4, c : c + 4] += 1.0
        return x, y

    model = build_model("r2plus1d_tiny", num_classes=2)
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3, weight_decay=0.0)
    x_test, y_test = batch(48)
    for _ in range(40):
        x, y = batch(16)
        loss = nn.functional.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(x_test).argmax(1) == y_test).float().mean().item()
    assert accuracy >= 0.9
