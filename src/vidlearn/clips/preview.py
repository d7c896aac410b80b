"""A picture of clips before (evaluation transform) and after (training transform) augmentation, through the real data path (`vidlearn augment-preview`)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from vidlearn.transforms.compose import denormalize


@dataclass
class PreviewResult:
    """What :func:`augment_preview` wrote."""

    path: Path
    clips: int
    frames: int
    skipped: list[tuple[str, str]]


def _interleave_classes(records: list) -> list:
    """The records with the classes taken in turn (so the first few clips show several classes)."""
    by_class: dict[str, list] = {}
    for r in records:
        by_class.setdefault(str(r.target), []).append(r)
    queues = list(by_class.values())
    out: list = []
    for i in range(max(len(q) for q in queues) if queues else 0):
        out += [q[i] for q in queues if i < len(q)]
    return out


def augment_preview(
    data: str | Path,
    cfg,
    out: str | Path,
    *,
    clips: int = 4,
    gif: bool | None = None,
    seed: int = 0,
    max_frames: int = 8,
    gif_fps: float | None = None,
) -> PreviewResult:
    """Show what the model sees: ``clips`` videos of ``data``, each BEFORE augmentation (the
    evaluation sampler and transform: the centre clip, resized and centre-cropped) and AFTER
    (the training sampler and transform of ``cfg``: temporal jitter, speed change, crop, flip,
    colour, RandAugment, blur, erasing...), de-normalised for display. Frames come through the
    real data path (:func:`vidlearn.io.read_frames` at the samplers' seconds).

    PNG (default): two rows per clip ("<class> before", "<class> after"), up to ``max_frames``
    frames each. GIF (``gif=True`` or a ``.gif`` path): one row per clip with the before and after
    frames side by side, animated over the clip's frames at ``gif_fps`` (default ``cfg.decode.fps``).
    Mixup/cutmix mix whole batches in the training step and are not shown. Unreadable videos
    are skipped (and listed in the result).
    """
    from PIL import Image

    from vidlearn import io as vio
    from vidlearn.data.sampling import (
        build_test_sampler,
        build_train_sampler,
        record_span,
    )
    from vidlearn.data.sources import load_records
    from vidlearn.errors import ConfigError, DataSourceError, VidlearnError
    from vidlearn.fsutil import atomic_open
    from vidlearn.io.images import clip_grid, save_image
    from vidlearn.transforms.compose import build_transform, frames_to_tensor

    out = Path(out)
    is_gif = out.suffix.lower() == ".gif"
    if gif is None:
        gif = is_gif
    if gif and not is_gif:
        raise ConfigError(f"{out}: an animated preview is a GIF; give the output a .gif suffix")
    if not gif and out.suffix.lower() not in (".png", ".jpg", ".jpeg"):
        raise ConfigError(f"{out}: the preview grid is written as .png or .jpg (or .gif with --gif)")
    if clips < 1:
        raise ConfigError(f"clips must be at least 1, got {clips}")

    records = load_records(data, task=cfg.task.kind, labelled=False)
    eval_sampler = build_test_sampler(cfg.sampling, cfg.decode, views=1)
    train_sampler = build_train_sampler(cfg.sampling, cfg.decode, cfg.transform)
    eval_tf = build_transform(cfg.transform, train=False, crops=1)
    train_tf = build_transform(cfg.transform, train=True)
    mean, std = cfg.transform.mean, cfg.transform.std

    pairs: list[tuple[str, np.ndarray, np.ndarray]] = []
    skipped: list[tuple[str, str]] = []
    for k, record in enumerate(_interleave_classes(records)):
        if len(pairs) >= clips:
            break
        try:
            duration = vio.probe(record.path).duration
            start, span = record_span(record, duration)
            rng = np.random.default_rng([seed, k])
            gen = torch.Generator().manual_seed(seed * 1_000_003 + k)
            times_eval = np.asarray(eval_sampler(span, None, start=start)[0])
            times_train = np.asarray(train_sampler(span, rng, start=start))
            frames = vio.read_frames(
                record.path, np.concatenate([times_eval, times_train]), short_side=cfg.decode.short_side
            )
        except (VidlearnError, ValueError) as exc:
            skipped.append((str(record.path), getattr(exc, "reason", str(exc))))
            continue
        before = eval_tf(frames_to_tensor(frames[: len(times_eval)]), None)
        after = train_tf(frames_to_tensor(frames[len(times_eval) :]), gen)
        label = record.name if record.target is None else str(record.target)
        pairs.append((label, denormalize(before, mean, std), denormalize(after, mean, std)))
    if not pairs:
        raise DataSourceError(data, [f"no readable video to preview ({len(skipped)} skipped)"] + [f"{p}: {r}" for p, r in skipped[:5]])

    if not gif:
        rows, labels = [], []
        for label, before, after in pairs:
            rows += [before, after]
            labels += [f"{label[:7]} before", f"{label[:7]} after"]
        save_image(clip_grid(rows, labels, max_frames=max_frames), out)
        n_frames = min(max_frames, max(len(r) for r in rows))
    else:
        n_frames = max(max(len(b), len(a)) for _, b, a in pairs)
        images = []
        for t in range(n_frames):
            row_clips = [np.stack([b[min(t, len(b) - 1)], a[min(t, len(a) - 1)]]) for _, b, a in pairs]
            images.append(clip_grid(row_clips, [label for label, _, _ in pairs], max_frames=2))
        duration_ms = max(20, round(1000.0 / (gif_fps or cfg.decode.fps)))
        palette = [im.convert("P", palette=Image.Palette.ADAPTIVE) for im in images]
        with atomic_open(out, "wb") as fh:
            palette[0].save(fh, format="GIF", save_all=True, append_images=palette[1:], duration=duration_ms, loop=0)
    return PreviewResult(out, len(pairs), n_frames, skipped)
