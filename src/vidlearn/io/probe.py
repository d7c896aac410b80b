"""Opening and describing a video with PyAV: :func:`open_video` (a file's or a stream's first video
stream, every failure a VideoError naming it), :func:`probe` (container, codec, size, rotation,
rate, duration, frame count -> :class:`VideoInfo`), :func:`is_stream` (network URLs, pipes and
FIFOs, which are read once, in order) and the small time helpers the readers share.

Reading frames is :mod:`vidlearn.io.decode`'s job.
"""

from __future__ import annotations

import contextlib
import os
import re
import stat
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from fractions import Fraction
from pathlib import Path

import av

from vidlearn.errors import VideoError

__all__ = [
    "VIDEO_CONTAINERS",
    "VideoInfo",
    "check_container",
    "container_extent",
    "ffmpeg_reason",
    "fps_fraction",
    "is_stream",
    "is_url",
    "open_video",
    "probe",
    "stream_start",
]

@dataclass(frozen=True)
class VideoInfo:
    """What `probe` finds out about a video file."""

    path: str
    container: str
    codec: str
    pix_fmt: str | None
    width: int
    height: int
    rotation: int
    fps: float
    duration: float
    num_frames: int
    frames_exact: bool
    start_time: float
    has_audio: bool
    size_bytes: int

    @property
    def display_size(self) -> tuple[int, int]:
        """(width, height) after applying the rotation."""
        if self.rotation % 180:
            return self.height, self.width
        return self.width, self.height

    def to_dict(self) -> dict:
        """JSON-compatible dict."""
        return asdict(self)


_STREAM_SCHEMES = ("rtsp", "rtsps", "rtmp", "rtmps", "http", "https", "udp", "tcp", "srt", "rtp")
_STREAM_TIMEOUT = (15.0, 30.0)  # seconds: opening a network stream, waiting for its next data


def is_url(source: str | Path) -> bool:
    """Whether ``source`` is a network URL of a streaming scheme or FFmpeg's ``pipe:``."""
    if not isinstance(source, str):
        return False
    low = source.lower()
    scheme = re.match(r"^([a-z][a-z0-9+.-]*)://", low)
    return low.startswith("pipe:") or (scheme is not None and scheme.group(1) in _STREAM_SCHEMES)


def is_stream(source: str | Path) -> bool:
    """Whether ``source`` is read as a stream (sequentially, once, no seeking, length unknown): a
    network URL (``rtsp://``, ``http://``, ``udp://``, ``srt://`` ...), FFmpeg's ``pipe:0`` (standard
    input) or a named pipe (FIFO)."""
    if is_url(source):
        return True
    try:
        return stat.S_ISFIFO(os.stat(source).st_mode)
    except (OSError, ValueError):
        return False


# The demuxers a video file from an untrusted source may be read with: containers of video only.
# Playlists (hls, concat), image sequences, devices and text demuxers can make FFmpeg open other
# files or URLs named inside the bytes, so an upload is never read by one of them.
VIDEO_CONTAINERS = ("mov", "mp4", "m4a", "3gp", "3g2", "mj2", "matroska", "webm", "avi", "mpegts", "flv", "asf",
                    "mpeg", "ogg", "h264", "hevc", "m4v", "ivf", "nut", "mxf")


def check_container(path: str | Path) -> str:
    """The demuxer FFmpeg picks for ``path`` when only video containers (`VIDEO_CONTAINERS`) are
    allowed; VideoError when it is none of them (a playlist, an image sequence, not a video).
    Nothing the file names is opened: FFmpeg itself refuses every other demuxer."""
    p = Path(path)
    try:
        with av.open(str(p), mode="r", options={"format_whitelist": ",".join(VIDEO_CONTAINERS)}) as container:
            return str(container.format.name)
    except av.error.FFmpegError:
        raise VideoError(p, "not a video in an accepted container (MP4/MOV, MKV/WebM, AVI, MPEG-TS, FLV, Ogg, ...)") from None


def container_extent(path: str | Path, *, max_frames: int | None = None) -> tuple[float, int]:
    """(duration in seconds, number of frames) of the first video stream of ``path``, found by
    demuxing its packets (nothing is decoded), with FFmpeg restricted to `VIDEO_CONTAINERS`.

    Counting stops after ``max_frames`` + 1 packets, so a request's work can be bounded before any
    decoding: the frame count returned is then ``max_frames + 1``. The header is not trusted:
    duration and count come from the packets themselves. VideoError when it is not a video."""
    p = Path(path)
    try:
        with av.open(str(p), mode="r", options={"format_whitelist": ",".join(VIDEO_CONTAINERS)}) as container:
            if not container.streams.video:
                raise VideoError(p, "contains no video stream")
            stream = container.streams.video[0]
            base = float(stream.time_base) if stream.time_base else 0.0
            frames, first, last = 0, None, None
            for packet in container.demux(stream):
                if packet.size == 0:
                    continue  # the flush packet
                frames += 1
                if packet.pts is not None and base:
                    end = (packet.pts + (packet.duration or 0)) * base
                    first = packet.pts * base if first is None else min(first, packet.pts * base)
                    last = end if last is None else max(last, end)
                if max_frames is not None and frames > max_frames:
                    break
    except av.error.FFmpegError:
        raise VideoError(p, "not a video in an accepted container (MP4/MOV, MKV/WebM, AVI, MPEG-TS, FLV, Ogg, ...)") from None
    duration = (last - first) if first is not None and last is not None else 0.0
    if not duration and frames:  # no timestamps (raw streams): the stream's nominal rate
        rate = float(stream.average_rate or stream.guessed_rate or 0) or 25.0
        duration = frames / rate
    return float(duration), frames


