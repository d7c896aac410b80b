"""A picture of clips before (evaluation transform) and after (training transform) augmentation,
of the same moment (the same decoded frames), through the real data path, with what was applied
written under it (`vidlearn augment-preview`)."""

from __future__ import annotations

from dataclasses import dataclass, field
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
    applied: list[str] = field(default_factory=list)


def applied_augmentations(transform, sampling=None) -> list[str]:
    """What the training transform (and the training sampler) of a configuration does that the
    evaluation one does not, in words: ``["random resized crop (scale 0.5-1)", "horizontal flip", ...]``.
    Mixup/cutmix mix whole batches in the training step and are named as not shown."""
    t = transform
    out: list[str] = []
    if sampling is not None and sampling.train == "segments":
        out.append("segment sampling (one random frame per segment)")
    if t.temporal_jitter:
        out.append("temporal jitter")
    if tuple(t.speed) != (1.0, 1.0):
        out.append(f"speed {t.speed[0]:g}-{t.speed[1]:g}x (the frames' seconds)")
    out.append(f"random resized crop (scale {t.scale[0]:g}-{t.scale[1]:g})" if t.random_resized_crop else "random crop")
    if t.hflip:
        out.append("horizontal flip (p=0.5)")
    if t.color_jitter > 0:
        out.append(f"colour jitter {t.color_jitter:g}")
    if t.hue > 0:
        out.append(f"hue {t.hue:g}")
    if t.grayscale_p > 0:
        out.append(f"grayscale p={t.grayscale_p:g}")
    if t.blur_p > 0:
        out.append(f"blur p={t.blur_p:g} (sigma {t.blur_sigma[0]:g}-{t.blur_sigma[1]:g})")
    if t.erase_p > 0:
        out.append(f"random erasing p={t.erase_p:g}" + (" per frame" if t.erase_per_frame else ""))
    if t.randaugment_n > 0:
        out.append(f"RandAugment n={t.randaugment_n} m={t.randaugment_m}")
    if t.mixup_alpha > 0 or t.cutmix_alpha > 0:
        out.append("(mixup/cutmix mix batches in training: not shown)")
    return out


def _with_caption(image, lines: list[str]):
    """`image` with `lines` of text under it, on white."""
    from PIL import Image, ImageDraw

    line_h = 13
    canvas = Image.new("RGB", (image.width, image.height + 4 + line_h * len(lines)), (255, 255, 255))
    canvas.paste(image, (0, 0))
    draw = ImageDraw.Draw(canvas)
    for i, line in enumerate(lines):
        draw.text((4, image.height + 2 + i * line_h), line, fill=(0, 0, 0))
    return canvas


def _caption_lines(applied: list[str], width: int) -> list[str]:
    """'after: ...' wrapped to the picture's width (about 6 pixels a character)."""
    import textwrap

    text = "after = before + " + ", ".join(applied) if applied else "after: no augmentation is on"
    return textwrap.wrap(text, width=max(20, width // 6)) or [text]


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
    """Show what the model sees: ``clips`` videos of ``data``, each at the same moment BEFORE
    augmentation (the frames at the training sampler's seconds through the evaluation transform:
    resized and centre-cropped) and AFTER (the same frames through the training transform of
    ``cfg``: crop, flip, colour, RandAugment, blur, erasing...), de-normalised for display. What
    was applied (`applied_augmentations`, the sampler's temporal jitter and speed included) is
    written under the picture and returned. Frames come through the real data path
    (:func:`vidlearn.io.read_frames` at the sampler's seconds), decoded once per clip.

    PNG (default): two rows per clip ("<class> before", "<class> after"), up to ``max_frames``
    frames each. GIF (``gif=True`` or a ``.gif`` path): one row per clip with the before and after
    frames side by side, animated over the clip's frames at ``gif_fps`` (default ``cfg.decode.fps``).
    Mixup/cutmix mix whole batches in the training step and are not shown. Unreadable videos
    are skipped (and listed in the result).
    """
    from PIL import Image

    from vidlearn import io as vio
    from vidlearn.data.sampling import build_train_sampler, record_span
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
            times = np.asarray(train_sampler(span, rng, start=start))
            frames = vio.read_frames(record.path, times, short_side=cfg.decode.short_side)
        except (VidlearnError, ValueError) as exc:
            skipped.append((str(record.path), getattr(exc, "reason", str(exc))))
            continue
        before = eval_tf(frames_to_tensor(frames), None)  # the same moment, only resized and centre-cropped
        after = train_tf(frames_to_tensor(frames), gen)
        label = record.name if record.target is None else str(record.target)
        pairs.append((label, denormalize(before, mean, std), denormalize(after, mean, std)))
    applied = applied_augmentations(cfg.transform, cfg.sampling)
    if not pairs:
        raise DataSourceError(data, [f"no readable video to preview ({len(skipped)} skipped)"] + [f"{p}: {r}" for p, r in skipped[:5]])

    if not gif:
        rows, labels = [], []
        for label, before, after in pairs:
            rows += [before, after]
            labels += [f"{label[:7]} before", f"{label[:7]} after"]
        grid = clip_grid(rows, labels, max_frames=max_frames)
        save_image(_with_caption(grid, _caption_lines(applied, grid.width)), out)
        n_frames = min(max_frames, max(len(r) for r in rows))
    else:
        n_frames = max(max(len(b), len(a)) for _, b, a in pairs)
        images = []
        for t in range(n_frames):
            row_clips = [np.stack([b[min(t, len(b) - 1)], a[min(t, len(a) - 1)]]) for _, b, a in pairs]
            grid = clip_grid(row_clips, [label for label, _, _ in pairs], max_frames=2)
            images.append(_with_caption(grid, ["left: before | right: after", *_caption_lines(applied, grid.width)]))
        duration_ms = max(20, round(1000.0 / (gif_fps or cfg.decode.fps)))
        palette = [im.convert("P", palette=Image.Palette.ADAPTIVE) for im in images]
        with atomic_open(out, "wb") as fh:
            palette[0].save(fh, format="GIF", save_all=True, append_images=palette[1:], duration=duration_ms, loop=0)
    return PreviewResult(out, len(pairs), n_frames, skipped, applied)
