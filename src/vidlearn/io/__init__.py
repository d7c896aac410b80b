"""Video decoding, probing, checking and writing (PyAV backend)."""

from vidlearn.io.check import CheckResult, check_video, check_videos
from vidlearn.io.decode import decode_clip, iter_frames, output_size, read_frames
from vidlearn.io.probe import VideoInfo, is_stream, open_video, probe
from vidlearn.io.write import write_video

VIDEO_EXTENSIONS = (".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv")

__all__ = [
    "VIDEO_EXTENSIONS",
    "CheckResult",
    "VideoInfo",
    "check_video",
    "check_videos",
    "decode_clip",
    "is_stream",
    "iter_frames",
    "open_video",
    "output_size",
    "probe",
    "read_frames",
    "write_video",
]
