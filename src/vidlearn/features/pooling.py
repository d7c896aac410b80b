"""Temporal pooling: turn per-frame (or per-frame-pair) descriptors into one fixed-length vector.

A descriptor sequence is an array ``(N, D)``: N time steps (frames, or consecutive frame pairs for
motion), D named descriptor values. :class:`TemporalPooling` reduces it to ``D * K`` values, where
K is the number of pooled statistics, and names each one ``"<descriptor>.<pool>"``:

- ``mean``, ``std``, ``min``, ``max``: over all N steps (``std`` is the population std, 0 for N=1);
- ``pyr<L>_<i>`` (``i`` = 1..L): the mean over the i-th of L equal consecutive segments (temporal
  pyramid level L). Pyramid level 1 *is* the whole-video mean and is the ``mean`` column.

Columns are grouped by descriptor, then by pool: ``a.mean, a.std, a.pyr2_1, a.pyr2_2, b.mean, ...``.
With N = 0 (e.g. motion of a 1-frame video) every pooled value is 0. A pyramid segment that would be
empty (N < L) takes the frame nearest to it, so every column is defined for any N >= 1.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from vidlearn.errors import ConfigError

__all__ = ["STATS", "TemporalPooling"]

STATS: tuple[str, ...] = ("mean", "std", "min", "max")


class TemporalPooling:
    """Pool ``(N, D)`` descriptor sequences with statistics and a temporal pyramid.

    Args:
        stats: statistics over the whole sequence, a subset of ``mean, std, min, max``.
        pyramid: temporal pyramid levels; level 1 is the whole-sequence mean (column ``mean``),
            level L >= 2 adds L segment means ``pyrL_1 .. pyrL_L``.
    """

    def __init__(self, stats: Sequence[str] = ("mean", "std"), pyramid: Sequence[int] = (1, 2)) -> None:
        stats = tuple(stats)
        pyramid = tuple(int(level) for level in pyramid)
        for stat in stats:
            if stat not in STATS:
                raise ConfigError(f"features.stats: unknown statistic {stat!r}; choose from {', '.join(STATS)}")
        for level in pyramid:
            if level < 1:
                raise ConfigError(f"features.pyramid: level must be >= 1, got {level}")
        names: list[str] = []
        for stat in stats:
            if stat not in names:
                names.append(stat)
        for level in pyramid:
            if level == 1:
                if "mean" not in names:
                    names.append("mean")
            else:
                names.extend(f"pyr{level}_{i}" for i in range(1, level + 1) if f"pyr{level}_{i}" not in names)
        if not names:
            raise ConfigError("features.stats/pyramid: pooling needs at least one statistic or pyramid level")
        self.stats = stats
        self.pyramid = pyramid
        self.pool_names: list[str] = names

    def __repr__(self) -> str:
        return f"TemporalPooling(stats={self.stats!r}, pyramid={self.pyramid!r})"

    def columns(self, descriptor_names: Sequence[str]) -> list[str]:
        """Pooled column names for descriptors ``descriptor_names`` (grouped by descriptor)."""
        return [f"{name}.{pool}" for name in descriptor_names for pool in self.pool_names]

    def __call__(self, values: np.ndarray) -> np.ndarray:
        """Pool ``values`` ``(N, D)`` to a float32 vector ``(D * len(pool_names),)``."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2:
            raise ValueError(f"pooling expects an (N, D) array, got shape {values.shape}")
        n, d = values.shape
        if n == 0:
            return np.zeros(d * len(self.pool_names), dtype=np.float32)
        pooled = np.empty((len(self.pool_names), d), dtype=np.float64)
        for k, name in enumerate(self.pool_names):
            pooled[k] = self._pool_one(values, name)
        out = pooled.T.reshape(-1)
        return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)

    @staticmethod
    def _pool_one(values: np.ndarray, name: str) -> np.ndarray:
        if name == "mean":
            return values.mean(axis=0)
        if name == "std":
            return values.std(axis=0)
        if name == "min":
            return values.min(axis=0)
        if name == "max":
            return values.max(axis=0)
        level_s, index_s = name[3:].split("_")
        level, index = int(level_s), int(index_s) - 1
        n = values.shape[0]
        start = (index * n) // level
        stop = ((index + 1) * n) // level
        if stop <= start:  # fewer steps than segments: use the step nearest to the segment
            start = min(int((index + 0.5) * n / level), n - 1)
            stop = start + 1
        return values[start:stop].mean(axis=0)
