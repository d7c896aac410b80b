"""Writes the seeded demo dataset (real mp4 files whose classes differ only by motion, and their
manifest) and the broken files that the readers and checkers must report clearly.

The clips themselves are drawn by :mod:`vidlearn.data.motions` (see its docstring for the motion
classes); their names are re-exported here, where they have always been imported from.

Groups ("subjects" ``g0``..``g{n-1}``) set the palette: background brightness, tint and texture
scale, and the camera noise level; every class has videos in every group, so group-aware splits are
meaningful and a group says nothing about the class. The object's colours are drawn per clip, not
per group: with a hue per group (as an earlier version had) and a few groups, a small model trained
on three groups met an object hue it had never seen in the held-out group and fell to chance there.

The sizes and contrasts are chosen so that the motion is learnable from a few dozen videos per class
(see ``docs/results.md``, "The demo task"): with a busy background as contrasted as the object and an
object a tenth of the frame, the same model memorised each training video's background instead of
learning the motion (training accuracy up, held-out accuracy at chance).

Also here: :func:`write_bad_videos` (broken files for tests); :func:`make_video` (one clip in
memory, for tests) comes from :mod:`vidlearn.data.motions`.
"""

from __future__ import annotations

import csv
import io
import os
import struct
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import av
import numpy as np

from vidlearn.data.motions import (
    MOTIONS,
    SPEED_RANGE,
    ClipSpec,
    Palette,
    check_kind,
    clip_frame_count,
    draw_clip_spec,
    draw_palette,
    group_palette,
    make_video,
    object_alpha,
    render_clip,
)
from vidlearn.errors import ConfigError
from vidlearn.fsutil import atomic_write_bytes, atomic_write_text, tmp_path_for
from vidlearn.io import write_video

__all__ = [
    "DEFAULT_CLASSES",
    "MOTIONS",
    "SPEED_RANGE",
    "ClipSpec",
    "Palette",
    "draw_clip_spec",
    "draw_palette",
    "generate_demo_dataset",
    "generate_untrimmed_dataset",
    "group_palette",
    "make_video",
    "object_alpha",
    "render_clip",
    "write_bad_videos",
]

DEFAULT_CLASSES: tuple[str, ...] = ("right", "left", "rotate", "grow", "blink")
_MANIFEST = "manifest.csv"
_VIDEOS = "videos"


def _class_key(name: str) -> int:
    return zlib.crc32(name.encode("utf-8"))


def check_motion_classes(classes: Sequence[str], *, at_least: int = 1) -> tuple[str, ...]:
    """``classes`` as a tuple of distinct known motion names (at least ``at_least``), else a ConfigError."""
    if isinstance(classes, str) or len(classes) < at_least or len(set(classes)) != len(classes):
        shown = classes if isinstance(classes, str) else ", ".join(map(str, classes))
        raise ConfigError(f"classes: need at least {at_least} distinct motion name(s), got {shown or 'none'}")
    for c in classes:
        check_kind(c)
    return tuple(classes)


def check_frame_size(size: int) -> None:
    """A ConfigError unless ``size`` is an even number of pixels >= 16 (H.264 needs even sizes)."""
    if int(size) != size or size < 16 or size % 2:
        raise ConfigError(f"size must be an even number of pixels >= 16 (H.264 needs even sizes), got {size!r}")


