"""report.html: one self-contained page per run (pictures inlined, no JavaScript, no external
requests) with stable sections: summary, curves, confusion matrix or regression scatter,
per-class table, most confused pairs with thumbnails of the misclassified videos, CV folds,
configuration and timing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pytest

from vidlearn.data.records import VideoRecord
from vidlearn.reports import (
    Section,
    format_duration,
    image_html,
    middle_frame,
    predictions_from_scores,
    read_predictions_csv,
    table_html,
    write_cv_report,
    write_html_report,
    write_predictions_csv,
    write_run_report,
)


def _report(run, **kw) -> Path:
    kw.setdefault("title", "Training report: run")
    kw.setdefault("config", run.config)
    path = write_run_report(run.eval_dir, strict=True, **kw)
    assert path == run.eval_dir / "report.html"
    return path


def _assert_self_contained(text: str) -> None:
    assert "<script" not in text.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?\s*(https?:|//|file:)""", text, re.I), "external reference"
    assert "http://" not in text and "https://" not in text
    assert "Content-Security-Policy" in text and "default-src 'none'" in text


def test_classification_report_has_every_section_with_real_pictures(classification_run, read_page, image_of) -> None:
    path = _report(classification_run, timing={"total": 83.2, "note": "on 2 CPUs"}, info={"model": "r2plus1d_tiny"})
    text = path.read_text(encoding="utf-8")
    page = read_page(text)
    _assert_self_contained(text)

    assert page.h1 == ["Training report: run"]
    assert page.section_ids == ["summary", "curves", "confusion", "per-class", "confused-pairs", "correct", "skipped", "config", "timing"]
    assert page.scripts == 0
    by_section: dict[str, list] = {}
    for img in page.images:
        mime, pic = image_of(img["src"])
        by_section.setdefault(img["section"], []).append((mime, pic, img["alt"]))
    # the plots are the PNG files of the run, byte for byte
    for sid, name in (("curves", "curves.png"), ("confusion", "confusion.png")):
        [(mime, pic, _)] = by_section[sid]
        assert mime == "image/png" and pic.format == "PNG"
        assert pic.size == __import__("PIL.Image", fromlist=["Image"]).open(classification_run.eval_dir / name).size
    # summary: the headline numbers at video and clip level
    summary = page.tables["summary"][0]
    assert summary[0] == ["metric", "video-level", "clip-level"]
    assert ["accuracy", "0.625", "0.625"] in summary and ["n", "8", "16"] in summary
    # beside it, the chance level: always answering the largest class (run or jump: 3 of 8)
    assert summary[2] == ["chance accuracy (largest class)", "0.375", "0.375"]
    assert "chance (largest class)" in page.text["summary"] and "37.5%" in page.text["summary"]
    assert "33.3% by guessing uniformly" in page.text["summary"]
    assert "62.5%" in page.text["summary"] and "r2plus1d_tiny" in page.text["summary"]
    # per-class table, in class order, with the averages below
    rows = page.tables["per-class"][0]
    assert rows[0] == ["class", "precision", "recall", "F1", "support"]
    assert rows[1:4] == [["walk", "0.500", "1.000", "0.667", "2"], ["run", "0.500", "0.333", "0.400", "3"], ["jump", "1.000", "0.667", "0.800", "3"]]
    assert rows[4][0] == "macro avg" and rows[4][3] == "0.622"
    # skipped videos, configuration and timing are shown
    assert "broken.mp4" in page.text["skipped"] and "cannot decode the first frame" in page.text["skipped"]
    assert "r2plus1d_tiny" in page.text["config"] and "classes: [walk, run, jump]" in page.text["config"]
    assert ["total", "1 min 23 s"] in page.tables["timing"][0] and ["note", "on 2 CPUs"] in page.tables["timing"][0]


