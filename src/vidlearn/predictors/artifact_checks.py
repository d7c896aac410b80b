"""Checks on an artifact read from a file, made before any memory is spent on it.

An artifact's ``config.json``/``meta.json`` say which model to build and how wide its head is; its
safetensors header says which tensors the file holds (names, dtypes, shapes). Both come from the
file, so neither is trusted: the header is read alone (no tensor data) and its total size capped;
``num_outputs`` must be an integer that agrees with the class list; the model's options must have
the types of its builder's defaults; and the model is first built on the meta device (shapes
only, nothing allocated), its size capped, and every tensor's shape and dtype compared with the
header. Only then is the model built for real and the weights loaded. Every refusal is one
``ArtifactError`` line naming the file.

The size cap is ``VIDLEARN_MAX_MODEL_ELEMENTS`` (default 2e9 elements, about 8 GB of float32),
over the file's tensors and over the model's state_dict each.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import nn

from vidlearn.config import LABEL_TASKS
from vidlearn.errors import ArtifactError, ConfigError, first_line, listed

__all__ = [
    "DEFAULT_MAX_ELEMENTS",
    "MAX_ELEMENTS_ENV",
    "TensorSpec",
    "build_checked",
    "check_header",
    "check_options",
    "check_outputs",
    "header_of",
    "max_elements",
]

MAX_ELEMENTS_ENV = "VIDLEARN_MAX_MODEL_ELEMENTS"
DEFAULT_MAX_ELEMENTS = 2_000_000_000

_DTYPES = {
    "F64": torch.float64, "F32": torch.float32, "F16": torch.float16, "BF16": torch.bfloat16,
    "I64": torch.int64, "I32": torch.int32, "I16": torch.int16, "I8": torch.int8, "U8": torch.uint8, "BOOL": torch.bool,
}


@dataclass(frozen=True)
class TensorSpec:
    """One tensor as the file's header describes it."""

    dtype: torch.dtype
    shape: tuple[int, ...]

    @property
    def numel(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n


def max_elements() -> int:
    """The cap on a model's size in tensor elements (``VIDLEARN_MAX_MODEL_ELEMENTS``, default 2e9)."""
    raw = os.environ.get(MAX_ELEMENTS_ENV, "").strip()
    if not raw:
        return DEFAULT_MAX_ELEMENTS
    try:
        value = int(float(raw)) if any(c in raw for c in ".eE") else int(raw)
    except (ValueError, OverflowError):
        value = 0
    if value < 1:
        raise ConfigError(f"{MAX_ELEMENTS_ENV}: must be a positive number of elements (e.g. 2e9), got {raw!r}")
    return value


def header_of(file: Path, handle: Any) -> dict[str, TensorSpec]:
    """The tensors an open ``safe_open`` handle holds, from its header only (no data is read)."""
    specs: dict[str, TensorSpec] = {}
    for key in handle.keys():
        piece = handle.get_slice(key)
        code = piece.get_dtype()
        if code not in _DTYPES:
            raise ArtifactError(file, f"tensor '{key}' has dtype {code}, which a vidlearn model never stores")
        specs[key] = TensorSpec(_DTYPES[code], tuple(int(d) for d in piece.get_shape()))
    return specs


def check_header(file: Path, specs: Mapping[str, TensorSpec], limit: int | None = None) -> None:
    """Refuse a file whose tensors hold more than ``limit`` elements in all."""
    limit = max_elements() if limit is None else limit
    total = sum(s.numel for s in specs.values())
    if total > limit:
        raise ArtifactError(file, f"holds {total:.3g} tensor elements, more than the limit {limit:.3g} "
                                  f"(raise {MAX_ELEMENTS_ENV} to load it)")


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def check_outputs(file: Path, meta: Mapping[str, Any], config_task: Any, limit: int | None = None) -> int:
    """The artifact's number of outputs, checked against its task and class list."""
    limit = max_elements() if limit is None else limit
    names, task = list(meta["class_names"]), meta["task"]
    value = meta.get("num_outputs", len(names) if task in LABEL_TASKS else 1)
    if not _is_int(value) or value < 1:
        raise ArtifactError(file, f"num_outputs must be a positive integer, got {value!r}")
    if value > limit:
        raise ArtifactError(file, f"num_outputs {value} is more than the limit {limit:.3g} ({MAX_ELEMENTS_ENV})")
    if task != config_task.kind:
        raise ArtifactError(file, f"task is {task!r} but the saved configuration's task.kind is {config_task.kind!r}")
    if task in LABEL_TASKS:
        if len(names) != value:
            raise ArtifactError(file, f"{len(names)} class name(s) for {value} outputs; a classifier needs one name per output")
        if task == "multilabel" and config_task.thresholds and len(config_task.thresholds) != value:
            raise ArtifactError(file, f"{len(config_task.thresholds)} thresholds for {value} classes")
        if len(set(names)) != len(names):
            raise ArtifactError(file, "class_names has duplicates")
        if config_task.classes and list(config_task.classes) != names:
            raise ArtifactError(file, "class_names differ from the saved configuration's task.classes")
    elif value != 1:
        raise ArtifactError(file, f"a regression model has 1 output, not {value}")
    return value


def _kind_of(default: Any) -> tuple[str, Callable[[Any], bool]] | None:
    if isinstance(default, bool):
        return "true or false", lambda v: isinstance(v, bool)
    if isinstance(default, int):
        return "an integer", _is_int
    if isinstance(default, float):
        return "a number", lambda v: isinstance(v, (int, float)) and not isinstance(v, bool)
    if isinstance(default, str):
        return "a string", lambda v: isinstance(v, str)
    if isinstance(default, (list, tuple)):
        return "a list", lambda v: isinstance(v, (list, tuple))
    return None  # None or another default: any value the builder accepts


def check_options(file: Path, name: str, options: Mapping[str, Any], defaults: Mapping[str, Any]) -> None:
    """Each option must have the type of its builder's default (an int where an int is expected)."""
    for key, value in options.items():
        if key not in defaults or defaults[key] is inspect.Parameter.empty:
            continue
        kind = _kind_of(defaults[key])
        if kind is not None and not kind[1](value):
            raise ArtifactError(file, f"model.options.{key}: {name} expects {kind[0]}, got {value!r} ({type(value).__name__})")



def _build(file: Path, build_fn: Callable[..., nn.Module], name: str, num_outputs: int, options: Mapping[str, Any]) -> nn.Module:
    try:
        return build_fn(name, num_classes=num_outputs, **options)
    except ConfigError as exc:
        raise ArtifactError(file, f"cannot build its model: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - a builder given options from a file: any failure is "bad options"
        raise ArtifactError(file, f"cannot build model '{name}' with options {dict(options)}: "
                                  f"{type(exc).__name__}: {first_line(exc)}") from None


def _listed(keys: list[str]) -> str:
    return listed(keys, 5)


def spec_problems(expected: Mapping[str, Any], found: Mapping[str, TensorSpec]) -> list[str]:
    """How a model's state_dict (tensors, meta tensors allowed) differs from a file's tensors."""
    problems = []
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing:
        problems.append(f"{len(missing)} missing in the file ({_listed(missing)})")
    if unexpected:
        problems.append(f"{len(unexpected)} unexpected in the file ({_listed(unexpected)})")
    common = [(k, v, found[k]) for k, v in expected.items() if k in found and isinstance(v, torch.Tensor)]
    shapes = [f"{k}: file {s.shape} vs model {tuple(v.shape)}" for k, v, s in common if tuple(v.shape) != s.shape]
    if shapes:
        problems.append(f"{len(shapes)} with another shape ({_listed(shapes)})")
    # floating point may differ in precision (copied on load, as load_state_dict does); nothing else may
    dtypes = [f"{k}: file {s.dtype} vs model {v.dtype}".replace("torch.", "") for k, v, s in common
              if s.dtype != v.dtype and not (s.dtype.is_floating_point and v.dtype.is_floating_point)]
    if dtypes:
        problems.append(f"{len(dtypes)} with another dtype ({_listed(dtypes)})")
    return problems


def build_checked(file: Path, build_fn: Callable[..., nn.Module], name: str, num_outputs: int,
                  options: Mapping[str, Any], header: Mapping[str, TensorSpec], limit: int | None = None) -> nn.Module:
    """Build the model on the meta device, cap its size and compare it with the file's header;
    then build it for real (on the CPU, freshly initialised) and return it. Raises ArtifactError."""
    limit = max_elements() if limit is None else limit
    with torch.device("meta"):
        shape_only = _build(file, build_fn, name, num_outputs, options)
    expected = shape_only.state_dict()
    problems = spec_problems(expected, header)
    if problems:
        raise ArtifactError(file, f"weights do not match model '{name}' {dict(options) or ''}: " + "; ".join(problems))
    size = sum(v.numel() for v in expected.values() if isinstance(v, torch.Tensor))
    if size > limit:  # the file's tensors were capped too; this holds for an Artifact made in memory
        raise ArtifactError(file, f"model '{name}' {dict(options) or ''} would hold {size:.3g} elements, more than the "
                                  f"limit {limit:.3g} (raise {MAX_ELEMENTS_ENV} to load it)")
    del shape_only, expected
    return _build(file, build_fn, name, num_outputs, options)
