"""Building a zoo model with weights: `build_model(name, num_classes=N, weights=PATH|NAME)` builds the
architecture (`registry`) and loads a checkpoint strictly (`checkpoints.load_pretrained`); a
catalogue name (`weights`) resolves to its downloaded file (`download`)."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from torch import nn

from vidlearn.errors import ConfigError
from vidlearn.models.checkpoints import load_pretrained
from vidlearn.models.download import resolve_weights
from vidlearn.models.registry import build_model as build_architecture
from vidlearn.models.weights import get_weights, is_weights_name

__all__ = ["build_model"]

logger = logging.getLogger(__name__)


def build_model(name: str, *, num_classes: int, weights: str | Path | None = None, **options: Any) -> nn.Module:
    """Build a registered model (see `registry.build_model`) and, with ``weights``, load them.

    ``weights``: a checkpoint path (any form `vidlearn.models.checkpoints` reads) or a catalogue
    name ("r3d_18.kinetics400", once fetched), loaded strictly; the classifier is loaded when it
    fits ``num_classes``, else kept fresh. What happened is ``model.weights_report`` (a LoadReport)."""
    source = None if weights is None else _weights_source(name, weights)
    model = build_architecture(name, num_classes=num_classes, **options)
    if source is not None:
        model.weights_report = load_pretrained(model, source, head="auto")
        logger.info("%s: %s", name, model.weights_report.message)
    return model


def _weights_source(name: str, weights: str | Path) -> Path:
    """A `weights` argument as a local path; a catalogue entry must be for architecture `name`."""
    if isinstance(weights, str) and is_weights_name(weights) and get_weights(weights).architecture != name:
        raise ConfigError(f"model.weights: {weights} are weights for {get_weights(weights).architecture}, not {name}")
    return resolve_weights(weights)
