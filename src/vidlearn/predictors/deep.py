"""Prediction from a saved artifact: the exact preprocessing of training (rebuilt from the saved
configuration), per-video multi-view predictions, and timelines over long videos.

Each video is decoded once: the times of all test views are read in one pass. A model that reads
feature sequences gets the per-frame rows of ``config.frame_features`` on the decode grid, as in
training (the whole video, or segment, is encoded once)."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np
import torch

from vidlearn.clips.dataset import reads_features
from vidlearn.clips.reader import build_clip_reader
from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DivergedModelError, VidlearnError
from vidlearn.features.frames import FrameEncoder
from vidlearn.predictors.base import Prediction
from vidlearn.predictors.ray import predict_on_ray
from vidlearn.tasks.task import build_task
from vidlearn.transforms.compose import build_transform


class DeepPredictor:
    """A loaded deep model plus the preprocessing it was trained with (the :class:`Predictor`
    contract for artifacts of the model zoo)."""

    kind = "deep"

    def __init__(self, model: torch.nn.Module, config: ExperimentConfig, class_names: list[str], *, device: torch.device | None = None) -> None:
        self.path: Path | None = None  # where it was loaded from (None: built in memory)
        self.config = config
        self.class_names = list(class_names)
        self.device = device or torch.device("cuda" if torch.cuda.is_available() else "cpu")
        self.model = model.to(self.device).eval()
        self.task_object = build_task(config.task)
        self.encoder = FrameEncoder.from_config(config) if reads_features(config) else None  # feature-sequence models
        self.reader = build_clip_reader(config.decode, config.sampling, config.transform, train=False, views=True,
                                        encoder=self.encoder, memo=False)
        self.sampler = self.reader.sampler
        self.crops = self.reader.crops
        self.window_transform = build_transform(config.transform, train=False, crops=1)  # timeline windows
        self.training_videos: list[str] = []  # the paths it was trained on (from the artifact), when known

    @classmethod
    def load(cls, path: str | Path, *, device: torch.device | None = None) -> "DeepPredictor":
        """Load an artifact (directory or .vidlearn file); never unpickles anything."""
        from vidlearn.models import build_model
        from vidlearn.predictors.artifact import load_artifact

        art = load_artifact(path)
        predictor = cls(art.build_model(build_model), art.config, art.class_names, device=device)
        predictor.path = Path(path)
        predictor.training_videos = [str(v) for v in art.meta.get("training_videos") or []]
        return predictor

    @property
    def task(self) -> str:
        return self.config.task.kind

    @property
    def info(self) -> dict[str, Any]:
        """What a service tells about the model: kind, architecture, task, classes."""
        return {"kind": self.kind, "model": self.config.model.name, "task": self.task, "classes": self.class_names}

    @property
    def is_regression(self) -> bool:
        return self.config.task.kind == "regression"

    # ---- one video -------------------------------------------------------------------------
    def clip_tensor(self, path: str | Path, start: float | None = None, end: float | None = None) -> torch.Tensor:
        """All test views of a video (or its ``[start, end)`` segment) as (V, C, T, H, W), or
        (V, T, F) feature rows for a feature-sequence model; decoded in one pass."""
        return self.reader.read(VideoRecord(path=Path(path), start=start, end=end), threads=0)

    def evaluate(self, records: Sequence[VideoRecord], out: str | Path, *, data_name: str = "data",
                 progress: bool = False) -> dict[str, Any]:
        """Multi-view metrics (clip and video level) on labelled ``records``, with metrics.json,
        pictures, predictions.csv and report.html written to ``out``."""
        import time

        from vidlearn.clips.dataset import build_cache
        from vidlearn.predictors.evaluation import evaluate_and_report
        from vidlearn.reports import write_run_report

        started = time.time()
        metrics, _ = evaluate_and_report(self.model, list(records), self.config, Path(out), cache=build_cache(self.config),
                                         progress=progress)
        name = self.path.name if self.path is not None else self.config.model.name
        write_run_report(  # report.html beside metrics.json; a failure only warns
            Path(out), title=f"Evaluation report: {name} on {Path(data_name).name}", metrics=metrics, config=self.config,
            timing={"evaluation": time.time() - started},
            info={"model": str(self.path), "data": str(data_name), "architecture": self.config.model.name},
        )
        return metrics

    @torch.no_grad()
    def outputs(self, clips: torch.Tensor) -> np.ndarray:
        """Per-view probabilities (classification: softmax; multilabel: a sigmoid per class) or values (regression) for (V, C, T, H, W)
        clips, or (V, T, F) feature rows for a feature-sequence model. A diverged model (outputs
        not finite) is a :class:`DivergedModelError`, never a row of NaN scores."""
        out = self.task_object.decode(self.model(clips.to(self.device)).float()).cpu().numpy()
        finite = np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        if not finite.all():
            raise DivergedModelError.outputs(str(self.path or "the model in memory"), int((~finite).sum()), len(out))
        return out

    def _prediction(self, path: str, scores: np.ndarray, top_k: int, start=None, end=None) -> Prediction:
        if self.is_regression:
            return Prediction(path=path, value=float(scores[0]), start=start, end=end)
        ranked = np.argsort(-scores, kind="stable")
        top = [(self.class_names[i], float(scores[i])) for i in ranked[: max(1, top_k)]]
        if self.config.task.kind == "multilabel":  # every class over its threshold
            on = self.task_object.decide(scores)
            labels = [(self.class_names[i], float(scores[i])) for i in ranked if on[i]]
            return Prediction(path=path, label="|".join(sorted(c for c, _ in labels)), score=top[0][1], top_k=top,
                              start=start, end=end, labels=labels)
        return Prediction(path=path, label=top[0][0], score=top[0][1], top_k=top, start=start, end=end)

    def predict_video(self, path: str | Path, *, top_k: int = 1) -> Prediction:
        """Video-level prediction: the mean over the test views."""
        scores = self.outputs(self.clip_tensor(path)).mean(0)
        return self._prediction(str(path), scores, top_k)

    def predict(self, paths: Iterable[str | Path], *, top_k: int = 1, progress: bool = False,
                ray: str | None = None) -> tuple[list[Prediction], list[tuple[str, str]]]:
        """Predict many videos; bad files are skipped and returned as (path, reason)."""
        if ray is not None:  # one model copy per CPU of a Ray cluster (vidlearn.predictors.ray)
            if self.path is None:
                raise ConfigError("--ray predicts with a saved model; this one was built in memory")
            factory = partial(DeepPredictor.load, str(self.path.resolve()), device=torch.device("cpu"))
            return predict_on_ray(factory, [str(p) for p in paths], address=ray, top_k=top_k, progress=progress)
        from vidlearn.progress import progress_bar

        preds, skipped = [], []
        items = list(paths)
        for p in progress_bar(items, desc="predict", unit="video", enabled=progress):
            try:
                preds.append(self.predict_video(p, top_k=top_k))
            except DivergedModelError:
                raise  # the model's problem, not this video's
            except VidlearnError as exc:
                skipped.append((str(p), exc.reason))
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
        from vidlearn.clips.windows import window_frames

        fps, step = cfg.decode.fps, max(1, cfg.sampling.stride)
        span = window_frames(cfg.sampling)  # frames at decode fps covered by one window, as in training
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

    def segments(self, path: str | Path, *, stride: float | None = None, params: Any = None) -> Any:
        """A localisation model's action segments in one video, with the window scores
        (:class:`vidlearn.predictors.segments.Segmentation`); ConfigError for other tasks."""
        from vidlearn.predictors.segments import predictor_segments

        return predictor_segments(self, str(path), stride=stride, params=params)

    def iter_segments(self, source: str | Path, *, stride: float | None = None, params: Any = None, batch: int = 1) -> Iterator[Any]:
        """:meth:`segments` for a stream: each segment as soon as it closes."""
        from vidlearn.predictors.segments import predictor_iter_segments

        yield from predictor_iter_segments(self, str(source), stride=stride, params=params, batch=batch)

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

