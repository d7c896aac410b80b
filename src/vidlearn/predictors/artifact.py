"""Model artifacts: everything `predict` and `serve` need, and nothing that runs code when read.

A directory artifact holds::

    config.json        the whole ExperimentConfig.to_dict() (rebuilds the exact preprocessing)
    model.safetensors  the weights (model.state_dict(), contiguous CPU tensors)
    meta.json          {"format": "vidlearn-model", "format_version": 1, "task": "classification",
                        "class_names": [...], "num_outputs": K, "metrics": {...},
                        "versions": {"vidlearn", "torch", "python", "av", "numpy", "safetensors"},
                        "created": "2025-01-01T12:00:00+00:00",
                        "input": {"num_frames", "crop_size", "fps", "short_side", "mean", "std",
                                  "layout": "BCTHW"}}
    ... extra files    e.g. metrics.json, confusion.png

The single-file form ``name.vidlearn`` is one safetensors file whose string metadata holds
``vidlearn.config`` and ``vidlearn.meta`` (the same JSON documents) beside ``format: pt``.

Saving is atomic as a whole: the directory is written beside its target and swapped in by rename,
so a reader sees the old artifact or the new one, never a mix. Loading reads only JSON and
safetensors (never pickle); anything malformed, foreign or too new raises ``ArtifactError``.
Tied (shared) parameters are stored once per state_dict key.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import torch
from safetensors import safe_open
from safetensors.torch import save_file
from torch import nn

from vidlearn.config import LABEL_TASKS, ExperimentConfig
from vidlearn.errors import ArtifactError, ConfigError, first_line, listed
from vidlearn.fsutil import (
    atomic_dir,
    default_file_mode,
    fsync_dir,
    fsync_file,
    tmp_path_for,
)
from vidlearn.predictors.artifact_checks import (
    TensorSpec,
    build_checked,
    check_header,
    check_options,
    check_outputs,
    header_of,
)
from vidlearn.provenance import __version__, package_versions

__all__ = [
    "ARTIFACT_FORMAT",
    "FORMAT_VERSION",
    "SINGLE_FILE_SUFFIX",
    "Artifact",
    "load_artifact",
    "save_artifact",
]

ARTIFACT_FORMAT = "vidlearn-model"
FORMAT_VERSION = 1
SINGLE_FILE_SUFFIX = ".vidlearn"
CONFIG_FILE = "config.json"
META_FILE = "meta.json"
WEIGHTS_FILE = "model.safetensors"
_REQUIRED = (CONFIG_FILE, META_FILE, WEIGHTS_FILE)
_META_KEY = "vidlearn.meta"
_CONFIG_KEY = "vidlearn.config"

BuildFn = Callable[..., nn.Module]


# ---- the loaded artifact -------------------------------------------------------------------


@dataclass
class Artifact:
    """A loaded model artifact: configuration, class names, metadata and weights (no model yet)."""

    config: ExperimentConfig
    class_names: list[str]
    meta: dict[str, Any]
    state_dict: dict[str, torch.Tensor]
    path: Path
    extra_files: dict[str, Path] = field(default_factory=dict)
    header: dict[str, TensorSpec] = field(default_factory=dict)  # the file's tensors: dtype, shape

    @property
    def task(self) -> str:
        """``"classification"``, ``"regression"`` or ``"multilabel"``."""
        return str(self.meta.get("task", self.config.task.kind))

    @property
    def metrics(self) -> dict[str, Any]:
        """The metrics saved with the model (may be empty)."""
        return dict(self.meta.get("metrics") or {})

    @property
    def num_outputs(self) -> int:
        """Width of the model's output (number of classes, or 1 for regression)."""
        value = self.meta.get("num_outputs")
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
        return len(self.class_names) if self.task in LABEL_TASKS else 1

    def build_model(self, build_fn: BuildFn | None = None) -> nn.Module:
        """Build the architecture named in ``config.model`` with ``build_fn(name, num_classes=...,
        **options)`` (default: ``vidlearn.models.build_model``), load the weights strictly, and
        return it in eval mode. Options of the wrong type, a model over the size limit and weights
        that do not fit the architecture raise ArtifactError; all of it is checked on the meta
        device (shapes only) before the model is built for real (``artifact_checks``)."""
        from vidlearn.models.registry import list_models, model_options

        if build_fn is None:
            from vidlearn.models import build_model as build_fn  # type: ignore[no-redef]
        name = self.config.model.name
        options = dict(self.config.model.options)
        if name in list_models():  # the artifact holds the weights: a `weights` option would read another file
            options.pop("weights", None)
            check_options(self.path / CONFIG_FILE if self.path.is_dir() else self.path, name, options, model_options(name))
        header = self.header or {k: TensorSpec(v.dtype, tuple(v.shape)) for k, v in self.state_dict.items()}
        model = build_checked(self.path, build_fn, name, self.num_outputs, options, header)
        try:
            model.load_state_dict(self.state_dict, strict=True)
        except RuntimeError as exc:  # e.g. a dtype that cannot be copied
            raise ArtifactError(self.path, f"weights do not match model '{name}': {first_line(exc)}") from None
        return model.eval()


