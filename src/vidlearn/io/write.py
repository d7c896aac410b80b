"""Writing video files with PyAV (H.264 in MP4/MKV by default), atomically."""

from __future__ import annotations

import os
from pathlib import Path

import av
import numpy as np

from vidlearn.fsutil import tmp_path_for
from vidlearn.io.probe import fps_fraction

# Motion JPEG takes full-range ("J") YUV only; every other encoder here takes yuv420p.
_PIX_FMT = {"mjpeg": "yuvj420p"}
_CODEC_BY_SUFFIX = {".mp4": "libx264", ".mkv": "libx264", ".mov": "libx264", ".avi": "mpeg4", ".webm": "libvpx-vp9"}


def write_video(
    path: str | Path,
    frames: np.ndarray,
    fps: float,
    *,
    codec: str | None = None,
    crf: int = 18,
    gop: int | None = None,
) -> Path:
    """Encode (T, H, W, 3) uint8 RGB frames to `path` (container from the suffix), atomically.

    H.264 needs even width and height; odd sizes are padded by one pixel (edge copy)."""
    arr = np.asarray(frames)
    if arr.ndim != 4 or arr.shape[-1] != 3 or arr.dtype != np.uint8:
        raise ValueError(f"frames must be (T, H, W, 3) uint8, got {arr.shape} {arr.dtype}")
    if arr.shape[0] == 0:
        raise ValueError("no frames to write")
    pad_h, pad_w = arr.shape[1] % 2, arr.shape[2] % 2
    if pad_h or pad_w:
        arr = np.pad(arr, ((0, 0), (0, pad_h), (0, pad_w), (0, 0)), mode="edge")
    out = Path(path)
    codec = codec or _CODEC_BY_SUFFIX.get(out.suffix.lower(), "libx264")
    tmp = tmp_path_for(out)
    try:
        options = {"movflags": "+faststart"} if out.suffix.lower() in (".mp4", ".mov") else {}
        with av.open(str(tmp), mode="w", options=options) as container:
            stream = container.add_stream(codec, rate=fps_fraction(fps))
            stream.width, stream.height = arr.shape[2], arr.shape[1]
            stream.pix_fmt = _PIX_FMT.get(codec, "yuv420p")
            if codec == "libx264":
                stream.options = {"crf": str(crf), "preset": "veryfast"}
            if gop:
                stream.codec_context.gop_size = gop
            for img in arr:
                for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="rgb24")):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, out)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return out
