"""Torch datasets over :class:`~vidlearn.data.records.VideoRecord` lists.

A sample is a dict ``{"video": FloatTensor (C, T, H, W), "target": Tensor, "index": int}``; in
multi-view evaluation ``video`` is ``(V, C, T, H, W)`` with ``V = test_views * test_crops``
(temporal view major, crops minor), and the video-level score is the mean over the V views.

Frames come from a :class:`~vidlearn.data.cache.FrameCache` when one is given (decoded once, read
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
that is iterated again without it moves on to the next epoch by itself.
"""

from __future__ import annotations

import json
import logging
import os
import random
import tempfile
import time
import uuid
import weakref
from collections import OrderedDict
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler, default_collate, get_worker_info

from vidlearn import io as vio
from vidlearn.config import ExperimentConfig
from vidlearn.data.cache import CachedVideo, FrameCache
from vidlearn.data.records import VideoRecord
from vidlearn.data.sampling import build_test_sampler, build_train_sampler, record_span
from vidlearn.data.sources import class_names
from vidlearn.data.transforms import build_transform, frames_to_tensor
from vidlearn.errors import DataSourceError, VidlearnError, VideoError

__all__ = [
    "ClipDataset",
    "EpochSampler",
    "FrameDataset",
    "build_cache",
    "collate_skip_bad",
    "iter_video_frames",
    "make_loader",
    "reads_features",
    "read_skip_log",
    "skip_summary",
]

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


def skip_summary(skipped: Sequence[tuple[str, str]], total: int) -> str:
    """"N of M videos skipped: path: reason; path: reason" (or "0 of M videos skipped")."""
    head = f"{len(skipped)} of {total} video{'s' if total != 1 else ''} skipped"
    if not skipped:
        return head
    return head + ": " + "; ".join(f"{path}: {reason}" for path, reason in skipped)


def read_skip_log(path: str | Path, *, dataset: str | None = None) -> list[dict[str, Any]]:
    """The entries of a JSON-lines skip log (those of one dataset when ``dataset`` is its token);
    a missing file is an empty log and an unreadable line is ignored."""
    p = Path(path)
    try:
        text = p.read_text(encoding="utf-8")
    except FileNotFoundError:
        return []
    out = []
    for line in text.splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue  # a line cut by a crash: the others still count
        if isinstance(entry, dict) and (dataset is None or entry.get("dataset") == dataset):
            out.append(entry)
    return out


