"""Loading batches: `make_loader` (a DataLoader whose epoch sampler and seeded workers keep a run reproducible whatever the number of workers), `EpochSampler`, and `collate_skip_bad` (drops the samples of unreadable videos; None for a batch with none left)."""

from __future__ import annotations

import random
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np
import torch
from torch.utils.data import (
    DataLoader,
    Dataset,
    Sampler,
    default_collate,
)


def collate_skip_bad(batch: Sequence[dict[str, Any] | None]) -> dict[str, Any] | None:
    """Collate the good samples of a batch (``None`` = a skipped bad video); None when none is
    left -- the loop then skips the batch (see the module docs)."""
    good = [b for b in batch if b is not None]
    if not good:
        return None
    return default_collate(good)


class EpochSampler(Sampler[int]):
    """Indices of an epoch: shuffled from ``(seed, epoch)`` or in order.

    The epoch is the dataset's (a :class:`ClipDataset`): ``set_epoch`` here or on the dataset
    chooses it (Lightning calls the sampler's every epoch); when nobody set it since the last
    iteration, iterating again moves on to the next epoch, so a plain ``for epoch ...: for batch
    in loader`` loop gets new clips every epoch. Without a dataset it counts epochs itself."""

    def __init__(self, size: int, *, shuffle: bool, seed: int, dataset: Any | None = None) -> None:
        self.size = int(size)
        self.shuffle = bool(shuffle)
        self.seed = int(seed)
        self.dataset = dataset if dataset is not None and hasattr(dataset, "epoch_state") else None
        self._next_epoch = 0
        self._last: tuple[int, int] | None = None  # (epoch, set count) of the last iteration

    def set_epoch(self, epoch: int) -> None:
        if self.dataset is not None:
            self.dataset.set_epoch(epoch)
        else:
            self._next_epoch = int(epoch)

    def __len__(self) -> int:
        return self.size

    def _epoch(self) -> int:
        if self.dataset is None:
            epoch, self._next_epoch = self._next_epoch, self._next_epoch + 1
            return epoch
        epoch, sets = self.dataset.epoch_state()
        if self._last is not None and self._last[1] == sets:  # not set since the last iteration
            epoch = self._last[0] + 1
            self.dataset._advance_epoch(epoch)  # before any index of this epoch reaches a worker
        self._last = (epoch, sets)
        return epoch

    def __iter__(self) -> Iterator[int]:
        epoch = self._epoch()
        if self.shuffle:
            order = np.random.default_rng([self.seed % 2**63, epoch]).permutation(self.size)
        else:
            order = np.arange(self.size)
        yield from order.tolist()


def _seed_worker(worker_id: int) -> None:  # noqa: ARG001 - DataLoader's signature
    """Seed numpy and random in a worker from torch's per-worker seed (itself from the loader's
    generator), for code that uses the global generators."""
    s = torch.initial_seed() % 2**32
    np.random.seed(s)
    random.seed(s)


def make_loader(
    dataset: Dataset,
    *,
    batch_size: int,
    shuffle: bool,
    num_workers: int,
    seed: int,
    drop_last: bool = False,
    pin_memory: bool = False,
) -> DataLoader:
    """A DataLoader that skips bad videos (:func:`collate_skip_bad`: a batch may be None), with
    reproducible order (from ``seed`` and the epoch), seeded and persistent workers."""
    sampler = EpochSampler(len(dataset), shuffle=shuffle, seed=seed, dataset=dataset)  # type: ignore[arg-type]
    gen = torch.Generator()
    gen.manual_seed(int(seed) % 2**63)
    extra: dict[str, Any] = {}
    if num_workers > 0:
        extra = {"persistent_workers": True, "worker_init_fn": _seed_worker}
    return DataLoader(
        dataset,
        batch_size=batch_size,
        sampler=sampler,
        num_workers=num_workers,
        collate_fn=collate_skip_bad,
        drop_last=drop_last,
        generator=gen,
        pin_memory=pin_memory,
        **extra,
    )
