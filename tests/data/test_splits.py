"""Splits and cross-validation: no group leaks, stratification, determinism."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from vidlearn.data.records import VideoRecord
from vidlearn.data.sources import load_records
from vidlearn.data.splits import (
    CVSpecError,
    SplitError,
    kfold,
    leave_one_group_out,
    parse_cv,
    train_val_test_split,
)
from vidlearn.errors import VidlearnError

CLASSES = ["a", "b", "c", "d"]


def grouped(n_groups: int = 6, per_class: int = 2) -> list[VideoRecord]:
    """n_groups people, each filmed doing every class per_class times."""
    return [
        VideoRecord(Path(f"g{g}_{c}_{i}.mp4"), c, f"g{g}")
        for g in range(n_groups)
        for c in CLASSES
        for i in range(per_class)
    ]


def ungrouped(per_class: int = 10) -> list[VideoRecord]:
    return [VideoRecord(Path(f"{c}_{i}.mp4"), c) for c in CLASSES for i in range(per_class)]


def groups_of(records: list[VideoRecord]) -> set[str | None]:
    return {r.group for r in records}


def paths(records: list[VideoRecord]) -> list[Path]:
    return [r.path for r in records]


def test_three_way_split_keeps_groups_whole_and_covers_everything():
    records = grouped(n_groups=10)
    train, val, test = train_val_test_split(records, val=0.2, test=0.2, seed=1)
    assert sorted(paths(train + val + test)) == sorted(paths(records))
    assert not groups_of(train) & groups_of(val)
    assert not groups_of(train) & groups_of(test)
    assert not groups_of(val) & groups_of(test)
    assert len(val) == len(test) == 16  # 2 of 10 people each


def single_class_groups() -> list[VideoRecord]:
    """12 people, each filmed doing only one class (3 people per class), 2 videos each."""
    return [VideoRecord(Path(f"{c}{g}_{i}.mp4"), c, f"{c}{g}") for c in CLASSES for g in range(3) for i in range(2)]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_group_split_is_stratified_as_far_as_groups_allow(seed):
    # picking 4 people at random would often miss a class; stratification takes one per class
    _, val, _ = train_val_test_split(single_class_groups(), val=1 / 3, seed=seed)
    assert Counter(r.target for r in val) == {c: 2 for c in CLASSES}
    for _, test in kfold(single_class_groups(), 3, seed=seed):
        assert Counter(r.target for r in test) == {c: 2 for c in CLASSES}


def test_split_without_groups_is_stratified():
    train, val, test = train_val_test_split(ungrouped(10), val=0.2, seed=0)
    assert Counter(r.target for r in val) == {c: 2 for c in CLASSES}
    assert Counter(r.target for r in train) == {c: 8 for c in CLASSES}
    assert test == []


def test_split_is_deterministic_and_depends_on_seed():
    records = grouped(n_groups=10)
    first = train_val_test_split(records, val=0.3, seed=7)
    assert first == train_val_test_split(records, val=0.3, seed=7)
    others = {tuple(paths(train_val_test_split(records, val=0.3, seed=s).val)) for s in range(6)}
    assert len(others) > 1


def test_group_aware_off_splits_individual_videos():
    train, val, _ = train_val_test_split(grouped(n_groups=2), val=0.25, group_aware=False, seed=0)
    assert groups_of(train) & groups_of(val)  # the same person on both sides is allowed then


def test_zero_validation_fraction_and_bad_fractions():
    records = ungrouped(3)
    assert train_val_test_split(records, val=0.0).val == []
    with pytest.raises(ValueError, match="val \\+ test must be below 1"):
        train_val_test_split(records, val=0.6, test=0.5)
    with pytest.raises(ValueError, match="val must be in"):
        train_val_test_split(records, val=1.2)


def test_partially_grouped_records_are_rejected():
    records = grouped(n_groups=3)
    records[0] = VideoRecord(Path("x.mp4"), "a")
    with pytest.raises(SplitError, match="1 of 24 records have no group \\(x.mp4\\)"):
        train_val_test_split(records)


def test_regression_targets_split_without_stratification():
    records = [VideoRecord(Path(f"{i}.mp4"), float(i), f"p{i % 5}") for i in range(20)]
    train, val, _ = train_val_test_split(records, val=0.2, seed=0)
    assert len(train) + len(val) == 20 and not groups_of(train) & groups_of(val)


def test_kfold_tests_each_video_once_without_group_leaks():
    records = grouped(n_groups=6)
    folds = kfold(records, 3, seed=0)
    assert len(folds) == 3
    assert sorted(p for _, test in folds for p in paths(test)) == sorted(paths(records))
    for train, test in folds:
        assert not groups_of(train) & groups_of(test)
        assert len(train) + len(test) == len(records)
        assert Counter(r.target for r in test) == {c: 4 for c in CLASSES}  # 2 people x 2 videos
    assert kfold(records, 3, seed=0) == folds


def test_kfold_without_groups_is_stratified_and_handles_tiny_classes():
    folds = kfold(ungrouped(10), 5, seed=0)
    assert all(Counter(r.target for r in test) == {c: 2 for c in CLASSES} for _, test in folds)
    tiny = ungrouped(4) + [VideoRecord(Path("rare.mp4"), "rare")]
    folds = kfold(tiny, 4, seed=0)
    assert sorted(p for _, t in folds for p in paths(t)) == sorted(paths(tiny))


def test_kfold_needs_enough_groups():
    with pytest.raises(SplitError, match="5 folds need at least 5 groups, found 3"):
        kfold(grouped(n_groups=3), 5)
    with pytest.raises(ValueError, match="k must be"):
        kfold(grouped(), 1)


def test_leave_one_group_out_requires_groups():
    with pytest.raises(SplitError, match="40 of 40 records have no group") as info:
        leave_one_group_out(ungrouped())
    assert isinstance(info.value, ValueError) and isinstance(info.value, VidlearnError)


def test_leave_one_group_out_folds():
    folds = leave_one_group_out(grouped(n_groups=4))
    assert [g for g, _, _ in folds] == ["g0", "g1", "g2", "g3"]
    for g, train, test in folds:
        assert groups_of(test) == {g} and g not in groups_of(train)


def test_weizmann_leave_one_actor_out(weizmann):
    records = load_records(weizmann / "manifest.csv", group="actor")
    folds = parse_cv("leave-one-group-out").splits(records)
    assert len(folds) == 9
    for fold in folds:
        assert len(fold.test) == 4 and len(fold.train) == 32
        assert sorted(r.target for r in fold.test) == ["bend", "jack", "wave1", "wave2"]
        assert groups_of(fold.test) == {fold.name}


def test_parse_cv_specs():
    records = grouped(n_groups=6)
    cv = parse_cv(" KFold:3 ", seed=2)
    folds = cv.splits(records)
    assert [f.name for f in folds] == ["fold1", "fold2", "fold3"] and str(cv) == "kfold:3"
    assert [(f.train, f.test) for f in folds] == kfold(records, 3, seed=2)
    assert parse_cv("kfold").k == 5
    assert parse_cv("logo") == parse_cv("leave_one_group_out")
    assert len(parse_cv("LOGO").splits(records)) == 6
    for bad in ("kfold:1", "kfold:x", "bootstrap", ""):
        with pytest.raises(CVSpecError) as info:
            parse_cv(bad)
        assert isinstance(info.value, ValueError) and isinstance(info.value, VidlearnError)
