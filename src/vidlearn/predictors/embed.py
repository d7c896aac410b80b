"""The ``deep:PATH`` feature family: the embedding of a trained vidlearn model artifact (directory
or ``.vidlearn`` file), ``model.forward_features`` on the artifact's own test-time preprocessing
(its decode rate and size, clip length, test views and crops, normalisation, rebuilt from the saved
configuration by :class:`~vidlearn.predictors.deep.Predictor`), averaged over the test views. It
reads the video itself (its decode settings are the artifact's, not the table's). Columns:
``deep.model_f0000``, ... (``model.num_features`` of them). Importing this module registers the
family with :func:`vidlearn.features.registry.register_video_family`."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import torch

from vidlearn.errors import ArtifactError
from vidlearn.features.deep import ARTIFACT_PREFIX
from vidlearn.features.registry import register_video_family
from vidlearn.models import build_model
from vidlearn.predictors.artifact import load_artifact
from vidlearn.predictors.deep import DeepPredictor

__all__ = ["ArtifactEmbedding"]


class ArtifactEmbedding:
    """Per-video embeddings of a trained vidlearn model: ``model.forward_features`` averaged over
    the artifact's test views, on the artifact's own preprocessing.

    Unlike the frame families it reads the video itself (:meth:`embed_video`), because the
    artifact fixes its own decode rate, size and clip sampling.
    """

    name = "deep"

    def __init__(self, path: str | Path, *, device: str | torch.device = "cpu", views_per_batch: int = 8) -> None:
        self.path = Path(path)
        art = load_artifact(self.path)
        model = art.build_model(build_model)
        if not hasattr(model, "forward_features"):
            raise ArtifactError(self.path, f"model '{art.config.model.name}' has no forward_features: no embedding to take")
        dim = getattr(model, "num_features", None)
        if not isinstance(dim, int) or dim < 1:
            raise ArtifactError(self.path, f"model '{art.config.model.name}' does not tell its embedding size (num_features)")
        self.num_features = dim
        self.views_per_batch = max(1, int(views_per_batch))
        self.predictor = DeepPredictor(model, art.config, art.class_names, device=torch.device(device))
        stat = self.path.stat() if self.path.is_file() else (self.path / "model.safetensors").stat()
        self.identity = {"path": os.path.abspath(self.path), "size": stat.st_size, "mtime_ns": stat.st_mtime_ns}

    @property
    def columns(self) -> list[str]:
        return [f"{self.name}.model_f{i:04d}" for i in range(self.num_features)]

    def embed_video(self, path: str | Path, start: float | None = None, end: float | None = None) -> np.ndarray:
        """The ``(num_features,)`` float32 embedding of a video (or its ``[start, end)`` segment)."""
        clips = self.predictor.clip_tensor(path, start, end)
        model = self.predictor.model
        feats = []
        with torch.inference_mode():
            for i in range(0, clips.shape[0], self.views_per_batch):
                x = clips[i : i + self.views_per_batch].to(self.predictor.device)
                feats.append(model.forward_features(x).float().cpu())
        return torch.cat(feats).mean(0).numpy().astype(np.float32)

    def __repr__(self) -> str:
        return f"ArtifactEmbedding({str(self.path)!r}, columns={self.num_features})"


register_video_family(ARTIFACT_PREFIX, ArtifactEmbedding)