def write_csv(path: Path, header: Sequence[str], rows: Sequence[Sequence[str]]) -> Path:
    """Write a small CSV atomically (``\\n`` line ends) and return its path."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    atomic_write_text(path, buf.getvalue())
    return path


def generate_demo_dataset(
    out_dir: str | Path,
    *,
    classes: Sequence[str] | None = None,
    videos_per_class: int = 12,
    num_groups: int = 4,
    size: int = 64,
    fps: float = 25.0,
    duration: float = 2.0,
    seed: int = 0,
) -> Path:
    """Write the demo dataset and return the path of its manifest.

    Layout: ``out_dir/videos/<class>/<group>_<class>_<k>.mp4`` and ``out_dir/manifest.csv`` with
    columns ``path`` (relative to the CSV), ``label``, ``group`` (``g0``..``g{num_groups-1}``;
    video ``k`` of every class is in group ``k % num_groups``) and ``target`` (the speed in px/s,
    see :mod:`vidlearn.data.motions`). Each video is written atomically, the manifest last (atomically),
    so an interrupted run never leaves a manifest naming a missing file. Re-running with the same
    arguments encodes byte-identical frames and writes the same manifest (the mp4 bytes themselves
    may differ slightly: libx264 is not bit-reproducible on such small frames); a clip depends only
    on (seed, class name, k, size, fps, duration), not on which other classes are generated.
    """
    classes = check_motion_classes(DEFAULT_CLASSES if classes is None else classes)
    if int(videos_per_class) < 1:
        raise ConfigError(f"videos_per_class must be at least 1, got {videos_per_class!r}")
    if not 1 <= int(num_groups) <= int(videos_per_class):
        raise ConfigError(f"num_groups must be between 1 and videos_per_class ({videos_per_class}), got {num_groups!r}")
    check_frame_size(size)
    clip_frame_count(fps, duration)
    out = Path(out_dir)
    palettes = [group_palette(seed, g) for g in range(int(num_groups))]
    width = max(3, len(str(int(videos_per_class) - 1)))
    rows: list[tuple[str, str, str, str]] = []
    for cls in classes:
        for k in range(int(videos_per_class)):
            g = k % int(num_groups)
            group = f"g{g}"
            rng = np.random.default_rng([int(seed), _class_key(cls), k])
            spec = draw_clip_spec(cls, size=size, fps=fps, duration=duration, rng=rng, palette=palettes[g])
            rel = Path(_VIDEOS) / cls / f"{group}_{cls}_{k:0{width}d}.mp4"
            write_video(out / rel, render_clip(spec), fps)
            rows.append((rel.as_posix(), cls, group, f"{spec.speed:.4f}"))
    return write_csv(out / _MANIFEST, ("path", "label", "group", "target"), rows)


UNTRIMMED_CLASSES: tuple[str, ...] = ("right", "rotate", "grow")
_ANNOTATIONS = "annotations.csv"


def generate_untrimmed_dataset(
    out_dir: str | Path,
    *,
    classes: Sequence[str] | None = None,
    videos_per_group: int = 2,
    num_groups: int = 3,
    actions_per_video: int = 3,
    size: int = 48,
    fps: float = 12.0,
    action_seconds: tuple[float, float] = (1.5, 2.5),
    gap_seconds: tuple[float, float] = (1.0, 2.0),
    seed: int = 0,
) -> Path:
    """Write untrimmed demo videos (the demo's motions, several a video, with still gaps between
    them) and their ground truth; returns the path of the annotations CSV.

    Each video of group ``g`` (palette as in :func:`generate_demo_dataset`) is: a gap, then
    ``actions_per_video`` times (an action of a seeded class, a gap). In a gap the object stands
    still (the next action's first frame, with fresh camera noise), so only motion tells action
    from background. Layout: ``out_dir/videos/<group>_<k>.mp4`` and ``out_dir/annotations.csv``
    (``path,label,start,end,group``; exact segment times, in seconds, on frame boundaries),
    each written atomically, the CSV last.
    """
    classes = check_motion_classes(UNTRIMMED_CLASSES if classes is None else classes)
    if int(videos_per_group) < 1 or int(num_groups) < 1 or int(actions_per_video) < 1:
        raise ConfigError("videos_per_group, num_groups and actions_per_video must be at least 1")
    check_frame_size(size)
    for name, (lo, hi) in (("action_seconds", action_seconds), ("gap_seconds", gap_seconds)):
        if not 0 < lo <= hi:
            raise ConfigError(f"{name} must be (low, high) seconds with 0 < low <= high, got {(lo, hi)!r}")
    out = Path(out_dir)
    rows: list[tuple[str, str, str, str, str]] = []
    for g in range(int(num_groups)):
        palette = group_palette(seed, g)
        for k in range(int(videos_per_group)):
            rng = np.random.default_rng([int(seed), 0x0C7, g, k])
            order = [classes[(k + g + i) % len(classes)] for i in range(int(actions_per_video))]
            rng.shuffle(order)
            parts: list[np.ndarray] = []
            frame = 0
            rel = Path(_VIDEOS) / f"g{g}_{k:03d}.mp4"
            segments = []
            for i, cls in enumerate(order):
                spec = draw_clip_spec(cls, size=size, fps=fps, duration=float(rng.uniform(*action_seconds)), rng=rng, palette=palette)
                gap_n = clip_frame_count(fps, float(rng.uniform(*gap_seconds)))
                still = replace(spec, kind="right", speed=0.0, num_frames=gap_n, noise_seed=int(rng.integers(0, 2**63 - 1)))
                parts += [render_clip(still), render_clip(spec)]
                start = frame + gap_n
                frame = start + spec.num_frames
                segments.append((cls, start, frame))
                if i == len(order) - 1:  # a last gap after the last action
                    parts.append(render_clip(replace(still, noise_seed=int(rng.integers(0, 2**63 - 1)))))
                    frame += gap_n
            write_video(out / rel, np.concatenate(parts), fps)
            rows += [(rel.as_posix(), cls, f"{a / fps:.6f}", f"{b / fps:.6f}", f"g{g}") for cls, a, b in segments]
    return write_csv(out / _ANNOTATIONS, ("path", "label", "start", "end", "group"), rows)


# --------------------------------------------------------------------------- bad files


def _top_level_boxes(data: bytes) -> list[tuple[str, int, int]]:
    """(type, offset, size) of an MP4 file's top-level boxes."""
    boxes = []
    pos = 0
    while pos + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[pos : pos + 8])
        if size == 1 and pos + 16 <= len(data):
            size = struct.unpack(">Q", data[pos + 8 : pos + 16])[0]
        elif size == 0:
            size = len(data) - pos
        if size < 8:
            break
        boxes.append((kind.decode("latin-1"), pos, size))
        pos += size
    return boxes


