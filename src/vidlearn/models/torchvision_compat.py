"""Loading torchvision video-ResNet checkpoints (r3d_18, mc3_18, r2plus1d_18; e.g. Kinetics-400) that a
user has as a local file, into the zoo's models of the same name. No torchvision import: our modules
use torchvision's parameter names, so the only mapping is the classifier (`fc.*` -> `fc.1.*` when the
model has dropout before it)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import torch
from torch import nn

from vidlearn.errors import ArtifactError

_WRAPPERS = ("state_dict", "model_state_dict", "model", "module")


def _read_state_dict(path: Path) -> dict[str, torch.Tensor]:
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArtifactError(path, "checkpoint file not found") from None
    except Exception as exc:  # noqa: BLE001 - an unreadable file is the user's input
        raise ArtifactError(path, f"not a readable torch checkpoint (weights_only): {exc}") from None
    for key in _WRAPPERS:  # {"state_dict": {...}} and similar training-script wrappers
        if isinstance(obj, Mapping) and key in obj and isinstance(obj[key], Mapping):
            obj = obj[key]
    if not isinstance(obj, Mapping) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise ArtifactError(path, "expected a state_dict (a mapping of parameter names to tensors)")
    return {k.removeprefix("module."): v for k, v in obj.items()}


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
    """Load a torchvision video-ResNet state_dict file (read with weights_only=True) into `model`.

    The backbone must match exactly (names and shapes), else `ArtifactError` naming the file and
    the first differences. The classifier (`fc`) is loaded when `load_head` is True, skipped when
    False, and with None loaded only if its shape matches (so a 400-class Kinetics checkpoint can
    initialise a 5-class model). Returns the checkpoint keys that were not loaded."""
    path = Path(path)
    if not hasattr(model, "fc"):
        raise TypeError(f"{type(model).__name__} is not a torchvision-compatible video ResNet (no fc)")
    state = _read_state_dict(path)
    head_map = _head_map(model)
    own = model.state_dict()
    name = getattr(model, "model_name", type(model).__name__)

    backbone = {k: v for k, v in state.items() if k not in head_map}
    problems = [f"unexpected {k}" for k in backbone if k not in own]
    problems += [f"missing {k}" for k in own if k not in backbone and k not in head_map.values() and not k.endswith("num_batches_tracked")]
    problems += [
        f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}"
        for k, v in backbone.items()
        if k in own and v.shape != own[k].shape
    ]
    if problems:
        more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
        raise ArtifactError(path, f"does not match {name}: " + "; ".join(problems[:6]) + more)

    head = {head_map[k]: v for k, v in state.items() if k in head_map}
    head_fits = set(head) == set(head_map.values()) and all(v.shape == own[k].shape for k, v in head.items())
    if load_head and not head_fits:
        shapes = {k: tuple(v.shape) for k, v in state.items() if k in head_map}
        raise ArtifactError(path, f"classifier {shapes} does not fit {name}'s head {tuple(own[head_map['fc.weight']].shape)}")
    use_head = head_fits if load_head is None else load_head
    model.load_state_dict({**backbone, **(head if use_head else {})}, strict=False)
    return sorted(k for k in state if k in head_map and not use_head)
