"""Cross-validation on Lightning (``vidlearn train --cv``): every fold trained for the configured
epochs on its training part and tested once on its held-out part; mean ± std, the pooled
confusion matrix, the CV report; a deadline shared among the folds still to run."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import numpy as np

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import VideoRecord
from vidlearn.fsutil import safe_name
from vidlearn.progress import Echo
from vidlearn.training.fit import fit
from vidlearn.training.prepare import prepare_config

__all__ = ["cross_validate", "finished_fold"]


def cross_validate(
    records: list[VideoRecord],
    cfg: ExperimentConfig,
    run_dir: str | Path,
    *,
    cv: str,
    devices: int | str = 1,
    resume: bool = False,
    progress: bool = True,
    echo: Echo = print,
    deadline: float | None = None,
    plan: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Train and evaluate every fold of `cv` ("kfold:K" or "leave-one-group-out"); each fold is
    trained for the configured epochs on its training part and tested once on its held-out part
    (no model selection on the test fold). Writes cv_metrics.json and the pooled confusion matrix.

    `deadline` (a `time.time()` value) bounds the whole run: the time left is shared among the
    folds still to run, and each fold's training stops early when it would leave too little for
    its evaluation (measured on the folds before; the plan's estimate for the first)."""
    from vidlearn.data.splits import parse_cv
    from vidlearn.tasks.metrics import summarize_folds, write_metrics

    run = Path(run_dir)
    protocol = parse_cv(cv, seed=cfg.optim.seed)
    folds = protocol.splits(records)
    cfg = prepare_config(cfg, records)  # classes from all data: every fold has the same head
    per_fold = []
    after_training = _post_training_estimate(plan, len(folds))
    for i, fold in enumerate(folds, start=1):
        fold_dir = run / "folds" / safe_name(fold.name)
        done = finished_fold(fold_dir, "eval", resume=resume, echo=echo, label=f"[{i}/{len(folds)}] {fold.name}")
        if done is not None:
            per_fold.append(done)
            continue
        echo(f"[{i}/{len(folds)}] {fold.name}: train {len(fold.train)}, test {len(fold.test)}")
        until = None
        first_pass = _first_pass_estimate(plan) if i == 1 else 0.0  # the first fold fills the cache for all
        if deadline is not None:
            fold_started = time.time()
            share = (deadline - _CV_RESERVE_S - fold_started - first_pass) / (len(folds) - i + 1)
            until = fold_started + first_pass + share - after_training
        res = fit(fold.train, cfg, fold_dir, eval_records=fold.test, devices=devices, resume=resume, progress=progress, echo=echo,
                  train_until=until, plan=plan)
        if deadline is not None:  # what this fold spent around its training loop: the estimate for the next
            after_training = max(1.0, (time.time() - fold_started) - res.train_seconds - first_pass)
        if res.metrics is None:
            continue
        per_fold.append(res.metrics)
        m = res.metrics["video"]
        echo(f"    {fold.name}: " + (f"video accuracy {m['accuracy']:.3f}" if "accuracy" in m
                                  else f"video mAP {m['map'] or 0:.3f}" if "map" in m else f"video MAE {m['mae']:.3f}"))
    summary = {
        "protocol": str(protocol),
        "video": summarize_folds([f["video"] for f in per_fold]),
        "clip": summarize_folds([f["clip"] for f in per_fold]),
        "folds": [f.name for f in folds],
    }
    write_metrics(run / "cv_metrics.json", summary)
    if "confusion_matrix" in summary["video"]:
        from vidlearn.tasks.plots import plot_confusion_matrix

        plot_confusion_matrix(np.asarray(summary["video"]["confusion_matrix"]), cfg.task.classes, run / "cv_confusion.png")
    from vidlearn.reports import (
        write_cv_report,  # report.html beside cv_metrics.json; a failure only warns
    )

    if plan is not None:
        import json

        from vidlearn.fsutil import atomic_write_text

        atomic_write_text(run / "plan.json", json.dumps(plan, indent=2, default=str))
    from vidlearn.reports.plan_section import plan_section

    write_cv_report(run, summary, folds={f.name: run / "folds" / safe_name(f.name) for f in folds}, config=cfg, echo=echo,
                    sections=[plan_section(plan)] if plan is not None else None,
                    info={"model": cfg.model.name, **({"weights": cfg.model.weights} if cfg.model.weights else {}),
                          **({"preprocessing from the weights": ", ".join(cfg.model.from_weights)} if cfg.model.from_weights else {})})
    return summary



def finished_fold(fold_dir: Path, eval_dir: str, *, resume: bool, echo: Echo, label: str) -> dict[str, Any] | None:
    """With ``resume``, the metrics of a cross-validation fold that a run before finished (its
    model saved and ``fold_dir/eval_dir/metrics.json`` written), said as "LABEL: already done";
    else None: the fold is (re)run."""
    import json

    done = fold_dir / eval_dir / "metrics.json"
    if not (resume and done.is_file() and (fold_dir / "model").is_dir()):
        return None
    echo(f"{label}: already done")
    return json.loads(done.read_text())


_CV_RESERVE_S = 3.0  # the summary, the pooled confusion matrix and the CV report after the last fold


def _post_training_estimate(plan: dict[str, Any] | None, n_folds: int) -> float:
    """Seconds a fold spends outside its training loop (set-up, features, evaluation, artifact,
    report), before one was measured: the plan's estimate, else a guess of 5 s."""
    if not plan or not plan.get("breakdown"):
        return 5.0
    b = plan["breakdown"]
    outside = sum(v for k, v in b.items() if k not in ("training", "first pass (decode/features)"))
    return float(outside) / max(1, n_folds)


def _first_pass_estimate(plan: dict[str, Any] | None) -> float:
    """The plan's estimate of decoding (or encoding) every video once, which the first fold pays."""
    return float((plan or {}).get("breakdown", {}).get("first pass (decode/features)", 0.0))