# ---- saving --------------------------------------------------------------------------------


def save_artifact(
    out_dir: str | Path,
    model: nn.Module,
    config: ExperimentConfig,
    class_names: list[str],
    metrics: dict[str, Any] | None = None,
    extra_files: dict[str, Path] | None = None,
    *,
    single_file: bool = False,
    num_outputs: int | None = None,
    training_videos: list[str] | None = None,
) -> Path:
    """Save a trained model as one directory (or, with ``single_file``, one ``.vidlearn`` file)
    atomically, replacing an existing artifact at that place only once the new one is complete.
    Returns the path written. ``num_outputs`` defaults to ``len(class_names)`` for classification
    and multilabel, and 1 for regression. ``training_videos`` (the paths trained on) are recorded, so
    that an evaluation on them can say so."""
    target = Path(out_dir)
    names = [str(c) for c in class_names]
    if len(set(names)) != len(names):
        raise ValueError("class_names contains duplicates")
    kind = config.task.kind
    if kind in LABEL_TASKS and not names:
        raise ValueError(f"a {kind} artifact needs class_names")
    if config.task.classes and list(config.task.classes) != names:
        raise ValueError(f"class_names {names} differ from config.task.classes {list(config.task.classes)}")
    if num_outputs is None:
        num_outputs = len(names) if kind in LABEL_TASKS else 1

    config_dict = config.to_dict()
    if kind in LABEL_TASKS and not config_dict["task"]["classes"]:
        config_dict["task"]["classes"] = names  # the saved config is self-contained
    meta = _make_meta(config, names, metrics, num_outputs)
    if training_videos is not None:
        meta["training_videos"] = sorted({os.path.realpath(str(v)) for v in training_videos})
    tensors = _tensors_for_saving(model)
    config_json = json.dumps(config_dict, indent=2, allow_nan=False) + "\n"
    meta_json = json.dumps(meta, indent=2, allow_nan=False) + "\n"

    if single_file:
        if extra_files:
            raise ValueError("extra_files need the directory form (single_file=False)")
        return _save_single_file(target, tensors, config_json, meta_json)
    return _save_directory(target, tensors, config_json, meta_json, extra_files or {})


def _make_meta(
    config: ExperimentConfig, class_names: list[str], metrics: dict[str, Any] | None, num_outputs: int
) -> dict[str, Any]:
    from vidlearn.tasks.metrics import (
        to_jsonable,  # lazy: scikit-learn is not needed to load
    )

    return {
        "format": ARTIFACT_FORMAT,
        "format_version": FORMAT_VERSION,
        "task": config.task.kind,
        "class_names": class_names,
        "num_outputs": int(num_outputs),
        "metrics": to_jsonable(metrics or {}),
        "versions": package_versions("torch", "av", "numpy", "safetensors"),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "input": {
            "num_frames": config.sampling.num_frames,
            "crop_size": config.transform.crop_size,
            "fps": config.decode.fps,
            "short_side": config.decode.short_side,
            "mean": list(config.transform.mean),
            "std": list(config.transform.std),
            "layout": "BCTHW",
        },
    }


def _tensors_for_saving(model: nn.Module) -> dict[str, torch.Tensor]:
    """The state_dict as independent, contiguous CPU tensors: tied/shared parameters and views are
    copied so that safetensors can store each key on its own."""
    out: dict[str, torch.Tensor] = {}
    for key, value in model.state_dict().items():
        if not isinstance(value, torch.Tensor):
            raise TypeError(f"state_dict entry '{key}' is a {type(value).__name__}, not a tensor; it cannot go in safetensors")
        if value.is_sparse or value.device.type == "meta":
            raise TypeError(f"state_dict entry '{key}' is a {value.layout}/{value.device} tensor; only dense tensors can be saved")
        out[key] = value.detach().to("cpu").contiguous().clone()
    return out


