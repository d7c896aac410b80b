"""report.html in a real browser: headless Chromium opens the file from disk (file://, no server,
no network), renders it, and the screenshot shows the embedded pictures — the confusion matrix,
the learning curves and the thumbnails of misclassified videos — not a blank page or broken
images; the DOM Chromium built has the sections and <img> elements whose data URIs are real PNG
and JPEG images. Skips when Chromium is not installed (`make browser` installs it)."""

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
    report = write_run_report(work / "eval", title="Training report: browser check", config=run.config, timing={"total": 12.5}, strict=True)
    url = report.resolve().as_uri()
    shot = work / "screenshot.png"
    res = _run_chromium(exe, work / "profile-shot", f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}", url)
    assert res.returncode == 0 and shot.is_file(), f"chromium screenshot failed ({res.returncode}): {res.stderr.decode(errors='replace')[-2000:]}"
    dom = _run_chromium(exe, work / "profile-dom", "--dump-dom", url)
    assert dom.returncode == 0, f"chromium --dump-dom failed ({dom.returncode}): {dom.stderr.decode(errors='replace')[-2000:]}"
    return report, shot, dom.stdout.decode("utf-8")


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
    for sid in ("summary", "curves", "confusion", "per-class", "confused-pairs", "config", "timing"):
        assert sid in page.section_ids, sid
    kinds = {}
    for img in page.images:
        mime, pic = image_of(img["src"])
        assert pic.size[0] > 20 and pic.size[1] > 20
        kinds.setdefault(img["section"], []).append(mime)
    assert kinds == {"curves": ["image/png"], "confusion": ["image/png"], "confused-pairs": ["image/jpeg"] * 3}
    # Chromium kept the same page the file holds (nothing was fetched or rewritten)
    assert len(page.images) == len(read_page(report.read_text(encoding="utf-8")).images)