def _append_line(path: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line with a single O_APPEND write (whole lines even with many writers)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    data = (json.dumps(entry, ensure_ascii=False) + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)


def _remove_private_log(path: Path, owner_pid: int) -> None:
    if os.getpid() == owner_pid:  # never from a forked worker's copy
        try:
            path.unlink()
        except OSError:
            pass


def _in_worker() -> bool:
    return get_worker_info() is not None


class ClipDataset(Dataset):
    """Clips of videos for training or evaluation.

    Args:
        records: the videos (or segments: ``start``/``end`` seconds) with their targets.
        cfg: the experiment configuration (decode, sampling, transform, task, optim.seed).
        train: training clips (the train sampler: a random window or random segment frames, and
            the augmentations) or evaluation clips (deterministic, no augmentation).
        class_to_idx: class name -> index for classification (default: ``cfg.task.classes`` if
            set, else the sorted class names of ``records``).
        cache: a FrameCache at ``cfg.decode`` fps/short side; None reads the files directly.
        views: evaluation only -- every temporal view (``cfg.sampling.test_views``) times every
            spatial crop (``cfg.sampling.test_crops``), stacked as ``(V, C, T, H, W)``;
            without it an evaluation sample is the one centre clip ``(C, T, H, W)``.
        skip_log: a JSON-lines file (in the run folder) where bad videos are reported, also from
            DataLoader worker processes; None uses a private temp file (removed with the
            dataset), so ``skipped`` still sees the workers' reports.

    ``__getitem__`` returns None for an unreadable video (see the module docs); ``skipped`` and
    ``summary()`` report them. Targets: class index (long) for classification, ``-1`` for an
    unlabelled record; float32 for regression, NaN when unlabelled.
    """

    def __init__(
        self,
        records: Sequence[VideoRecord],
        cfg: ExperimentConfig,
        *,
        train: bool,
        class_to_idx: dict[str, int] | None = None,
        cache: FrameCache | None = None,
        views: bool = False,
        skip_log: str | Path | None = None,
    ) -> None:
        if train and views:
            raise ValueError("views=True is for evaluation; a training sample is one clip")
        self.records = list(records)
        self.cfg = cfg
        self.train = bool(train)
        self.views = bool(views)
        self.task = cfg.task.kind
        if cache is not None and (cache.fps != cfg.decode.fps or cache.short_side != cfg.decode.short_side):
            raise ValueError(
                f"the frame cache decodes at fps={cache.fps}, short_side={cache.short_side} but the configuration "
                f"asks for fps={cfg.decode.fps}, short_side={cfg.decode.short_side}"
            )
        self.sequences = reads_features(cfg)
        if cache is not None and (cache.encoder is not None) != self.sequences:
            raise ValueError(
                f"model {cfg.model.name} reads {'feature rows' if self.sequences else 'frames'}, but the cache holds "
                f"{'feature rows' if cache.encoder is not None else 'frames'}: build it with build_cache(cfg)"
            )
        self.cache = cache
        self._encoder: Any = None  # feature models without a cache: built on first use, per process
        self._encoded: OrderedDict[str, CachedVideo] = OrderedDict()
        self.token = uuid.uuid4().hex  # tells this dataset's lines apart in a shared skip log
        self.skip_log = None if skip_log is None else Path(skip_log)
        self._log_path = self.skip_log
        if self._log_path is None:
            self._log_path = Path(tempfile.gettempdir()) / f"vidlearn-skipped-{self.token}.jsonl"
            weakref.finalize(self, _remove_private_log, self._log_path, os.getpid())
        if self.task == "classification":
            if class_to_idx is None:
                names = list(cfg.task.classes) or class_names(self.records)
                class_to_idx = {name: i for i, name in enumerate(names)}
            self.class_to_idx: dict[str, int] | None = dict(class_to_idx)
        else:
            self.class_to_idx = None
        self._targets = self._encode_targets()

        if self.train:
            self.sampler = build_train_sampler(cfg)
            self.transform = build_transform(cfg.transform, train=True)
            self.crops = 1
        elif self.views:
            self.sampler = build_test_sampler(cfg)
            self.crops = cfg.sampling.test_crops
            self.transform = build_transform(cfg.transform, train=False, crops=self.crops)
        else:
            self.sampler = build_test_sampler(cfg.override({"sampling.test_views": 1}))
            self.transform = build_transform(cfg.transform, train=False, crops=1)
            self.crops = 1
        if self.sequences:
            self.crops = 1  # rows are per frame: no spatial crops
        self.seed = int(cfg.optim.seed)
        # [epoch, number of set_epoch calls], in shared memory so persistent workers see it
        self._epoch = torch.zeros(2, dtype=torch.int64).share_memory_()
        self._durations: dict[str, float] = {}  # probed video durations, per process
        self._bad: dict[int, str] = {}  # index -> reason, per process
        self._skipped: list[tuple[int, str, str]] = []  # (index, path, reason) seen in this process

    # ---- targets ----------------------------------------------------------------------------
    def _encode_targets(self) -> list[int | float]:
        problems: list[str] = []
        out: list[int | float] = []
        for i, r in enumerate(self.records):
            t = r.target
            if self.task == "classification":
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
        if self.task == "classification":
            return torch.tensor(value, dtype=torch.long)
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
        return self.cfg.sampling.test_views * self.crops if self.views else 1

    def __len__(self) -> int:
        return len(self.records)

    # ---- loading ----------------------------------------------------------------------------
    def _span(self, record: VideoRecord) -> tuple[float, float]:
        """(start, duration) of the record's segment, probing the video once per process."""
        key = str(record.path)
        duration = self._durations.get(key)
        if duration is None:
            duration = vio.probe(record.path).duration
            if not duration > 0:
                raise VideoError(record.path, "the video has no duration (no frames?)")
            self._durations[key] = duration
        try:
            return record_span(record, duration)
        except ValueError as exc:
            raise VideoError(record.path, str(exc).split(": ", 1)[-1]) from None

    def _source(self, record: VideoRecord) -> tuple[CachedVideo | None, float, float]:
        if self.cache is not None:
            video = self.cache.get(record, threads=1 if _in_worker() else None)
            return video, video.start, video.duration
        if self.sequences:
            video = self._encode(record)
            return video, video.start, video.duration
        start, duration = self._span(record)
        return None, start, duration

    def _encode(self, record: VideoRecord) -> CachedVideo:
        """The feature rows of a whole record, without a cache (a few kept in memory)."""
        from vidlearn.features.frames import FrameEncoder, encode_video

        key = f"{record.path}|{record.start}|{record.end}"
        video = self._encoded.get(key)
        if video is None:
            if self._encoder is None:
                self._encoder = FrameEncoder.from_config(self.cfg)
            start, _ = self._span(record)  # checks the segment against the video, naming the file
            video = encode_video(record.path, self._encoder, fps=self.cfg.decode.fps, short_side=self.cfg.decode.short_side,
                                 start=start, end=record.end, threads=1 if _in_worker() else self.cfg.decode.threads)
            self._encoded[key] = video
            while len(self._encoded) > 8:
                self._encoded.popitem(last=False)
        return video

    def _times(self, start: float, duration: float, rng: np.random.Generator) -> list[np.ndarray]:
        out = self.sampler(duration, rng, start=start)
        return [np.asarray(t, dtype=np.float64) for t in out] if isinstance(out, list) else [np.asarray(out, dtype=np.float64)]

    def sample_times(self, index: int) -> list[np.ndarray]:
        """The seconds (from the start of the video) that ``self[index]`` shows at the current
        epoch, one array per temporal view (one array when not in multi-view mode)."""
        record = self.records[index]
        _, start, duration = self._source(record)
        rng, _ = self._generators(index)
        return self._times(start, duration, rng)

    def _load(self, index: int) -> dict[str, Any]:
        record = self.records[index]
        video, start, duration = self._source(record)
        rng, gen = self._generators(index)
        views = self._times(start, duration, rng)
        all_times = np.concatenate(views)
        if video is not None:
            frames = video.at(all_times)
        else:
            threads = 1 if _in_worker() else self.cfg.decode.threads
            frames = vio.read_frames(record.path, all_times, short_side=self.cfg.decode.short_side, threads=threads)
        clips = []
        pos = 0
        for times in views:
            part = frames[pos : pos + len(times)]
            pos += len(times)
            if self.sequences:
                clips.append(torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)))
            else:
                clips.append(self.transform(frames_to_tensor(part), gen))
        if not self.views:
            tensor = clips[0]
        elif self.crops > 1:
            tensor = torch.cat(clips, dim=0)  # each is (crops, C, T, H, W)
        else:
            tensor = torch.stack(clips, dim=0)
        return {"video": tensor, "target": self.target(index), "index": int(index)}

    def feature_rows(self, index: int) -> np.ndarray | None:
        """All per-frame feature rows ``(N, F)`` of record ``index`` (feature-sequence models),
        filling the cache when needed; None (and the video reported) when it cannot be read."""
        if not self.sequences:
            raise ValueError(f"model {self.cfg.model.name} reads frames, not feature rows")
        if index in self._bad:
            return None
        try:
            video, _, _ = self._source(self.records[index])
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
                _append_line(self._log_path, entry)
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


