"""The machine's fingerprint: CPU cores, memory, GPUs and their memory (through torch.cuda when
present), the free disk measured where the cache lives, and which pretrained weights are at hand
(the ImageNet frame encoder's package, downloaded catalogue entries)."""

from __future__ import annotations

import os
import shutil
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

__all__ = ["MachineFingerprint", "fingerprint_machine"]


@dataclass(frozen=True)
class MachineFingerprint:
    """What the planner knows about the machine it plans for."""

    cores: int
    memory_bytes: int
    gpus: list[tuple[str, int]] = field(default_factory=list)  # (name, total memory in bytes)
    cache_dir: str = ""
    free_disk_bytes: int | None = None
    frame_encoder: bool = False  # ImageNet EfficientNet-Lite0 weights installed
    video_weights: list[str] = field(default_factory=list)  # catalogue entries downloaded here

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "MachineFingerprint":
        """The inverse of `to_dict`."""
        d = dict(data)
        d["gpus"] = [tuple(g) for g in d.get("gpus", [])]
        return cls(**d)


def _cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        return os.cpu_count() or 1


def _memory() -> int:
    try:
        return int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES"))
    except (ValueError, OSError, AttributeError):
        return 0


def _free_disk(path: Path) -> int | None:
    """Free bytes on the file system that holds `path` (its nearest existing parent)."""
    p = path
    while not p.exists() and p != p.parent:
        p = p.parent
    try:
        return int(shutil.disk_usage(p).free)
    except OSError:
        return None


def fingerprint_machine(cache_dir: str | Path | None = None) -> MachineFingerprint:
    """Measure this machine; `cache_dir` is where decoded frames/features will go (default: as
    `vidlearn.clips.build_cache` picks it)."""
    import torch

    root = Path(cache_dir or os.environ.get("VIDLEARN_CACHE") or Path.home() / ".cache" / "vidlearn" / "frames").expanduser()
    gpus: list[tuple[str, int]] = []
    if torch.cuda.is_available():
        for i in range(torch.cuda.device_count()):
            props = torch.cuda.get_device_properties(i)
            gpus.append((str(props.name), int(props.total_memory)))
    from vidlearn.models.download import find_weights
    from vidlearn.models.efficientnet_lite import efficientnet_lite0_weights_path
    from vidlearn.models.weights import list_weights
    from vidlearn.errors import VidlearnError

    try:
        efficientnet_lite0_weights_path()
        encoder = True
    except VidlearnError:
        encoder = False
    present = [w.name for w in list_weights() if find_weights(w) is not None]
    return MachineFingerprint(cores=_cores(), memory_bytes=_memory(), gpus=gpus, cache_dir=str(root),
                              free_disk_bytes=_free_disk(root), frame_encoder=encoder, video_weights=present)
