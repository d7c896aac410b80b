"""Torch datasets over :class:`~vidlearn.data.records.VideoRecord` lists.

A sample is a dict ``{"video": FloatTensor (C, T, H, W), "target": Tensor, "index": int}``; in
multi-view evaluation ``video`` is ``(V, C, T, H, W)`` with ``V = test_views * test_crops``
(temporal view major, crops minor), and the video-level score is the mean over the V views.

Frames come from a :class:`~vidlearn.cache.store.FrameCache` when one is given (decoded once, read
from disk afterwards), else straight from the file with :func:`vidlearn.io.read_frames` (only the
frames at the sampled seconds are decoded).

For a model that reads feature sequences (``feature_rnn``, see
:func:`~vidlearn.models.takes_feature_sequences`) a sample's ``video`` is ``(T, F)`` float32: the
per-frame feature rows (``cfg.frame_features``, :mod:`vidlearn.features.frames`) at the sampled
seconds, ``(V, T, F)`` with views; no image transform applies. The rows come from a feature cache
(:func:`build_cache` makes one for such models) or, without a cache, from encoding the whole video
once per process (kept for the few videos seen last).

Bad videos do not stop an epoch: ``__getitem__`` returns None for a record whose video cannot be
read, remembers ``(path, reason)`` and -- because DataLoader workers are separate processes --
appends it to a JSON-lines ``skip_log`` file that the main process reads back (``skipped``,
``summary()``). :func:`collate_skip_bad` drops the Nones from a batch and returns None for a
batch with no good sample; a training loop must skip such a batch::

    for batch in loader:
        if batch is None:      # every video of this batch was unreadable
            continue
        ...

In a LightningModule, ``training_step`` returns None for a None batch (Lightning then skips the
optimiser step) and the validation/test steps return early.

Randomness is per item: the sampler and the transform draw from generators seeded by
``(cfg.optim.seed, epoch, index)``, so a run is reproducible whatever the number of workers.
The epoch lives in shared memory: ``set_epoch`` in the main process reaches persistent workers.
Call ``dataset.set_epoch(epoch)`` (or the loader sampler's ``set_epoch``, as Lightning does)
before each epoch -- after a resume, the epoch resumed at; a loader from :func:`make_loader`
that is iterated again without it moves on to the next epoch by itself."""

from __future__ import annotations

import logging
import os
import tempfile
import time
import uuid
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import (
    Dataset,
    get_worker_info,
)

from vidlearn.cache import FrameCache
from vidlearn.clips.reader import ClipReader, build_clip_reader
from vidlearn.clips.skips import (
    append_skip_line,
    read_skip_log,
    remove_private_log,
    skip_summary,
)
from vidlearn.config import CLASS_TASKS, LABEL_TASKS, ExperimentConfig
from vidlearn.data.records import VideoRecord, split_labels
from vidlearn.data.sources import class_names, label_names
from vidlearn.errors import DataSourceError, VideoError, VidlearnError
from vidlearn.features.frames import FrameEncoder

__all__ = ["ClipDataset", "build_cache", "reads_features"]


log = logging.getLogger(__name__)


_UNLABELLED_CLASS = -1  # target of an unlabelled record (classification); regression uses NaN


def reads_features(cfg: ExperimentConfig) -> bool:
    """True when the configured model reads per-frame feature rows instead of clips."""
    from vidlearn.models import takes_feature_sequences

    return takes_feature_sequences(cfg.model.name)


def build_cache(cfg: ExperimentConfig) -> FrameCache | None:
    """The frame cache the configuration asks for (None when ``data.cache`` is off), at its decode
    rate, short side and format; the folder is ``data.cache_dir``, else ``$VIDLEARN_CACHE``, else
    ``~/.cache/vidlearn/frames`` (entries are keyed by file identity, so sharing it is safe).
    For a feature-sequence model it is a feature cache (``cfg.frame_features`` rows, npy)."""
    if not cfg.data.cache:
        return None
    root = cfg.data.cache_dir or os.environ.get("VIDLEARN_CACHE") or Path.home() / ".cache" / "vidlearn" / "frames"
    if reads_features(cfg):
        from vidlearn.features.frames import FrameEncoder

        return FrameCache(Path(root), fps=cfg.decode.fps, short_side=cfg.decode.short_side, format="npy",
                          encoder=FrameEncoder.from_config(cfg))
    return FrameCache(Path(root), fps=cfg.decode.fps, short_side=cfg.decode.short_side, format=cfg.data.cache_format)


