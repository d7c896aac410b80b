"""report.html in a real browser: headless Chromium opens the file from disk (file://, no server,
no network), renders it, and the screenshot shows the embedded pictures — the confusion matrix,
the learning curves and the thumbnails of misclassified videos — not a blank page or broken
images; the DOM Chromium built has the sections and <img> elements whose data URIs are real PNG
and WebP images. Every report kind (run, cross-validation, clustering, tuning) is opened in a
1280 px window: it renders, holds its pictures, and nothing (no table) runs past the page's
column. Skips when Chromium is not installed (`make browser` installs it)."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vidlearn.reports import write_run_report

WIDTH, HEIGHT = 1200, 3000


def _chromium() -> str:
    for candidate in (os.environ.get("VIDLEARN_CHROMIUM"), "chromium", "chromium-browser", "/usr/bin/chromium"):
        if candidate and (found := shutil.which(candidate)):
            return found
    pytest.skip("chromium is not installed (Debian package 'chromium'; `make browser` installs it): report.html is not checked in a browser")


def _run_chromium(exe: str, profile: Path, *args: str) -> subprocess.CompletedProcess:
    cmd = [
        exe, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--disable-dev-shm-usage", "--hide-scrollbars", "--force-device-scale-factor=1",
        f"--user-data-dir={profile}", *args,
    ]
    try:
        return subprocess.run(cmd, capture_output=True, timeout=90, env={**os.environ, "HOME": str(profile)})
    except subprocess.TimeoutExpired:
        pytest.fail(f"chromium did not finish within 90 s: {' '.join(cmd)}")


@pytest.fixture(scope="module")
def rendered(tmp_path_factory, _classification_template):
    """The report of the fake run, its screenshot and the DOM as Chromium built it."""
    exe = _chromium()
    run = _classification_template
    work = tmp_path_factory.mktemp("browser")
    shutil.copytree(run.eval_dir, work / "eval")
    report = write_run_report(work / "eval", title="Training report: browser check", config=run.config, timing={"total": 12.5},
                              images={"timeline": _timeline_png(run, work / "timeline.png")}, strict=True)
    url = report.resolve().as_uri()
    shot = work / "screenshot.png"
    res = _run_chromium(exe, work / "profile-shot", f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", url)
    assert res.returncode == 0 and shot.is_file(), f"chromium screenshot failed ({res.returncode}): {res.stderr.decode(errors='replace')[-2000:]}"
    dom = _run_chromium(exe, work / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, f"chromium --dump-dom failed ({dom.returncode}): {dom.stderr.decode(errors='replace')[-2000:]}"
    return report, shot, dom.stdout.decode("utf-8")


def _timeline_png(run, path: Path) -> Path:
    """The timeline picture of one of the run's videos (two windows, top-1 only)."""
    from types import SimpleNamespace

    from vidlearn.reports.timeline import plot_timeline

    video = str(run.videos["walk_01.mp4"])
    windows = [SimpleNamespace(path=video, start=s, end=s + 0.5, label=c, score=0.8, top_k=[(c, 0.8)], value=None)
               for s, c in ((0.0, "walk"), (0.5, "run"))]
    return plot_timeline(windows, ["walk", "run", "jump"], path)


def _near(pixels: np.ndarray, rgb: tuple[int, int, int], tol: int) -> np.ndarray:
    return np.all(np.abs(pixels - np.array(rgb, dtype=np.int16)) <= tol, axis=-1)


def test_the_screenshot_shows_the_pictures(rendered) -> None:
    from PIL import Image

    _, shot, _ = rendered
    img = Image.open(shot).convert("RGB")
    assert img.size == (WIDTH, HEIGHT)
    px = np.asarray(img).astype(np.int16)
    # not blank: the page has contrast everywhere text and pictures are, and many colours
    assert px[::2, ::2].std() > 20
    q = (px[::2, ::2] // 8).astype(np.int32).reshape(-1, 3)
    colours = len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2]))
    assert colours > 100, f"only {colours} distinct colours: an empty or unstyled page?"
    rows_with_content = np.mean(px[:, ::2].std(axis=(1, 2)) > 5)
    assert rows_with_content > 0.3, "most of the page is empty"
    # each embedded picture is drawn: its own colours appear
    blues = _near(px, (8, 48, 107), 12)
    assert blues.sum() > 2000, "the confusion matrix (its dark Blues cell) is not visible"
    assert _near(px, (255, 127, 14), 40).sum() > 150, "the learning curves (the orange val_loss line) are not visible"
    magenta = (px[..., 0] > 170) & (px[..., 1] < 100) & (px[..., 2] > 140)
    assert magenta.sum() > 3 * 5000, "the thumbnails of the three misclassified (magenta) videos are not visible"
    # the thumbnails are below the confusion matrix, as the page orders them
    blues_rows = np.nonzero(blues.any(axis=1))[0]
    magenta_rows = np.nonzero(magenta.any(axis=1))[0]
    assert magenta_rows.min() > blues_rows.max()


