"""Training a localisation model from segment annotations (``vidlearn train ANN.csv --task
localization``): annotated videos -> a group-aware validation split of whole videos -> training
windows from segments and background (``clips.windows``) -> ``fit`` (a window classifier whose
classes are the actions plus ``task.background``) -> on the validation videos, the segments and
their detection / segmentation metrics (``predictors.localization_eval``, in ``run/eval_localization``).

``cross_validate_localization`` (``--cv``) does that for every fold of whole videos: each fold
trains on its training videos for the configured epochs and is evaluated once on its held-out
videos (no model selection on them); cv_metrics.json holds the mean ± std over folds and the
pooled metrics (every held-out video in one evaluation)."""

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

__all__ = ["cross_validate_localization", "localization_windows", "split_videos", "train_localization"]


def localization_windows(videos: Sequence[AnnotatedVideo], cfg: ExperimentConfig, *, seed: int | None = None) -> WindowPlan:
    """The training windows of ``videos`` for ``cfg`` (window length from ``sampling`` and ``decode``)."""
    t = cfg.task
    return window_records(videos, window=window_seconds(cfg.sampling, cfg.decode), stride=t.window_stride, background=t.background,
                          background_ratio=t.background_ratio, seed=cfg.optim.seed if seed is None else seed)


def _proxies(videos: Sequence[AnnotatedVideo]) -> list[VideoRecord]:
    """One record a video for the splitters: its first action as the class (for stratifying), its
    group (none for any when one video has none), and its index in ``meta["i"]``."""
    proxies = [VideoRecord(v.path, v.segments[0].label if v.segments else "", v.group, meta={"i": i}) for i, v in enumerate(videos)]
    if any(v.group is None for v in videos):
        proxies = [VideoRecord(p.path, p.target, None, meta=p.meta) for p in proxies]
    return proxies


def split_videos(videos: Sequence[AnnotatedVideo], val: float, seed: int) -> tuple[list[AnnotatedVideo], list[AnnotatedVideo]]:
    """(train, validation) whole videos: group-aware (no group in both), stratified by each video's first action."""
    from vidlearn.data.splits import train_val_test_split

    if val <= 0 or len(videos) < 2:
        return list(videos), []
    proxies = _proxies(videos)
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
    test_videos: Sequence[AnnotatedVideo] | None = None,
    devices: int | str = 1,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = print,
) -> Any:
    """Train a localisation model (see the module docstring); returns the ``TrainResult`` with
    ``localization`` (the evaluated videos' metrics, or None) set as an attribute.

    ``val_videos``: validation videos (checkpoint selection and the evaluation), instead of a
    split of ``cfg.data.val_fraction``. ``test_videos``: held-out videos evaluated once after
    training, with no validation (all of ``data`` trains, for the configured epochs)."""
    from vidlearn.training.fit import fit

    if cfg.task.kind != "localization":
        cfg = cfg.override({"task.kind": "localization"})
    videos = _videos(data, group)
    if test_videos is not None:
        train_v, val_v = videos, []
    elif val_videos is None:
        train_v, val_v = split_videos(videos, cfg.data.val_fraction, cfg.optim.seed)
    else:
        train_v, val_v = videos, list(val_videos)
    eval_v, eval_name = (list(test_videos), "held-out videos") if test_videos is not None else (val_v, "validation videos")
    labels = sorted({s.label for v in [*videos, *eval_v] for s in v.segments} | {cfg.task.background} | set(cfg.task.classes))
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
    if eval_v and result.artifact is not None:
        from vidlearn.predictors import load
        from vidlearn.predictors.localization_eval import evaluate_localization

        model = load(result.artifact)
        result.localization = evaluate_localization(model, eval_v, Path(out) / "eval_localization", data_name=eval_name,
                                                    progress=progress)
        m = result.localization["video"]
        echo(f"{eval_name}: mAP@0.5 {m['mAP']['0.5']:.3f}, mAP@0.7 {m['mAP']['0.7']:.3f}, F1@50 {m['F1']['50']:.3f}, "
             f"frame accuracy {m['frame_accuracy']:.3f} -> {Path(out) / 'eval_localization'}")
    return result


def _videos(data: str | Path | Sequence[AnnotatedVideo], group: str | None) -> list[AnnotatedVideo]:
    return list(data) if isinstance(data, Sequence) and not isinstance(data, (str, Path)) else load_annotations(data, group=group)


