"""What the training data decides before a run: class names or target statistics, the feature
size of a feature-sequence model and its per-feature input statistics."""

from __future__ import annotations

import time
from typing import Any

import numpy as np
import torch

from vidlearn.config import CLASS_TASKS, ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DataSourceError
from vidlearn.progress import Echo

__all__ = ["prepare_config", "set_input_stats"]


def prepare_config(cfg: ExperimentConfig, train_records: list[VideoRecord]) -> ExperimentConfig:
    """Fill what the data decides: class names (classification, multilabel) or target mean/std
    (regression), and the feature size of a feature-sequence model."""
    if not train_records:
        raise DataSourceError("training data", ["no training videos"])
    cfg = _with_feature_size(cfg)
    if cfg.task.kind == "multilabel":
        from vidlearn.data.sources import label_names

        if any(not isinstance(r.target, str) for r in train_records):
            raise DataSourceError("training data", ["multilabel needs the labels of every video (a 'label' column "
                                                    "'a|b', or label:CLASS columns of 0/1)"])
        names = label_names(train_records)
        if cfg.task.classes:
            names = sorted(set(cfg.task.classes) | set(names))
        if len(names) < 2:
            raise DataSourceError("training data", [f"multilabel needs at least 2 classes, found {len(names)}" + (f" ({', '.join(names)})" if names else "")])
        if cfg.task.thresholds and len(cfg.task.thresholds) != len(names):
            raise ConfigError(f"task.thresholds: {len(cfg.task.thresholds)} thresholds for the {len(names)} classes ({', '.join(names)})")
        return cfg.override({"task.classes": names})
    if cfg.task.kind in CLASS_TASKS:
        from vidlearn.data.sources import class_names

        names = class_names(train_records)
        if any(not isinstance(r.target, str) for r in train_records):
            raise DataSourceError("training data", ["classification needs a class label for every video (folder name or 'label' column)"])
        if len(names) < 2:
            raise DataSourceError("training data", [f"classification needs at least 2 classes, found {len(names)}" + (f" ({', '.join(names)})" if names else "")])
        if cfg.task.classes and set(cfg.task.classes) != set(names):
            names = sorted(set(cfg.task.classes) | set(names))
        return cfg.override({"task.classes": names})
    values = []
    for r in train_records:
        try:
            values.append(float(r.target))  # type: ignore[arg-type]
        except (TypeError, ValueError):
            raise DataSourceError("training data", [f"{r.path}: regression needs a numeric target, got {r.target!r}"]) from None
    std = float(np.std(values)) or 1.0
    return cfg.override({"task.target_mean": float(np.mean(values)), "task.target_std": std})


def _with_feature_size(cfg: ExperimentConfig) -> ExperimentConfig:
    """A feature-sequence model's ``in_features``: the width of ``cfg.frame_features``' rows."""
    from vidlearn.clips.dataset import reads_features

    if not reads_features(cfg):
        return cfg
    from vidlearn.features.frames import FrameEncoder

    dim = FrameEncoder.from_config(cfg).dim
    given = cfg.model.options.get("in_features")
    if given is not None and given != dim:
        raise ConfigError(
            f"model.options.in_features: {given}, but frame_features.kinds {cfg.frame_features.kinds} give {dim} values "
            "per frame; leave in_features out (it is set from the features)"
        )
    return cfg.override({"model.options.in_features": dim})


def set_input_stats(model: torch.nn.Module, dataset: Any, *, progress: bool, echo: Echo) -> None:
    """Per-feature mean/std of the training videos' rows into a feature-sequence model (this also
    fills the feature cache, in this process, before any loader worker starts)."""
    from vidlearn.progress import progress_bar

    started = time.time()
    width = int(model.in_features)
    total, squares, count = np.zeros(width), np.zeros(width), 0
    for i in progress_bar(range(len(dataset)), desc="frame features", unit="video", enabled=progress):
        rows = dataset.feature_rows(i)
        if rows is None or not len(rows):
            continue
        rows = rows.astype(np.float64)
        total += rows.sum(0)
        squares += (rows**2).sum(0)
        count += len(rows)
    if count == 0:
        raise DataSourceError("training data", ["no training video could be read"])
    mean = total / count
    std = np.sqrt(np.maximum(squares / count - mean**2, 0.0))
    model.set_input_stats(torch.from_numpy(mean), torch.from_numpy(std))
    echo(f"frame features ({', '.join(dataset.reader.encoder.kinds)}, {len(mean)} values a frame): "
         f"{count} frames of {len(dataset)} video(s) in {time.time() - started:.0f} s")
