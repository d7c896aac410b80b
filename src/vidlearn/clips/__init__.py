"""Clips: sampled seconds of a video as model input. `reader.ClipReader` (the one path: sampler,
frames from the cache or the decoder or per-frame rows, transform), `dataset.ClipDataset` (targets,
epoch-seeded randomness, skipped bad videos), `loader.make_loader`, `skips` (the skip log),
`frames` (every frame of whole videos), `preview.augment_preview` (clips before and after
augmentation)."""

from vidlearn.clips.dataset import ClipDataset, build_cache, reads_features
from vidlearn.clips.frames import FrameDataset, iter_video_frames
from vidlearn.clips.loader import EpochSampler, collate_skip_bad, make_loader
from vidlearn.clips.reader import ClipReader, build_clip_reader
from vidlearn.clips.skips import read_skip_log, skip_summary

__all__ = [
    "ClipDataset",
    "ClipReader",
    "EpochSampler",
    "FrameDataset",
    "build_cache",
    "build_clip_reader",
    "collate_skip_bad",
    "iter_video_frames",
    "make_loader",
    "read_skip_log",
    "reads_features",
    "skip_summary",
]