def test_confused_pairs_show_thumbnails_of_the_misclassified_videos_only(classification_run, read_page, image_of) -> None:
    page = read_page(_report(classification_run).read_text(encoding="utf-8"))
    pairs = page.tables["confused-pairs"][0]
    assert pairs[0] == ["true class", "predicted as", "videos", "share of true class"]
    assert pairs[1:] == [["run", "walk", "2", "66.7%"], ["jump", "run", "1", "33.3%"]]  # most frequent first
    thumbs = [img for img in page.images if img["section"] == "confused-pairs"]
    assert sorted(t["alt"] for t in thumbs) == ["moving thumbnail of jump_01.mp4", "moving thumbnail of run_01.mp4", "moving thumbnail of run_02.mp4"]
    for t in thumbs:
        mime, pic = image_of(t["src"])
        assert mime == "image/webp"
        assert min(pic.size) == 96  # short side 96
        r, g, b = np.asarray(pic.convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)
        assert r > 150 and g < 110 and b > 120, "the thumbnail shows the (magenta) video"
        # it moves: several frames over the video, in which the white square has moved right
        assert pic.n_frames == 6 and pic.is_animated
        xs = []
        for i in (0, 2):
            pic.seek(i)
            white = np.asarray(pic.convert("RGB"), dtype=int).min(axis=2) > 200
            xs.append(np.nonzero(white.any(axis=0))[0].mean())
        assert xs[1] > xs[0] + 5, f"the square does not move across the thumbnail's frames: {xs}"
    assert "p(walk) = 0.90" in page.text["confused-pairs"] or "p(walk) = 0.80" in page.text["confused-pairs"]


def test_correct_examples_are_shown_per_class_most_confident_first(classification_run, read_page, image_of) -> None:
    page = read_page(_report(classification_run).read_text(encoding="utf-8"))
    text = page.text["correct"]
    # walk 2 of 2, run 1 of 3, jump 2 of 3 right; each class in the metrics' order
    assert text.index("walk: 2 of 2 right") < text.index("run: 1 of 3 right") < text.index("jump: 2 of 3 right")
    thumbs = [img for img in page.images if img["section"] == "correct"]
    assert sorted(t["alt"] for t in thumbs) == sorted(
        f"moving thumbnail of {n}" for n in ("walk_01.mp4", "walk_02.mp4", "run_03.mp4", "jump_02.mp4", "jump_03.mp4"))
    for t in thumbs:
        mime, pic = image_of(t["src"])
        r, g, b = np.asarray(pic.convert("RGB"), dtype=float).reshape(-1, 3).mean(axis=0)
        assert mime == "image/webp" and g > r and g > b, "a correct example shows a (green) correctly predicted video"
    assert "p(walk) = 0.90" in text  # walk_01, the most confident, first


def test_without_predictions_the_pairs_are_listed_and_no_thumbnail_is_shown(classification_run, read_page) -> None:
    (classification_run.eval_dir / "predictions.csv").unlink()
    page = read_page(_report(classification_run).read_text(encoding="utf-8"))
    assert len(page.tables["confused-pairs"][0]) == 3
    assert not [img for img in page.images if img["section"] == "confused-pairs"]
    assert "predictions were not recorded" in page.text["confused-pairs"]


def test_a_predictions_file_from_another_evaluation_is_not_used(classification_run, read_page) -> None:
    write_predictions_csv(classification_run.eval_dir / "predictions.csv", classification_run.predictions[:3])  # 3 rows, 8 videos
    page = read_page(_report(classification_run).read_text(encoding="utf-8"))
    assert not [img for img in page.images if img["section"] == "confused-pairs"]


def test_an_unreadable_video_gets_a_placeholder_and_the_report_is_still_written(classification_run, tmp_path, read_page) -> None:
    broken = tmp_path / "broken.mp4"
    broken.write_bytes(b"not a video at all")
    preds = [dict(p) for p in classification_run.predictions]
    preds[2]["path"] = str(broken)  # run_01 -> walk
    preds[3]["path"] = str(tmp_path / "missing.mp4")  # run_02 -> walk
    page = read_page(_report(classification_run, predictions=preds).read_text(encoding="utf-8"))
    thumbs = [img["alt"] for img in page.images if img["section"] == "confused-pairs"]
    assert thumbs == ["moving thumbnail of jump_01.mp4"]
    assert page.text["confused-pairs"].count("no thumbnail") == 2
    assert "broken.mp4" in page.text["confused-pairs"] and "missing.mp4" in page.text["confused-pairs"]


