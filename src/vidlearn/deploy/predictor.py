"""Prediction from a saved artifact: the exact preprocessing of training (rebuilt from the saved
configuration), per-video multi-view predictions, and timelines over long videos.

Each video is decoded once: the times of all test views are read in one pass. A model that reads
feature sequences gets the per-frame rows of ``config.frame_features`` on the decode grid, as in
training (the whole video, or segment, is encoded once)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidlearn.config import ExperimentConfig
from vidlearn.errors import VidlearnError


@dataclass
class Prediction:
    """One video's prediction: a label with class probabilities, or a value (regression)."""

    path: str
    label: str | None = None
    score: float | None = None
    top_k: list[tuple[str, float]] = field(default_factory=list)
    value: float | None = None
    start: float | None = None
    end: float | None = None

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"path": self.path}
        if self.start is not None:
            d |= {"start": round(self.start, 3), "end": round(self.end or 0.0, 3)}
        if self.value is not None:
            d["value"] = self.value
        else:
            d |= {"label": self.label, "score": self.score, "top_k": [{"label": c, "score": s} for c, s in self.top_k]}
        return d


class Predictor:
    """A loaded model plus the preprocessing it was trained with."""

    def __init__(self, model: torch.nn.Module, config: ExperimentConfig, class_names: list[str], *, device: torch.device | None = None) -> None:
        from vidlearn.data.sampling import build_test_sampler
        from vidlearn.data.transforms import build_transform

        self.config = config
        self.class_names = list(class_names)
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        self.sampler = build_test_sampler(config)
        self.crops = config.sampling.test_crops
        self.transform = build_transform(config.transform, train=False, crops=self.crops)
        self.window_transform = build_transform(config.transform, train=False, crops=1)
        self.encoder = None  # per-frame features, for a model that reads feature sequences
        from vidlearn.data.dataset import reads_features

        if reads_features(config):
            from vidlearn.features.frames import FrameEncoder

            self.encoder = FrameEncoder.from_config(config)

    @classmethod
    def load(cls, path: str | Path, *, device: torch.device | None = None) -> "Predictor":
        """Load an artifact (directory or .vidlearn file); never unpickles anything."""
        from vidlearn.deploy.artifact import load_artifact
        from vidlearn.models import build_model

        art = load_artifact(path)
        return cls(art.build_model(build_model), art.config, art.class_names, device=device)

    @property
    def is_regression(self) -> bool:
        return self.config.task.kind == "regression"

    # ---- one video -------------------------------------------------------------------------
    def clip_tensor(self, path: str | Path, start: float | None = None, end: float | None = None) -> torch.Tensor:
        """All test views of a video as (V, C, T, H, W), decoded in one pass."""
        from vidlearn.io import probe, read_frames

        info = probe(path)
        s = float(start or 0.0)
        dur = (min(end, info.duration) if end is not None else info.duration) - s
        views = self.sampler(dur, None, start=s)
        views = views if isinstance(views, list) else [views]
        times = np.concatenate(views)
        t = len(views[0])
        if self.encoder is not None:
            return self._feature_views(path, times, t, start=s, end=end)
        frames = read_frames(path, times, short_side=self.config.decode.short_side, threads=0)
        clips = []
        for v in range(len(views)):
            x = torch.from_numpy(frames[v * t : (v + 1) * t]).permute(0, 3, 1, 2)  # T, C, H, W
            out = self.transform(x)
            clips.append(out if out.ndim == 5 else out.unsqueeze(0))
        return torch.cat(clips)

    def _feature_views(self, path: str | Path, times: np.ndarray, t: int, *, start: float, end: float | None) -> torch.Tensor:
        """(V, T, F): the rows shown at ``times`` from the encoded video (or segment)."""
        from vidlearn.features.frames import encode_video

        video = encode_video(path, self.encoder, fps=self.config.decode.fps, short_side=self.config.decode.short_side,
                             start=start, end=end)
        return torch.from_numpy(np.ascontiguousarray(video.at(times), dtype=np.float32)).reshape(-1, t, self.encoder.dim)

    @torch.no_grad()
    def outputs(self, clips: torch.Tensor) -> np.ndarray:
        """Per-view probabilities (classification) or values (regression) for (V, C, T, H, W)
        clips, or (V, T, F) feature rows for a feature-sequence model."""
        out = self.model(clips.to(self.device)).float()
        if self.is_regression:
            return (out * self.config.task.target_std + self.config.task.target_mean).cpu().numpy()
        return out.softmax(-1).cpu().numpy()

    def _prediction(self, path: str, scores: np.ndarray, top_k: int, start=None, end=None) -> Prediction:
        if self.is_regression:
            return Prediction(path=path, value=float(scores[0]), start=start, end=end)
        order = np.argsort(-scores)[: max(1, top_k)]
        top = [(self.class_names[i], float(scores[i])) for i in order]
        return Prediction(path=path, label=top[0][0], score=top[0][1], top_k=top, start=start, end=end)

    def predict_video(self, path: str | Path, *, top_k: int = 1) -> Prediction:
        """Video-level prediction: the mean over the test views."""
        scores = self.outputs(self.clip_tensor(path)).mean(0)
        return self._prediction(str(path), scores, top_k)

    def predict(self, paths: Iterable[str | Path], *, top_k: int = 1, progress: bool = False) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predict many videos; bad files are skipped and returned as (path, reason)."""
        from vidlearn.progress import progress_bar

        preds, skipped = [], []
        items = list(paths)
        for p in progress_bar(items, desc="predict", unit="video", enabled=progress):
            try:
                preds.append(self.predict_video(p, top_k=top_k))
            except VidlearnError as exc:
                skipped.append((str(p), getattr(exc, "reason", str(exc))))
        return preds, skipped

    # ---- long videos -----------------------------------------------------------------------
    def timeline(self, path: str | Path, *, stride: float | None = None, top_k: int = 1, batch: int = 8) -> list[Prediction]:
        """Slide a window of the training clip length over the whole video (decoded once, streamed
        with a bounded buffer) and predict each window; returns per-window predictions with their
        start/end seconds."""
        return list(self.iter_timeline(path, stride=stride, top_k=top_k, batch=batch))

    def iter_timeline(self, source: str | Path, *, stride: float | None = None, top_k: int = 1,
                      batch: int = 8) -> Iterator[Prediction]:
        """:meth:`timeline` as a generator: each window's prediction is yielded as soon as its
        batch of ``batch`` windows is scored, so a live stream (``rtsp://``, ``pipe:0``, a FIFO;
        see :func:`vidlearn.io.is_stream`) gets answers while it plays (use ``batch=1`` for the
        lowest latency). Memory stays bounded whatever the length."""
        from vidlearn.io import iter_frames

        cfg = self.config
        fps, n = cfg.decode.fps, cfg.sampling.num_frames
        step = max(1, cfg.sampling.stride)
        span = (n - 1) * step + 1  # frames at decode fps covered by one window
        hop = max(1, int(round((stride if stride is not None else span / fps / 2) * fps)))
        buf: deque[tuple[float, np.ndarray]] = deque(maxlen=span)
        pending: list[tuple[float, float, torch.Tensor]] = []
        name = str(source)
        emitted = 0
        since = 0
        last_t = 0.0

        def scored() -> list[Prediction]:
            x = torch.stack([c for _, _, c in pending])
            out = [self._prediction(name, scores, top_k, start=s, end=e) for (s, e, _), scores in zip(pending, self.outputs(x))]
            pending.clear()
            return out

        for t, frame in self._timeline_frames(iter_frames(source, fps=fps, short_side=cfg.decode.short_side), batch):
            buf.append((t, frame))
            last_t = t
            since += 1
            if len(buf) == span and (emitted + len(pending) == 0 or since >= hop):
                since = 0
                pending.append(self._window(buf, step, fps))
                if len(pending) >= batch:
                    emitted += len(pending)
                    yield from scored()
        if not emitted and not pending and buf:  # shorter than one window: one padded window
            while len(buf) < span:
                buf.append((last_t, buf[-1][1]))
            pending.append(self._window(buf, step, fps))
        if pending:
            yield from scored()

    def _timeline_frames(self, frames: Iterator[tuple[float, np.ndarray]], batch: int) -> Iterator[tuple[float, np.ndarray]]:
        """The decoded frames, or for a feature-sequence model each frame's feature row (encoded
        in chunks of ``batch`` frames, so a stream read with ``batch=1`` is not held back)."""
        if self.encoder is None:
            yield from frames
            return
        from vidlearn.features.frames import iter_encoded_frames

        for times, rows in iter_encoded_frames(frames, self.encoder, batch=batch):
            yield from zip(times.tolist(), rows)

    def _window(self, buf: deque, step: int, fps: float) -> tuple[float, float, torch.Tensor]:
        items = [f for _, f in list(buf)[::step]]
        if self.encoder is not None:
            return buf[0][0], buf[-1][0] + 1.0 / fps, torch.from_numpy(np.stack(items).astype(np.float32))
        x = torch.from_numpy(np.stack(items)).permute(0, 3, 1, 2)
        return buf[0][0], buf[-1][0] + 1.0 / fps, self.window_transform(x)

