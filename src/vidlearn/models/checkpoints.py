"""Checkpoints in the forms users have them, read safely and loaded strictly into the zoo's models.

Reading (`read_checkpoint`, `open_checkpoint`) recognises, by content rather than by suffix:

- a plain state dict (torchvision ``*.pth``);
- PyTorchVideo hub ``*.pyth`` (``{"model_state": state_dict, ...}``);
- training-script wrappers (``state_dict``, ``model_state_dict``, ``model_state``, ``model``,
  ``module``, nested in any order) and the DDP ``module.`` / torch.compile ``_orig_mod.`` prefixes;
- a Lightning ``.ckpt`` (``state_dict`` whose network sits under ``model.``; other entries of the
  LightningModule, e.g. a loss's class weights, are dropped);
- a Hugging Face folder (``config.json`` + ``model.safetensors`` / ``pytorch_model.bin``, sharded
  or not; the config dict is returned too);
- a vidlearn artifact (folder with ``meta.json`` + ``model.safetensors``, or a single
  ``.vidlearn`` / ``.safetensors`` file).

Files are read ONLY with ``torch.load(weights_only=True)`` or safetensors; a pickle that needs
Python objects, or anything that is not a mapping of names to tensors, raises ``ArtifactError``
naming the file.

Loading (`load_pretrained`) is strict about the backbone and explicit about the classifier: every
backbone tensor of the model must come from the checkpoint and every checkpoint backbone tensor
must map to the model, with equal shapes (the one tolerance: BatchNorm ``num_batches_tracked``
counters that old checkpoints lack keep the model's value). The classifier is the set of keys
under the model's ``head_prefix`` (the reference's name for it, e.g. ``"fc"``; a model without
the attribute uses the module path of ``model.head``). It is loaded when its shapes fit (matched
by name, else by leaf name, else in order: ``fc.weight`` -> ``fc.1.weight`` when dropout wraps
the Linear), else left freshly initialised and reported as replaced.
"""

from __future__ import annotations

import json
import re
import struct
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import torch
from torch import nn

from vidlearn.errors import ArtifactError

__all__ = ["Checkpoint", "LoadReport", "guess_architecture", "load_pretrained", "open_checkpoint", "read_checkpoint"]

# keys a training script wraps its state dict in, most specific first
_WRAPPERS = ("state_dict", "model_state_dict", "model_state", "model", "module", "net")
_STRIPPED_PREFIXES = ("module.", "_orig_mod.")  # DDP/DataParallel, torch.compile
_HF_WEIGHTS = ("model.safetensors", "model.safetensors.index.json", "pytorch_model.bin", "pytorch_model.bin.index.json")


@dataclass(frozen=True)
class Checkpoint:
    """A checkpoint read from disk: its tensors under the network's own names, the form it had
    ("state_dict", "wrapped", "pytorchvideo", "lightning", "huggingface", "vidlearn",
    "safetensors") and, where the form carries one, its configuration (a Hugging Face
    ``config.json``; a vidlearn artifact's ``{"meta": ..., "config": ...}``)."""

    path: Path | None  # None for a state dict handed over in memory
    state_dict: dict[str, torch.Tensor]
    format: str
    config: dict[str, Any] | None = None
    notes: tuple[str, ...] = field(default=())  # what was unwrapped or stripped, for messages


def read_checkpoint(path: str | Path) -> dict[str, torch.Tensor]:
    """The state dict inside a checkpoint file or folder of any supported form (see the module
    docstring), with wrapper keys and DDP/Lightning prefixes removed."""
    return open_checkpoint(path).state_dict


def open_checkpoint(path: str | Path) -> Checkpoint:
    """Read a checkpoint of any supported form; `Checkpoint.config` holds a Hugging Face or
    vidlearn configuration when there is one. Raises ArtifactError naming the file."""
    p = Path(path).expanduser()
    if not p.exists():
        raise ArtifactError(p, "checkpoint file not found")
    if p.is_file() and p.name in (*_HF_WEIGHTS, "meta.json", "config.json") and _is_checkpoint_dir(p.parent):
        p = p.parent  # a file inside a Hugging Face or vidlearn folder: read the folder
    if p.is_dir():
        return _read_dir(p)
    if _is_safetensors(p):
        return _read_safetensors_file(p)
    return _from_object(p, _torch_load(p))


