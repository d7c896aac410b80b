"""Train/validation/test splits and cross-validation over records (scikit-learn underneath).

Group-aware by default: when records carry a group (actor, patient, UCF101 ``gNN``), no group
ever appears on both sides of a split. Stratified by class as far as the groups allow.
"""

from __future__ import annotations

import re
import warnings
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from sklearn.model_selection import (
    GroupKFold,
    GroupShuffleSplit,
    KFold,
    LeaveOneGroupOut,
    ShuffleSplit,
    StratifiedGroupKFold,
    StratifiedKFold,
    StratifiedShuffleSplit,
)

from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DataSourceError

__all__ = [
    "SplitError",
    "CVSpecError",
    "Split",
    "Fold",
    "CrossValidation",
    "train_val_test_split",
    "kfold",
    "leave_one_group_out",
    "parse_cv",
]

Records = Sequence[VideoRecord]


class SplitError(DataSourceError, ValueError):
    """The records cannot be split as asked (missing groups, too few groups or videos)."""


class CVSpecError(ConfigError, ValueError):
    """A cross-validation spec string that cannot be parsed."""


class Split(NamedTuple):
    """A three-way split; ``test`` (and ``val``) may be empty."""

    train: list[VideoRecord]
    val: list[VideoRecord]
    test: list[VideoRecord]


class Fold(NamedTuple):
    """One cross-validation fold: a name ("fold1", or the held-out group), train and test records."""

    name: str
    train: list[VideoRecord]
    test: list[VideoRecord]


# ---- helpers -------------------------------------------------------------------------------


def _groups(records: Records, protocol: str, *, required: bool) -> np.ndarray | None:
    """Group labels, None when no record has one (and none are required); partial groups fail."""
    missing = [r for r in records if r.group is None]
    if not missing:
        return np.array([str(r.group) for r in records], dtype=object)
    if len(missing) == len(records) and not required:
        return None
    names = ", ".join(r.name for r in missing[:5]) + (" ..." if len(missing) > 5 else "")
    hint = "give a group column (e.g. --group actor)" if required else "give every record a group or none"
    raise SplitError(protocol, [f"{len(missing)} of {len(records)} records have no group ({names}); {hint}"])


def _strata(records: Records, stratify: bool) -> np.ndarray | None:
    """Class labels for stratification, or None (not asked, regression or unlabelled data)."""
    if not stratify or not records or not all(isinstance(r.target, str) for r in records):
        return None
    return np.array([r.target for r in records], dtype=object)


def _pick(records: Records, idx: np.ndarray) -> list[VideoRecord]:
    return [records[i] for i in sorted(int(i) for i in idx)]


def _check_fraction(name: str, value: float) -> None:
    if not 0.0 <= value < 1.0:
        raise ValueError(f"{name} must be in [0, 1), got {value}")


def _holdout(
    records: Records, fraction: float, *, seed: int, stratify: bool, group_aware: bool, protocol: str
) -> tuple[np.ndarray, np.ndarray]:
    """Indices (keep, held_out) with about ``fraction`` of the records held out."""
    n = len(records)
    index = np.arange(n)
    if fraction == 0.0:
        return index, index[:0]
    groups = _groups(records, protocol, required=False) if group_aware else None
    y = _strata(records, stratify)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        if groups is not None:
            n_groups = len(set(groups))
            if n_groups < 2:
                raise SplitError(protocol, [f"need at least 2 groups to hold out {fraction:.0%}, found {n_groups}"])
            if y is not None:
                k = int(min(max(2, round(1.0 / fraction)), n_groups))
                cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
                folds = [test for _, test in cv.split(index, y, groups)]
                best = min(folds, key=lambda t: abs(len(t) - fraction * n))
                return np.setdiff1d(index, best), best
            shuffle = GroupShuffleSplit(n_splits=1, test_size=fraction, random_state=seed)
            return next(shuffle.split(index, groups=groups))
        if n < 2:
            raise SplitError(protocol, [f"need at least 2 videos to hold out {fraction:.0%}, found {n}"])
        if y is not None:
            try:
                return next(StratifiedShuffleSplit(n_splits=1, test_size=fraction, random_state=seed).split(index, y))
            except ValueError:
                pass  # a class with one video, or fewer held-out videos than classes
        return next(ShuffleSplit(n_splits=1, test_size=fraction, random_state=seed).split(index))


# ---- public API ---------------------------------------------------------------------------


