"""Metrics, video-level aggregation, fold summaries, the metrics JSON file and the result plots."""

from __future__ import annotations

import json
import math
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from vidlearn.tasks.metrics import (
    aggregate_video_scores,
    classification_metrics,
    regression_metrics,
    summarize_folds,
    write_metrics,
)
from vidlearn.tasks.plots import (
    per_class_table,
    plot_confusion_matrix,
    plot_learning_curves,
    plot_regression_scatter,
)

CLASSES = ["walk", "run", "jump"]
# true:      0  0  1  1  1  2
# predicted: 0  1  1  1  2  2
Y_TRUE = np.array([0, 0, 1, 1, 1, 2])
SCORES = np.array(
    [
        [0.8, 0.1, 0.1],
        [0.3, 0.6, 0.1],  # true 0 -> 1, 0 is second best
        [0.1, 0.7, 0.2],
        [0.2, 0.5, 0.3],
        [0.1, 0.3, 0.6],  # true 1 -> 2, 1 is second best
        [0.0, 0.1, 0.9],
    ]
)


def _only_our_files(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


# ---- classification ------------------------------------------------------------------------


def test_classification_metrics_match_hand_computed_values() -> None:
    m = classification_metrics(Y_TRUE, SCORES, CLASSES, top_k=(1, 2, 5))
    assert m["task"] == "classification" and m["level"] == "clip"
    assert m["n"] == 6
    assert m["accuracy"] == pytest.approx(4 / 6)
    assert m["classes"] == CLASSES
    assert m["confusion_matrix"] == [[1, 1, 0], [0, 2, 1], [0, 0, 1]]
    # top-k only for k < K (K = 3): top5 is left out; the two errors have the truth second
    assert m["top_k"] == {"top1": pytest.approx(4 / 6), "top2": pytest.approx(1.0)}

    per = {row["class"]: row for row in m["per_class"]}
    assert [row["class"] for row in m["per_class"]] == CLASSES
    assert per["walk"] == {"class": "walk", "precision": 1.0, "recall": 0.5, "f1": pytest.approx(2 / 3), "support": 2}
    assert per["run"]["precision"] == pytest.approx(2 / 3) and per["run"]["recall"] == pytest.approx(2 / 3)
    assert per["jump"]["precision"] == pytest.approx(0.5) and per["jump"]["recall"] == 1.0
    assert per["run"]["support"] == 3 and per["jump"]["support"] == 1

    precisions = [1.0, 2 / 3, 0.5]
    assert m["macro"]["precision"] == pytest.approx(np.mean(precisions))
    assert m["weighted"]["precision"] == pytest.approx(np.average(precisions, weights=[2, 3, 1]))
    assert m["macro"]["recall"] == pytest.approx(np.mean([0.5, 2 / 3, 1.0]))
    assert set(m["macro"]) == set(m["weighted"]) == {"precision", "recall", "f1"}


def test_logits_and_probabilities_give_the_same_metrics() -> None:
    logits = np.log(SCORES + 1e-3) * 3.0 + 7.0
    assert classification_metrics(Y_TRUE, logits, CLASSES) == classification_metrics(Y_TRUE, SCORES, CLASSES)


def test_top5_reported_when_there_are_more_than_five_classes() -> None:
    rng = np.random.default_rng(0)
    names = [f"c{i}" for i in range(7)]
    y = rng.integers(0, 7, size=40)
    scores = rng.normal(size=(40, 7))
    m = classification_metrics(y, scores, names)
    assert set(m["top_k"]) == {"top1", "top5"}
    assert m["top_k"]["top1"] == pytest.approx(m["accuracy"])
    ranks = (scores > scores[np.arange(40), y][:, None]).sum(axis=1)  # classes scored above the truth
    assert m["top_k"]["top5"] == pytest.approx(np.mean(ranks < 5))


def test_two_classes_and_classes_absent_from_the_data_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        m2 = classification_metrics([0, 1, 1], [[2.0, 1.0], [0.0, 3.0], [5.0, 1.0]], ["no", "yes"])
        assert m2["accuracy"] == pytest.approx(2 / 3) and m2["top_k"] == {"top1": pytest.approx(2 / 3)}
        # class "jump" never occurs and is never predicted: zero support, scores of 0
        m3 = classification_metrics([0, 1], [[0.9, 0.05, 0.05], [0.1, 0.8, 0.1]], CLASSES, level="video")
    assert m3["level"] == "video"
    jump = m3["per_class"][2]
    assert jump == {"class": "jump", "precision": 0.0, "recall": 0.0, "f1": 0.0, "support": 0}
    assert m3["confusion_matrix"][2] == [0, 0, 0]


@pytest.mark.parametrize(
    "y, scores, match",
    [
        ([0, 1], np.zeros((3, 3)), "shape"),
        ([0, 1, 2], np.zeros((3, 4)), "shape"),
        ([0, 1, 3], np.zeros((3, 3)), "outside"),
        ([0, -1, 1], np.zeros((3, 3)), "outside"),
        ([0, 1, 2], np.array([[0, 0, np.nan]] * 3), "NaN"),
        ([], np.zeros((0, 3)), "empty"),
    ],
)
def test_classification_metrics_reject_bad_input(y: list[int], scores: np.ndarray, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        classification_metrics(np.array(y, dtype=int), scores, CLASSES)


def test_video_scores_are_the_mean_of_clip_probabilities() -> None:
    logits = np.array([[2.0, 0.0], [0.0, 2.0], [1.0, 1.0], [4.0, 0.0]])
    ids, video = aggregate_video_scores(["b", "a", "b", "b"], logits)
    assert ids == ["b", "a"]  # order of first appearance
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(video[0], probs[[0, 2, 3]].mean(axis=0))
    np.testing.assert_allclose(video[1], probs[1])
    np.testing.assert_allclose(video.sum(axis=1), 1.0)

    already = np.array([[0.2, 0.8], [0.6, 0.4]])
    _, v = aggregate_video_scores([7, 7], already)
    np.testing.assert_allclose(v, [[0.4, 0.6]])
    _, v = aggregate_video_scores([7, 7], already, kind="logits")  # forced softmax
    assert not np.allclose(v, [[0.4, 0.6]])

    with pytest.raises(ValueError, match="2 video ids for 4 rows"):
        aggregate_video_scores(["a", "b"], logits)


# ---- regression and folds ------------------------------------------------------------------


def test_regression_metrics() -> None:
    m = regression_metrics([1.0, 2.0, 3.0], np.array([1.0, 2.0, 5.0]), level="video")
    assert m == {
        "task": "regression",
        "level": "video",
        "n": 3,
        "mae": pytest.approx(2 / 3),
        "rmse": pytest.approx(math.sqrt(4 / 3)),
        "r2": pytest.approx(-1.0),  # 1 - SS_res/SS_tot = 1 - 4/2
    }
    assert regression_metrics([2.0], [3.0])["r2"] is None  # undefined with one sample
    with pytest.raises(ValueError, match="3 values but y_pred has 2"):
        regression_metrics([1, 2, 3], [1, 2])


def test_summarize_folds_mean_std_and_pooled_confusion() -> None:
    f1 = classification_metrics(Y_TRUE, SCORES, CLASSES, level="video")
    f2 = classification_metrics([0, 1, 2], np.eye(3), CLASSES, level="video")  # perfect fold
    s = summarize_folds([f1, f2])
    assert s["task"] == "classification" and s["level"] == "video"
    assert s["n_folds"] == 2 and s["n"] == 9
    acc = s["metrics"]["accuracy"]
    assert acc["values"] == [pytest.approx(4 / 6), 1.0]
    assert acc["mean"] == pytest.approx((4 / 6 + 1) / 2)
    assert acc["std"] == pytest.approx(np.std([4 / 6, 1.0]))
    assert {"macro.f1", "weighted.recall", "top_k.top1"} <= set(s["metrics"])
    assert "n" not in s["metrics"]
    assert s["confusion_matrix"] == [[2, 1, 0], [0, 3, 1], [0, 0, 2]]
    assert s["classes"] == CLASSES

    r = summarize_folds([regression_metrics([1, 2], [1, 3]), regression_metrics([1, 2, 3], [1, 2, 3])])
    assert r["task"] == "regression" and r["n"] == 5 and "confusion_matrix" not in r
    assert r["metrics"]["mae"]["mean"] == pytest.approx(0.25)

    other = classification_metrics([0, 1], np.eye(2), ["x", "y"])
    with pytest.raises(ValueError, match="different class lists"):
        summarize_folds([f1, other])
    with pytest.raises(ValueError, match="mix tasks"):
        summarize_folds([f1, regression_metrics([1, 2], [1, 2])])


def test_write_metrics_is_strict_json_and_leaves_no_temp_files(tmp_path: Path) -> None:
    m = classification_metrics(Y_TRUE, SCORES, CLASSES)
    m["extra"] = {"numpy_float": np.float32(0.25), "numpy_int": np.int64(3), "nan": float("nan"), "arr": np.arange(3)}
    out = tmp_path / "eval" / "metrics.json"
    assert write_metrics(out, m) == out
    text = out.read_text()
    loaded = json.loads(text, parse_constant=lambda c: pytest.fail(f"non-standard JSON constant {c}"))
    assert loaded["extra"] == {"numpy_float": 0.25, "numpy_int": 3, "nan": None, "arr": [0, 1, 2]}
    assert loaded["confusion_matrix"] == m["confusion_matrix"] and loaded["per_class"] == m["per_class"]
    write_metrics(out, {"task": "regression"})  # replaces
    assert json.loads(out.read_text()) == {"task": "regression"}
    assert _only_our_files(out.parent) == ["metrics.json"]


# ---- plots ---------------------------------------------------------------------------------


def _assert_png(path: Path) -> tuple[int, int]:
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        return im.size


@pytest.mark.parametrize("normalize", [True, False])
def test_confusion_matrix_png(tmp_path: Path, normalize: bool) -> None:
    m = classification_metrics(Y_TRUE, SCORES, CLASSES)
    out = plot_confusion_matrix(m["confusion_matrix"], CLASSES, tmp_path / "confusion.png", normalize=normalize)
    assert out == tmp_path / "confusion.png"
    w, h = _assert_png(out)
    assert w > 200 and h > 200
    assert _only_our_files(tmp_path) == ["confusion.png"]
    with pytest.raises(ValueError, match="expected \\(2, 2\\)"):
        plot_confusion_matrix(m["confusion_matrix"], ["a", "b"], tmp_path / "bad.png")
    assert _only_our_files(tmp_path) == ["confusion.png"]


def test_learning_curves_from_lightning_style_csv_and_from_dict(tmp_path: Path) -> None:
    csv = tmp_path / "metrics.csv"
    # Lightning's CSVLogger: one row per logging call, NaN-sparse columns
    csv.write_text(
        "epoch,step,train_loss_step,train_loss_epoch,train_acc_epoch,val_loss,val_acc\n"
        "0,9,1.2,,,,\n"
        "0,9,,,,1.0,0.4\n"
        "0,9,,1.1,0.35,,\n"
        "1,19,0.8,,,,\n"
        "1,19,,,,0.7,0.7\n"
        "1,19,,0.75,0.6,,\n"
    )
    _assert_png(plot_learning_curves(csv, tmp_path / "curves.png"))
    _assert_png(
        plot_learning_curves(
            {"train_loss": [1.0, 0.6, 0.4], "val_loss": [1.1, 0.8, 0.7], "val_mae": [3.0, 2.0, 1.5]},
            tmp_path / "curves2.png",
        )
    )
    assert _only_our_files(tmp_path) == ["curves.png", "curves2.png", "metrics.csv"]
    with pytest.raises(ValueError, match="no metric columns"):
        plot_learning_curves({"epoch": [0, 1]}, tmp_path / "empty.png")
    with pytest.raises(ValueError, match="cannot read"):
        plot_learning_curves(tmp_path / "missing.csv", tmp_path / "x.png")


def test_regression_scatter_png(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    y = rng.normal(size=30)
    _assert_png(plot_regression_scatter(y, y + rng.normal(scale=0.1, size=30), tmp_path / "scatter.png"))
    assert _only_our_files(tmp_path) == ["scatter.png"]


def test_per_class_table_is_markdown() -> None:
    m = classification_metrics(Y_TRUE, SCORES, ["walk", "run|fast", "jump"])
    table = per_class_table(m)
    lines = table.strip().splitlines()
    assert lines[0] == "| class | precision | recall | f1 | support |"
    assert len(lines) == 2 + 3 + 2  # header, rule, classes, macro + weighted
    assert lines[2] == "| walk | 1.000 | 0.500 | 0.667 | 2 |"
    assert "run\\|fast" in lines[3]  # a pipe in a class name does not break the table
    assert lines[-2].startswith("| **macro avg** |") and lines[-1].endswith("| 6 |")
    assert all(line.count("|") - line.count("\\|") == 6 for line in lines)
    with pytest.raises(ValueError, match="per_class"):
        per_class_table(regression_metrics([1, 2], [1, 2]))


def test_the_training_accuracy_is_torchmetrics_top1_accuracy() -> None:
    """The accuracy logged while training (val_acc picks the best checkpoint) is the share of the
    batch whose highest logit is the true class, computed by torchmetrics."""
    import torch
    from sklearn.metrics import accuracy_score

    from vidlearn.tasks.task import Classification, batch_accuracy

    gen = torch.Generator().manual_seed(0)
    out = torch.randn(37, 5, generator=gen)
    target = torch.randint(0, 5, (37,), generator=gen)
    expected = accuracy_score(target.numpy(), out.argmax(-1).numpy())
    assert float(batch_accuracy(out, target)) == pytest.approx(expected)
    assert float(Classification().batch_metric(out, target)) == pytest.approx(expected)
    assert float(batch_accuracy(torch.eye(3), torch.tensor([0, 1, 2]))) == 1.0
    assert float(batch_accuracy(torch.eye(3), torch.tensor([1, 2, 0]))) == 0.0
