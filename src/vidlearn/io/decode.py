"""Reading frames with PyAV: the frames shown at given seconds (:func:`read_frames`), all frames or
frames resampled to a target rate (:func:`iter_frames`, :func:`decode_clip`). Scaling and RGB
conversion happen in FFmpeg's scaler (swscale), and only for the frames that are returned.
Opening and probing a file is :mod:`vidlearn.io.probe`.

Times are seconds from the first frame of the video stream, so a file whose stream starts at a
non-zero timestamp and variable-frame-rate files give the frame a player would show at that time.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Iterator, Sequence
from pathlib import Path

import av
import numpy as np
from av.video.reformatter import VideoReformatter

from vidlearn.errors import VideoError
from vidlearn.io.probe import (
    ffmpeg_reason,
    is_url,
    open_video,
    stream_start,
)

__all__ = ["decode_clip", "iter_frames", "output_size", "read_frames"]

# Frames whose presentation time is within this many seconds after a requested time count as
# "at" that time (guards float rounding of pts * time_base).
_EPS = 1e-4
# Without a keyframe index, seek instead of decoding through when the next time is this far ahead.
_SEEK_GAP_S = 2.0
_INTERPOLATION = "BILINEAR"
# Times spanning at most this many seconds are read by the skip-non-reference-frames fast path.
_WINDOW_S = 4.0
# Threads per RGB conversion. frame.to_ndarray(...) builds a new swscale context for every frame,
# with an automatic thread pool; at training sizes that setup costs several times the scaling
# itself (bench/bench_decode.py, section 3), and conversions run one frame at a time anyway (and
# DataLoader workers already use the cores).
_SCALER_THREADS = 1
FPS_RANGE = (0.01, 1000.0)  # resampling rates (frames per second): 1e300 would repeat one frame endlessly


def _frame_time(frame: av.VideoFrame, fallback: float) -> float:
    t = frame.time
    return fallback if t is None else float(t)


def output_size(width: int, height: int, *, short_side: int | None = None, size: tuple[int, int] | None = None) -> tuple[int, int]:
    """(width, height) of the output: an explicit (w, h) `size`, or the short side scaled to
    `short_side` keeping the aspect ratio, or the input size."""
    if size is not None:
        return int(size[0]), int(size[1])
    if short_side is None:
        return width, height
    if width <= height:
        return short_side, max(1, int(round(height * short_side / width)))
    return max(1, int(round(width * short_side / height))), short_side


class _Converter:
    """Turns decoded frames into RGB uint8 arrays at the output size, applying the rotation."""

    def __init__(self, stream, rotation: int, short_side: int | None, size: tuple[int, int] | None) -> None:
        self.rotation = rotation
        self.short_side = short_side
        self.size = size
        self._dims: tuple[int, int] | None = None
        self._scaler = VideoReformatter()  # one swscale context for all frames of this call

    def __call__(self, frame: av.VideoFrame) -> np.ndarray:
        if self._dims is None:
            w, h = frame.width, frame.height
            quarter = (self.rotation // 90) % 2 == 1
            dw, dh = (h, w) if quarter else (w, h)  # displayed size
            ow, oh = output_size(dw, dh, short_side=self.short_side, size=self.size)
            self._dims = (oh, ow) if quarter else (ow, oh)  # size before rotation
        w, h = self._dims
        arr = self._scaler.reformat(
            frame, width=w, height=h, format="rgb24", interpolation=_INTERPOLATION, threads=_SCALER_THREADS
        ).to_ndarray()
        if self.rotation:
            arr = np.ascontiguousarray(np.rot90(arr, k=self.rotation // 90))
        return arr


def _keyframe_times(stream) -> list[float]:
    try:
        entries = stream.index_entries
        tb = float(stream.time_base)
        return sorted(float(e.timestamp) * tb for e in entries if e.is_keyframe)
    except Exception:  # noqa: BLE001 - an index is an optimisation only
        return []


def read_frames(
    path: str | Path,
    times: Sequence[float] | np.ndarray,
    *,
    short_side: int | None = None,
    size: tuple[int, int] | None = None,
    threads: int = 0,
) -> np.ndarray:
    """The frames displayed at `times` (seconds from the first frame), as (N, H, W, 3) uint8 RGB.

    Times may be in any order and repeat. The reader seeks to the keyframe before a time when
    that skips decoding, and otherwise decodes through; only returned frames are converted and
    scaled (in FFmpeg). A time past the end gives the last frame."""
    req = np.asarray(times, dtype=np.float64).reshape(-1)
    if req.size == 0:
        raise ValueError("read_frames needs at least one time")
    if not np.all(np.isfinite(req)):
        raise ValueError("read_frames: times must be finite numbers of seconds")
    p = Path(path)
    order = np.argsort(req, kind="stable")
    out: list[np.ndarray | None] = [None] * req.size
    with open_video(p, threads=threads) as (container, stream):
        start = stream_start(stream)
        if req.max() - req.min() <= _WINDOW_S:
            window = _read_window(container, stream, req, short_side=short_side, size=size, path=p)
            if window is not None:
                return window
        keyframes = _keyframe_times(stream)
        converter: _Converter | None = None
        frames_iter: Iterator[av.VideoFrame] | None = None
        cur: av.VideoFrame | None = None  # last decoded frame with time <= target
        cur_time = -math.inf
        pending: av.VideoFrame | None = None  # decoded frame with time > target
        last_frame: av.VideoFrame | None = None  # held, so identity comparison is sound
        last_arr: np.ndarray | None = None
        eof = False
        for idx in order:
            target = start + max(0.0, float(req[idx]))
            if frames_iter is None or _should_seek(cur_time, target, keyframes, pending, start):
                frames_iter, cur, pending, eof = _seek(container, stream, target, start, p)
                cur_time = -math.inf
            while not eof:
                frame, pending = pending, None
                if frame is None:
                    try:
                        frame = next(frames_iter)
                    except StopIteration:
                        eof = True  # past the end: the last frame stays on screen
                        break
                    except av.error.FFmpegError as exc:
                        raise VideoError(p, f"cannot decode the frame near {target - start:.3f}s ({ffmpeg_reason(exc)})") from None
                ft = _frame_time(frame, cur_time)
                if ft <= target + _EPS:
                    cur, cur_time = frame, ft
                    continue
                if cur is None:  # the target lies before the first frame: show the first frame
                    cur, cur_time = frame, ft
                else:
                    pending = frame
                break
            if cur is None:
                raise VideoError(p, f"no frame could be decoded at {target - start:.3f}s")
            if converter is None:
                converter = _Converter(stream, int(round(cur.rotation or 0)) % 360, short_side, size)
            if cur is not last_frame:  # repeated times reuse the conversion
                last_frame, last_arr = cur, converter(cur)
            out[idx] = last_arr
    return np.stack(out)  # type: ignore[arg-type]


def _read_window(container, stream, req: np.ndarray, *, short_side, size, path: Path) -> np.ndarray | None:
    """Fast path for times within a short window (a training clip): demux the packets from the
    keyframe before the window to just past it, work out which frames are shown at the times,
    and tell the decoder to skip the non-reference frames that are not (nothing is predicted
    from a non-reference frame, so the shown frames are bit-identical). Returns None when the
    file does not allow it (missing timestamps, a seek that lands late), and the general path runs."""
    tb = stream.time_base
    if tb is None:
        return None
    s0 = int(stream.start_time or 0)
    tpts = [s0 + int(math.floor((max(0.0, float(t)) + _EPS) / tb)) for t in req]
    lo, hi = min(tpts), max(tpts)
    cc = stream.codec_context
    try:
        container.seek(max(lo, s0), backward=True, any_frame=False, stream=stream)
        packets = []
        for pkt in container.demux(stream):
            if pkt.size == 0:
                continue
            if pkt.pts is None or pkt.dts is None:
                return None
            packets.append(pkt)
            if pkt.dts > hi:  # dts <= pts: every frame shown up to hi is in hand
                break
        shown = sorted(pkt.pts for pkt in packets)
        if not shown or (shown[0] > lo and lo > s0):
            return None  # the seek landed after the first time: let the general path back off
        pick = [shown[max(0, bisect.bisect_right(shown, tp) - 1)] for tp in tpts]
        need = set(pick)
        got: dict[int, np.ndarray] = {}
        converter: _Converter | None = None

        def take(frames) -> bool:
            nonlocal converter
            for f in frames:
                if f.pts in need and f.pts not in got:
                    if converter is None:
                        converter = _Converter(stream, int(round(f.rotation or 0)) % 360, short_side, size)
                    got[f.pts] = converter(f)
            return len(got) == len(need)

        done = False
        for pkt in packets:
            cc.skip_frame = "DEFAULT" if pkt.pts in need else "NONREF"
            if take(cc.decode(pkt)):
                done = True
                break
        cc.skip_frame = "DEFAULT"
        if not done:
            done = take(cc.decode(None))  # drain the frames still inside a frame-threaded decoder
    except av.error.FFmpegError as exc:
        raise VideoError(path, f"cannot decode the frames near {float(req.min()):.3f}s ({ffmpeg_reason(exc)})") from None
    finally:
        cc.skip_frame = "DEFAULT"
    if not done:
        return None
    return np.stack([got[p] for p in pick])


def _should_seek(cur_time: float, target: float, keyframes: list[float], pending, start: float) -> bool:
    if cur_time == -math.inf:
        return False  # just seeked
    if pending is not None and _frame_time(pending, math.inf) > target + _EPS:
        return False  # the next decoded frame is already past the target: cur is right
    if keyframes:
        # seek only if a keyframe lies between where we are and the target
        i = bisect.bisect_right(keyframes, target)
        return i > 0 and keyframes[i - 1] > cur_time + _EPS
    return target - cur_time > _SEEK_GAP_S


def _seek(container, stream, target: float, start: float, path: Path):
    """Seek to the keyframe at or before `target`; back off further when the demuxer lands after it."""
    backoff = 0.0
    for _ in range(6):
        seek_to = max(start, target - backoff)
        try:
            if seek_to <= start + _EPS:
                container.seek(0, backward=True, any_frame=False, stream=stream)
            else:
                container.seek(int(seek_to / stream.time_base), backward=True, any_frame=False, stream=stream)
        except av.error.FFmpegError as exc:
            raise VideoError(path, f"cannot seek to {target - start:.3f}s ({ffmpeg_reason(exc)})") from None
        frames_iter = container.decode(stream)
        try:
            first = next(frames_iter)
        except StopIteration:
            if seek_to <= start + _EPS:
                raise VideoError(path, "video stream has no decodable frames") from None
            backoff = max(1.0, backoff * 2)
            continue
        except av.error.FFmpegError as exc:
            raise VideoError(path, f"cannot decode after seeking to {target - start:.3f}s ({ffmpeg_reason(exc)})") from None
        ft = _frame_time(first, start)
        if ft <= target + _EPS or seek_to <= start + _EPS:
            return frames_iter, None, first, False
        backoff = max(1.0, backoff * 2)
    raise VideoError(path, f"cannot seek to {target - start:.3f}s")


def iter_frames(
    path: str | Path,
    *,
    fps: float | None = None,
    short_side: int | None = None,
    size: tuple[int, int] | None = None,
    start: float | None = None,
    end: float | None = None,
    threads: int = 0,
) -> Iterator[tuple[float, np.ndarray]]:
    """Decode sequentially, yielding (seconds, HxWx3 uint8 RGB).

    Without `fps` every frame is yielded at its own time; with `fps` the output is resampled to
    that rate (times start, start + 1/fps, ...; each gets the frame displayed then)."""
    if fps is not None and fps <= 0:
        raise ValueError("fps must be positive")
    if fps is not None and not FPS_RANGE[0] <= fps <= FPS_RANGE[1]:
        raise ValueError(f"fps must be between {FPS_RANGE[0]:g} and {FPS_RANGE[1]:g} frames per second, got {fps:g}")
    p = str(path) if is_url(path) else Path(path)
    t_from = max(0.0, start or 0.0)
    with open_video(p, threads=threads) as (container, stream):
        s0 = stream_start(stream)
        if t_from > 0:
            frames_iter, _, first, _ = _seek(container, stream, s0 + t_from, s0, p)
            frames_iter = _chain_first(first, frames_iter)
        else:
            frames_iter = container.decode(stream)
        converter: _Converter | None = None
        next_out = t_from  # next output time (resampling)
        prev: av.VideoFrame | None = None
        prev_t = None
        decoded = 0
        while True:
            try:
                frame = next(frames_iter)
            except StopIteration:
                break
            except av.error.FFmpegError as exc:
                raise VideoError(p, f"cannot decode frame {decoded} ({ffmpeg_reason(exc)})") from None
            decoded += 1
            t = _frame_time(frame, (prev_t or 0.0) + (1.0 / fps if fps else 0.0)) - s0
            if converter is None:
                converter = _Converter(stream, int(round(frame.rotation or 0)) % 360, short_side, size)
            if fps is None:
                if t + _EPS < t_from:
                    continue
                if end is not None and t >= end - _EPS:
                    return
                yield t, converter(frame)
                continue
            # resampling: emit prev for every output time before this frame's time
            while prev is not None and next_out < t - _EPS:
                if end is not None and next_out >= end - _EPS:
                    return
                arr = converter(prev)
                while next_out < t - _EPS and (end is None or next_out < end - _EPS):
                    yield next_out, arr
                    next_out = _next_time(next_out, t_from, fps)
            prev, prev_t = frame, t
        if prev is not None and fps is not None:
            # the last frame is shown for its duration
            last_end = prev_t + _frame_duration(prev, stream)
            if end is not None:
                last_end = min(last_end, end)
            arr = None
            while next_out < last_end - _EPS:
                arr = converter(prev) if arr is None else arr
                yield next_out, arr
                next_out = _next_time(next_out, t_from, fps)


def _next_time(current: float, origin: float, fps: float) -> float:
    k = round((current - origin) * fps) + 1
    return origin + k / fps


def _frame_duration(frame: av.VideoFrame, stream) -> float:
    if frame.duration:
        return float(frame.duration * frame.time_base)
    rate = stream.average_rate or stream.guessed_rate
    return 1.0 / float(rate) if rate else 0.04


def _chain_first(first, rest):
    yield first
    yield from rest


def decode_clip(
    path: str | Path,
    *,
    fps: float | None = None,
    short_side: int | None = None,
    size: tuple[int, int] | None = None,
    start: float | None = None,
    end: float | None = None,
    threads: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """Decode a whole video (or [start, end)) into (times (N,), frames (N,H,W,3) uint8)."""
    times: list[float] = []
    frames: list[np.ndarray] = []
    for t, arr in iter_frames(path, fps=fps, short_side=short_side, size=size, start=start, end=end, threads=threads):
        times.append(t)
        frames.append(arr)
    if not frames:
        raise VideoError(path, "no frames in the requested range" if (start or end) else "no decodable frames")
    return np.asarray(times, dtype=np.float64), np.stack(frames)
