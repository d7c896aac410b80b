"""The one clip reader: which seconds (a sampler), the frames shown then (from the frame cache, or
decoded from the file, or per-frame feature rows), and the transform, from a record to a model's
input. The dataset (training and evaluation), the predictor (files, segments) and the embeddings
of a trained model all read clips through it, so they cannot drift apart.

    reader = build_clip_reader(cfg.decode, cfg.sampling, cfg.transform, train=False, views=True,
                               encoder=None, cache=cache)
    x = reader.read(VideoRecord(path="clip.mp4"))      # (V, C, T, H, W): every test view

Each part is handed its section of the configuration (decode, sampling, transform), never the
whole experiment.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import numpy as np
import torch

from vidlearn import io as vio
from vidlearn.cache import CachedVideo, FrameCache, RowEncoder
from vidlearn.config import DecodeConfig, SamplingConfig, TransformConfig
from vidlearn.data.records import VideoRecord
from vidlearn.data.sampling import build_test_sampler, build_train_sampler, record_span
from vidlearn.errors import VideoError
from vidlearn.features.frames import encode_video
from vidlearn.transforms.compose import build_transform, frames_to_tensor

__all__ = ["ClipReader", "build_clip_reader"]

_ENCODED_KEEP = 8  # feature models without a cache: whole-video rows kept for the videos seen last


class ClipReader:
    """Reads the clips of a record: ``sampler`` picks the seconds, frames come from ``cache`` (or
    the file, at ``decode``'s rate and size), ``transform`` makes the tensor. With ``encoder`` the
    clips are per-frame feature rows ``(T, F)`` (no transform). ``views``: every temporal view of
    the sampler (``views`` of them) times ``crops`` spatial crops, as ``(V, C, T, H, W)``; 0: one clip.
    ``memo``: remember probed durations (and, for feature rows without a cache, the last videos'
    rows) per path; off for readers of files that may change under the same name (a service)."""

    def __init__(
        self,
        *,
        sampler: Callable[..., Any],
        decode: DecodeConfig,
        transform: Callable[..., torch.Tensor] | None,
        views: int = 0,
        crops: int = 1,
        cache: FrameCache | None = None,
        encoder: RowEncoder | None = None,
        memo: bool = True,
    ) -> None:
        if cache is not None and (cache.fps != decode.fps or cache.short_side != decode.short_side):
            raise ValueError(
                f"the frame cache decodes at fps={cache.fps}, short_side={cache.short_side} but the configuration "
                f"asks for fps={decode.fps}, short_side={decode.short_side}"
            )
        self.sampler, self.decode, self.transform = sampler, decode, transform
        self.views, self.cache, self.encoder = bool(views), cache, encoder
        self.crops = 1 if encoder is not None else int(crops)  # rows are per frame: no spatial crops
        self.num_views = int(views) * self.crops if views else 1  # clips per read
        self.memo = bool(memo)
        self._durations: dict[str, float] = {}  # probed durations, per process
        self._encoded: OrderedDict[str, CachedVideo] = OrderedDict()

    def span(self, record: VideoRecord) -> tuple[float, float]:
        """(start, duration) of the record's segment, probing the video once per process."""
        key = str(record.path)
        duration = self._durations.get(key)
        if duration is None:
            duration = vio.probe(record.path).duration
            if not duration > 0:
                raise VideoError(record.path, "the video has no duration (no frames?)")
            if self.memo:
                self._durations[key] = duration
        try:
            return record_span(record, duration)
        except ValueError as exc:
            raise VideoError(record.path, str(exc).split(": ", 1)[-1]) from None

    def source(self, record: VideoRecord, *, threads: int | None = None) -> tuple[CachedVideo | None, float, float]:
        """The record's frames in memory or on disk (None: decode at the sampled seconds), its
        segment start and duration."""
        if record.meta.get("window") and record.start is not None and record.end is not None and (self.cache is not None or self.encoder is not None):
            # a window of a long video (vidlearn.clips.windows): the whole video is cached or
            # encoded once, and the window's seconds are sampled from it
            video, first, length = self.source(replace(record, start=None, end=None, meta={}), threads=threads)
            start, end = float(record.start), min(float(record.end), first + length)
            if not end > start:
                raise VideoError(record.path, f"window {start:g}-{end:g} s is outside the video ({first + length:g} s)")
            return video, start, end - start
        if self.cache is not None:
            video = self.cache.get(record, threads=threads)
            return video, video.start, video.duration
        if self.encoder is not None:
            video = self._encode(record, threads)
            return video, video.start, video.duration
        start, duration = self.span(record)
        return None, start, duration

    def _encode(self, record: VideoRecord, threads: int | None) -> CachedVideo:
        """The feature rows of a whole record, without a cache (the last few kept in memory)."""
        key = f"{record.path}|{record.start}|{record.end}"
        video = self._encoded.get(key)
        if video is None:
            start, _ = self.span(record)  # checks the segment against the video, naming the file
            video = encode_video(record.path, self.encoder, fps=self.decode.fps, short_side=self.decode.short_side,
                                 start=start, end=record.end, threads=self.decode.threads if threads is None else threads)
            if self.memo:
                self._encoded[key] = video
            while len(self._encoded) > _ENCODED_KEEP:
                self._encoded.popitem(last=False)
        return video

    def times(self, start: float, duration: float, rng: np.random.Generator | None) -> list[np.ndarray]:
        """The seconds of each temporal view (one array without ``views``)."""
        out = self.sampler(duration, rng, start=start)
        return [np.asarray(t, dtype=np.float64) for t in out] if isinstance(out, list) else [np.asarray(out, dtype=np.float64)]

    def sample_times(self, record: VideoRecord, rng: np.random.Generator | None = None) -> list[np.ndarray]:
        """The seconds :meth:`read` shows for ``record`` with ``rng``."""
        _, start, duration = self.source(record)
        return self.times(start, duration, rng)

    def read(self, record: VideoRecord, rng: np.random.Generator | None = None, gen: torch.Generator | None = None,
             *, threads: int | None = None) -> torch.Tensor:
        """The model input of ``record``: ``(C, T, H, W)``, with views ``(V, C, T, H, W)``; feature
        rows ``(T, F)`` / ``(V, T, F)``. ``rng`` draws the seconds, ``gen`` the augmentations."""
        video, start, duration = self.source(record, threads=threads)
        views = self.times(start, duration, rng)
        all_times = np.concatenate(views)
        if video is not None:
            frames = video.at(all_times)
        else:
            frames = vio.read_frames(record.path, all_times, short_side=self.decode.short_side,
                                     threads=self.decode.threads if threads is None else threads)
        clips, pos = [], 0
        for times in views:
            part = frames[pos : pos + len(times)]
            pos += len(times)
            if self.encoder is not None:
                clips.append(torch.from_numpy(np.ascontiguousarray(part, dtype=np.float32)))
            else:
                clips.append(self.transform(frames_to_tensor(part), gen))
        if not self.views:
            return clips[0]
        if self.crops > 1:
            return torch.cat(clips, dim=0)  # each is (crops, C, T, H, W)
        return torch.stack(clips, dim=0)



def build_clip_reader(
    decode: DecodeConfig,
    sampling: SamplingConfig,
    transform: TransformConfig,
    *,
    train: bool,
    views: bool = False,
    cache: FrameCache | None = None,
    encoder: RowEncoder | None = None,
    memo: bool = True,
) -> ClipReader:
    """The reader of one mode: training (the train sampler, augmentations), evaluation with every
    test view and crop (``views``), or one centre clip."""
    if train and views:
        raise ValueError("views=True is for evaluation; a training sample is one clip")
    if cache is not None and (cache.encoder is not None) != (encoder is not None):
        raise ValueError(
            f"the model reads {'feature rows' if encoder is not None else 'frames'}, but the cache holds "
            f"{'feature rows' if cache.encoder is not None else 'frames'}: build it with build_cache(cfg)"
        )
    if train:
        sampler, crops = build_train_sampler(sampling, decode, transform), 1
        tf = build_transform(transform, train=True)
    elif views:
        sampler, crops = build_test_sampler(sampling, decode), sampling.test_crops
        tf = build_transform(transform, train=False, crops=crops)
    else:
        sampler, crops = build_test_sampler(sampling, decode, views=1), 1
        tf = build_transform(transform, train=False, crops=1)
    return ClipReader(sampler=sampler, decode=decode, transform=None if encoder is not None else tf,
                      views=sampling.test_views if views else 0, crops=crops, cache=cache, encoder=encoder,
                      memo=memo)
