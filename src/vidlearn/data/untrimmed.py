"""Untrimmed videos made from trimmed real ones: per group (e.g. a Weizmann actor), that group's
videos joined in a seeded order into one long video, with gaps of real non-action footage
between them, and exact ground-truth segments (an annotations CSV, ``data.annotations``).

A gap is, alternately, the group's own still footage (the next video's first frame held: the
scene with the person standing, as a static camera sees it before the action) and frames of other
real videos (``filler``: any clips, scaled and centre-cropped to the same size, a seeded random
stretch of one). Every frame is decoded at the source's rate and written at ``fps``; segment
times are frame boundaries, in seconds.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from vidlearn.data.annotations import ANNOTATION_COLUMNS
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DataSourceError
from vidlearn.fsutil import atomic_write_text

__all__ = ["build_untrimmed"]


def _frames(path: str | Path, fps: float, size: tuple[int, int]) -> np.ndarray:
    from vidlearn.io import iter_frames

    frames = [f for _, f in iter_frames(path, fps=fps, size=size)]
    if not frames:
        raise DataSourceError(path, ["no frames could be decoded"])
    return np.stack(frames)


def _filler(path: str | Path, fps: float, size: tuple[int, int], n: int, rng: np.random.Generator) -> np.ndarray:
    """``n`` frames of a filler clip: a seeded stretch, centre-cropped to square, scaled to ``size``."""
    from vidlearn.io import iter_frames, probe

    info = probe(path)
    start = float(rng.uniform(0.0, max(0.0, info.duration - n / fps - 0.1)))
    out = []
    for _, f in iter_frames(path, fps=fps, short_side=max(size), start=start):
        h, w = f.shape[:2]
        s = min(h, w)
        y, x = (h - s) // 2, (w - s) // 2
        crop = f[y : y + s, x : x + s]
        if crop.shape[:2] != size:
            idx_y = np.linspace(0, s - 1, size[0]).round().astype(int)
            idx_x = np.linspace(0, s - 1, size[1]).round().astype(int)
            crop = crop[idx_y][:, idx_x]
        out.append(crop)
        if len(out) == n:
            break
    while len(out) < n:  # a short clip: hold its last frame
        out.append(out[-1])
    return np.stack(out)


def build_untrimmed(
    records: Sequence[VideoRecord],
    out_dir: str | Path,
    *,
    filler: Sequence[str | Path] = (),
    fps: float | None = None,
    gap_seconds: tuple[float, float] = (0.8, 1.6),
    seed: int = 0,
) -> Path:
    """One long video per group of labelled ``records`` in ``out_dir/videos/<group>.mp4`` and the
    ground truth in ``out_dir/annotations.csv`` (``path,label,start,end,group``); returns the CSV.
    ``fps`` defaults to the first video's rate; all videos are scaled to the first one's size."""
    from vidlearn.io import probe, write_video

    records = [r for r in records if isinstance(r.target, str)]
    if not records:
        raise ConfigError("build_untrimmed: no labelled videos")
    if any(r.group is None for r in records):
        raise ConfigError("build_untrimmed: every video needs a group (e.g. --group actor)")
    lo, hi = gap_seconds
    if not 0 < lo <= hi:
        raise ConfigError(f"gap_seconds must be (low, high) with 0 < low <= high, got {gap_seconds!r}")
    first = probe(records[0].path)
    rate = float(fps or first.fps)
    size = (int(first.height), int(first.width))
    out = Path(out_dir)
    rows: list[tuple[str, str, str, str, str]] = []
    groups = sorted({str(r.group) for r in records}, key=lambda g: (len(g), g))
    for gi, group in enumerate(groups):
        rng = np.random.default_rng([int(seed), gi])
        mine = [r for r in records if str(r.group) == group]
        order = [mine[i] for i in rng.permutation(len(mine))]
        parts: list[np.ndarray] = []
        frame = 0
        for k, r in enumerate(order + [None]):  # a gap before every video and one after the last
            nxt = _frames(r.path, rate, size) if r is not None else None
            n_gap = max(1, round(float(rng.uniform(lo, hi)) * rate))
            if filler and k % 2 == 1:
                gap = _filler(filler[int(rng.integers(len(filler)))], rate, size, n_gap, rng)
            else:
                still = nxt[0] if nxt is not None else parts[-1][-1]
                gap = np.repeat(still[None], n_gap, axis=0)
            parts.append(gap)
            frame += n_gap
            if nxt is not None:
                parts.append(nxt)
                rows.append((f"videos/{group}.mp4", str(r.target), f"{frame / rate:.6f}", f"{(frame + len(nxt)) / rate:.6f}", group))
                frame += len(nxt)
        write_video(out / "videos" / f"{group}.mp4", np.concatenate(parts), rate)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow((*ANNOTATION_COLUMNS, "group"))
    w.writerows(rows)
    path = out / "annotations.csv"
    atomic_write_text(path, buf.getvalue())
    return path