def test_regression_report_shows_errors_and_scatter_instead_of_a_confusion_matrix(regression_run, read_page, image_of) -> None:
    page = read_page(_report(regression_run, predictions=regression_run.predictions).read_text(encoding="utf-8"))
    assert page.section_ids == ["summary", "scatter", "errors", "config"]
    summary = page.tables["summary"][0]
    m = regression_run.metrics["video"]
    assert ["MAE", f"{m['mae']:.3f}", f"{m['mae']:.3f}"] in summary
    assert ["RMSE", f"{m['rmse']:.3f}", f"{m['rmse']:.3f}"] in summary
    assert ["R²", f"{m['r2']:.3f}", f"{m['r2']:.3f}"] in summary
    [scatter] = [img for img in page.images if img["section"] == "scatter"]
    assert image_of(scatter["src"])[0] == "image/png"
    errors = page.tables["errors"][0]
    assert errors[1] == ["v2.mp4", "3.000", "4.500", "1.500"]  # the largest error first
    assert len([img for img in page.images if img["section"] == "errors"]) == 4


def test_cv_report_has_fold_table_mean_std_pooled_confusion_and_links(cv_run, read_page, image_of) -> None:
    write_run_report(cv_run.root / "folds" / "a" / "eval", title="fold a", timing={"total": 12.0}, strict=True)
    path = write_cv_report(cv_run.root, folds={"a": cv_run.root / "folds" / "a", "b": cv_run.root / "folds" / "b"}, config=cv_run.config, strict=True)
    assert path == cv_run.root / "report.html"
    text = path.read_text(encoding="utf-8")
    _assert_self_contained(text)
    page = read_page(text)
    assert page.section_ids == ["summary", "folds", "confusion", "per-class", "confused-pairs", "correct", "config", "timing"]
    acc = cv_run.metrics["video"]["metrics"]["accuracy"]
    folds = page.tables["folds"][0]
    assert folds[0][:2] == ["fold", "accuracy"]
    assert folds[1][:2] == ["a", f"{acc['values'][0]:.3f}"] and folds[2][:2] == ["b", f"{acc['values'][1]:.3f}"]
    assert folds[3][:2] == ["mean ± std", f"{acc['mean']:.3f} ± {acc['std']:.3f}"]
    assert f"{acc['mean']:.3f} ± {acc['std']:.3f}" in page.text["summary"]
    # fold a has a report: its name links to it, relative to the CV report
    [link] = [lk for lk in page.links if lk["section"] == "folds"]
    assert link["text"] == "a" and (cv_run.root / link["href"]).is_file()
    # the pooled confusion matrix and a per-class table computed from it
    [cm] = [img for img in page.images if img["section"] == "confusion"]
    assert image_of(cm["src"])[0] == "image/png"
    pooled = np.asarray(cv_run.metrics["video"]["confusion_matrix"])
    walk_recall = pooled[0, 0] / pooled[0].sum()
    assert page.tables["per-class"][0][1][:3] == ["walk", f"{pooled[0, 0] / pooled[:, 0].sum():.3f}", f"{walk_recall:.3f}"]
    # thumbnails come from the folds' predictions
    assert len([img for img in page.images if img["section"] == "confused-pairs"]) == 3
    assert ["fold a", "12.0 s"] in page.tables["timing"][0]


