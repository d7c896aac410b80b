"""The preprocessing that pretrained weights expect, as defaults for the experiment configuration.

Like torchvision's weights enums (``weights.transforms()``) or timm's ``pretrained_cfg``, a
checkpoint comes with how its clips were made. `weights_defaults` turns that into dotted config
fields ("transform.mean" -> value) for the data pipeline; the caller applies them only where the
user set nothing (`vidlearn.config.with_defaults`). Sources, in order:

- a catalogue name ("r3d_18.kinetics400") or a file stored under a catalogue entry's file name:
  the entry's `Preprocessing`;
- an EfficientNet-Lite0 frame model built with ``pretrained`` (``frame_effnet_lite0``,
  ``lrcn_effnet_lite0``): the encoder's ImageNet normalisation and sizes.

Mapping (vidlearn samples in seconds, not frame indices): ``num_frames`` -> sampling.num_frames;
``fps`` -> decode.fps; a ``frame_stride`` of source frames -> decode.fps = 30 / frame_stride (the
30 fps of the Kinetics sources the PyTorchVideo/Hugging Face references sample from; the clip spans
the same seconds) with sampling.stride 1; ``short_side`` -> decode.short_side (a fixed (H, W)
``resize`` is approximated by its short side); ``crop_size`` -> transform.crop_size.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from vidlearn.models.efficientnet_lite import EFFNET_LITE0_PRETRAINED_CFG
from vidlearn.models.weights import (
    Preprocessing,
    WeightsEntry,
    get_weights,
    is_weights_name,
    list_weights,
)

__all__ = ["SOURCE_FPS", "catalogue_entry", "config_defaults", "weights_defaults"]

SOURCE_FPS = 30.0  # frame rate a `frame_stride` is counted in (Kinetics sources)
_EFFNET_MODELS = ("frame_effnet_lite0", "lrcn_effnet_lite0")


def config_defaults(pre: Preprocessing) -> dict[str, Any]:
    """A `Preprocessing` as dotted config fields."""
    out: dict[str, Any] = {
        "transform.mean": list(pre.mean),
        "transform.std": list(pre.std),
        "transform.crop_size": pre.crop_size,
        "decode.short_side": pre.short_side,
        "sampling.num_frames": pre.num_frames,
    }
    if pre.fps:
        out["decode.fps"], out["sampling.stride"] = float(pre.fps), 1
    elif pre.frame_stride:
        out["decode.fps"], out["sampling.stride"] = SOURCE_FPS / pre.frame_stride, 1
    return out


def catalogue_entry(weights: str | Path | None) -> WeightsEntry | None:
    """The catalogue entry `weights` names: a catalogue name, or a file/folder stored under an
    entry's published file name (e.g. r3d_18-b3b3357e.pth); None for any other file."""
    if weights is None:
        return None
    text = str(weights)
    if is_weights_name(text):
        return get_weights(text)
    name = Path(text).name
    for entry in list_weights():
        if (not entry.is_folder and name == entry.files[0].filename) or (entry.is_folder and name == entry.name):
            return entry
    return None


def weights_defaults(model: str, options: dict[str, Any], weights: str | Path | None) -> tuple[dict[str, Any], str | None]:
    """The config defaults that model `model` (with builder `options`) and `weights` call for, and
    where they come from (a catalogue entry's name, or the encoder's); ({}, None) when none."""
    entry = catalogue_entry(weights)
    if entry is not None:
        return config_defaults(entry.preprocessing), entry.name
    if model in _EFFNET_MODELS and options.get("pretrained"):
        cfg = EFFNET_LITE0_PRETRAINED_CFG
        return {
            "transform.mean": list(cfg["mean"]),
            "transform.std": list(cfg["std"]),
            "transform.crop_size": int(cfg["crop_size"]),
            "decode.short_side": int(cfg["short_side"]),
        }, f"{model} (EfficientNet-Lite0 {cfg['weights']})"
    return {}, None