def test_the_rendered_dom_has_the_sections_and_real_images(rendered, read_page, image_of) -> None:
    report, _, dom = rendered
    page = read_page(dom)
    assert page.h1 == ["Training report: browser check"]
    for sid in ("summary", "curves", "confusion", "timeline", "per-class", "confused-pairs", "correct", "config", "timing"):
        assert sid in page.section_ids, sid
    kinds = {}
    for img in page.images:
        mime, pic = image_of(img["src"])
        assert pic.size[0] > 20 and pic.size[1] > 20
        kinds.setdefault(img["section"], []).append(mime)
    assert kinds == {"curves": ["image/png"], "confusion": ["image/png"], "timeline": ["image/png"],
                     "confused-pairs": ["image/webp"] * 3, "correct": ["image/webp"] * 5}
    # Chromium kept the same page the file holds (nothing was fetched or rewritten)
    assert len(page.images) == len(read_page(report.read_text(encoding="utf-8")).images)


# ---- every report kind in a 1280 px window --------------------------------------------------

WINDOW = 1280


def _cv_report(root: Path, makers) -> tuple[Path, set[str]]:
    from vidlearn.reports import write_cv_report

    run = makers.cv(root / "cv")
    return write_cv_report(run.root, config=run.config, strict=True), {"summary", "folds", "confusion", "per-class", "config"}


def _cluster_report(root: Path, makers) -> tuple[Path, set[str]]:
    import pandas as pd
    from sklearn.datasets import make_blobs

    from vidlearn.tasks.clustering import cluster_table
    from vidlearn.training.cluster import write_cluster_report

    X, y = make_blobs(n_samples=9, centers=3, n_features=4, cluster_std=0.5, random_state=0)
    colours = [(200, 40, 40), (40, 160, 60), (40, 60, 200)]
    paths = [str(makers.video(root / "videos" / f"v{i}.mp4", colours[c])) for i, c in enumerate(y)]
    df = pd.DataFrame({"path": paths, "target": [("walk", "run", "wave")[c] for c in y]})
    for j in range(X.shape[1]):
        df[f"blob.f{j}"] = X[:, j]
    files = write_cluster_report(cluster_table(df, k=3), root / "cluster")
    return files["report"], {"summary", "clusters", "map", "assignments"}


def _tune_report(root: Path, study) -> tuple[Path, set[str]]:
    from vidlearn.config import ExperimentConfig
    from vidlearn.training.tune_report import write_reports

    out = root / "tune"
    out.mkdir()
    files = write_reports(study(), ExperimentConfig(), out, metric="val_acc")
    return files["report"], {"summary", "best", "history", "importance", "slice", "parallel", "intermediate", "trials", "config"}


@pytest.mark.parametrize("kind", ["run", "cv", "cluster", "tune"])
def test_every_report_kind_renders_with_its_pictures_inside_a_1280px_window(
    kind, tmp_path, _classification_template, tune_study, report_makers, read_page, image_of
) -> None:
    from PIL import Image

    exe = _chromium()
    if kind == "run":
        shutil.copytree(_classification_template.eval_dir, tmp_path / "eval")
        report = write_run_report(tmp_path / "eval", title="run", config=_classification_template.config, strict=True)
        sections = {"summary", "curves", "confusion", "per-class", "confused-pairs", "correct", "config"}
    elif kind == "cv":
        report, sections = _cv_report(tmp_path, report_makers)
    elif kind == "cluster":
        report, sections = _cluster_report(tmp_path, report_makers)
    else:
        report, sections = _tune_report(tmp_path, tune_study)
    url = report.resolve().as_uri()
    shot = tmp_path / "shot.png"
    res = _run_chromium(exe, tmp_path / "profile-shot", f"--screenshot={shot}", f"--window-size={WINDOW},2400", url)
    assert res.returncode == 0 and shot.is_file(), f"chromium screenshot failed: {res.stderr.decode(errors='replace')[-2000:]}"
    dom = _run_chromium(exe, tmp_path / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0
    page = read_page(dom.stdout.decode("utf-8"))
    # the page Chromium built has the kind's sections, and every picture in it is a real image
    assert sections <= set(page.section_ids), sorted(sections - set(page.section_ids))
    assert page.images, "no picture in the page"
    for img in page.images:
        _, pic = image_of(img["src"])
        assert pic.size[0] > 20 and pic.size[1] > 20
    px = np.asarray(Image.open(shot).convert("RGB")).astype(np.int16)
    assert px.shape[1] == WINDOW
    # rendered: contrast and many colours (text and pictures), not a blank or unstyled page
    assert px[::2, ::2].std() > 20
    q = (px[::2, ::2] // 8).astype(np.int32).reshape(-1, 3)
    assert len(np.unique(q[:, 0] * 1024 + q[:, 1] * 32 + q[:, 2])) > 100
    # nothing runs past the page's 1100 px column (centred: 90 px of margin each side)
    right = px[:, WINDOW - 80 :]
    assert (right >= 250).all(), f"something is drawn in the right margin of a {WINDOW} px window (a table overflows?)"
