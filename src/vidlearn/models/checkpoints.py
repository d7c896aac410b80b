"""Loading checkpoints strictly into the zoo's models (reading them: `checkpoint_files`).

Loading (`load_pretrained`) is strict about the backbone and explicit about the classifier: every
backbone tensor of the model must come from the checkpoint and every checkpoint backbone tensor
must map to the model, with equal shapes (the one tolerance: BatchNorm ``num_batches_tracked``
counters that old checkpoints lack keep the model's value). The classifier is the set of keys
under the model's ``head_prefix`` (the reference's name for it, e.g. ``"fc"``; a model without
the attribute uses the module path of ``model.head``). It is loaded when its shapes fit (matched
by name, else by leaf name, else in order: ``fc.weight`` -> ``fc.1.weight`` when dropout wraps
the Linear), else left freshly initialised and reported as replaced."""

from __future__ import annotations

import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from vidlearn.errors import ArtifactError, first_line
from vidlearn.models.checkpoint_files import (
    Checkpoint,
    is_tensor_mapping,
    listed,
    open_checkpoint,
)

__all__ = ["LoadReport", "guess_architecture", "load_pretrained"]


HeadMode = Literal["auto", "load", "new"]


Source = str | Path | Checkpoint | Mapping[str, torch.Tensor]


@dataclass(frozen=True)
class LoadReport:
    """What `load_pretrained` did: the file, how many tensors were copied, what happened to the
    classifier ("loaded"; "replaced": the checkpoint's did not fit or head="new", the model keeps
    its fresh one; "kept": the checkpoint has none) and a one-line `message` for the user."""

    path: Path | None
    architecture: str
    format: str
    tensors: int
    head: Literal["loaded", "replaced", "kept"]
    message: str
    skipped: tuple[str, ...] = ()  # checkpoint keys not loaded (the replaced classifier)
    config: dict[str, Any] | None = None


def load_pretrained(model: nn.Module, source: Source, *, head: HeadMode = "auto") -> LoadReport:
    """Load a checkpoint (a path of any form `open_checkpoint` reads, a weights-catalogue name such
    as ``"r3d_18.kinetics400"`` once fetched, a `Checkpoint`, or an in-memory state dict) into
    `model`, strictly for the backbone. `head`: "auto" loads the classifier when its shapes fit
    and keeps the model's fresh one otherwise; "load" requires it to fit; "new" never loads it.
    Raises ArtifactError naming the file and the first mismatching keys."""
    if head not in ("auto", "load", "new"):
        raise ValueError(f"head must be 'auto', 'load' or 'new', got {head!r}")
    ckpt = _as_checkpoint(source)
    where: str | Path = ckpt.path if ckpt.path is not None else "<state dict>"
    name = getattr(model, "model_name", type(model).__name__)
    own = model.state_dict()
    prefixes = _head_prefixes(model)
    model_head = [k for k in own if _under(k, prefixes)]
    ckpt_head = [k for k in ckpt.state_dict if _under(k, prefixes)]
    backbone = {k: v for k, v in ckpt.state_dict.items() if k not in set(ckpt_head)}

    problems = _backbone_problems(own, set(model_head), backbone)
    if problems:
        guess = guess_architecture(ckpt.state_dict)
        hint = f"; its keys look like a {guess[0]} checkpoint ({guess[1]:.0%} of names and shapes match)" if guess and guess[0] != name else ""
        raise ArtifactError(where, f"does not match {name}: " + listed(problems, 6) + hint)

    pairs = _pair_head(ckpt_head, model_head, ckpt.state_dict, own)
    fits = pairs is not None and bool(ckpt_head)
    c_classes, m_classes = _classes(ckpt.state_dict, ckpt_head), _classes(own, model_head)
    if head == "load" and not fits:
        theirs = {k: tuple(ckpt.state_dict[k].shape) for k in ckpt_head}
        mine = {k: tuple(own[k].shape) for k in model_head}
        raise ArtifactError(where, f"the checkpoint's classifier {theirs or '(none)'} does not fit {name}'s head {mine}")
    mapped = {k: v for k, v in backbone.items() if k in own}
    if fits and head != "new":
        mapped.update({mine: ckpt.state_dict[theirs] for theirs, mine in pairs.items()})  # type: ignore[union-attr]
        status, skipped = "loaded", ()
        message = f"loaded {len(mapped)} tensors from {where} ({ckpt.format}), head included ({m_classes} classes)"
    elif ckpt_head:
        status, skipped = "replaced", tuple(sorted(ckpt_head))
        why = "head='new'" if head == "new" and fits else f"checkpoint has {c_classes} classes, the model {m_classes}"
        if head != "new" and c_classes == m_classes:
            why = "the checkpoint's classifier has other shapes than the model's head"
        message = f"head replaced: {why} (loaded {len(mapped)} backbone tensors from {where})"
    else:
        status, skipped = "kept", ()
        message = f"head kept: the checkpoint has no classifier under {' / '.join(prefixes) or 'a head prefix'} (loaded {len(mapped)} tensors from {where})"
    try:
        with warnings.catch_warnings():  # a meta-device model is only checked: copying into it is a no-op
            warnings.filterwarnings("ignore", message=".*copying from a non-meta parameter")
            result = model.load_state_dict(mapped, strict=False)
    except RuntimeError as exc:  # e.g. a dtype that cannot be copied
        raise ArtifactError(where, f"cannot be loaded into {name}: {first_line(exc)}") from None
    left = [k for k in result.missing_keys if not k.endswith("num_batches_tracked") and k not in model_head]
    if left or result.unexpected_keys:  # pragma: no cover - guarded by the checks above
        raise ArtifactError(where, f"does not match {name}: missing {listed(left)}; unexpected {listed(result.unexpected_keys)}")
    return LoadReport(ckpt.path, name, ckpt.format, len(mapped), status, message, skipped, ckpt.config)


