"""Known-answer tests of the localisation metrics (hand-made cases)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from vidlearn.tasks.localization_metrics import (
    TimedSegment,
    average_precision,
    detection_ap,
    detection_map,
    edit_score,
    f1_counts,
    f1_score_at,
    frame_accuracy,
    frame_labels,
    label_runs,
    localization_metrics,
    temporal_iou,
)


def seg(label, start, end, score=1.0, video="v"):
    return TimedSegment(video, label, start, end, score)


def test_temporal_iou():
    assert temporal_iou(0, 10, np.array([5.0, 0.0, 10.0, 2.0]), np.array([10.0, 10.0, 20.0, 4.0])).tolist() == [0.5, 1.0, 0.0, 0.2]


def test_average_precision_interpolated():
    # precision 1, 1/2, 2/3 at recall 1/2, 1/2, 1: the envelope gives 1/2*1 + 1/2*2/3
    assert average_precision([True, False, True], 2) == pytest.approx(0.5 + 1 / 3)
    assert average_precision([False, True], 1) == pytest.approx(0.5)
    assert average_precision([True, True], 4) == pytest.approx(0.5)  # half the truth never found
    assert average_precision([], 3) == 0.0
    assert math.isnan(average_precision([True], 0))


def test_detection_ap_thresholds_and_duplicates():
    truth = [seg("a", 0, 10)]
    # exact hit first, a duplicate of it later: the duplicate is a false positive after full recall
    assert detection_ap(truth, [seg("a", 0, 10, 0.9), seg("a", 1, 10, 0.8)], 0.5) == pytest.approx(1.0)
    # the duplicate ranked first takes the match (IoU 0.9): the exact one is then a false positive
    assert detection_ap(truth, [seg("a", 1, 10, 0.95), seg("a", 0, 10, 0.9)], 0.5) == pytest.approx(1.0)
    half = [seg("a", 5, 10, 0.9)]  # IoU 0.5
    assert detection_ap(truth, half, 0.3) == 1.0
    assert detection_ap(truth, half, 0.5) == 1.0
    assert detection_ap(truth, half, 0.7) == 0.0
    # a prediction in another video never matches
    assert detection_ap(truth, [seg("a", 0, 10, video="w")], 0.1) == 0.0


def test_detection_map_over_classes_with_truth():
    truth = [seg("a", 0, 10), seg("b", 20, 30), seg("a", 40, 50)]
    pred = [seg("a", 0, 10, 0.9), seg("b", 0, 10, 0.8), seg("a", 42, 50, 0.7), seg("c", 60, 70, 0.5)]
    maps, rows = detection_map(truth, pred, ["a", "b", "c"], (0.5, 0.9))
    # a: both found at 0.5 (AP 1), only the first at 0.9 (AP 1/2); b: only a false positive (AP 0)
    assert maps == {"0.5": pytest.approx(0.5), "0.9": pytest.approx(0.25)}
    by = {r["class"]: r for r in rows}
    assert by["c"]["AP"]["0.5"] is None and by["c"]["support"] == 0 and by["c"]["predicted"] == 1
    assert by["a"]["AP"] == {"0.5": pytest.approx(1.0), "0.9": pytest.approx(0.5)}


def test_frame_labels_and_runs():
    labels = frame_labels([seg("a", 0.2, 0.5), seg("b", 0.5, 0.7)], 1.0, 10, "bg")
    assert labels.tolist() == ["bg", "bg", "a", "a", "a", "b", "b", "bg", "bg", "bg"]
    assert label_runs(labels, "bg") == [("a", 2, 5), ("b", 5, 7)]
    assert label_runs(["a", "a", "bg", "a"], None) == [("a", 0, 2), ("bg", 2, 3), ("a", 3, 4)]


def test_frame_accuracy_edit_and_f1():
    true = ["a"] * 10 + ["bg"] * 10
    assert frame_accuracy(true, ["a"] * 5 + ["bg"] * 15) == 0.75
    # one true run; a prediction split in two by background: runs a, a against a
    split = ["a"] * 4 + ["bg"] * 2 + ["a"] * 4 + ["bg"] * 10
    assert edit_score(true, split, "bg") == pytest.approx(0.5)
    assert edit_score(["a", "b", "c"], ["a", "c"]) == pytest.approx(2 / 3)
    assert edit_score(["bg"], ["bg"], "bg") == 1.0
    half = ["a"] * 5 + ["bg"] * 15  # IoU 0.5 with the true run
    assert f1_counts(true, half, 0.5, "bg") == (1, 0, 0)
    less = ["a"] * 4 + ["bg"] * 16  # IoU 0.4
    assert f1_counts(true, less, 0.5, "bg") == (0, 1, 1)
    assert f1_counts(true, less, 0.25, "bg") == (1, 0, 0)
    assert f1_counts(true, split, 0.25, "bg") == (1, 1, 0)  # the second piece is a false positive
    assert f1_score_at([(1, 1, 0)]) == pytest.approx(2 * 0.5 * 1 / 1.5)
    assert f1_score_at([(1, 0, 0), (0, 1, 1)]) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="same"):
        frame_accuracy(["a"], ["a", "b"])


def test_localization_metrics_perfect_and_missing():
    truth = {"v": [seg("a", 1, 3), seg("b", 4, 6)], "w": [seg("a", 0, 2, video="w")]}
    perfect = localization_metrics(truth, truth, {"v": 8.0, "w": 3.0}, ["a", "b", "background"], fps=10)
    assert perfect["mAP"] == {"0.3": 1.0, "0.5": 1.0, "0.7": 1.0} and perfect["mAP_mean"] == 1.0
    assert perfect["frame_accuracy"] == 1.0 and perfect["edit"] == 1.0
    assert perfect["F1"] == {"10": 1.0, "25": 1.0, "50": 1.0}
    assert perfect["classes"] == ["a", "b"] and perfect["n"] == 2 and perfect["n_segments"] == 3
    nothing = localization_metrics(truth, {}, {"v": 8.0, "w": 3.0}, ["a", "b"], fps=10)
    assert nothing["mAP"]["0.5"] == 0.0 and nothing["F1"]["50"] == 0.0
    # 110 frames, 50 of them background (40 in v, 10 in w), all predicted background
    assert nothing["frame_accuracy"] == pytest.approx(50 / 110)
