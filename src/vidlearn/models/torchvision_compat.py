"""torchvision video-ResNet names (r3d_18, mc3_18, r2plus1d_18). Our modules use torchvision's
parameter names, so the only difference is the classifier with dropout (`fc.1.*` here, `fc.*` in
torchvision). Loading any checkpoint form is `vidlearn.models.checkpoints.load_pretrained`;
`load_torchvision_checkpoint` is kept as a thin wrapper of it."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from vidlearn.models.checkpoints import load_pretrained


def _head_map(model: nn.Module) -> dict[str, str]:
    """torchvision name -> our name for the classifier's tensors."""
    if isinstance(model.fc, nn.Sequential):
        return {"fc.weight": "fc.1.weight", "fc.bias": "fc.1.bias"}
    return {"fc.weight": "fc.weight", "fc.bias": "fc.bias"}


def torchvision_state_dict(model: nn.Module) -> dict[str, torch.Tensor]:
    """`model`'s state_dict under torchvision's names (what torchvision's model of the same architecture saves)."""
    inverse = {ours: theirs for theirs, ours in _head_map(model).items()}
    return {inverse.get(k, k): v for k, v in model.state_dict().items()}


def load_torchvision_checkpoint(model: nn.Module, path: str | Path, *, load_head: bool | None = None) -> list[str]:
    """Load a torchvision video-ResNet checkpoint into `model` with `load_pretrained` (strict
    backbone; the classifier loaded when `load_head` is True, never when False, and with None
    only if it fits). Returns the checkpoint keys that were not loaded."""
    if not hasattr(model, "fc"):
        raise TypeError(f"{type(model).__name__} is not a torchvision-compatible video ResNet (no fc)")
    mode = {None: "auto", True: "load", False: "new"}[load_head]
    return sorted(load_pretrained(model, path, head=mode).skipped)  # type: ignore[arg-type]
