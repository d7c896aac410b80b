"""Predicting with pretrained weights that were never trained in vidlearn: a catalogue name
("r3d_18.kinetics400") or a checkpoint file becomes a model with its classes and its preprocessing,
as a `DeepPredictor` (`predictor_from_weights`) or as a saved vidlearn artifact (`import_weights`),
which predict, evaluate, serve and export then take like any trained model.

The architecture comes from the catalogue entry (a catalogue name, or a file stored under an
entry's published file name) or from ``model=``; the class names from the entry (Kinetics-400) or
a ``classes`` file (one name per line, in output order). The checkpoint is loaded strictly, its
classifier included: a file that does not fit fails, naming it."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from vidlearn.config import ExperimentConfig, with_defaults
from vidlearn.errors import ConfigError
from vidlearn.models.checkpoints import LoadReport, load_pretrained
from vidlearn.models.download import resolve_weights
from vidlearn.models.preprocessing import catalogue_entry, weights_defaults
from vidlearn.models.registry import build_model, list_models
from vidlearn.predictors.deep import DeepPredictor

__all__ = ["PretrainedModel", "import_weights", "is_artifact", "pretrained_model", "predictor_from_weights", "read_class_names"]


@dataclass
class PretrainedModel:
    """A model built from weights, with the configuration (classes, preprocessing) that goes with it."""

    model: nn.Module
    config: ExperimentConfig
    class_names: list[str]
    report: LoadReport
    path: Path


def read_class_names(path: str | Path) -> list[str]:
    """Class names from a text file (one a line; blank lines and # comments skipped) or a JSON list."""
    p = Path(path).expanduser()
    try:
        text = p.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"--classes {p}: cannot read ({exc.strerror or exc})") from None
    if p.suffix.lower() == ".json":
        try:
            names = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ConfigError(f"--classes {p}: not valid JSON ({exc.msg})") from None
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise ConfigError(f"--classes {p}: expected a JSON list of class names")
    else:
        names = [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]
    if len(names) < 1 or len(set(names)) != len(names):
        raise ConfigError(f"--classes {p}: needs distinct class names, one a line (found {len(names)}, {len(set(names))} distinct)")
    return names


def is_artifact(path: str | Path) -> bool:
    """True for a vidlearn artifact (a folder with meta.json, or a .vidlearn file)."""
    p = Path(path)
    return (p.is_dir() and (p / "meta.json").is_file()) or (p.is_file() and p.suffix == ".vidlearn")


def pretrained_model(
    weights: str | Path, *, model: str | None = None, classes: str | Path | list[str] | None = None
) -> PretrainedModel:
    """Build the architecture for `weights` (a catalogue name or a checkpoint file), load them
    strictly with their classifier, and make its configuration: the entry's (or the file's)
    classes and the weights' preprocessing (recorded in ``model.from_weights``)."""
    entry = catalogue_entry(weights)
    arch = model or (entry.architecture if entry is not None else None)
    if arch is None:
        raise ConfigError(f"{weights}: not a catalogue checkpoint, so the architecture is unknown; give it with --model (see `vidlearn models`)")
    if arch not in list_models():
        raise ConfigError(f"--model: unknown model {arch!r}; `vidlearn models` lists them")
    if entry is not None and model is not None and entry.architecture != model:
        raise ConfigError(f"{weights}: these are weights for {entry.architecture}, not --model {model}")
    if isinstance(classes, list):
        names = [str(c) for c in classes]
    elif classes is not None:
        names = read_class_names(classes)
    elif entry is not None:
        names = list(entry.class_names)
    else:
        raise ConfigError(f"{weights}: not a catalogue checkpoint, so its class names are unknown; give them with --classes FILE (one a line)")
    path = resolve_weights(weights)
    net = build_model(arch, num_classes=len(names))
    report = load_pretrained(net, path, head="load")
    cfg = ExperimentConfig().override({"model.name": arch, "model.weights": str(entry.name if entry and str(weights) == entry.name else path),
                                       "task.kind": "classification", "task.classes": names})
    defaults, _ = weights_defaults(arch, {}, weights)
    cfg, _ = with_defaults(cfg, defaults, explicit=set())
    return PretrainedModel(net.eval(), cfg, names, report, path)


def predictor_from_weights(
    weights: str | Path,
    *,
    model: str | None = None,
    classes: str | Path | list[str] | None = None,
    device: torch.device | None = None,
) -> DeepPredictor:
    """A `DeepPredictor` for pretrained weights (see `pretrained_model`); a vidlearn artifact is
    loaded as one."""
    if is_artifact(weights):
        return DeepPredictor.load(weights, device=device)
    pm = pretrained_model(weights, model=model, classes=classes)
    predictor = DeepPredictor(pm.model, pm.config, pm.class_names, device=device)
    predictor.path = pm.path
    return predictor


def import_weights(
    file: str | Path, out: str | Path, *, model: str | None = None, classes: str | Path | None = None
) -> tuple[Path, PretrainedModel]:
    """Check a checkpoint against its architecture (strictly, classifier included) and write it
    as a vidlearn artifact folder at `out` (safetensors + JSON, with the class names and the
    preprocessing). Returns the artifact's path and what was built."""
    from vidlearn.predictors.artifact import save_artifact

    pm = pretrained_model(file, model=model, classes=classes)
    target = save_artifact(out, pm.model, pm.config, pm.class_names)
    return target, pm
