"""Whole videos' frames at a configured rate and size, for work that needs every frame rather than sampled clips (`iter_video_frames`, `FrameDataset`)."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator, Sequence

import numpy as np

from vidlearn import io as vio
from vidlearn.cache import FrameCache
from vidlearn.clips.skips import skip_summary
from vidlearn.data.records import VideoRecord
from vidlearn.errors import VideoError, VidlearnError

log = logging.getLogger(__name__)


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
