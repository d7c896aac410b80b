"""The timeline picture: the video's frames along the time axis, the class predicted per window,
and with top-k predictions the scores only where they are known (never drawn as zeros)."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import numpy as np
from PIL import Image

from vidlearn.reports.timeline import plot_timeline, score_matrix

MAGENTA = (230, 30, 200)
NAMES = ["walk", "run", "jump"]


def _windows(path: str, top_k: int) -> list:
    out = []
    for i in range(8):
        label = NAMES[i // 3]
        scores = {n: (0.7 if n == label else 0.15) for n in NAMES}
        ranked = sorted(scores.items(), key=lambda kv: -kv[1])[:top_k]
        out.append(SimpleNamespace(path=path, start=i * 0.25, end=i * 0.25 + 0.5, label=label, score=0.7, top_k=ranked, value=None))
    return out


def test_with_top1_the_other_classes_are_unknown_not_zero() -> None:
    m = score_matrix(_windows("v.mp4", 1), NAMES)
    assert m.shape == (8, 3)
    assert np.isnan(m).sum() == 16 and np.nanmin(m) == 0.7  # one known score per window
    assert not np.isnan(score_matrix(_windows("v.mp4", 3), NAMES)).any()


def test_the_picture_holds_the_videos_frames(tmp_path: Path, report_makers) -> None:
    video = report_makers.video(tmp_path / "long.mp4", MAGENTA, frames=20)
    with_frames = plot_timeline(_windows(str(video), 1), NAMES, tmp_path / "t.png")
    px = np.asarray(Image.open(with_frames).convert("RGB")).astype(int)
    magenta = np.all(np.abs(px - np.array(MAGENTA)) < 30, axis=-1).sum()
    assert magenta > 8 * 500, "the frames of the video are not along the timeline"
    # a video that cannot be read again (a stream, a moved file): the timeline without frames
    gone = plot_timeline(_windows(str(tmp_path / "gone.mp4"), 1), NAMES, tmp_path / "t2.png")
    px2 = np.asarray(Image.open(gone).convert("RGB")).astype(int)
    assert np.all(np.abs(px2 - np.array(MAGENTA)) < 30, axis=-1).sum() == 0
    assert Image.open(gone).size[1] < Image.open(with_frames).size[1]


def test_a_run_folder_with_a_timeline_shows_it_in_its_report(classification_run, read_page, image_of) -> None:
    from vidlearn.reports import write_run_report

    video = str(classification_run.videos["walk_01.mp4"])
    plot_timeline(_windows(video, 1), NAMES, classification_run.eval_dir / "timeline.png")
    page = read_page(write_run_report(classification_run.eval_dir, title="run", strict=True).read_text(encoding="utf-8"))
    assert page.section_ids.index("confusion") < page.section_ids.index("timeline") < page.section_ids.index("per-class")
    [img] = [i for i in page.images if i["section"] == "timeline"]
    mime, pic = image_of(img["src"])
    assert mime == "image/png" and pic.size == Image.open(classification_run.eval_dir / "timeline.png").size