def collate_skip_bad(batch: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Collate the good samples of a batch (``None`` = a skipped bad video); None when none is
    left -- the loop then skips the batch (see the module docs)."""
    good = [b for b in batch if b is not None]
    if not good:
        return None
    return default_collate(good)


class EpochSampler(Sampler[int]):
    """Indices of an epoch: shuffled from ``(seed, epoch)`` or in order.

    The epoch is the dataset's (a :class:`ClipDataset`): ``set_epoch`` here or on the dataset
    chooses it (Lightning calls the sampler's every epoch); when nobody set it since the last
    iteration, iterating again moves on to the next epoch, so a plain ``for epoch ...: for batch
    in loader`` loop gets new clips every epoch. Without a dataset it counts epochs itself."""

    def __init__(self, size: int, *, shuffle: bool, seed: int, dataset: Any | None = None) -> None:
        self.size = int(size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.dataset = dataset if dataset is not None and hasattr(dataset, "epoch_state") else None
        self._next_epoch = 0
        self._last: tuple[int, int] | None = None  # (epoch, set count) of the last iteration

    def set_epoch(self, epoch: int) -> None:
        if self.dataset is not None:
            self.dataset.set_epoch(epoch)
        else:
            self._next_epoch = int(epoch)

    def __len__(self) -> int:
        return self.size

    def _epoch(self) -> int:
        if self.dataset is None:
            epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
            return epoch
        epoch, sets = self.dataset.epoch_state()
        if self._last is not None and self._last[1] == sets:  # not set since the last iteration
            epoch = self._last[0] + 1
            self.dataset._advance_epoch(epoch)  # before any index of this epoch reaches a worker
        self._last = (epoch, sets)
        return epoch

    def __iter__(self) -> Iterator[int]:
        epoch = self._epoch()
        if self.shuffle:
            order = np.random.default_rng([self.seed % 2**63, epoch]).permutation(self.size)
        else:
            order = np.arange(self.size)
        yield from order.tolist()


def _seed_worker(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's signature
    """Seed numpy and random in a worker from torch's per-worker seed (itself from the loader's
    generator), for code that uses the global generators."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader that skips bad videos (:func:`collate_skip_bad`: a batch may be None), with
    reproducible order (from ``seed`` and the epoch), seeded and persistent workers."""
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, dataset=dataset)  # type: ignore[arg-type]
    gen = torch.Generator()
    gen.manual_seed(int(seed) % 2**63)
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra = {"persistent_workers": True, "worker_init_fn": _seed_worker}
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_skip_bad,
        drop_last=drop_last,
        generator=gen,
        pin_memory=pin_memory,
        **extra,
    )


# ---- whole videos for feature extraction ---------------------------------------------------


def iter_video_frames(
    records: Sequence[VideoRecord],
    *,
    fps: float | None,
    short_side: int | None,
    cache: FrameCache | None = None,
    skipped: list[tuple[str, str]] | None = None,
    on_skip: Callable[[VideoRecord, str], None] | None = None,
    threads: int = 0,
) -> Iterator[tuple[VideoRecord, np.ndarray, np.ndarray]]:
    """Yield ``(record, times, frames)`` for each record: every frame at ``fps`` (None: every
    frame) of the record's segment, ``times`` in seconds from the start of the video and
    ``frames`` (N, H, W, 3) uint8. A bad video is logged, appended to ``skipped`` as
    ``(path, reason)``, passed to ``on_skip``, and skipped."""
    if cache is not None and (cache.fps != fps or cache.short_side != short_side):
        raise ValueError(
            f"the frame cache decodes at fps={cache.fps}, short_side={cache.short_side}, "
            f"not fps={fps}, short_side={short_side}"
        )
    for record in records:
        try:
            if cache is not None:
                video = cache.get(record, threads=threads)
                times, frames = video.video_times, np.asarray(video.frames)
            else:
                times, frames = vio.decode_clip(
                    record.path, fps=fps, short_side=short_side, start=record.start, end=record.end, threads=threads
                )
        except VidlearnError as exc:
            reason = exc.reason if isinstance(exc, VideoError) else str(exc)
            log.warning("skipping %s: %s", record.path, reason)
            if skipped is not None:
                skipped.append((str(record.path), reason))
            if on_skip is not None:
                on_skip(record, reason)
            continue
        yield record, times, frames


class FrameDataset:
    """Whole videos for feature extraction: iterating yields ``(record, times, frames)`` as
    :func:`iter_video_frames` does; bad videos are skipped and reported in ``skipped`` and
    ``summary()``."""

    def __init__(
        self,
        records: Sequence[VideoRecord],
        *,
        fps: float | None,
        short_side: int | None,
        cache: FrameCache | None = None,
        threads: int = 0,
    ) -> None:
        self.records = list(records)
        self.fps = fps
        self.short_side = short_side
        self.cache = cache
        self.threads = threads
        self.skipped: list[tuple[str, str]] = []

    def __len__(self) -> int:
        return len(self.records)

    def __iter__(self) -> Iterator[tuple[VideoRecord, np.ndarray, np.ndarray]]:
        self.skipped = []
        yield from iter_video_frames(
            self.records,
            fps=self.fps,
            short_side=self.short_side,
            cache=self.cache,
            skipped=self.skipped,
            threads=self.threads,
        )

    def summary(self) -> str:
        """"N of M videos skipped: path: reason; ..." """
        return skip_summary(self.skipped, len(self.records))
