"""Training checkpoints: written atomically (`AtomicCheckpointIO`: a temp file beside the target,
fsync, rename, so a full disk never leaves a truncated ``last.ckpt``), and checked before a
resumed run starts from one (`resume_from`): a
checkpoint is only ever read with ``torch.load(weights_only=True)`` (no code runs), must hold the
module's tensors with their shapes and whole epoch/step counters. A damaged ``last.ckpt`` (a
full disk, a killed copy, a file from elsewhere) falls back to ``best.ckpt`` when that one is
sound, and says so; with neither, one line names the file and the reason."""

from __future__ import annotations

import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from lightning.fabric.plugins.io.torch_io import TorchCheckpointIO

from vidlearn.errors import ArtifactError, ConfigError, listed
from vidlearn.fsutil import atomic_open
from vidlearn.progress import Echo

__all__ = ["AtomicCheckpointIO", "checkpoint_problem", "claim_run_dir", "prepare_run_dir", "resume_from"]

# what a training run (one model, or cross-validation) writes into its folder
_RUN_ENTRIES = ("config.yaml", "checkpoints", "model", "logs", "eval", "folds", "cv_metrics.json")


def claim_run_dir(run: Path, *, resume: bool, overwrite: bool, wait_s: float = 300.0) -> None:
    """`prepare_run_dir` once per launch: under torchrun only local rank 0 checks (and on
    --overwrite removes) the folder, and the other ranks wait until it has, so that no rank writes
    into the folder before the check sees it (a rank that ran ahead made rank 0 refuse its own run)."""
    rank, launch = os.environ.get("LOCAL_RANK"), os.environ.get("TORCHELASTIC_RUN_ID")
    if launch is None:  # one process, or Lightning's own DDP launcher: its ranks > 0 start after rank 0 checked
        if rank in (None, "0"):
            prepare_run_dir(run, resume=resume, overwrite=overwrite)
        return
    key = hashlib.sha1(f"{launch}:{os.path.realpath(run)}".encode()).hexdigest()[:16]
    marker = Path(tempfile.gettempdir()) / f"vidlearn-run-checked-{key}"  # one zero-byte file a launch
    if rank == "0":
        if not marker.exists():  # checked once a launch (the planned path comes here twice)
            prepare_run_dir(run, resume=resume, overwrite=overwrite)
            marker.touch()
        return
    deadline = time.monotonic() + wait_s
    while not marker.exists():  # torchrun stops this rank if rank 0 refused the folder
        if time.monotonic() > deadline:
            raise ConfigError(f"--out {run}: rank 0 did not check the run folder within {wait_s:.0f} s")
        time.sleep(0.1)


def prepare_run_dir(run: Path, *, resume: bool, overwrite: bool) -> None:
    """A run folder that exists is never silently replaced: it is continued (``resume``), replaced
    (``overwrite``: removed first, only when it is a vidlearn run) or refused (ConfigError)."""
    if resume and overwrite:
        raise ConfigError("--resume continues a run and --overwrite replaces it: give one of them")
    if not run.exists() or resume:
        return
    if not run.is_dir():
        raise ConfigError(f"--out {run}: is a file, not a run folder")
    entries = sorted(p.name for p in run.iterdir())
    if not entries:
        return
    if not any(e in _RUN_ENTRIES for e in entries):
        raise ConfigError(f"--out {run}: a folder that is not a vidlearn run (it holds {listed(entries, 3)}); "
                          "give a new folder")
    if not overwrite:
        raise ConfigError(f"--out {run}: a run exists there; give --resume to continue it or --overwrite to replace it")
    shutil.rmtree(run)


class AtomicCheckpointIO(TorchCheckpointIO):
    """Lightning's checkpoint writer, but atomic on a local disk: Lightning's own stages the file
    through fsspec, whose local temp file may sit on another file system, so a full disk left a
    partial file at the final path."""

    def save_checkpoint(self, checkpoint: dict[str, Any], path: Any, storage_options: Any | None = None) -> None:
        if storage_options is not None:
            raise TypeError("AtomicCheckpointIO.save_checkpoint takes no storage_options")
        target = Path(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        with atomic_open(target, "wb") as fh:
            torch.save(checkpoint, fh)


def checkpoint_problem(path: Path, module: nn.Module) -> str | None:
    """Why ``path`` cannot resume ``module`` (None: it can)."""
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to read means "not a usable checkpoint"
        text = str(exc).strip().splitlines()
        return f"not a readable checkpoint ({text[0] if text else type(exc).__name__})"
    if not isinstance(obj, dict) or not isinstance(obj.get("state_dict"), dict):
        return "not a Lightning checkpoint (no state_dict)"
    state = obj["state_dict"]
    if not all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()):
        return "its state_dict is not a mapping of names to tensors"
    own = module.state_dict()
    missing = sorted(set(own) - set(state))
    unexpected = sorted(set(state) - set(own))
    if missing or unexpected:
        first = (missing or unexpected)[0]
        return f"does not match the model ({'missing' if missing else 'unexpected'} {first})"
    wrong = next((k for k, v in own.items() if tuple(state[k].shape) != tuple(v.shape)), None)
    if wrong is not None:
        return f"does not match the model ({wrong}: {tuple(state[wrong].shape)} vs {tuple(own[wrong].shape)})"
    if not isinstance(obj.get("epoch"), int) or not isinstance(obj.get("global_step"), int):
        return "has no whole epoch and step counters"
    return None


def resume_from(ckpt_dir: Path, module: nn.Module, echo: Echo) -> str | None:
    """The checkpoint to resume from: ``last.ckpt``, else a sound ``best.ckpt`` (said), else None
    when the run has none. Raises ArtifactError naming the damaged file when no checkpoint is sound."""
    last, best = ckpt_dir / "last.ckpt", ckpt_dir / "best.ckpt"
    if not last.is_file():
        echo(f"no checkpoint at {last}: starting from scratch")
        return None
    problem = checkpoint_problem(last, module)
    if problem is None:
        echo(f"resuming from {last}")
        return str(last)
    if best.is_file() and checkpoint_problem(best, module) is None:
        echo(f"{last}: {problem}; resuming from {best} instead")
        return str(best)
    raise ArtifactError(last, f"{problem}; delete it (and best.ckpt) or run without --resume")