def _write_safetensors(tensors: dict[str, torch.Tensor], path: Path, metadata: dict[str, str]) -> None:
    save_file(tensors, str(path), metadata=metadata)
    fsync_file(path)


def _write_text(path: Path, text: str) -> None:
    with open(path, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())


def _save_directory(
    target: Path, tensors: dict[str, torch.Tensor], config_json: str, meta_json: str, extra_files: Mapping[str, Path]
) -> Path:
    if target.is_symlink():
        target = target.resolve()
    extras = _check_extra_files(target, extra_files)
    if target.exists():
        _check_replaceable(target)
    with atomic_dir(target) as tmp:
        _write_text(tmp / CONFIG_FILE, config_json)
        _write_safetensors(tensors, tmp / WEIGHTS_FILE, {"format": "pt"})
        for name, src in extras.items():
            shutil.copyfile(src, tmp / name)
            fsync_file(tmp / name)
        _write_text(tmp / META_FILE, meta_json)  # last: a directory with meta.json is complete
    return target


def _check_extra_files(target: Path, extra_files: Mapping[str, Path]) -> dict[str, Path]:
    out: dict[str, Path] = {}
    for name, src in extra_files.items():
        if not name or Path(name).name != name or name.startswith("."):
            raise ValueError(f"extra file name '{name}' must be a plain, non-hidden file name")
        if name in _REQUIRED:
            raise ValueError(f"extra file name '{name}' is reserved for the artifact itself")
        src_path = Path(src)
        if not src_path.is_file():
            raise ArtifactError(src_path, f"extra file '{name}' for {target} does not exist or is not a file")
        out[name] = src_path
    return out


def _check_replaceable(target: Path) -> None:
    """Refuse to replace anything that is not an (old) artifact: never delete a user's folder."""
    if not target.is_dir():
        raise ArtifactError(target, "exists and is not a directory; refusing to replace it with a model artifact")
    entries = {p.name for p in target.iterdir()}
    if entries and not {META_FILE, WEIGHTS_FILE} <= entries:
        raise ArtifactError(
            target, "exists and is not a vidlearn model directory (no meta.json + model.safetensors); refusing to replace it"
        )


def _save_single_file(target: Path, tensors: dict[str, torch.Tensor], config_json: str, meta_json: str) -> Path:
    if target.suffix != SINGLE_FILE_SUFFIX:
        target = target.with_name(target.name + SINGLE_FILE_SUFFIX)
    if target.is_dir():
        raise ArtifactError(target, "is a directory; cannot write a single-file artifact there")
    tmp = tmp_path_for(target)
    try:
        _write_safetensors(tensors, tmp, {"format": "pt", _CONFIG_KEY: config_json, _META_KEY: meta_json})
        os.chmod(tmp, default_file_mode())  # safetensors writes its file anew, 0600
        os.replace(tmp, target)
        fsync_dir(target.parent)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return target


# ---- loading -------------------------------------------------------------------------------


def load_artifact(path: str | Path) -> Artifact:
    """Read an artifact directory or a single ``.vidlearn`` file. Reads JSON and safetensors only
    (never pickle); raises ArtifactError naming the file and the reason for anything invalid."""
    p = Path(path)
    if not p.exists():
        raise ArtifactError(p, "does not exist")
    if p.is_file() and p.name in _REQUIRED and (p.parent / META_FILE).is_file():
        p = p.parent  # a file inside an artifact directory: load the directory
    if p.is_dir():
        _suggest_model(p)
        return _load_directory(p)
    return _load_single_file(p)


def _suggest_model(p: Path) -> None:
    """A folder one or two levels above models (a run folder, a cross-validation run) names them."""
    if (p / META_FILE).is_file():
        return
    below = sorted(c.parent for c in p.glob(f"*/{META_FILE}") if (c.parent / "model.safetensors").is_file())
    below = below or sorted(c.parent for c in p.glob(f"*/*/*/{META_FILE}") if (c.parent / "model.safetensors").is_file())
    if below:
        which = "the model is" if len(below) == 1 else "the models are"
        raise ArtifactError(p, f"not a model but a folder that holds one; {which} {listed([str(c) for c in below], 3, ' or ')}")