def _write_audio_only(path: Path, *, seconds: float = 1.0, rate: int = 16000) -> None:
    """An mp4 with one AAC audio stream (a 440 Hz sine) and no video stream."""
    tmp = tmp_path_for(path)
    try:
        with av.open(str(tmp), mode="w", format="mp4") as container:
            stream = container.add_stream("aac", rate=rate)
            stream.layout = "mono"
            n = int(seconds * rate)
            t = np.arange(n) / rate
            wave = (0.3 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32)[None, :]
            chunk = 1024
            for i in range(0, n, chunk):
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(wave[:, i : i + chunk]), format="fltp", layout="mono")
                frame.sample_rate = rate
                frame.pts = i
                for packet in stream.encode(frame):
                    container.mux(packet)
            for packet in stream.encode():
                container.mux(packet)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise


def write_bad_videos(out_dir: str | Path, *, seed: int = 0) -> dict[str, Path]:
    """Write broken files for tests into ``out_dir`` and return them by name:

    - ``empty``: ``empty.mp4``, 0 bytes;
    - ``notavideo``: ``notavideo.mp4``, a text file;
    - ``audio_only``: ``audio_only.mp4``, a valid mp4 with only an AAC audio stream;
    - ``one_frame``: ``one_frame.mp4``, a valid video of a single frame;
    - ``truncated``: ``truncated.mp4``, a 60-frame faststart mp4 (index first) cut to 40 % of
      its bytes: the header promises 60 frames, the data holds far fewer;
    - ``corrupt``: ``corrupt.mp4``, a 60-frame mp4 whose index is intact but whose middle third
      of the frame data (after the moov box) is overwritten with random bytes.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng([int(seed), 0xBAD])
    files = {name: out / f"{name}.mp4" for name in ("empty", "notavideo", "audio_only", "one_frame", "truncated", "corrupt")}
    atomic_write_bytes(files["empty"], b"")
    atomic_write_text(files["notavideo"], "This is a text file, not a video.\n" * 20)
    _write_audio_only(files["audio_only"])
    frames = make_video("right", size=64, fps=25.0, duration=60 / 25.0, rng=rng)[0]
    write_video(files["one_frame"], frames[:1], 25.0)
    # truncated: encode next to the target, then keep the first 40 % of the bytes
    write_video(files["truncated"], frames, 25.0)
    data = files["truncated"].read_bytes()
    atomic_write_bytes(files["truncated"], data[: int(len(data) * 0.4)])
    # corrupt: keep the index (moov), garble the middle third of the frame data (mdat payload)
    boxes = {kind: (off, size) for kind, off, size in _top_level_boxes(data)}
    if "mdat" in boxes:
        off, size = boxes["mdat"]
        start, end = off + 8, off + size
    else:  # not expected with write_video's faststart mp4: garble the second half's middle
        start, end = len(data) // 2, len(data)
    lo = start + (end - start) // 3
    hi = start + 2 * (end - start) // 3
    garbled = bytearray(data)
    garbled[lo:hi] = rng.integers(0, 256, hi - lo, dtype=np.uint8).tobytes()
    atomic_write_bytes(files["corrupt"], bytes(garbled))
    return files