def train_val_test_split(
    records: Records,
    *,
    val: float = 0.2,
    test: float = 0.0,
    seed: int = 0,
    stratify: bool = True,
    group_aware: bool = True,
) -> Split:
    """Split into train/val/test with about ``val`` and ``test`` of the records held out.

    With groups (and ``group_aware``) no group is in two parts; class proportions are kept
    as far as the groups allow (fractions are then rounded to whole folds of groups).
    Records without any group are split individually; some with and some without is an error.
    """
    _check_fraction("val", val)
    _check_fraction("test", test)
    if val + test >= 1.0:
        raise ValueError(f"val + test must be below 1, got {val} + {test}")
    records = list(records)
    if not records:
        raise SplitError("split", ["no records to split"])
    rest_idx, test_idx = _holdout(
        records, test, seed=seed, stratify=stratify, group_aware=group_aware, protocol="test split"
    )
    rest = [records[i] for i in rest_idx]
    val_fraction = val / (1.0 - test) if val > 0 else 0.0
    train_idx, val_idx = _holdout(
        rest,
        min(val_fraction, 0.99),
        seed=seed,
        stratify=stratify,
        group_aware=group_aware,
        protocol="validation split",
    )
    split = Split(_pick(rest, train_idx), _pick(rest, val_idx), _pick(records, test_idx))
    if not split.train:
        raise SplitError("split", [f"nothing left to train on with val={val}, test={test} ({len(records)} records)"])
    return split


def kfold(
    records: Records, k: int, *, seed: int = 0, stratify: bool = True, group_aware: bool = True
) -> list[tuple[list[VideoRecord], list[VideoRecord]]]:
    """``k`` (train, test) folds; every record is tested exactly once.

    Group-aware (no group in both parts of a fold) when records carry groups, stratified by
    class when asked and the targets are class names.
    """
    if not isinstance(k, int) or k < 2:
        raise ValueError(f"k must be a whole number >= 2, got {k!r}")
    records = list(records)
    protocol = f"kfold:{k}"
    index = np.arange(len(records))
    groups = _groups(records, protocol, required=False) if group_aware else None
    y = _strata(records, stratify)
    if groups is not None:
        n_groups = len(set(groups))
        if k > n_groups:
            raise SplitError(protocol, [f"{k} folds need at least {k} groups, found {n_groups}"])
        if y is not None:
            cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
        else:
            cv = GroupKFold(n_splits=k, shuffle=True, random_state=seed)
    else:
        if k > len(records):
            raise SplitError(protocol, [f"{k} folds need at least {k} videos, found {len(records)}"])
        if y is not None and min(Counter(y.tolist()).values()) >= k:
            cv = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
        elif y is not None:
            # some class has fewer than k videos: stratify as far as possible via singleton groups
            cv = StratifiedGroupKFold(n_splits=k, shuffle=True, random_state=seed)
            groups = index.astype(object)
        else:
            cv = KFold(n_splits=k, shuffle=True, random_state=seed)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        folds = list(cv.split(index, y, groups))
    return [(_pick(records, tr), _pick(records, te)) for tr, te in folds]


def leave_one_group_out(records: Records) -> list[tuple[str, list[VideoRecord], list[VideoRecord]]]:
    """One fold per group (sorted by group): (group, train = all other groups, test = that group)."""
    records = list(records)
    if not records:
        raise SplitError("leave-one-group-out", ["no records to split"])
    groups = _groups(records, "leave-one-group-out", required=True)
    assert groups is not None
    names = sorted(set(groups))
    if len(names) < 2:
        raise SplitError("leave-one-group-out", [f"need at least 2 groups, found {len(names)} ({names[0]})"])
    index = np.arange(len(records))
    out = []
    for tr, te in LeaveOneGroupOut().split(index, groups=groups):
        out.append((str(groups[te[0]]), _pick(records, tr), _pick(records, te)))
    return sorted(out, key=lambda f: f[0])


@dataclass(frozen=True)
class CrossValidation:
    """A parsed cross-validation protocol: ``kind`` is "kfold" or "leave-one-group-out"."""

    kind: str
    k: int | None = None
    seed: int = 0
    stratify: bool = True
    group_aware: bool = True

    def splits(self, records: Records) -> list[Fold]:
        """The folds of ``records`` under this protocol."""
        if self.kind == "leave-one-group-out":
            return [Fold(g, tr, te) for g, tr, te in leave_one_group_out(records)]
        assert self.k is not None
        folds = kfold(records, self.k, seed=self.seed, stratify=self.stratify, group_aware=self.group_aware)
        return [Fold(f"fold{i}", tr, te) for i, (tr, te) in enumerate(folds, start=1)]

    def __str__(self) -> str:
        return self.kind if self.k is None else f"{self.kind}:{self.k}"


_KFOLD = re.compile(r"^k-?fold(?::(?P<k>[^:]*))?$")


def parse_cv(spec: str, *, seed: int = 0, stratify: bool = True, group_aware: bool = True) -> CrossValidation:
    """Parse "kfold:5" (also "kfold", meaning 5 folds) or "leave-one-group-out" / "logo"."""
    text = spec.strip().lower().replace("_", "-")
    if text in ("logo", "leave-one-group-out"):
        return CrossValidation("leave-one-group-out", seed=seed)
    m = _KFOLD.match(text)
    if m:
        raw = m.group("k")
        if raw is None:
            return CrossValidation("kfold", 5, seed, stratify, group_aware)
        if raw.strip().isdigit() and int(raw) >= 2:
            return CrossValidation("kfold", int(raw), seed, stratify, group_aware)
        raise CVSpecError(f"cross-validation '{spec}': the number of folds must be a whole number >= 2")
    raise CVSpecError(f"cross-validation '{spec}': expected 'kfold:K' or 'leave-one-group-out' (alias 'logo')")