def _load_directory(root: Path) -> Artifact:
    missing = [name for name in _REQUIRED if not (root / name).is_file()]
    if missing:
        raise ArtifactError(
            root, f"not a complete vidlearn model directory: missing {', '.join(missing)} (needs {', '.join(_REQUIRED)})"
        )
    meta = _check_meta(root / META_FILE, _parse_json(root / META_FILE, _read_text(root / META_FILE)))
    config = _parse_config(root / CONFIG_FILE, _parse_json(root / CONFIG_FILE, _read_text(root / CONFIG_FILE)))
    check_outputs(root / META_FILE, meta, config.task)
    tensors, _, header = _read_safetensors(root / WEIGHTS_FILE)
    extras = {p.name: p for p in sorted(root.iterdir()) if p.is_file() and p.name not in _REQUIRED}
    return Artifact(config=config, class_names=list(meta["class_names"]), meta=meta, state_dict=tensors, path=root,
                    extra_files=extras, header=header)


def _load_single_file(file: Path) -> Artifact:
    def checked(metadata: dict[str, str]) -> tuple[dict[str, Any], ExperimentConfig]:
        if _META_KEY not in metadata or _CONFIG_KEY not in metadata:
            raise ArtifactError(
                file, "a safetensors file without vidlearn metadata (plain weights?): not a vidlearn model artifact"
            )
        meta = _check_meta(file, _parse_json(file, metadata[_META_KEY], what=f"metadata '{_META_KEY}'"))
        config = _parse_config(file, _parse_json(file, metadata[_CONFIG_KEY], what=f"metadata '{_CONFIG_KEY}'"))
        check_outputs(file, meta, config.task)
        return meta, config

    found: list[tuple[dict[str, Any], ExperimentConfig]] = []
    tensors, _, header = _read_safetensors(file, lambda metadata: found.append(checked(metadata)))
    meta, config = found[0]
    return Artifact(config=config, class_names=list(meta["class_names"]), meta=meta, state_dict=tensors, path=file,
                    header=header)


def _read_text(file: Path) -> str:
    try:
        return file.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise ArtifactError(file, "is not UTF-8 text (corrupt JSON file)") from None
    except OSError as exc:
        raise ArtifactError(file, f"cannot read ({exc.strerror or exc})") from None


def _parse_json(file: Path, text: str, what: str = "content") -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise ArtifactError(file, f"{what} is not valid JSON ({exc.msg} at line {exc.lineno}, column {exc.colno})") from None


def _check_meta(file: Path, meta: Any) -> dict[str, Any]:
    if not isinstance(meta, dict):
        raise ArtifactError(file, f"metadata must be a JSON object, got {type(meta).__name__}")
    fmt = meta.get("format")
    if fmt != ARTIFACT_FORMAT:
        raise ArtifactError(file, f"format is {fmt!r}, expected {ARTIFACT_FORMAT!r}: not a vidlearn model artifact")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise ArtifactError(file, f"format_version must be a positive integer, got {version!r}")
    if version > FORMAT_VERSION:
        raise ArtifactError(
            file,
            f"format_version {version} is newer than this vidlearn ({__version__}) can read "
            f"(up to {FORMAT_VERSION}); upgrade vidlearn",
        )
    names = meta.get("class_names")
    if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
        raise ArtifactError(file, "class_names must be a list of strings")
    task = meta.get("task")
    if task not in ("classification", "regression", "multilabel", "localization"):
        raise ArtifactError(file, f"task must be 'classification', 'regression', 'multilabel' or 'localization', got {task!r}")
    return meta


def _parse_config(file: Path, data: Any) -> ExperimentConfig:
    if not isinstance(data, dict):
        raise ArtifactError(file, f"the configuration must be a JSON object, got {type(data).__name__}")
    try:
        return ExperimentConfig.from_dict(data, source="config")
    except ConfigError as exc:
        raise ArtifactError(file, f"invalid configuration: {exc}") from None


def _read_safetensors(
    file: Path, check_metadata: Callable[[dict[str, str]], None] | None = None
) -> tuple[dict[str, torch.Tensor], dict[str, str], dict[str, TensorSpec]]:
    """The tensors, string metadata and header of a safetensors file. The header (names, dtypes,
    shapes) and the metadata (``check_metadata``) are checked before any tensor data is read."""
    try:
        with safe_open(str(file), framework="pt", device="cpu") as fh:
            metadata = dict(fh.metadata() or {})
            header = header_of(file, fh)
            check_header(file, header)
            if check_metadata is not None:
                check_metadata(metadata)
            tensors = {key: fh.get_tensor(key) for key in fh.keys()}
    except ArtifactError:
        raise
    except Exception as exc:  # noqa: BLE001 - safetensors raises its own error types; all mean "unreadable"
        raise ArtifactError(file, f"not a valid safetensors file ({first_line(exc)})") from None
    return tensors, metadata, header