# ---- strict loading -----------------------------------------------------------------------

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
        raise ArtifactError(where, f"does not match {name}: " + _listed(problems, 6) + hint)

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
        raise ArtifactError(where, f"cannot be loaded into {name}: {_first_line(exc)}") from None
    left = [k for k in result.missing_keys if not k.endswith("num_batches_tracked") and k not in model_head]
    if left or result.unexpected_keys:  # pragma: no cover - guarded by the checks above
        raise ArtifactError(where, f"does not match {name}: missing {_listed(left)}; unexpected {_listed(result.unexpected_keys)}")
    return LoadReport(ckpt.path, name, ckpt.format, len(mapped), status, message, skipped, ckpt.config)


def _as_checkpoint(source: Source) -> Checkpoint:
    if isinstance(source, Checkpoint):
        return source
    if isinstance(source, Mapping):
        if not _is_tensor_mapping(source):
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


# ---- folders ------------------------------------------------------------------------------


def _is_checkpoint_dir(d: Path) -> bool:
    vidlearn = (d / "meta.json").is_file() and (d / "model.safetensors").is_file()
    hf = (d / "config.json").is_file() and any((d / name).is_file() for name in _HF_WEIGHTS)
    return vidlearn or hf


def _read_dir(d: Path) -> Checkpoint:
    if (d / "meta.json").is_file() and (d / "model.safetensors").is_file():
        meta = _read_json(d / "meta.json")
        if isinstance(meta, dict) and meta.get("format") == "vidlearn-model":
            config = _read_json(d / "config.json") if (d / "config.json").is_file() else None
            tensors, _ = _safetensors(d / "model.safetensors")
            return Checkpoint(d, tensors, "vidlearn", {"meta": meta, "config": config})
    if (d / "config.json").is_file():
        for name in _HF_WEIGHTS:
            if (d / name).is_file():
                config = _read_json(d / "config.json")
                if not isinstance(config, dict):
                    raise ArtifactError(d / "config.json", "a Hugging Face config.json must be a JSON object")
                return Checkpoint(d, _read_hf_weights(d / name), "huggingface", config)
    raise ArtifactError(
        d,
        "a folder without a checkpoint: expected config.json + model.safetensors or pytorch_model.bin "
        "(a Hugging Face model) or meta.json + model.safetensors (a vidlearn artifact)",
    )


def _read_hf_weights(file: Path) -> dict[str, torch.Tensor]:
    if file.name.endswith(".index.json"):  # sharded: {"weight_map": {key: shard file}}
        index = _read_json(file)
        weight_map = index.get("weight_map") if isinstance(index, dict) else None
        if not isinstance(weight_map, dict) or not weight_map:
            raise ArtifactError(file, "a sharded-checkpoint index needs a non-empty 'weight_map'")
        out: dict[str, torch.Tensor] = {}
        for shard in sorted(set(weight_map.values())):
            shard_path = file.parent / str(shard)
            if Path(str(shard)).name != str(shard) or not shard_path.is_file():
                raise ArtifactError(file, f"shard {shard!r} named in the index is missing")
            out.update(_read_hf_weights(shard_path))
        return out
    if _is_safetensors(file):
        return _safetensors(file)[0]
    return _from_object(file, _torch_load(file)).state_dict


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(file, f"not a readable JSON file ({_first_line(exc)})") from None


# ---- safetensors --------------------------------------------------------------------------


def _is_safetensors(file: Path) -> bool:
    """A safetensors file starts with an 8-byte little-endian header length, then a JSON '{'."""
    try:
        with open(file, "rb") as fh:
            head = fh.read(9)
        size = file.stat().st_size
    except OSError as exc:
        raise ArtifactError(file, f"cannot read ({exc.strerror or exc})") from None
    if len(head) < 9 or head[8:9] != b"{":
        return False
    (header_len,) = struct.unpack("<Q", head[:8])
    return 0 < header_len <= size - 8


