"""Shared fixtures: where the real data lives, and skipping with a reason when it does not."""

from __future__ import annotations

import os
from pathlib import Path

import pytest


def pytest_configure(config: pytest.Config) -> None:
    """Under pytest-xdist (`make test` runs `-n auto`), each worker gets its share of the cores for
    torch's intra-op threads, and so do the commands the tests start (OMP_NUM_THREADS is
    inherited): two workers each spinning two threads on two cores ran a training test 4x slower."""
    workers = int(os.environ.get("PYTEST_XDIST_WORKER_COUNT", "0") or 0)
    if workers > 1:
        import torch

        share = max(1, (len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1) // workers)
        os.environ["OMP_NUM_THREADS"] = str(share)
        torch.set_num_threads(share)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """The tests marked ``long`` run first (the order is otherwise kept): pytest-xdist hands each
    worker a contiguous part of the collection and idle workers steal from the others' tails, so
    a long test collected last left one core idle while it ran (about 1.5 min of a 10 min run)."""
    items.sort(key=lambda item: item.get_closest_marker("long") is None)

REPO = Path(__file__).resolve().parents[1]
SHARED_DATA = Path(__import__("os").environ.get("VIDLEARN_SHARED_DATA", REPO.parent / "shared" / "data"))
CLIPS = SHARED_DATA / "clips"
WEIZMANN = SHARED_DATA / "weizmann4"


@pytest.fixture(scope="session")
def clips_dir() -> Path:
    """../shared/data/clips: real clips in several containers (skip when absent)."""
    if not CLIPS.is_dir():
        pytest.skip(f"real clips not found at {CLIPS} (the shared data folder is absent)")
    return CLIPS


@pytest.fixture(scope="session")
def weizmann_dir() -> Path:
    """../shared/data/weizmann4: 36 labelled real videos (skip when absent)."""
    if not (WEIZMANN / "manifest.csv").is_file():
        pytest.skip(f"Weizmann data not found at {WEIZMANN} (the shared data folder is absent)")
    return WEIZMANN


def make_tune_study(n_complete: int = 8, *, seed: int = 0):
    """An in-memory Optuna study as `vidlearn tune` leaves it, built without training: completed
    trials over six parameters (with per-epoch values), a pruned one, a failed one with a long
    error and one that a killed search left interrupted."""
    import optuna
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution
    from optuna.trial import TrialState, create_trial

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    rng = __import__("random").Random(seed)
    dists = {
        "optim.lr": FloatDistribution(1e-4, 1e-1, log=True),
        "optim.weight_decay": FloatDistribution(0.0, 0.1),
        "model.name": CategoricalDistribution(["r2plus1d_tiny", "r3d_tiny"]),
        "sampling.num_frames": IntDistribution(4, 16, step=4),
        "transform.crop_size": IntDistribution(64, 112, step=16),
        "transform.scale_min": FloatDistribution(0.3, 0.9),
    }

    def params() -> dict:
        return {
            "optim.lr": 10 ** rng.uniform(-4, -1), "optim.weight_decay": rng.uniform(0, 0.1),
            "model.name": rng.choice(["r2plus1d_tiny", "r3d_tiny"]), "sampling.num_frames": rng.choice([4, 8, 12, 16]),
            "transform.crop_size": rng.choice([64, 80, 96, 112]), "transform.scale_min": rng.uniform(0.3, 0.9),
        }

    study = optuna.create_study(direction="maximize", study_name="vidlearn")
    study.set_user_attr("task", "classification")
    for _ in range(n_complete):
        curve = sorted(rng.uniform(0.2, 0.9) for _ in range(3))
        study.add_trial(create_trial(params=params(), distributions=dists, value=curve[-1],
                                     intermediate_values=dict(enumerate(curve))))
    study.add_trial(create_trial(params=params(), distributions=dists, state=TrialState.PRUNED, intermediate_values={0: 0.1}))
    study.add_trial(create_trial(params=params(), distributions=dists, state=TrialState.FAIL,
                                 user_attrs={"error": "VideoError: " + "a very long reason without spaces/" * 12}))
    study.add_trial(create_trial(params=params(), distributions=dists, state=TrialState.FAIL, user_attrs={"interrupted": True}))
    return study


@pytest.fixture(scope="session")
def tune_study():
    """`make_tune_study`, for tests that need a finished search without running one."""
    return make_tune_study
