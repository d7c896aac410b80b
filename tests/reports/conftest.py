"""A fake finished run, built without training: metrics in the real schema, the real plots, a few
tiny videos for thumbnails and their predictions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from vidlearn.io import write_video
from vidlearn.reports import write_predictions_csv
from vidlearn.tasks.metrics import classification_metrics, regression_metrics, summarize_folds, write_metrics
from vidlearn.tasks.plots import plot_confusion_matrix, plot_learning_curves, plot_regression_scatter

CLASSES = ["walk", "run", "jump"]
# A colour that no plot uses: the thumbnails of misclassified videos are this magenta.
MAGENTA = (230, 30, 200)


@dataclass
class FakeRun:
    root: Path
    eval_dir: Path
    metrics: dict
    predictions: list[dict]
    videos: dict[str, Path]
    config: dict


def tiny_video(path: Path, colour: tuple[int, int, int], *, frames: int = 8, size: tuple[int, int] = (64, 48)) -> Path:
    """A short clip: a flat colour with a white square moving to the right."""
    w, h = size
    arr = np.empty((frames, h, w, 3), dtype=np.uint8)
    arr[:] = colour
    for t in range(frames):
        x = 4 + t * 4
        arr[t, 18:30, x : x + 12] = 255
    return write_video(path, arr, fps=8.0)


def _scores(y_true: list[int], y_pred: list[int], k: int) -> np.ndarray:
    s = np.full((len(y_true), k), 0.1)
    s[np.arange(len(y_true)), y_pred] = 0.8
    return s / s.sum(axis=1, keepdims=True)


def _config(kind: str = "classification") -> dict:
    from vidlearn.config import ExperimentConfig

    over = {"task.classes": CLASSES} if kind == "classification" else {"task.kind": "regression", "task.target_mean": 2.5}
    return ExperimentConfig().override({**over, "optim.epochs": 3}).to_dict()


def make_classification_run(root: Path) -> FakeRun:
    """run/eval with metrics.json, confusion.png, curves.png, predictions.csv and 8 videos,
    of which 3 are misclassified (2 run -> walk, 1 jump -> run)."""
    eval_dir = root / "eval"
    vids = root / "videos"
    vids.mkdir(parents=True)
    # (name, true, predicted): two "run" videos predicted "walk", one "jump" predicted "run"
    items = [
        ("walk_01.mp4", 0, 0), ("walk_02.mp4", 0, 0), ("run_01.mp4", 1, 0), ("run_02.mp4", 1, 0),
        ("run_03.mp4", 1, 1), ("jump_01.mp4", 2, 1), ("jump_02.mp4", 2, 2), ("jump_03.mp4", 2, 2),
    ]
    videos: dict[str, Path] = {}
    for name, t, p in items:
        colour = MAGENTA if t != p else (40, 160, 60)
        videos[name] = tiny_video(vids / name, colour)
    y = [t for _, t, _ in items]
    yp = [p for _, _, p in items]
    video = classification_metrics(y, _scores(y, yp, 3), CLASSES, level="video")
    clip = classification_metrics(np.repeat(y, 2), _scores(list(np.repeat(y, 2)), list(np.repeat(yp, 2)), 3), CLASSES, level="clip")
    metrics = {"video": video, "clip": clip, "skipped": [{"path": str(vids / "broken.mp4"), "reason": "cannot decode the first frame"}]}
    write_metrics(eval_dir / "metrics.json", metrics)
    plot_confusion_matrix(np.asarray(video["confusion_matrix"]), CLASSES, eval_dir / "confusion.png")
    plot_learning_curves(
        {"epoch": [0, 1, 2], "train_loss": [1.1, 0.8, 0.6], "val_loss": [1.0, 0.85, 0.7], "val_acc": [0.4, 0.55, 0.62]},
        eval_dir / "curves.png",
    )
    predictions = [
        {"path": str(videos[name]), "true": CLASSES[t], "predicted": CLASSES[p], "score": 0.9 - 0.05 * i, "start": None, "end": None}
        for i, (name, t, p) in enumerate(items)
    ]
    write_predictions_csv(eval_dir / "predictions.csv", predictions)
    return FakeRun(root, eval_dir, metrics, predictions, videos, _config())


def make_regression_run(root: Path) -> FakeRun:
    eval_dir = root / "eval"
    vids = root / "videos"
    vids.mkdir(parents=True)
    truth = [1.0, 2.0, 3.0, 4.0]
    pred = [1.2, 1.9, 4.5, 3.8]
    videos = {f"v{i}.mp4": tiny_video(vids / f"v{i}.mp4", MAGENTA) for i in range(len(truth))}
    metrics = {"video": regression_metrics(truth, pred, level="video"), "clip": regression_metrics(truth * 2, pred * 2, level="clip"), "skipped": []}
    write_metrics(eval_dir / "metrics.json", metrics)
    plot_regression_scatter(truth, pred, eval_dir / "scatter.png")
    predictions = [{"path": str(p), "true": t, "predicted": q, "score": None} for p, t, q in zip(videos.values(), truth, pred)]
    return FakeRun(root, eval_dir, metrics, predictions, videos, _config("regression"))


def make_cv_run(root: Path) -> FakeRun:
    """folds/a and folds/b each with eval/ files, then cv_metrics.json and cv_confusion.png."""
    fold_metrics = []
    preds: list[dict] = []
    for name, offset in (("a", 0), ("b", 1)):
        fold = make_classification_run(root / "folds" / name) if offset == 0 else None
        if fold is None:  # a second fold: all correct but one
            eval_dir = root / "folds" / name / "eval"
            y = [0, 1, 2, 2]
            yp = [0, 1, 2, 0]
            video = classification_metrics(y, _scores(y, yp, 3), CLASSES, level="video")
            m = {"video": video, "clip": video | {"level": "clip"}, "skipped": []}
            write_metrics(eval_dir / "metrics.json", m)
            fold_metrics.append(m)
        else:
            fold_metrics.append(fold.metrics)
            preds = fold.predictions
    summary = {
        "protocol": "kfold:2",
        "video": summarize_folds([f["video"] for f in fold_metrics]),
        "clip": summarize_folds([f["clip"] for f in fold_metrics]),
        "folds": ["a", "b"],
    }
    write_metrics(root / "cv_metrics.json", summary)
    plot_confusion_matrix(np.asarray(summary["video"]["confusion_matrix"]), CLASSES, root / "cv_confusion.png")
    return FakeRun(root, root, summary, preds, {}, _config())


@pytest.fixture(scope="session")
def _classification_template(tmp_path_factory) -> FakeRun:
    return make_classification_run(tmp_path_factory.mktemp("template") / "run")


@pytest.fixture
def classification_run(_classification_template: FakeRun, tmp_path: Path) -> FakeRun:
    """A fresh copy of the run's eval folder for each test (the videos are shared, read-only)."""
    import shutil

    t = _classification_template
    root = tmp_path / "run"
    shutil.copytree(t.eval_dir, root / "eval")
    return FakeRun(root, root / "eval", t.metrics, t.predictions, t.videos, t.config)