def _as_checkpoint(source: Source) -> Checkpoint:
    if isinstance(source, Checkpoint):
        return source
    if isinstance(source, Mapping):
        if not is_tensor_mapping(source):
            raise ArtifactError("<state dict>", "expected a mapping of parameter names to tensors")
        return Checkpoint(None, dict(source), "state_dict")
    path = Path(source).expanduser()
    if not path.exists() and isinstance(source, str) and "/" not in source:
        from vidlearn.models.download import resolve_weights  # a catalogue name

        path = resolve_weights(source)
    return open_checkpoint(path)


def _head_prefixes(model: nn.Module) -> list[str]:
    """The classifier's state-dict prefixes: the class's `head_prefix` (the reference's name) and
    the module path of `model.head` (they differ after `reset_head` or with another dropout)."""
    out = []
    declared = getattr(type(model), "head_prefix", None) or getattr(model, "head_prefix", None)
    if isinstance(declared, str) and declared:
        out.append(declared)
    head = getattr(model, "head", None)
    if isinstance(head, nn.Module):
        found = next((n for n, m in model.named_modules() if m is head and n), None)
        if found and found not in out:
            out.append(found)
    return out


def _under(key: str, prefixes: list[str]) -> bool:
    return any(key == p or key.startswith(p + ".") for p in prefixes)


def _backbone_problems(own: Mapping[str, torch.Tensor], model_head: set[str], backbone: Mapping[str, torch.Tensor]) -> list[str]:
    missing = [f"missing {k}" for k in own if k not in model_head and k not in backbone and not k.endswith("num_batches_tracked")]
    unexpected = [f"unexpected {k}" for k in backbone if k not in own]
    shapes = []
    for k, v in backbone.items():
        if k in own and k not in model_head:
            if tuple(v.shape) != tuple(own[k].shape):
                shapes.append(f"{k}: checkpoint {tuple(v.shape)} vs model {tuple(own[k].shape)}")
            elif v.is_floating_point() != own[k].is_floating_point():
                shapes.append(f"{k}: checkpoint {v.dtype} vs model {own[k].dtype}")
    return missing + unexpected + shapes


def _pair_head(theirs: list[str], mine: list[str], state: Mapping[str, torch.Tensor], own: Mapping[str, torch.Tensor]) -> dict[str, str] | None:
    """Checkpoint head key -> model head key when every shape fits, else None. Paired by the exact
    key, else by the leaf name (``fc.weight`` -> ``fc.1.weight``), else in natural order (module
    indices as numbers, so a safetensors file's sorted keys pair like a state dict's)."""
    if len(theirs) != len(mine):
        return None
    leaf = lambda k: k.rsplit(".", 1)[-1]  # noqa: E731
    if set(theirs) == set(mine):
        pairs = {k: k for k in theirs}
    elif len({leaf(k) for k in theirs}) == len(theirs) and {leaf(k) for k in theirs} == {leaf(k) for k in mine}:
        by_leaf = {leaf(k): k for k in mine}
        pairs = {k: by_leaf[leaf(k)] for k in theirs}
    else:
        pairs = dict(zip(sorted(theirs, key=_natural), sorted(mine, key=_natural)))
    return pairs if all(tuple(state[a].shape) == tuple(own[b].shape) for a, b in pairs.items()) else None


def _natural(key: str) -> tuple[tuple[int, int | str], ...]:
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in key.split("."))


def _classes(state: Mapping[str, torch.Tensor], keys: list[str]) -> int | None:
    """Number of outputs of a classifier: dim 0 of its first weight (or of any of its tensors)."""
    weights = [k for k in keys if k.endswith("weight") and state[k].ndim >= 2] or keys
    return int(state[weights[0]].shape[0]) if weights else None


def guess_architecture(state: Mapping[str, torch.Tensor], *, min_score: float = 0.5) -> tuple[str, float] | None:
    """The registered architecture whose state-dict names and shapes (built for 400 classes on the
    meta device) best match `state`, with the matching fraction; None below `min_score`."""
    from vidlearn.models.registry import list_models

    names = set(state)
    shaped = {(k, tuple(v.shape)) for k, v in state.items()}
    best: tuple[str, float] | None = None
    for arch in list_models():
        sig = _signature(arch)
        if not sig:
            continue
        key_score = len(names & sig.keys()) / len(names | sig.keys())
        own = set(sig.items())
        score = (key_score + len(shaped & own) / len(shaped | own)) / 2
        if best is None or score > best[1]:
            best = (arch, score)
    return best if best and best[1] >= min_score else None


_SIGNATURES: dict[str, dict[str, tuple[int, ...]]] = {}


def _signature(arch: str) -> dict[str, tuple[int, ...]]:
    if arch not in _SIGNATURES:
        from vidlearn.models.registry import build_model

        try:
            with torch.device("meta"):
                model = build_model(arch, num_classes=400)
            _SIGNATURES[arch] = {k: tuple(v.shape) for k, v in model.state_dict().items()}
        except Exception:  # noqa: BLE001 - a model that needs options cannot be a guess
            _SIGNATURES[arch] = {}
    return _SIGNATURES[arch]


