"""Pictures of clips: a grid with one row per clip, so a person sees what the model sees."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from vidlearn.fsutil import atomic_open


def clip_grid(clips: list[np.ndarray], labels: list[str] | None = None, *, max_frames: int = 8, pad: int = 2) -> Image.Image:
    """One row per clip ((T,H,W,3) uint8), up to `max_frames` frames evenly picked, a label on the left."""
    if not clips:
        raise ValueError("clip_grid needs at least one clip")
    label_w = 90 if labels else 0
    rows = []
    for clip in clips:
        idx = np.linspace(0, len(clip) - 1, num=min(max_frames, len(clip))).round().astype(int)
        rows.append([clip[i] for i in idx])
    h = max(f.shape[0] for r in rows for f in r)
    w = max(f.shape[1] for r in rows for f in r)
    ncols = max(len(r) for r in rows)
    canvas = Image.new("RGB", (label_w + ncols * (w + pad) + pad, len(rows) * (h + pad) + pad), (255, 255, 255))
    draw = ImageDraw.Draw(canvas)
    for r, frames in enumerate(rows):
        y = pad + r * (h + pad)
        if labels:
            draw.text((4, y + h // 2 - 6), str(labels[r])[:14], fill=(0, 0, 0))
        for c, f in enumerate(frames):
            canvas.paste(Image.fromarray(np.ascontiguousarray(f)), (label_w + pad + c * (w + pad), y))
    return canvas


def save_image(image: Image.Image, path: str | Path) -> Path:
    """Save a PIL image atomically (format from the suffix)."""
    out = Path(path)
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".png": "PNG", ".gif": "GIF"}.get(out.suffix.lower(), "PNG")
    with atomic_open(out, "wb") as fh:
        image.save(fh, format=fmt)
    return out