@pytest.fixture
def regression_run(tmp_path: Path) -> FakeRun:
    return make_regression_run(tmp_path / "run")


@pytest.fixture
def cv_run(tmp_path: Path) -> FakeRun:
    return make_cv_run(tmp_path / "cv")


# ---- reading a report back ------------------------------------------------------------------


@dataclass
class Page:
    """What a report page contains, as a reader sees it."""

    h1: list[str]
    section_ids: list[str]
    images: list[dict]  # {"src", "alt", "section"}
    links: list[dict]  # {"href", "text", "section"}
    tables: dict[str, list[list[list[str]]]]  # section id -> tables -> rows -> cell texts
    text: dict[str, str]  # section id -> its visible text
    scripts: int


class _Parser:
    def __init__(self) -> None:
        from html.parser import HTMLParser

        page = self
        self.h1: list[str] = []
        self.section_ids: list[str] = []
        self.images: list[dict] = []
        self.links: list[dict] = []
        self.tables: dict[str, list] = {}
        self.text: dict[str, str] = {}
        self.scripts = 0
        self._section: str | None = None
        self._in_h1 = False
        self._row: list[str] | None = None
        self._cell: list[str] | None = None
        self._link: dict | None = None

        class P(HTMLParser):
            def handle_starttag(self, tag, attrs):
                page._start(tag, dict(attrs))

            def handle_endtag(self, tag):
                page._end(tag)

            def handle_data(self, data):
                page._data(data)

        self.parser = P(convert_charrefs=True)

    def _start(self, tag: str, a: dict) -> None:
        if tag == "section":
            self._section = a.get("id")
            self.section_ids.append(a.get("id"))
            self.text[a.get("id")] = ""
        elif tag == "h1":
            self._in_h1 = True
            self.h1.append("")
        elif tag == "img":
            self.images.append({"src": a.get("src", ""), "alt": a.get("alt", ""), "section": self._section})
        elif tag == "a":
            self._link = {"href": a.get("href", ""), "text": "", "section": self._section}
            self.links.append(self._link)
        elif tag == "script":
            self.scripts += 1
        elif tag == "table":
            self.tables.setdefault(self._section, []).append([])
        elif tag == "tr":
            self._row = []
        elif tag in ("td", "th"):
            self._cell = []

    def _end(self, tag: str) -> None:
        if tag == "section":
            self._section = None
        elif tag == "h1":
            self._in_h1 = False
        elif tag == "a":
            self._link = None
        elif tag in ("td", "th") and self._cell is not None and self._row is not None:
            self._row.append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "tr" and self._row is not None:
            self.tables[self._section][-1].append(self._row)
            self._row = None

    def _data(self, data: str) -> None:
        if self._in_h1:
            self.h1[-1] += data
        if self._cell is not None:
            self._cell.append(data)
        if self._link is not None:
            self._link["text"] += data
        if self._section is not None:
            self.text[self._section] += data


def parse_page(html_text: str) -> Page:
    p = _Parser()
    p.parser.feed(html_text)
    p.parser.close()
    return Page([h.strip() for h in p.h1], p.section_ids, p.images, p.links, p.tables, p.text, p.scripts)


def decode_data_uri(src: str):
    """(mime, PIL image) of a data URI; raises when it is not a real, complete image."""
    import base64
    import io

    from PIL import Image

    assert src.startswith("data:image/"), src[:40]
    header, payload = src.split(",", 1)
    assert header.endswith(";base64"), header
    mime = header[len("data:") : -len(";base64")]
    raw = base64.b64decode(payload, validate=True)
    img = Image.open(io.BytesIO(raw))
    img.load()  # decodes every pixel: a truncated file fails here
    return mime, img


@pytest.fixture
def read_page():
    return parse_page


@pytest.fixture
def image_of():
    return decode_data_uri


@pytest.fixture(scope="session")
def report_makers():
    """The builders above, for tests that make their own runs: `.cv(root)`, `.video(path, colour)`."""
    from types import SimpleNamespace

    return SimpleNamespace(cv=make_cv_run, video=tiny_video)
