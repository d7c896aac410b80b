"""Training a localisation model from segment annotations (``vidlearn train ANN.csv --task
localization``): annotated videos -> a group-aware validation split of whole videos -> training
windows from segments and background (``clips.windows``) -> ``fit`` (a window classifier whose
classes are the actions plus ``task.background``) -> on the validation videos, the segments and
their detection / segmentation metrics (``predictors.localization_eval``, in ``run/eval_localization``)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from vidlearn.clips.windows import WindowPlan, window_records, window_seconds
from vidlearn.config import ExperimentConfig
from vidlearn.data.annotations import AnnotatedVideo, load_annotations
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError
from vidlearn.progress import Echo

__all__ = ["localization_windows", "split_videos", "train_localization"]


def localization_windows(videos: Sequence[AnnotatedVideo], cfg: ExperimentConfig, *, seed: int | None = None) -> WindowPlan:
    """The training windows of ``videos`` for ``cfg`` (window length from ``sampling`` and ``decode``)."""
    t = cfg.task
    return window_records(videos, window=window_seconds(cfg.sampling, cfg.decode), stride=t.window_stride, background=t.background,
                          background_ratio=t.background_ratio, seed=cfg.optim.seed if seed is None else seed)


def split_videos(videos: Sequence[AnnotatedVideo], val: float, seed: int) -> tuple[list[AnnotatedVideo], list[AnnotatedVideo]]:
    """(train, validation) whole videos: group-aware (no group in both), stratified by each video's first action."""
    from vidlearn.data.splits import train_val_test_split

    if val <= 0 or len(videos) < 2:
        return list(videos), []
    proxies = [VideoRecord(v.path, v.segments[0].label if v.segments else "", v.group, meta={"i": i}) for i, v in enumerate(videos)]
    if any(v.group is None for v in videos):
        proxies = [VideoRecord(p.path, p.target, None, meta=p.meta) for p in proxies]
    try:
        split = train_val_test_split(proxies, val=val, seed=seed)
    except ValueError:  # too few videos a first action to stratify: a plain group-aware split
        split = train_val_test_split(proxies, val=val, seed=seed, stratify=False)
    return [videos[p.meta["i"]] for p in split.train], [videos[p.meta["i"]] for p in split.val]


def train_localization(
    data: str | Path | Sequence[AnnotatedVideo],
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    group: str | None = None,
    val_videos: Sequence[AnnotatedVideo] | None = None,
    devices: int | str = 1,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = print,
) -> Any:
    """Train a localisation model (see the module docstring); returns the ``TrainResult`` with
    ``localization`` (the validation videos' metrics, or None) set as an attribute."""
    from vidlearn.training.fit import fit

    if cfg.task.kind != "localization":
        cfg = cfg.override({"task.kind": "localization"})
    videos = list(data) if isinstance(data, Sequence) and not isinstance(data, (str, Path)) else load_annotations(data, group=group)
    if val_videos is None:
        train_v, val_v = split_videos(videos, cfg.data.val_fraction, cfg.optim.seed)
    else:
        train_v, val_v = videos, list(val_videos)
    labels = sorted({s.label for v in videos for s in v.segments} | {cfg.task.background} | set(cfg.task.classes))
    cfg = cfg.override({"task.classes": labels})  # every annotated action, even one seen only in validation
    train = localization_windows(train_v, cfg)
    if len(train.counts) < 2:
        raise ConfigError(f"{data if isinstance(data, (str, Path)) else 'training videos'}: windows of only {', '.join(map(str, train.counts)) or 'nothing'}; "
                          "localization needs action and background windows")
    val = localization_windows(val_v, cfg, seed=cfg.optim.seed + 1) if val_v else None
    echo(f"localization: {len(train_v)} training video(s) -> {train.describe()}; "
         f"window {window_seconds(cfg.sampling, cfg.decode):.2f} s")
    if val is not None:
        echo(f"validating on {len(val_v)} video(s) -> {len(val.records)} windows")
    result = fit(train.records, cfg, out, val_records=val.records if val else None, devices=devices, resume=resume,
                 progress=progress, echo=echo)
    if val_v and result.artifact is not None:
        from vidlearn.predictors import load
        from vidlearn.predictors.localization_eval import evaluate_localization

        model = load(result.artifact)
        result.localization = evaluate_localization(model, val_v, Path(out) / "eval_localization", data_name="validation videos",
                                                    progress=progress)
        m = result.localization["video"]
        echo(f"validation videos: mAP@0.5 {m['mAP']['0.5']:.3f}, mAP@0.7 {m['mAP']['0.7']:.3f}, F1@50 {m['F1']['50']:.3f}, "
             f"frame accuracy {m['frame_accuracy']:.3f} -> {Path(out) / 'eval_localization'}")
    return result
