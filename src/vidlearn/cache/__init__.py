"""The frame cache: decoded, resized frames (or per-frame feature rows) of each video on disk,
keyed by file identity + decode settings, so epochs after the first read memory maps instead of
decoding. `store` (FrameCache), `entry` (CachedVideo: one video in memory), `formats` (npy/JPEG).

    from vidlearn.cache import FrameCache
    cache = FrameCache("cache/", fps=8, short_side=128)
    video = cache.get(record)          # CachedVideo
    frames = video.at([0.0, 0.5, 1.0])  # the frames shown at those seconds
"""

from vidlearn.cache.entry import CachedVideo
from vidlearn.cache.formats import JpegFrames
from vidlearn.cache.store import CacheFormat, FrameCache, RowEncoder

__all__ = ["CacheFormat", "CachedVideo", "FrameCache", "JpegFrames", "RowEncoder"]
