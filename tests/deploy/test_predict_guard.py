"""`vidlearn predict` on files from elsewhere reads each only as a video container: a concat script
or a playlist renamed `.mp4` (which would make FFmpeg open the files it names) is skipped with its
reason, and the real videos beside it are still predicted."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from vidlearn.deploy.predict import run_predictions


def _folder_with_a_disguised_script(real_clip: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "incoming"
    folder.mkdir()
    (folder / "real.mp4").symlink_to(real_clip)
    (folder / "script.mp4").write_text("ffconcat version 1.0\nfile real.mp4\n")  # FFmpeg's concat demuxer, by content
    playlist = f"#EXTM3U\n#EXT-X-TARGETDURATION:10\n#EXTINF:10,\n{real_clip}\n#EXT-X-ENDLIST\n"
    (folder / "playlist.mp4").write_text(playlist)
    return folder


def test_predict_skips_files_that_are_not_video_containers(make_artifact, real_clip: Path, tmp_path: Path) -> None:
    folder = _folder_with_a_disguised_script(real_clip, tmp_path)
    report = run_predictions(make_artifact("frame_cnn_small"), folder, progress=False)
    assert [Path(p.path).name for p in report.predictions] == ["real.mp4"]
    skipped = {Path(path).name: reason for path, reason in report.skipped}
    assert set(skipped) == {"script.mp4", "playlist.mp4"}
    assert all("not a video in an accepted container" in r for r in skipped.values()), skipped


def test_cli_predict_reports_the_disguised_script_in_one_line(make_artifact, real_clip: Path, tmp_path: Path) -> None:
    folder = _folder_with_a_disguised_script(real_clip, tmp_path)
    res = subprocess.run([sys.executable, "-m", "vidlearn.cli", "predict", str(make_artifact("frame_cnn_small")), str(folder / "script.mp4")],
                         capture_output=True, text=True, timeout=180)
    assert "Traceback" not in res.stderr + res.stdout
    assert "script.mp4" in res.stdout + res.stderr and "not a video in an accepted container" in res.stdout + res.stderr
