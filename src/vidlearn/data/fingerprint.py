"""A dataset's fingerprint: what the records say (count, classes and their balance, or the target's
range, groups) and what a bounded probe of a sample of the videos says (durations, native sizes and
frame rates, audio), with the files that could not be probed counted and named.

Probing is bounded: at most ``max_probe`` videos are opened (container headers only, no frame is
decoded), drawn with a seeded generator round-robin over the classes (or the groups), so every
class is seen and the cost does not grow with the dataset (64 probes take ~1 s here whether there
are 36 videos or 100,000). The planner (:mod:`vidlearn.planning`) reads it; ``vidlearn features``
uses :func:`native_decode` to avoid upscaling.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from vidlearn.data.records import VideoRecord
from vidlearn.errors import VidlearnError

__all__ = ["DataFingerprint", "Spread", "fingerprint_records", "native_decode", "sample_for_probe"]

MAX_PROBE = 64


@dataclass(frozen=True)
class Spread:
    """min / median / max of a quantity over the probed videos (None when none was probed)."""

    min: float
    median: float
    max: float

    @classmethod
    def of(cls, values: Sequence[float]) -> "Spread | None":
        if not len(values):
            return None
        v = np.asarray(values, dtype=float)
        return cls(float(v.min()), float(np.median(v)), float(v.max()))


@dataclass(frozen=True)
class DataFingerprint:
    """What the planner knows about a dataset (see the module docs for how it is sampled)."""

    n_videos: int
    task: str
    classes: dict[str, int] = field(default_factory=dict)
    target_range: tuple[float, float] | None = None
    target_mean: float | None = None
    target_std: float | None = None
    n_groups: int = 0
    probed: int = 0
    sampling: str = ""
    duration: Spread | None = None
    short_side: Spread | None = None
    fps: Spread | None = None
    frames: Spread | None = None
    audio_fraction: float = 0.0
    bad: list[tuple[str, str]] = field(default_factory=list)

    @property
    def imbalance(self) -> float:
        """Largest class count over smallest (1.0: balanced; 0 for regression)."""
        if not self.classes:
            return 0.0
        counts = list(self.classes.values())
        return max(counts) / max(1, min(counts))

    def to_dict(self) -> dict[str, Any]:
        """JSON-compatible dict."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> "DataFingerprint":
        """The inverse of `to_dict`."""
        d = dict(data)
        for key in ("duration", "short_side", "fps", "frames"):
            if d.get(key) is not None:
                d[key] = Spread(**d[key])
        if d.get("target_range") is not None:
            d["target_range"] = tuple(d["target_range"])
        d["bad"] = [tuple(b) for b in d.get("bad", [])]
        return cls(**d)


def sample_for_probe(records: Sequence[VideoRecord], max_probe: int = MAX_PROBE, *, seed: int = 0) -> list[int]:
    """Indices of at most `max_probe` records: shuffled (seeded) within each class (or group, for
    unlabelled/regression data), then taken round-robin over the strata, so that every stratum
    is represented before any gets a second video."""
    n = len(records)
    if n <= max_probe:
        return list(range(n))
    rng = np.random.default_rng(seed)
    strata: dict[Any, list[int]] = defaultdict(list)
    for i, r in enumerate(records):
        key = r.target if isinstance(r.target, str) else r.group
        strata[key].append(i)
    queues = [list(rng.permutation(idx)) for _, idx in sorted(strata.items(), key=lambda kv: str(kv[0]))]
    out: list[int] = []
    while len(out) < max_probe:
        for q in queues:
            if q and len(out) < max_probe:
                out.append(int(q.pop()))
    return sorted(out)


def fingerprint_records(records: Sequence[VideoRecord], *, task: str = "classification", max_probe: int = MAX_PROBE,
                        seed: int = 0) -> DataFingerprint:
    """The fingerprint of `records`: counts from all of them, video properties from a probe of at
    most `max_probe` (see `sample_for_probe`); a file that cannot be probed is listed in ``bad``
    with the reason, not raised."""
    from vidlearn.io.probe import probe

    records = list(records)
    classes: dict[str, int] = {}
    target_range = target_mean = target_std = None
    if task == "classification":
        classes = dict(sorted(Counter(str(r.target) for r in records if r.target is not None).items()))
    else:
        values = [float(r.target) for r in records if isinstance(r.target, (int, float))]
        if values:
            target_range = (float(min(values)), float(max(values)))
            target_mean, target_std = float(np.mean(values)), float(np.std(values))
    groups = {r.group for r in records if r.group is not None}
    picked = sample_for_probe(records, max_probe, seed=seed)
    durations, sides, rates, frames, audio = [], [], [], [], 0
    bad: list[tuple[str, str]] = []
    for i in picked:
        r = records[i]
        try:
            info = probe(r.path, count_frames=False)
        except VidlearnError as exc:
            bad.append((str(r.path), getattr(exc, "reason", None) or str(exc)))
            continue
        span = info.duration
        if r.end is not None or r.start is not None:
            span = min(info.duration, r.end if r.end is not None else info.duration) - (r.start or 0.0)
        if not np.isfinite(span) or span <= 0 or info.fps <= 0:
            bad.append((str(r.path), f"no usable duration or frame rate (duration {info.duration}, fps {info.fps})"))
            continue
        durations.append(span)
        sides.append(min(info.display_size))
        rates.append(info.fps)
        frames.append(span * info.fps)
        audio += bool(info.has_audio)
    ok = len(durations)
    how = (f"all {len(records)} video(s) probed" if len(picked) == len(records) else
           f"{len(picked)} of {len(records)} video(s) probed: a seeded sample (seed {seed}), round-robin over the "
           f"{'classes' if task == 'classification' else 'groups'}, headers only")
    return DataFingerprint(
        n_videos=len(records), task=task, classes=classes, target_range=target_range, target_mean=target_mean,
        target_std=target_std, n_groups=len(groups), probed=len(picked), sampling=how, duration=Spread.of(durations),
        short_side=Spread.of(sides), fps=Spread.of(rates), frames=Spread.of(frames),
        audio_fraction=(audio / ok) if ok else 0.0, bad=bad,
    )


def native_decode(records: Sequence[VideoRecord], *, fps: float, short_side: int, max_probe: int = 16,
                  seed: int = 0) -> tuple[float, int, str]:
    """(fps, short side, reason): the given defaults, lowered to the smallest native frame rate and
    short side of a probed sample when those are below them, so that nothing is upscaled or
    resampled to more frames than the file has."""
    fp = fingerprint_records(records, task="regression" if not any(isinstance(r.target, str) for r in records) else "classification",
                             max_probe=max_probe, seed=seed)
    if fp.short_side is None or fp.fps is None:
        return fps, short_side, "no video could be probed; the defaults are kept"
    side = min(short_side, int(fp.short_side.min))
    rate = min(fps, round(fp.fps.min, 3))
    notes = []
    if side < short_side:
        notes.append(f"short side {side} px (native; the default {short_side} would upscale)")
    if rate < fps:
        notes.append(f"{rate:g} fps (native; the default {fps:g} is above the files' rate)")
    return rate, side, "; ".join(notes)
