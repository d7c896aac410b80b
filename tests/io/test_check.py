"""`check`: every kind of bad file gets a reason a person can act on; the CLI exits 1 when any
video is bad, 0 otherwise, and never prints a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidlearn.data.synthetic import generate_demo_dataset, write_bad_videos
from vidlearn.io import check_video, check_videos


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory) -> dict[str, Path]:
    return write_bad_videos(tmp_path_factory.mktemp("bad"))


@pytest.fixture(scope="module")
def good_data(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("good")
    generate_demo_dataset(out, classes=["left", "right"], videos_per_class=2, num_groups=2, size=32, duration=1.0)
    return out


EXPECTED = {
    "empty": "empty",
    "notavideo": "not a readable video",
    "audio_only": "no video stream",
    "one_frame": "only one frame",
    "truncated": "truncated",
    "corrupt": "",  # reason varies by where the damage lands; it must be reported somehow
}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_bad_file_is_reported_with_its_reason(bad_files: dict[str, Path], name: str) -> None:
    result = check_video(bad_files[name])
    assert not result.ok, f"{name} passed the check"
    assert EXPECTED[name] in "; ".join(result.problems)


def test_good_videos_pass(good_data: Path) -> None:
    paths = sorted(good_data.glob("videos/*/*.mp4"))
    results = check_videos(paths, progress=False)
    assert [r.ok for r in results] == [True] * len(paths)
    assert all(r.frames == 25 for r in results)


def test_real_clips_pass(clips_dir: Path) -> None:
    results = check_videos(sorted(clips_dir.iterdir()), progress=False)
    assert all(r.ok for r in results), [r.to_dict() for r in results if not r.ok]


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "vidlearn.cli", *args], capture_output=True, text=True, timeout=300, env={**os.environ})


def test_cli_check_exit_status_and_json(bad_files: dict[str, Path], good_data: Path, tmp_path: Path) -> None:
    ok = _cli("check", str(good_data / "manifest.csv"))
    assert ok.returncode == 0 and "0 bad" in ok.stdout
    mixed = tmp_path / "mixed"
    (mixed / "a").mkdir(parents=True)
    for name in ("empty", "notavideo", "truncated"):
        (mixed / "a" / f"{name}.mp4").write_bytes(bad_files[name].read_bytes())
    good = next(good_data.glob("videos/left/*.mp4"))
    (mixed / "a" / "good.mp4").write_bytes(good.read_bytes())
    res = _cli("check", str(mixed), "--json")
    assert res.returncode == 1
    doc = json.loads(res.stdout)
    assert doc["checked"] == 4 and doc["bad"] == 3
    assert "Traceback" not in res.stderr
    text = _cli("check", str(mixed))
    assert text.returncode == 1 and "empty.mp4" in text.stdout and "truncated" in text.stdout


def test_cli_probe_json_and_bad_file(clips_dir: Path, bad_files: dict[str, Path]) -> None:
    res = _cli("probe", str(clips_dir / "decord_flipping_a_pancake.mkv"), "--json")
    assert res.returncode == 0
    assert json.loads(res.stdout)["num_frames"] == 310
    bad = _cli("probe", str(bad_files["notavideo"]))
    assert bad.returncode == 2 and "notavideo.mp4" in bad.stderr and "Traceback" not in bad.stderr


def test_cli_frames_by_time(good_data: Path, tmp_path: Path) -> None:
    video = next(good_data.glob("videos/left/*.mp4"))
    res = _cli("frames", str(video), str(tmp_path / "frames"), "--fps", "5", "--size", "16")
    assert res.returncode == 0, res.stderr
    names = sorted(p.name for p in (tmp_path / "frames").iterdir())
    assert names[:2] == ["frame_000000_t0.000.jpg", "frame_000001_t0.200.jpg"] and len(names) == 5


def test_cli_models_lists_names_parameters_and_macs() -> None:
    """The listing's options (a filter, --clip, --json, the table); every registered model is
    built and measured by tests/models, so only a few are listed here (each costs a forward)."""
    from typer.testing import CliRunner

    from vidlearn.cli import app

    res = _cli("models", "tiny", "--clip", "8,64,64", "--json")
    assert res.returncode == 0, res.stderr
    rows = {r["name"]: r for r in json.loads(res.stdout)}
    assert {"r2plus1d_tiny", "r3d_tiny", "x3d_tiny"} <= set(rows) and all("tiny" in n for n in rows)
    assert 0.5e6 < rows["r2plus1d_tiny"]["params"] < 1.5e6 and rows["r2plus1d_tiny"]["macs"] > 1e8
    table = CliRunner().invoke(app, ["models", "*rnn*"])
    lines = table.stdout.splitlines()
    assert table.exit_code == 0 and "GMACs @16,112,112" in lines[0]
    assert [line.split()[0] for line in lines[1:]] == ["feature_rnn"]
    assert "1280 features" in lines[1]  # measured on the default frame features, not pixels


def test_a_full_disk_is_one_line_naming_the_folder(tmp_path, monkeypatch) -> None:
    """ENOSPC while a command writes: one line with the folder and the reason, exit 2, no traceback."""
    import errno

    from typer.testing import CliRunner

    import vidlearn.fsutil as fsutil
    from vidlearn.cli import app
    from vidlearn.data.synthetic import generate_demo_dataset

    data = generate_demo_dataset(tmp_path / "d", classes=["left", "right"], videos_per_class=2, num_groups=2, size=32, duration=0.5)
    real_replace = fsutil.os.replace

    def full(src, dst, *a, **k):
        if str(dst).endswith("features.csv"):
            raise OSError(errno.ENOSPC, "No space left on device", str(dst))
        return real_replace(src, dst, *a, **k)

    monkeypatch.setattr(fsutil.os, "replace", full)
    out = tmp_path / "out" / "features.csv"
    res = CliRunner().invoke(app, ["features", str(data), "--kind", "color", "--out", str(out), "--workers", "1", "--quiet"])
    assert res.exit_code == 2, res.output
    assert f"{tmp_path / 'out'}: no space left on the device" in res.output
    assert "Traceback" not in res.output
