"""What `--config` and `--set` may change in a trained model's pipeline at prediction time: the
test views and crops, decoding threads, the frame cache, the batch size and (localization) how
window scores become segments. What the model was
trained on (its input: frames, fps, size, crop, normalisation; its architecture and task) is fixed
by the model, and a training-only setting has no effect here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from vidlearn.config import ExperimentConfig, explicit_fields
from vidlearn.errors import ConfigError, listed
from vidlearn.predictors.base import Predictor
from vidlearn.predictors.deep import DeepPredictor

__all__ = ["INFERENCE_FIELDS", "with_settings"]

INFERENCE_FIELDS = ("sampling.test_views", "sampling.test_crops", "decode.threads", "optim.batch_size",
                    "data.num_workers", "data.cache", "data.cache_dir", "data.cache_format",
                    "segments.smooth", "segments.high", "segments.low", "segments.min_seconds", "segments.nms_iou")
# what the trained model's input and output are: a different value cannot apply to this model
_FIXED_SECTIONS = ("model.", "task.", "frame_features.")
_FIXED_FIELDS = ("decode.fps", "decode.short_side", "sampling.num_frames", "sampling.stride",
                 "transform.crop_size", "transform.mean", "transform.std")


def _value(cfg: ExperimentConfig, key: str) -> Any:
    node: Any = cfg
    for part in key.split("."):
        node = node.get(part) if isinstance(node, dict) else getattr(node, part)
    return node


def _requested(config_file: str | Path | None, overrides: list[str] | None) -> tuple[dict[str, Any], set[str]]:
    """(dotted field -> value, the fields given with --set)."""
    values: dict[str, Any] = {}
    if config_file is not None:
        cfg = ExperimentConfig.load(config_file)
        values.update({k: _value(cfg, k) for k in sorted(explicit_fields(cfg))})
    given = set()
    for text in overrides or []:
        if "=" not in text:
            raise ConfigError(f"--set '{text}' must look like section.field=value")
        key, value = (s.strip() for s in text.split("=", 1))
        values[key] = yaml.safe_load(value)
        given.add(key)
    return values, given


def with_settings(model: Predictor, config_file: str | Path | None = None, overrides: list[str] | None = None) -> Predictor:
    """`model` with the prediction-time fields of `config_file` and `overrides` ("sampling.test_views=5")
    applied; a field fixed by the model that differs, or a training-only field given with --set,
    raises ConfigError naming it. Fields of a config file that only training uses are ignored."""
    values, given = _requested(config_file, overrides)
    if not values:
        return model
    if not isinstance(model, DeepPredictor):
        raise ConfigError("--config/--set: a classical model has no clip settings to change "
                          "(its features are fixed by its training table)")
    current = model.config
    changes: dict[str, Any] = {}
    merged = current.override(values)  # unknown fields and bad values fail here, with suggestions; all at once,
    for key, value in values.items():  # so fields checked together (segments.low <= high) may change together
        new = _value(merged, key)
        old = _value(current, key)
        if new == old or (isinstance(old, tuple) and list(old) == list(new)):
            continue
        if key in INFERENCE_FIELDS:
            changes[key] = value
        elif key.startswith(_FIXED_SECTIONS) or key in _FIXED_FIELDS:
            raise ConfigError(f"{key}: fixed by the trained model ({old!r}, asked for {new!r}); "
                              f"at prediction time only {listed(INFERENCE_FIELDS, 8)} can change")
        elif key in given:
            raise ConfigError(f"--set {key}: a training setting, it has no effect on a trained model; "
                              f"at prediction time {listed(INFERENCE_FIELDS, 8)} can change")
    if not changes:
        return model
    tuned = DeepPredictor(model.model, current.override(changes), model.class_names, device=model.device)
    for attr in ("path", "training_videos"):
        if hasattr(model, attr):
            setattr(tuned, attr, getattr(model, attr))
    return tuned
