"""Untrimmed Weizmann localisation benchmark, leave-one-actor-out.

    python bench/weizmann_localization.py [--data ../shared/data] [--out runs/weizmann_loc]
        [--config configs/weizmann_localization.yaml] [--folds 0,1,...] [--set key=value ...]

`vidlearn train ANN --task localization --cv leave-one-group-out --group group` gives the same
per-fold and pooled numbers for all folds; this script also runs a chosen subset (--folds).

Builds (seeded, once) one long video per actor from that actor's 4 videos with gaps of real
non-action footage (the actor's still frames, frames of ../shared/data/clips), then for each held-out
actor trains on the other actors' long videos and evaluates on the held-out one. Writes
OUT/folds/<actor>/{model,eval_localization} and OUT/summary.json: per-fold and pooled (all held-out videos
in one evaluation) mAP@0.3/0.5/0.7, frame accuracy, edit and F1@{10,25,50}.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from vidlearn.data.annotations import read_annotations
from vidlearn.data.sources import is_video_file, load_records
from vidlearn.data.untrimmed import build_untrimmed
from vidlearn.predictors import load
from vidlearn.predictors.localization_eval import evaluate_localization, read_segments
from vidlearn.tasks.localization_metrics import TimedSegment, localization_metrics
from vidlearn.training.experiment import build_config
from vidlearn.training.localization import train_localization


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str(Path(__file__).resolve().parents[1].parent / "shared" / "data"))
    ap.add_argument("--out", default="runs/weizmann_loc")
    ap.add_argument("--config", default=str(Path(__file__).resolve().parents[1] / "configs" / "weizmann_localization.yaml"))
    ap.add_argument("--folds", default=None, help="comma-separated actors to hold out (default: all)")
    ap.add_argument("--set", action="append", default=[], help="config override key=value")
    args = ap.parse_args()
    data, out = Path(args.data), Path(args.out)
    ann = out / "untrimmed" / "annotations.csv"
    if not ann.is_file():
        records = load_records(data / "weizmann4" / "manifest.csv", group="actor")
        filler = sorted(p for p in (data / "clips").iterdir() if is_video_file(p) and "distorted" not in p.name)
        build_untrimmed(records, out / "untrimmed", filler=filler, seed=0)
    videos = read_annotations(ann)
    cfg = build_config(args.config, overrides=args.set)
    actors = [v.group for v in videos]
    chosen = args.folds.split(",") if args.folds else actors
    summary: dict = {"config": cfg.to_dict(), "folds": {}}
    truth, pred, durations = {}, {}, {}
    started = time.time()
    for actor in chosen:
        test = [v for v in videos if v.group == actor]
        train = [v for v in videos if v.group != actor]
        fold = out / "folds" / str(actor)
        t0 = time.time()
        result = train_localization(train, cfg, fold, val_videos=[], progress=False, echo=lambda m: None)
        model = load(result.artifact)
        m = evaluate_localization(model, test, fold / "eval_localization", data_name=f"actor {actor}")["video"]
        key = str(test[0].path)
        truth[key] = [TimedSegment(key, s.label, s.start, s.end) for s in test[0].segments]
        pred[key] = read_segments(fold / "eval_localization" / "segments.csv")
        durations[key] = test[0].duration
        summary["folds"][str(actor)] = {k: m[k] for k in ("mAP", "frame_accuracy", "edit", "F1")} | {"seconds": time.time() - t0}
        print(f"actor {actor}: mAP@0.5 {m['mAP']['0.5']:.3f} mAP@0.7 {m['mAP']['0.7']:.3f} F1@50 {m['F1']['50']:.3f} "
              f"frame acc {m['frame_accuracy']:.3f} ({time.time() - t0:.0f} s)", flush=True)
    pooled = localization_metrics(truth, pred, durations, model.class_names, background=cfg.task.background, fps=cfg.decode.fps)
    summary["pooled"] = pooled
    summary["seconds"] = time.time() - started
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=float))
    print(f"pooled over {len(chosen)} held-out actor(s): mAP@0.3 {pooled['mAP']['0.3']:.3f} mAP@0.5 {pooled['mAP']['0.5']:.3f} "
          f"mAP@0.7 {pooled['mAP']['0.7']:.3f} F1@50 {pooled['F1']['50']:.3f} edit {pooled['edit']:.3f} "
          f"frame acc {pooled['frame_accuracy']:.3f}; {summary['seconds']:.0f} s -> {out / 'summary.json'}")


if __name__ == "__main__":
    main()
