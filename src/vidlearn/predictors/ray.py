"""Batch prediction on a Ray cluster: one model copy per CPU (an ActorPool, each actor builds its
predictor once from a picklable factory), one video per call; the predictions come back in input
order, bad videos as ``(path, reason)``, exactly as without Ray (see `vidlearn.scale`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import torch

from vidlearn.errors import DivergedModelError, VidlearnError
from vidlearn.predictors.base import Prediction, Predictor
from vidlearn.progress import progress_bar
from vidlearn.scale import cluster_cpus, connect

__all__ = ["predict_on_ray"]


class _PredictorActor:
    """A model loaded once per Ray worker; predicts one video per call."""

    def __init__(self, factory: Callable[[], Predictor]) -> None:
        torch.set_num_threads(1)
        self.predictor = factory()

    def predict(self, index: int, path: str, top_k: int) -> tuple[int, dict[str, Any] | None, str | None, bool]:
        """(index, the prediction or None, why not, whether the model itself failed)."""
        try:
            return index, self.predictor.predict_video(path, top_k=top_k).to_dict(), None, False
        except DivergedModelError as exc:  # the model's problem: the driver stops, as a local run does
            return index, None, str(exc), True
        except VidlearnError as exc:
            return index, None, exc.reason, False


def predict_on_ray(factory: Callable[[], Predictor], paths: Sequence[str | Path], *, address: str, top_k: int = 1,
                   actors: int | None = None, progress: bool = False) -> tuple[list[Prediction], list[tuple[str, str]]]:
    """Predict ``paths`` with ``actors`` predictors made by ``factory`` (default: one per cluster
    CPU, at most one per video); returns the predictions in input order and the ``(path, reason)``
    of bad videos."""
    import ray
    from ray.util import ActorPool

    connect(address)
    items = [str(p) for p in paths]
    n = max(1, min(actors or cluster_cpus(), len(items)))
    actor_cls = ray.remote(num_cpus=1)(_PredictorActor)
    pool = ActorPool([actor_cls.remote(factory) for _ in range(n)])
    done: dict[int, tuple[dict[str, Any] | None, str | None]] = {}
    with progress_bar(total=len(items), desc="predict", unit="video", enabled=progress) as bar:
        for i, pred, reason, fatal in pool.map_unordered(lambda a, job: a.predict.remote(*job, top_k), list(enumerate(items))):
            if fatal:
                raise DivergedModelError(str(reason))
            done[i] = (pred, reason)
            bar.update(1)
    preds, skipped = [], []
    for i, p in enumerate(items):
        pred, reason = done[i]
        if pred is None:
            skipped.append((p, str(reason)))
        else:
            top = [(t["label"], float(t["score"])) for t in pred.get("top_k", [])]
            preds.append(Prediction(path=p, label=pred.get("label"), score=pred.get("score"), top_k=top, value=pred.get("value")))
    return preds, skipped
