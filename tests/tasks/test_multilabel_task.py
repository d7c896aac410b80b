"""Multi-label metrics and the MultiLabel task on hand-made cases with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from vidlearn.config import ExperimentConfig
from vidlearn.errors import ConfigError
from vidlearn.tasks.multilabel import (
    MultiLabel,
    choose_thresholds,
    multi_hot,
    multilabel_metrics,
    per_class_markdown,
)
from vidlearn.tasks.task import build_task

CLASSES = ["jump", "wave"]
# jump: positives at rank 1 and 3 -> AP = 0.5 * 1 + 0.5 * 2/3 = 5/6; wave: its one positive ranks first -> AP = 1
TRUTH = np.array([[1, 0], [0, 1], [1, 0], [0, 0]])
SCORES = np.array([[0.9, 0.2], [0.8, 0.6], [0.7, 0.4], [0.1, 0.1]])


def test_map_micro_macro_and_per_class_known_answers() -> None:
    m = multilabel_metrics(TRUTH, SCORES, CLASSES, level="video")
    assert m["task"] == "multilabel" and m["level"] == "video" and m["n"] == 4 and m["classes"] == CLASSES
    jump, wave = m["per_class"]
    assert jump["ap"] == pytest.approx(5 / 6) and wave["ap"] == pytest.approx(1.0)
    assert m["map"] == pytest.approx((5 / 6 + 1) / 2)
    # at 0.5: jump predicted for videos 0, 1, 2 (tp 2, fp 1); wave for video 1 only (tp 1)
    assert (jump["precision"], jump["recall"], jump["f1"]) == pytest.approx((2 / 3, 1.0, 0.8))
    assert (wave["precision"], wave["recall"], wave["f1"]) == pytest.approx((1.0, 1.0, 1.0))
    assert m["micro"] == pytest.approx({"precision": 0.75, "recall": 1.0, "f1": 6 / 7})
    assert m["macro"]["f1"] == pytest.approx(0.9)
    assert m["subset_accuracy"] == pytest.approx(0.75)  # video 1 also got jump
    assert (jump["support"], wave["support"]) == (2, 1) and m["thresholds"] == [0.5, 0.5]


def test_per_class_thresholds_change_the_decisions_not_the_ap() -> None:
    m = multilabel_metrics(TRUTH, SCORES, CLASSES, thresholds=[0.75, 0.5])
    jump = m["per_class"][0]
    assert (jump["precision"], jump["recall"], jump["f1"]) == pytest.approx((0.5, 0.5, 0.5))  # videos 0, 1 predicted
    assert jump["ap"] == pytest.approx(5 / 6) and jump["threshold"] == 0.75


def test_a_class_without_positives_has_no_ap_and_is_left_out_of_the_map() -> None:
    truth = np.array([[1, 0], [0, 0], [1, 0]])
    m = multilabel_metrics(truth, np.array([[0.9, 0.1], [0.2, 0.7], [0.6, 0.2]]), CLASSES)
    assert m["per_class"][1]["ap"] is None and m["map"] == pytest.approx(1.0)
    assert "| wave | — |" in per_class_markdown(m)


def test_bad_inputs_say_what_is_wrong() -> None:
    with pytest.raises(ValueError, match="shape of truth"):
        multilabel_metrics(TRUTH, SCORES[:, :1], CLASSES)
    with pytest.raises(ValueError, match="only 0 and 1"):
        multilabel_metrics(TRUTH * 2, SCORES, CLASSES)
    with pytest.raises(ValueError, match="3 thresholds for 2 classes"):
        multilabel_metrics(TRUTH, SCORES, CLASSES, thresholds=[0.5, 0.5, 0.5])
    with pytest.raises(ValueError, match="'run' is not one of the classes"):
        multi_hot(["jump|run"], CLASSES)


def test_thresholds_are_chosen_for_the_best_f1_halfway_to_the_next_score() -> None:
    # jump: F1 at >= 0.1, 0.7, 0.8, 0.9 is 2/3, 0.8, 0.5, 2/3 -> cut between 0.7 and 0.1; wave: any cut in (0.4, 0.6]
    t = choose_thresholds(TRUTH, SCORES)
    assert t[0] == pytest.approx(0.4) and t[1] == pytest.approx(0.5)
    assert choose_thresholds(np.array([[0], [0]]), np.array([[0.3], [0.9]])) == [0.5]  # no positive: nothing to choose


def test_the_task_trains_with_bce_decodes_with_a_sigmoid_and_decides_per_class() -> None:
    task = build_task(ExperimentConfig().override({"task.kind": "multilabel", "task.classes": CLASSES, "task.thresholds": [0.3, 0.9]}).task)
    assert isinstance(task, MultiLabel) and task.num_outputs(2) == 2 and task.monitor == "val_loss"
    out, y = torch.tensor([[0.0, 2.0]]), torch.tensor([[1.0, 0.0]])
    want = -(math.log(0.5) + math.log(1 - 1 / (1 + math.exp(-2.0)))) / 2
    assert float(task.loss(out, y)) == pytest.approx(want, rel=1e-6)
    p = task.decode(out).numpy()
    assert p[0, 1] == pytest.approx(1 / (1 + math.exp(-2.0)))
    assert task.decide(p).tolist() == [[True, False]]  # 0.5 >= 0.3; 0.88 < 0.9
    assert float(task.batch_metric(out, y)) == pytest.approx(1.0)
    m = task.metrics(["jump", "wave", "jump|wave"], np.array([[0.4, 0.1], [0.2, 0.95], [0.8, 0.5]]), CLASSES, level="clip")
    assert m["per_class"][1]["recall"] == pytest.approx(0.5) and m["thresholds"] == [0.3, 0.9]


def test_config_rejects_thresholds_out_of_range_or_of_the_wrong_count() -> None:
    with pytest.raises(ConfigError, match="thresholds"):
        ExperimentConfig().override({"task.kind": "multilabel", "task.thresholds": [1.5]})
    with pytest.raises(ConfigError, match="1 thresholds for 2 classes"):
        ExperimentConfig().override({"task.kind": "multilabel", "task.classes": CLASSES, "task.thresholds": [0.5]})
