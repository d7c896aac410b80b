"""A seeded multi-label demo dataset: each video shows one or two of the demo's objects
(:mod:`vidlearn.data.motions`), each moving its own way, so a video's labels are the set of its
motions (``"right|rotate"``). Real mp4 files and a manifest, like
:func:`vidlearn.data.synthetic.generate_demo_dataset`.

The label sets cycle through every non-empty set of at most ``max_labels`` classes, so every
class co-occurs with every other, and with 3 classes and ``max_labels=2`` each class is in half
of the videos (an untrained ranking has an mAP of about 0.5). The objects of one video share its
background and camera noise; a second object is drawn over the first (where they overlap the
second hides the first, as in real footage).
"""

from __future__ import annotations

import itertools
import zlib
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from vidlearn.data.motions import (
    clip_frame_count,
    draw_clip_spec,
    group_palette,
    object_alpha,
    render_clip,
)
from vidlearn.data.records import join_labels
from vidlearn.data.synthetic import check_frame_size, check_motion_classes, write_csv
from vidlearn.errors import ConfigError
from vidlearn.io import write_video

__all__ = ["DEFAULT_MULTILABEL_CLASSES", "generate_multilabel_dataset", "label_sets", "render_multilabel_clip"]

DEFAULT_MULTILABEL_CLASSES: tuple[str, ...] = ("right", "rotate", "blink")


def label_sets(classes: Sequence[str], max_labels: int = 2) -> list[tuple[str, ...]]:
    """Every non-empty set of at most ``max_labels`` of ``classes``: singles first, then pairs ..."""
    return [combo for k in range(1, int(max_labels) + 1) for combo in itertools.combinations(classes, k)]


def render_multilabel_clip(
    kinds: Sequence[str], *, size: int = 64, fps: float = 25.0, duration: float = 2.0, rng: np.random.Generator, palette=None
) -> np.ndarray:
    """One clip in memory, ``(T, size, size, 3)`` uint8 RGB, showing one object per motion of
    ``kinds`` over one background."""
    if not kinds:
        raise ConfigError("kinds: a clip needs at least one motion")
    specs = [draw_clip_spec(k, size=size, fps=fps, duration=duration, rng=rng, palette=palette) for k in kinds]
    first = specs[0]
    frames = render_clip(first).astype(np.float32)
    for spec in specs[1:]:
        spec = replace(spec, background_seed=first.background_seed, noise_seed=first.noise_seed)
        alpha = object_alpha(spec)[..., None]
        frames = frames * (1.0 - alpha) + render_clip(spec).astype(np.float32) * alpha
    return np.clip(np.rint(frames), 0, 255).astype(np.uint8)


def generate_multilabel_dataset(
    out_dir: str | Path,
    *,
    classes: Sequence[str] | None = None,
    videos_per_set: int = 4,
    max_labels: int = 2,
    num_groups: int = 2,
    size: int = 64,
    fps: float = 25.0,
    duration: float = 2.0,
    seed: int = 0,
    label_columns: bool = False,
) -> Path:
    """Write the multi-label dataset and return its manifest's path.

    Layout: ``out_dir/videos/<set>_<k>.mp4`` and ``out_dir/manifest.csv`` with ``path``, the labels
    and ``group`` (``g0``..; video ``k`` of every set is in group ``k % num_groups``). The labels are
    one ``label`` column joined by ``|`` (``right|rotate``), or with ``label_columns`` one 0/1 column
    ``label:CLASS`` per class. Videos are written atomically, the manifest last."""
    classes = check_motion_classes(DEFAULT_MULTILABEL_CLASSES if classes is None else classes, at_least=2)
    if not 1 <= int(max_labels) <= len(classes):
        raise ConfigError(f"max_labels must be between 1 and the number of classes ({len(classes)}), got {max_labels!r}")
    if int(videos_per_set) < 1 or not 1 <= int(num_groups) <= int(videos_per_set):
        raise ConfigError(f"need videos_per_set >= 1 and 1 <= num_groups <= videos_per_set, got {videos_per_set!r}, {num_groups!r}")
    check_frame_size(size)
    clip_frame_count(fps, duration)
    out = Path(out_dir)
    palettes = [group_palette(seed, g) for g in range(int(num_groups))]
    rows: list[list[str]] = []
    for combo in label_sets(classes, max_labels):
        name = "+".join(combo)
        for k in range(int(videos_per_set)):
            g = k % int(num_groups)
            rng = np.random.default_rng([int(seed), zlib.crc32(name.encode()), k])
            order = list(combo)
            rng.shuffle(order)  # which object is drawn on top is random
            rel = Path("videos") / f"g{g}_{name}_{k:03d}.mp4"
            write_video(out / rel, render_multilabel_clip(order, size=size, fps=fps, duration=duration, rng=rng, palette=palettes[g]), fps)
            labels = [("1" if c in combo else "0") for c in classes] if label_columns else [join_labels(combo)]
            rows.append([rel.as_posix(), *labels, f"g{g}"])
    header = ["path", *([f"label:{c}" for c in classes] if label_columns else ["label"]), "group"]
    return write_csv(out / "manifest.csv", header, rows)
