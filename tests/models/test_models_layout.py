"""3-D CNNs get the channels-last-3d layout (much faster CPU training); outputs do not change,
frame models keep the default layout."""

from __future__ import annotations

import torch

from vidlearn.models import build_model


def test_3d_cnns_use_channels_last_3d_without_changing_outputs() -> None:
    torch.manual_seed(0)
    model = build_model("r3d_tiny", num_classes=3).eval()
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv3d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last_3d)
    x = torch.randn(2, 3, 4, 32, 32)
    fast = model(x)
    plain = build_model("r3d_tiny", num_classes=3).eval()
    plain.load_state_dict(model.state_dict())
    for p in plain.parameters():
        p.data = p.data.contiguous()
    plain._forward_pre_hooks.clear()
    torch.testing.assert_close(fast, plain(x), atol=1e-4, rtol=1e-4)


def test_frame_models_keep_the_default_layout() -> None:
    model = build_model("frame_cnn_small", num_classes=3)
    assert not model._forward_pre_hooks
    assert all(p.is_contiguous() for p in model.parameters())
