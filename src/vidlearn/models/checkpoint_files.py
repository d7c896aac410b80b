"""Reading checkpoints in the forms users have them, by content rather than by suffix: a plain state dict (torchvision `*.pth`); PyTorchVideo hub `*.pyth` (`{"model_state": ...}`); training-script wrappers (`state_dict`, `model_state_dict`, `model_state`, `model`, `module`, nested) and the DDP `module.` / torch.compile `_orig_mod.` prefixes; a Lightning `.ckpt` (the network under `model.`); a Hugging Face folder (`config.json` + `model.safetensors` / `pytorch_model.bin`, sharded or not; the config comes back too); a vidlearn artifact (folder or single `.vidlearn` / `.safetensors` file). Files are read ONLY with `torch.load(weights_only=True)` or safetensors; anything else raises ArtifactError naming the file."""

from __future__ import annotations

import json
import re
import struct
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from vidlearn.errors import ArtifactError, first_line
from vidlearn.errors import listed as errors_listed

# keys a training script wraps its state dict in, most specific first
__all__ = ["Checkpoint", "is_tensor_mapping", "open_checkpoint", "read_checkpoint", "read_safetensors"]

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


def _is_checkpoint_dir(d: Path) -> bool:
    vidlearn = (d / "meta.json").is_file() and (d / "model.safetensors").is_file()
    hf = (d / "config.json").is_file() and any((d / name).is_file() for name in _HF_WEIGHTS)
    return vidlearn or hf


def _read_dir(d: Path) -> Checkpoint:
    if (d / "meta.json").is_file() and (d / "model.safetensors").is_file():
        meta = _read_json(d / "meta.json")
        if isinstance(meta, dict) and meta.get("format") == "vidlearn-model":
            config = _read_json(d / "config.json") if (d / "config.json").is_file() else None
            tensors, _ = read_safetensors(d / "model.safetensors")
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
        return read_safetensors(file)[0]
    return _from_object(file, _torch_load(file)).state_dict


def _read_json(file: Path) -> Any:
    try:
        return json.loads(file.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise ArtifactError(file, f"not a readable JSON file ({first_line(exc)})") from None


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


def read_safetensors(file: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(file), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types; all mean "unreadable"
        raise ArtifactError(file, f"not a valid safetensors file ({first_line(exc)})") from None
    return tensors, metadata


def _read_safetensors_file(file: Path) -> Checkpoint:
    tensors, metadata = read_safetensors(file)
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
        reason = detail.group(1).strip() if detail else first_line(exc)
        raise ArtifactError(file, f"not a readable torch checkpoint ({reason[:120]})") from None


def is_tensor_mapping(obj: Any) -> bool:
    return isinstance(obj, Mapping) and len(obj) > 0 and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in obj.items())


def _from_object(file: Path, obj: Any) -> Checkpoint:
    """Unwrap a loaded object to its state dict, recording the form."""
    fmt, notes = "state_dict", []
    lightning = isinstance(obj, Mapping) and ("pytorch-lightning_version" in obj or "lightning_version" in obj)
    for _ in range(6):  # wrappers nest at most a few levels in practice
        if is_tensor_mapping(obj):
            break
        if not isinstance(obj, Mapping):
            raise ArtifactError(file, f"expected a state dict (a mapping of parameter names to tensors), found a {type(obj).__name__}")
        key = next((k for k in _WRAPPERS if isinstance(obj.get(k), Mapping)), None)
        if key is None:
            bad = [f"{k!r} ({type(v).__name__})" for k, v in obj.items() if not isinstance(v, torch.Tensor)][:4]
            detail = f"; not tensors: {', '.join(bad)}" if bad else "; it is empty"
            raise ArtifactError(
                file, f"expected a state dict (a mapping of parameter names to tensors){detail} (top-level keys: {listed(list(obj))})"
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



def listed(keys: list[str], n: int = 5) -> str:
    """The first ``n`` keys, then "... and N more" (`vidlearn.errors.listed`)."""
    return errors_listed(keys, n)
