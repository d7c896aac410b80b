"""Pictures on a report page, embedded as base64 data URIs so that the page needs no other file:
plots (PNG, JPEG, GIF, WebP or SVG files) and moving thumbnails of videos (a few frames spread
over the video, as a looping animated WebP).

`picture` and `Thumbs.thumb` return what the `figure` and `thumb` macros of
templates/blocks.html.j2 draw: a picture that cannot be read becomes a short note in the page,
never a broken <img> or a failed report."""

from __future__ import annotations

import base64
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from vidlearn.reports.formatting import num, short

__all__ = ["THUMB_SHORT_SIDE", "Picture", "Thumb", "Thumbs", "data_uri", "display_name", "picture"]

THUMB_SHORT_SIDE = 96

_MAGIC = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
)


def _mime(data: bytes, name: str = "") -> str:
    for magic, mime in _MAGIC:
        if data.startswith(magic):
            return mime
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    head = data[:256].lstrip().lower()
    if name.lower().endswith(".svg") or head.startswith((b"<svg", b"<?xml")):
        return "image/svg+xml"
    raise ValueError(f"{name or 'image'}: not a PNG, JPEG, GIF, WebP or SVG image")


def data_uri(image: str | Path | bytes, mime: str | None = None) -> str:
    """`data:<mime>;base64,...` for an image file or its bytes (type found from the content)."""
    if isinstance(image, (bytes, bytearray)):
        data, name = bytes(image), ""
    else:
        p = Path(image)
        data, name = p.read_bytes(), p.name
    return f"data:{mime or _mime(data, name)};base64,{base64.b64encode(data).decode('ascii')}"


@dataclass(frozen=True)
class Picture:
    """An inlined picture (`src` is a data URI), or why it is not available (`src` is None)."""

    alt: str
    src: str | None = None
    caption: str | None = None
    cls: str = "plot"
    error: str = ""


def picture(image: str | Path | bytes, alt: str, *, caption: str | None = None, cls: str = "plot") -> Picture:
    """The picture of an image file or its bytes; a missing or unreadable one gets its error."""
    try:
        return Picture(alt, data_uri(image), caption, cls)
    except (OSError, ValueError) as exc:
        return Picture(alt, None, caption, cls, f"{exc.__class__.__name__}: {exc}")


@dataclass(frozen=True)
class Thumb:
    """The moving thumbnail of a video (`src`, a data URI, or None and `error`), with its caption
    lines (the video's short name first) and its full path (shown on hover)."""

    path: str
    name: str
    lines: tuple[str, ...]
    src: str | None = None
    error: str = ""


def display_name(pred: Mapping[str, Any]) -> str:
    """The file name of a prediction's video, with its segment: ``walk_01.mp4[1.5-3]``."""
    name = Path(str(pred.get("path", ""))).name
    start, end = num(pred.get("start")), num(pred.get("end"))
    if start is not None or end is not None:
        name += f"[{start or 0:g}-{'' if end is None else f'{end:g}'}]"
    return short(name, 40)


class Thumbs:
    """Moving thumbnails (`frames` frames over the video or segment) of the videos of
    prediction rows, decoded once per (path, start, end): a video that cannot be read gets the
    reason instead."""

    def __init__(self, short_side: int = THUMB_SHORT_SIDE, frames: int | None = None) -> None:
        from vidlearn.reports.thumbnails import MOVING_FRAMES

        self.short_side = short_side
        self.frames = MOVING_FRAMES if frames is None else frames
        self.cache: dict[tuple, tuple[str | None, str | None]] = {}

    def __call__(self, pred: Mapping[str, Any]) -> tuple[str | None, str | None]:
        """(data URI, None) or (None, why not) for the video of a prediction row."""
        key = (str(pred.get("path")), pred.get("start"), pred.get("end"))
        if key not in self.cache:
            from vidlearn.reports.thumbnails import animated_thumbnail

            try:
                pic = animated_thumbnail(key[0], start=num(key[1]), end=num(key[2]), frames=self.frames, short_side=self.short_side)
                self.cache[key] = (data_uri(pic), None)
            except Exception as exc:  # noqa: BLE001 - one unreadable video must not lose the report
                reason = getattr(exc, "reason", None) or f"{exc.__class__.__name__}: {exc}"
                self.cache[key] = (None, str(reason))
        return self.cache[key]

    def thumb(self, pred: Mapping[str, Any], caption_lines: Sequence[str] = ()) -> Thumb:
        """The thumbnail of a prediction row, captioned with its name, `caption_lines` and fold."""
        src, err = self(pred)
        name = display_name(pred)
        lines = [name, *caption_lines]
        if pred.get("fold"):
            lines.append(f"fold {pred['fold']}")
        return Thumb(str(pred.get("path")), name, tuple(line for line in lines if line), src, short(err or "", 80))