def _pooled(run: Path, folds: Sequence[Any], videos: Sequence[AnnotatedVideo], cfg: ExperimentConfig) -> dict[str, Any] | None:
    """The segment metrics of every fold's held-out videos in one evaluation (AP over all their
    segments at once), from the folds' segments.csv; None when a fold left none."""
    import json

    from vidlearn.fsutil import safe_name
    from vidlearn.predictors.localization_eval import read_segments
    from vidlearn.tasks.localization_metrics import TimedSegment, localization_metrics

    truth: dict[str, list[TimedSegment]] = {}
    predicted: dict[str, list[TimedSegment]] = {}
    durations: dict[str, float] = {}
    for fold in folds:
        done = run / "folds" / safe_name(fold.name) / "eval_localization"
        if not (done / "segments.csv").is_file():
            return None
        skipped = {s["path"] for s in json.loads((done / "metrics.json").read_text()).get("skipped", [])}
        found = read_segments(done / "segments.csv")
        for r in fold.test:
            v = videos[r.meta["i"]]
            key = str(v.path)
            if key in skipped:
                continue
            truth[key] = [TimedSegment(key, s.label, s.start, s.end) for s in v.segments]
            predicted[key] = [s for s in found if s.video == key]
            durations[key] = v.duration
    if not durations:
        return None
    return localization_metrics(truth, predicted, durations, cfg.task.classes, background=cfg.task.background,
                                fps=float(cfg.decode.fps or 10.0))


def cross_validate_localization(
    data: str | Path | Sequence[AnnotatedVideo],
    cfg: ExperimentConfig,
    out: str | Path,
    *,
    cv: str,
    group: str | None = None,
    devices: int | str = 1,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = print,
) -> dict[str, Any]:
    """Every fold of ``cv`` ("kfold:K" or "leave-one-group-out") over whole annotated videos:
    trained on the fold's training videos, evaluated once on its held-out videos (in
    ``out/folds/NAME/eval_localization``). Writes cv_metrics.json (mean ± std over folds of mAP
    at each tIoU, F1, edit and frame accuracy, and under "pooled" the same metrics of all held-out
    videos in one evaluation) and report.html; with ``resume``, finished folds
    are kept and a fold cut short continues from its checkpoint."""
    from vidlearn.data.splits import parse_cv
    from vidlearn.fsutil import safe_name
    from vidlearn.reports import write_cv_report
    from vidlearn.tasks.metrics import summarize_folds, write_metrics
    from vidlearn.training.cv import finished_fold

    run = Path(out)
    videos = _videos(data, group)
    protocol = parse_cv(cv, seed=cfg.optim.seed)
    folds = protocol.splits(_proxies(videos))
    labels = sorted({s.label for v in videos for s in v.segments} | {cfg.task.background} | set(cfg.task.classes))
    cfg = cfg.override({"task.kind": "localization", "task.classes": labels})  # one head for every fold
    per_fold = []
    for i, fold in enumerate(folds, start=1):
        fold_dir = run / "folds" / safe_name(fold.name)
        done = finished_fold(fold_dir, "eval_localization", resume=resume, echo=echo, label=f"[{i}/{len(folds)}] {fold.name}")
        if done is not None:
            per_fold.append(done)
            continue
        train_v, test_v = [videos[r.meta["i"]] for r in fold.train], [videos[r.meta["i"]] for r in fold.test]
        echo(f"[{i}/{len(folds)}] {fold.name}: train {len(train_v)} video(s), test {len(test_v)}")
        result = train_localization(train_v, cfg, fold_dir, test_videos=test_v, devices=devices, resume=resume,
                                    progress=progress, echo=echo)
        if result.localization is not None:
            per_fold.append(result.localization)
    if not per_fold:
        raise ConfigError(f"{data if isinstance(data, (str, Path)) else 'the videos'}: no fold could be evaluated")
    summary = {"protocol": str(protocol), "video": summarize_folds([f["video"] for f in per_fold]), "folds": [f.name for f in folds],
               "pooled": _pooled(run, folds, videos, cfg)}
    write_metrics(run / "cv_metrics.json", summary)
    write_cv_report(run, summary, folds={f.name: run / "folds" / safe_name(f.name) for f in folds}, config=cfg, echo=echo,
                    eval_dir="eval_localization", title=f"Localization cross-validation report: {run.name}",
                    info={"model": cfg.model.name})
    return summary