def _safetensors(file: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types; all mean "unreadable"
        raise ArtifactError(file, f"not a valid safetensors file ({_first_line(exc)})") from None
    return tensors, metadata


def _read_safetensors_file(file: Path) -> Checkpoint:
    tensors, metadata = _safetensors(file)
    if not tensors:
        raise ArtifactError(file, "the safetensors file holds no tensors")
    if "vidlearn.meta" in metadata:  # a single-file vidlearn artifact (name.vidlearn)
        config = {"meta": _loads(file, metadata["vidlearn.meta"]), "config": _loads(file, metadata.get("vidlearn.config", "null"))}
        return Checkpoint(file, tensors, "vidlearn", config)
    beside = file.parent / "config.json"
    config = _read_json(beside) if file.name == "model.safetensors" and beside.is_file() else None
    return Checkpoint(file, tensors, "safetensors", config if isinstance(config, dict) else None)


def _loads(file: Path, text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(file, f"metadata is not valid JSON ({exc})") from None


# ---- torch.load files ---------------------------------------------------------------------


def _torch_load(file: Path) -> Any:
    try:
        return torch.load(file, map_location="cpu", weights_only=True)
    except FileNotFoundError:
        raise ArtifactError(file, "checkpoint file not found") from None
    except Exception as exc:  # noqa: BLE001 - an unreadable file is the user's input
        text = str(exc)
        needed = sorted(set(re.findall(r"GLOBAL ([\w.]+)", text)))
        if needed:  # a pickle that would import (and may run) code to load
            raise ArtifactError(
                file,
                f"refused: loading it needs Python objects beyond tensors ({', '.join(needed)}); vidlearn reads checkpoints "
                "only with torch.load(weights_only=True) or safetensors (re-save the model's state_dict() to use it)",
            ) from None
        detail = re.search(r"WeightsUnpickler error:\s*(.+)", text)
        reason = detail.group(1).strip() if detail else _first_line(exc)
        raise ArtifactError(file, f"not a readable torch checkpoint ({reason[:120]})") from None


def _is_tensor_mapping(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _from_object(file: Path, obj: Any) -> Checkpoint:
    """Unwrap a loaded object to its state dict, recording the form."""
    fmt, notes = "state_dict", []
    lightning = isinstance(obj, Mapping) and ("pytorch-lightning_version" in obj or "lightning_version" in obj)
    for _ in range(6):  # wrappers nest at most a few levels in practice
        if _is_tensor_mapping(obj):
            break
        if not isinstance(obj, Mapping):
            raise ArtifactError(file, f"expected a state dict (a mapping of parameter names to tensors), found a {type(obj).__name__}")
        key = next((k for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if key is None:
            bad = [f"{k!r} ({type(v).__name__})" for k, v in obj.items() if not isinstance(v, torch.Tensor)][:4]
            detail = f"; not tensors: {', '.join(bad)}" if bad else "; it is empty"
            raise ArtifactError(
                file, f"expected a state dict (a mapping of parameter names to tensors){detail} (top-level keys: {_listed(list(obj))})"
            )
        fmt = "pytorchvideo" if key == "model_state" and fmt == "state_dict" else ("lightning" if lightning else "wrapped")
        notes.append(f"unwrapped {key!r}")
        obj = obj[key]
    else:
        raise ArtifactError(file, "no state dict found inside the nested checkpoint mapping")
    state = dict(obj)
    if lightning:  # the LightningModule holds the network as `self.model`
        inner = {k.removeprefix("model."): v for k, v in state.items() if k.startswith("model.")}
        if inner:
            if len(inner) < len(state):
                notes.append(f"dropped {len(state) - len(inner)} LightningModule entries outside 'model.'")
            state = inner
            notes.append("stripped 'model.'")
    stripped = True
    while stripped:
        stripped = False
        for prefix in _STRIPPED_PREFIXES:
            if all(k.startswith(prefix) for k in state):
                state = {k[len(prefix):]: v for k, v in state.items()}
                notes.append(f"stripped {prefix!r}")
                stripped = True
    return Checkpoint(file, state, fmt, None, tuple(notes))


def _listed(keys: list[str], n: int = 5) -> str:
    shown = ", ".join(str(k) for k in keys[:n])
    return shown + (f" ... and {len(keys) - n} more" if len(keys) > n else "")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