def test_generic_report_for_other_kinds_of_run(tmp_path, classification_run, read_page, image_of) -> None:
    """A clustering or tuning run: any metrics dict, its own sections and pictures."""
    sections = [
        Section("clusters", "Clusters", table_html(["cluster", "videos"], [["0", 4], ["1 <b>", 2]])),
        Section("timing", "Timing", "<p>replaced</p>"),
    ]
    path = write_html_report(
        tmp_path / "cluster",
        title="Clustering <report> & more",
        metrics={"silhouette": 0.41, "n_clusters": 2, "per_k": {"2": 0.41, "3": 0.3}},
        sections=sections,
        images={"embedding": classification_run.eval_dir / "confusion.png", "missing": tmp_path / "nope.png"},
        timing={"features": 1.5},
    )
    text = path.read_text(encoding="utf-8")
    _assert_self_contained(text)
    page = read_page(text)
    assert page.h1 == ["Clustering <report> & more"]
    assert "<report>" not in text  # escaped
    assert page.section_ids == ["summary", "clusters", "figures", "timing"]
    assert ["silhouette", "0.410"] in page.tables["summary"][0] and ["per_k.3", "0.300"] in page.tables["summary"][0]
    assert ["1 <b>", "2"] in page.tables["clusters"][0]
    assert page.text["timing"].strip().endswith("replaced")  # a built-in id is replaced in place
    [fig] = [img for img in page.images if img["section"] == "figures"]
    assert image_of(fig["src"])[0] == "image/png" and fig["alt"] == "embedding"
    assert "nope.png" in page.text["figures"] and "not available" in page.text["figures"]
    with pytest.raises(ValueError, match="two sections"):
        write_html_report(tmp_path / "x", title="t", sections=[Section("a", "A"), Section("a", "B")])
    with pytest.raises(ValueError, match="section id"):
        Section("has space", "Bad")


def test_class_names_are_escaped(tmp_path, read_page) -> None:
    from vidlearn.tasks.metrics import classification_metrics

    names = ["<img src=x>", "a&b"]
    m = classification_metrics([0, 1, 1], np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]]), names, level="video")
    text = write_html_report(tmp_path, title="t", metrics={"video": m}).read_text(encoding="utf-8")
    assert "<img src=x>" not in text
    page = read_page(text)
    assert page.tables["per-class"][0][1][0] == "<img src=x>"
    assert page.tables["confused-pairs"][0][1][:2] == ["a&b", "<img src=x>"]
    assert not page.images


def test_a_class_named_script_and_script_paths_are_escaped_by_the_templates(tmp_path, read_page) -> None:
    """The templates autoescape: a class called <script>, a video path and a skipped path holding
    one, a title and an info value all reach the page as text, never as markup."""
    from vidlearn.tasks.metrics import classification_metrics

    names = ["<script>", "walk"]
    m = classification_metrics([0, 1, 1], np.array([[0.9, 0.1], [0.8, 0.2], [0.1, 0.9]]), names, level="video")
    bad_path = str(tmp_path / "<script>alert(1)<x>.mp4")  # no such video: a placeholder with its name
    preds = [{"path": bad_path, "true": "walk", "predicted": "<script>", "score": 0.8}]
    text = write_html_report(
        tmp_path,
        title="<script>t</script>",
        metrics={"video": m, "skipped": [{"path": "/v/<script>.mp4", "reason": "<script>bad"}]},
        predictions=preds,
        info={"<script>": "<script>x"},
        config={"task": {"classes": names}},
    ).read_text(encoding="utf-8")
    assert "<script" not in text.lower()
    assert "&lt;script&gt;" in text
    page = read_page(text)
    assert page.scripts == 0
    assert page.h1 == ["<script>t</script>"]
    assert page.tables["per-class"][0][1][0] == "<script>"
    assert page.tables["confused-pairs"][0][1][:2] == ["walk", "<script>"]
    assert "walk → <script>" in page.text["confused-pairs"] and "<script>alert(1)<x>.mp4" in page.text["confused-pairs"]
    assert page.tables["skipped"][0][1] == ["/v/<script>.mp4", "<script>bad"]
    assert "<script>x" in page.text["summary"] and "<script>" in page.text["config"]


def test_a_run_without_evaluation_still_gets_a_report(tmp_path, classification_run, read_page) -> None:
    eval_dir = tmp_path / "bare" / "eval"
    eval_dir.mkdir(parents=True)
    (eval_dir / "curves.png").write_bytes((classification_run.eval_dir / "curves.png").read_bytes())
    path = write_run_report(eval_dir, title="no eval", metrics={}, timing={"total": 5.0}, strict=True)
    page = read_page(path.read_text(encoding="utf-8"))
    assert page.section_ids == ["summary", "curves", "timing"]
    assert "No evaluation metrics" in page.text["summary"]


