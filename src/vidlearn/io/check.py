"""Find unreadable or suspicious videos before training (MMAction2's check_videos, done properly):
each problem is a reason a person can act on."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import av

from vidlearn.errors import VideoError
from vidlearn.io.probe import ffmpeg_reason, open_video, probe

# A file that decodes to less than this fraction of the frames its header promises is truncated.
_TRUNCATED_FRACTION = 0.9


@dataclass
class CheckResult:
    """Outcome of checking one file: ok when `problems` is empty."""

    path: str
    problems: list[str] = field(default_factory=list)
    frames: int = 0
    duration: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_dict(self) -> dict:
        return {"path": self.path, "ok": self.ok, "problems": self.problems, "frames": self.frames, "duration": self.duration}


def check_video(path: str | Path) -> CheckResult:
    """Open, probe and fully decode (without colour conversion) one file, collecting problems:
    missing, empty, not a video, no video stream, undecodable/corrupt frames, one frame only,
    truncated (fewer frames or seconds than the header says)."""
    p = Path(path)
    result = CheckResult(path=str(p))
    try:
        info = probe(p)
    except VideoError as exc:
        result.problems.append(exc.reason)
        return result
    result.duration = info.duration
    decoded = 0
    corrupt = 0
    last_time = None
    try:
        with open_video(p) as (container, stream):
            for frame in container.decode(stream):
                decoded += 1
                if getattr(frame, "is_corrupt", False):
                    corrupt += 1
                if frame.time is not None:
                    last_time = float(frame.time) - info.start_time
    except av.error.FFmpegError as exc:
        result.problems.append(f"unreadable frames: decoding stopped after {decoded} frame(s) ({ffmpeg_reason(exc)})")
    except VideoError as exc:
        result.problems.append(exc.reason)
    result.frames = decoded
    if corrupt:
        result.problems.append(f"{corrupt} corrupt frame(s) decoded")
    if decoded == 0 and not result.problems:
        result.problems.append("no decodable frames")
    elif decoded == 1:
        result.problems.append("only one frame: a still image, not a video")
    if decoded > 1 and info.num_frames > 0 and decoded < _TRUNCATED_FRACTION * info.num_frames:
        result.problems.append(f"truncated: decoded {decoded} of {info.num_frames} frames the header lists")
    elif decoded > 1 and last_time is not None and info.duration > 1.0 and last_time < _TRUNCATED_FRACTION * info.duration - 0.5:
        result.problems.append(f"truncated: frames stop at {last_time:.2f}s of {info.duration:.2f}s")
    return result


def check_videos(paths: list[Path], *, workers: int = 2, progress: bool = True) -> list[CheckResult]:
    """Check many files (in threads: PyAV releases the GIL while decoding), in input order."""
    from concurrent.futures import ThreadPoolExecutor

    from vidlearn.progress import progress_bar

    with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
        it = pool.map(check_video, paths)
        return list(progress_bar(it, total=len(paths), desc="check", unit="video", enabled=progress))