@contextlib.contextmanager
def open_video(path: str | Path, threads: int = 0) -> Iterator[tuple[av.container.InputContainer, av.video.stream.VideoStream]]:
    """Open a file's (or a stream's, see :func:`is_stream`) first video stream; every failure
    becomes a VideoError naming the file.

    The container is always closed (decoders never leak)."""
    if is_url(path):
        p: str | Path = str(path)
        try:
            container = av.open(str(path), mode="r", timeout=_STREAM_TIMEOUT)
        except av.error.FFmpegError as exc:
            raise VideoError(p, f"cannot open the stream ({ffmpeg_reason(exc)})") from None
    else:
        p = Path(path)
        if not p.exists():
            raise VideoError(p, "file does not exist")
        if p.is_dir():
            raise VideoError(p, "is a directory, not a video file")
        if not stat.S_ISFIFO(p.stat().st_mode) and p.stat().st_size == 0:
            raise VideoError(p, "file is empty (0 bytes)")
        try:
            container = av.open(str(p), mode="r")
        except av.error.FFmpegError as exc:
            raise VideoError(p, f"not a readable video ({ffmpeg_reason(exc)})") from None
    try:
        if container.format.name in _TEXT_DEMUXERS:  # picked by file extension, e.g. any ".bin"
            raise VideoError(p, f"is not a video: FFmpeg would draw it as text art ({container.format.long_name}); "
                                "a data or text file?")
        if not container.streams.video:
            raise VideoError(p, "contains no video stream")
        stream = container.streams.video[0]
        if stream.codec_context is None or stream.codec_context.name is None:
            raise VideoError(p, "video stream has no decoder")
        if threads == 1:
            stream.thread_type = "SLICE"
            stream.codec_context.thread_count = 1
        else:
            stream.thread_type = "AUTO"
            stream.codec_context.thread_count = threads
        yield container, stream
    finally:
        container.close()


# FFmpeg demuxers that draw text or arbitrary bytes as pictures ("bin" takes every *.bin file)
_TEXT_DEMUXERS = frozenset({"bin", "tty", "xbin", "adf", "idf"})


def ffmpeg_reason(exc: BaseException) -> str:
    """FFmpeg's message for a failure, for a VideoError's reason."""
    text = getattr(exc, "strerror", None) or str(exc)
    return text.strip().rstrip(":") or type(exc).__name__


def stream_start(stream) -> float:
    """Seconds at which the stream's first frame is shown (0 when the container does not say)."""
    if stream.start_time is not None:
        return float(stream.start_time * stream.time_base)
    return 0.0


def probe(path: str | Path, *, count_frames: bool | None = None) -> VideoInfo:
    """Describe a video: container, codec, size, rotation, average fps, duration, frame count.

    The frame count comes from the header where the container stores it (MP4); otherwise
    (Matroska, WebM, some AVI) the packets are counted, which is exact and needs no decoding.
    `count_frames=True` always counts."""
    p = Path(path)
    with open_video(p) as (container, stream):
        cc = stream.codec_context
        start = stream_start(stream)
        header_frames = int(stream.frames or 0)
        duration = None
        if stream.duration is not None:
            duration = float(stream.duration * stream.time_base)
        elif container.duration is not None:
            duration = float(container.duration / av.time_base) - max(
                0.0, start - float(container.start_time or 0) / av.time_base
            )
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        fps = float(rate) if rate else 0.0
        has_audio = bool(container.streams.audio)
        rotation = 0
        try:
            first = next(container.decode(stream))
            rotation = int(round(first.rotation or 0)) % 360
            width, height = first.width, first.height
        except StopIteration:
            raise VideoError(p, "video stream has no decodable frames") from None
        except av.error.FFmpegError as exc:
            raise VideoError(p, f"cannot decode the first frame ({ffmpeg_reason(exc)})") from None
        need_count = count_frames if count_frames is not None else header_frames <= 0
        frames_exact = header_frames > 0
        num_frames = header_frames
        if need_count:
            try:
                num_frames, last_end = _count_packets(container, stream)
            except av.error.FFmpegError as exc:
                raise VideoError(p, f"cannot read its packets ({ffmpeg_reason(exc)})") from None
            frames_exact = True
            if last_end is not None and last_end > start:
                duration = last_end - start
        if not duration or duration <= 0:
            duration = num_frames / fps if fps else 0.0
        if fps <= 0 and duration > 0:
            fps = num_frames / duration
        return VideoInfo(
            path=str(p),
            container=container.format.name,
            codec=cc.name,
            pix_fmt=cc.pix_fmt,
            width=int(width),
            height=int(height),
            rotation=rotation,
            fps=fps,
            duration=float(duration),
            num_frames=int(num_frames),
            frames_exact=frames_exact,
            start_time=start,
            has_audio=has_audio,
            size_bytes=p.stat().st_size,
        )


def _count_packets(container, stream) -> tuple[int, float | None]:
    """Count the video packets (one per frame for video) by demuxing, without decoding.

    Returns (count, end time of the last frame in seconds)."""
    container.seek(0, stream=stream, backward=True, any_frame=False)
    count = 0
    last_end = None
    tb = stream.time_base
    for packet in container.demux(stream):
        if packet.size == 0:  # flush packet
            continue
        count += 1
        if packet.pts is not None and tb is not None:
            end = float((packet.pts + (packet.duration or 0)) * tb)
            last_end = end if last_end is None else max(last_end, end)
    return count, last_end


def fps_fraction(fps: float) -> Fraction:
    """A Fraction for a frame rate, exact for NTSC rates (29.97 -> 30000/1001)."""
    for num in (24000, 30000, 60000):
        if abs(fps - num / 1001) < 1e-3:
            return Fraction(num, 1001)
    return Fraction(fps).limit_denominator(1001)