def test_report_writing_is_atomic_and_never_fails_a_run(classification_run) -> None:
    path = _report(classification_run)
    before = path.read_text(encoding="utf-8")
    assert not [p.name for p in classification_run.eval_dir.iterdir() if p.name.startswith(".")], "temp files left behind"
    (classification_run.eval_dir / "metrics.json").write_text("{ not json")
    said: list[str] = []
    assert write_run_report(classification_run.eval_dir, title="t", echo=said.append) is None
    assert len(said) == 1 and "report.html not written" in said[0] and "JSONDecodeError" in said[0]
    assert path.read_text(encoding="utf-8") == before  # the old report is untouched, not half-written
    with pytest.raises(json.JSONDecodeError):
        write_run_report(classification_run.eval_dir, title="t", strict=True)


def test_timing_is_saved_beside_the_report(classification_run) -> None:
    _report(classification_run, timing={"total": 2.5})
    assert json.loads((classification_run.eval_dir / "timing.json").read_text()) == {"total": 2.5}


def test_predictions_csv_round_trip_and_from_scores(tmp_path) -> None:
    from vidlearn.predictors.evaluation import Scores

    records = [VideoRecord(Path("a.mp4"), "walk"), VideoRecord(Path("b,1.mp4"), "run", start=1.0, end=2.5), VideoRecord(Path("c.mp4"), "run")]
    probs = np.array([[[0.7, 0.3], [0.5, 0.5]], [[0.9, 0.1], [0.7, 0.3]]], dtype=np.float32)  # records 0 and 2 (1 unreadable)
    rows = predictions_from_scores(Scores(np.array([0, 2]), probs), records, ["walk", "run"])
    assert [(r["path"], r["true"], r["predicted"]) for r in rows] == [("a.mp4", "walk", "walk"), ("c.mp4", "run", "walk")]
    assert rows[1]["score"] == pytest.approx(0.8)
    write_predictions_csv(tmp_path / "p.csv", rows + [{"path": "b,1.mp4", "true": "run", "predicted": "run", "score": np.float32(0.5), "start": 1.0, "end": 2.5}])
    back = read_predictions_csv(tmp_path / "p.csv")
    assert back[0] == {"path": "a.mp4", "true": "walk", "predicted": "walk", "score": pytest.approx(0.6), "start": None, "end": None}
    assert back[2] == {"path": "b,1.mp4", "true": "run", "predicted": "run", "score": 0.5, "start": 1.0, "end": 2.5}
    reg = predictions_from_scores(Scores(np.array([1]), np.array([[[2.0], [4.0]]])), [r.with_target(3.0) for r in records], None)
    assert reg == [{"path": "b,1.mp4", "true": 3.0, "predicted": 3.0, "score": None, "start": 1.0, "end": 2.5}]
    (tmp_path / "bad.csv").write_text("file,label\nx,y\n")
    with pytest.raises(ValueError, match="bad.csv: missing column"):
        read_predictions_csv(tmp_path / "bad.csv")


def test_thumbnail_is_the_middle_frame_of_the_video_or_segment(tmp_path) -> None:
    from vidlearn.io import write_video

    levels = np.arange(8) * 30  # frame t is grey level 30 t; 8 frames at 8 fps: one second
    frames = np.repeat(levels[:, None, None, None], 48 * 64 * 3, axis=1).reshape(8, 48, 64, 3).astype(np.uint8)
    video = write_video(tmp_path / "grey.mp4", frames, fps=8.0)
    mid = middle_frame(video)
    assert min(mid.shape[:2]) == 96
    assert abs(float(mid.mean()) - 120) < 12  # t = 0.5 s: frame 4
    seg = middle_frame(video, start=0.0, end=0.25)  # t = 0.125 s: frame 1
    assert abs(float(seg.mean()) - 30) < 12


def test_helpers(tmp_path) -> None:
    assert format_duration(5.04) == "5.0 s" and format_duration(83.2) == "1 min 23 s" and format_duration(7380) == "2 h 03 min"
    assert "not available" in image_html(tmp_path / "none.png", "x")
    (tmp_path / "fake.png").write_text("hello")
    assert "not available" in image_html(tmp_path / "fake.png", "x")  # not an image: no broken <img>
