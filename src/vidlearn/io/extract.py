"""Frame extraction by time: images on disk, one per output time."""

from __future__ import annotations

from pathlib import Path

from PIL import Image

from vidlearn.errors import VideoError
from vidlearn.io.images import save_image
from vidlearn.io.decode import iter_frames


def extract_frames(
    video: str | Path,
    out_dir: str | Path,
    *,
    fps: float | None = None,
    short_side: int | None = None,
    start: float | None = None,
    end: float | None = None,
    image_format: str = "jpg",
) -> list[Path]:
    """Write the frames of `video` (resampled to `fps` if given) as `frame_000000_t1.234.jpg`.

    The time in the name is seconds from the first frame; each file is written atomically. A
    time range with no frame in it (``start`` past the end of the video) raises VideoError."""
    out = Path(out_dir)
    existed = out.exists()
    out.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for i, (t, frame) in enumerate(iter_frames(video, fps=fps, short_side=short_side, start=start, end=end)):
        written.append(save_image(Image.fromarray(frame), out / f"frame_{i:06d}_t{t:.3f}.{image_format}"))
    if not written:
        if not existed:
            out.rmdir()
        from vidlearn.io.probe import probe

        span = f"from {start or 0:g} s" + (f" to {end:g} s" if end is not None else "")
        raise VideoError(video, f"no frame {span}: the video is {probe(video).duration:.2f} s long")
    return written