def _in_worker() -> bool:
    return get_worker_info() is not None


class ClipDataset(Dataset):
    """Clips of videos for training or evaluation, read by a :class:`~vidlearn.clips.reader.ClipReader`.

    Args:
        records: the videos (or segments: ``start``/``end`` seconds) with their targets.
        reader: the clip reader of this mode (training: the train sampler and augmentations;
            evaluation: deterministic, one centre clip or every test view and crop).
        task: "classification", "regression" or "multilabel" (how targets are encoded).
        class_to_idx: class name -> index for classification and multilabel (default: the
            sorted class names of ``records``).
        seed: with the epoch and the index, seeds every random choice of a sample.
        skip_log: a JSON-lines file (in the run folder) where bad videos are reported, also from
            DataLoader worker processes; None uses a private temp file (removed with the
            dataset), so ``skipped`` still sees the workers' reports.

    :meth:`from_config` builds one from an experiment configuration, handing each part its
    section. ``__getitem__`` returns None for an unreadable video (see the module docs);
    ``skipped`` and ``summary()`` report them. Targets: class index (long) for classification,
    ``-1`` for an unlabelled record; float32 for regression, NaN when unlabelled; multilabel: a
    float32 ``(K,)`` 0/1 vector (``"jump|wave"`` sets jump and wave), NaNs when unlabelled.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        reader: ClipReader,
        *,
        task: str = "classification",
        class_to_idx: dict[str, int] | None = None,
        seed: int = 0,
        train: bool = False,
        skip_log: str | Path | None = None,
    ) -> None:
        self.records = list(records)
        self.reader = reader
        self.train = bool(train)
        self.task = task
        self.token = uuid.uuid4().hex  # tells this dataset's lines apart in a shared skip log
        self.skip_log = None if skip_log is None else Path(skip_log)
        self._log_path = self.skip_log
        if self._log_path is None:
            self._log_path = Path(tempfile.gettempdir()) / f"vidlearn-skipped-{self.token}.jsonl"
            weakref.finalize(self, remove_private_log, self._log_path, os.getpid())
        if self.task in LABEL_TASKS:
            if class_to_idx is None:
                names = label_names(self.records) if self.task == "multilabel" else class_names(self.records)
                class_to_idx = {name: i for i, name in enumerate(names)}
            self.class_to_idx: dict[str, int] | None = dict(class_to_idx)
        else:
            self.class_to_idx = None
        self._targets = self._encode_targets()
        self.seed = int(seed)
        # [epoch, number of set_epoch calls], in shared memory so persistent workers see it
        self._epoch = torch.zeros(2, dtype=torch.int64).share_memory_()
        self._bad: dict[int, str] = {}  # index -> reason, per process
        self._skipped: list[tuple[int, str, str]] = []  # (index, path, reason) seen in this process

    @classmethod
    def from_config(
        cls,
        records: Sequence[VideoRecord],
        cfg: ExperimentConfig,
        *,
        train: bool,
        class_to_idx: dict[str, int] | None = None,
        cache: FrameCache | None = None,
        views: bool = False,
        skip_log: str | Path | None = None,
    ) -> ClipDataset:
        """The dataset ``cfg`` describes: its reader from the decode, sampling and transform
        sections (per-frame rows of ``frame_features`` for a feature-sequence model), targets
        from ``task`` (classes: ``task.classes`` when set), randomness from ``optim.seed``.
        ``views``: evaluation with every test view times every crop, ``(V, C, T, H, W)``."""
        encoder = FrameEncoder.from_config(cfg) if reads_features(cfg) else None
        if cache is not None and (cache.encoder is not None) != (encoder is not None):
            raise ValueError(
                f"model {cfg.model.name} reads {'feature rows' if encoder is not None else 'frames'}, but the cache holds "
                f"{'feature rows' if cache.encoder is not None else 'frames'}: build it with build_cache(cfg)"
            )
        reader = build_clip_reader(cfg.decode, cfg.sampling, cfg.transform, train=train, views=views, cache=cache,
                                   encoder=encoder)
        if class_to_idx is None and cfg.task.kind in LABEL_TASKS and cfg.task.classes:
            class_to_idx = {name: i for i, name in enumerate(cfg.task.classes)}
        return cls(records, reader, task=cfg.task.kind, class_to_idx=class_to_idx, seed=cfg.optim.seed, train=train,
                   skip_log=skip_log)

    @property
    def cache(self) -> FrameCache | None:
        return self.reader.cache

    @property
    def views(self) -> bool:
        return bool(self.reader.views)

    @property
    def sequences(self) -> bool:
        """True when samples are per-frame feature rows (a feature-sequence model)."""
        return self.reader.encoder is not None

    @property
    def sampler(self) -> Any:
        return self.reader.sampler

    @property
    def transform(self) -> Any:
        return self.reader.transform

    # ---- targets ----------------------------------------------------------------------------
    def _encode_targets(self) -> list[Any]:
        problems: list[str] = []
        out: list[Any] = []
        for i, r in enumerate(self.records):
            t = r.target
            if self.task == "multilabel":
                assert self.class_to_idx is not None
                vec = np.full(len(self.class_to_idx), np.nan if t is None else 0.0, dtype=np.float32)
                for label in split_labels(t):
                    if label in self.class_to_idx:
                        vec[self.class_to_idx[label]] = 1.0
                    else:
                        known = ", ".join(list(self.class_to_idx)[:20])
                        problems.append(f"record {i} ({r.name}): label {label!r} is not one of the known classes ({known})")
                out.append(vec)
            elif self.task in CLASS_TASKS:
                assert self.class_to_idx is not None
                if t is None:
                    out.append(_UNLABELLED_CLASS)
                elif isinstance(t, str) and t in self.class_to_idx:
                    out.append(self.class_to_idx[t])
                else:
                    out.append(_UNLABELLED_CLASS)
                    known = ", ".join(list(self.class_to_idx)[:20])
                    problems.append(f"record {i} ({r.name}): class {t!r} is not one of the known classes ({known})")
            else:
                if t is None:
                    out.append(float("nan"))
                    continue
                try:
                    out.append(float(t))
                except (TypeError, ValueError):
                    out.append(float("nan"))
                    problems.append(f"record {i} ({r.name}): regression target {t!r} is not a number")
        if problems:
            raise DataSourceError("dataset records", problems)
        return out

    def target(self, index: int) -> torch.Tensor:
        """The target tensor of record ``index``."""
        value = self._targets[index]
        if self.task in CLASS_TASKS:
            return torch.tensor(value, dtype=torch.long)
        if self.task == "multilabel":
            return torch.from_numpy(value.copy())
        return torch.tensor(value, dtype=torch.float32)

    # ---- epochs and randomness --------------------------------------------------------------
    def set_epoch(self, epoch: int) -> None:
        """Choose the epoch whose random clips are drawn (shared with DataLoader workers); call
        it before iterating the loader (after a resume: the epoch to resume at)."""
        if int(epoch) < 0:
            raise ValueError(f"epoch must be >= 0, got {epoch}")
        self._epoch[0] = int(epoch)
        self._epoch[1] += 1

    def epoch_state(self) -> tuple[int, int]:
        """(epoch, how many times set_epoch was called): lets a sampler tell an explicit
        set_epoch from an epoch it should advance itself."""
        return int(self._epoch[0]), int(self._epoch[1])

    def _advance_epoch(self, epoch: int) -> None:
        self._epoch[0] = int(epoch)

    @property
    def epoch(self) -> int:
        """The current epoch."""
        return int(self._epoch[0])

    def _generators(self, index: int) -> tuple[np.random.Generator, torch.Generator]:
        seq = np.random.SeedSequence([self.seed % 2**63, self.epoch, int(index)])
        s_np, s_torch = seq.spawn(2)
        gen = torch.Generator()
        gen.manual_seed(int(s_torch.generate_state(1, np.uint64)[0] >> np.uint64(1)))
        return np.random.default_rng(s_np), gen

    @property
    def num_views(self) -> int:
        """Clips per sample: test_views * test_crops with ``views``, else 1."""
        return self.reader.num_views

    def __len__(self) -> int:
        return len(self.records)

    # ---- loading ----------------------------------------------------------------------------
    def _threads(self) -> int | None:
        return 1 if _in_worker() else None  # one decoder thread per loader worker

    def sample_times(self, index: int) -> list[np.ndarray]:
        """The seconds (from the start of the video) that ``self[index]`` shows at the current
        epoch, one array per temporal view (one array when not in multi-view mode)."""
        rng, _ = self._generators(index)
        return self.reader.sample_times(self.records[index], rng)

    def _load(self, index: int) -> dict[str, Any]:
        rng, gen = self._generators(index)
        tensor = self.reader.read(self.records[index], rng, gen, threads=self._threads())
        return {"video": tensor, "target": self.target(index), "index": int(index)}

    def feature_rows(self, index: int) -> np.ndarray | None:
        """All per-frame feature rows ``(N, F)`` of record ``index`` (feature-sequence models),
        filling the cache when needed; None (and the video reported) when it cannot be read."""
        if not self.sequences:
            raise ValueError("this dataset's model reads frames, not feature rows")
        if index in self._bad:
            return None
        try:
            video, _, _ = self.reader.source(self.records[index], threads=self._threads())
        except VidlearnError as exc:
            self._report(index, exc.reason if isinstance(exc, VideoError) else str(exc))
            return None
        return np.asarray(video.frames, dtype=np.float32)

    def __getitem__(self, index: int) -> dict[str, Any] | None:
        index = int(index)
        if index in self._bad:
            return None
        try:
            return self._load(index)
        except VidlearnError as exc:
            reason = exc.reason if isinstance(exc, VideoError) else str(exc)
            self._report(index, reason)
            return None

    # ---- bad videos -------------------------------------------------------------------------
    def _report(self, index: int, reason: str) -> None:
        path = str(self.records[index].path)
        self._bad[index] = reason
        self._skipped.append((index, path, reason))
        log.warning("skipping %s: %s", path, reason)
        if self._log_path is not None:
            entry = {
                "dataset": self.token,
                "index": index,
                "path": path,
                "reason": reason,
                "epoch": self.epoch,
                "pid": os.getpid(),
                "time": time.time(),
            }
            try:
                append_skip_line(self._log_path, entry)
            except OSError as exc:  # reporting must not kill the epoch either
                log.warning("cannot write the skip log %s: %s", self._log_path, exc)

    @property
    def skipped(self) -> list[tuple[str, str]]:
        """(path, reason) of every video skipped so far, in this process and (through the skip
        log) in DataLoader workers; one entry per record."""
        seen: dict[int, tuple[str, str]] = {}
        for index, path, reason in self._skipped:
            seen.setdefault(index, (path, reason))
        if self._log_path is not None:
            for e in read_skip_log(self._log_path, dataset=self.token):
                try:
                    seen.setdefault(int(e["index"]), (str(e["path"]), str(e["reason"])))
                except (KeyError, TypeError, ValueError):
                    continue
        return list(seen.values())

    def summary(self) -> str:
        """"N of M videos skipped: path: reason; ..." """
        return skip_summary(self.skipped, len(self.records))

    def __repr__(self) -> str:
        mode = "train" if self.train else ("eval, multi-view" if self.views else "eval")
        return f"ClipDataset({len(self)} videos, {mode}, cache={self.cache!r})"
