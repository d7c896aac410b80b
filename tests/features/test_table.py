"""The feature table: one row per video with stable columns, written to Parquet; a re-run (even after
SIGKILL) computes only what is missing; bad files are skipped and reported; the CLI command."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from vidlearn.cli import app
from vidlearn.data.records import VideoRecord
from vidlearn.errors import ConfigError, DataSourceError
from vidlearn.features import columns_for
from vidlearn.tables.table import compute_feature_table, feature_columns, read_feature_table
from vidlearn.io import write_video

import vidlearn.tables.workers as workers_mod

KINDS = ["color", "shape", "motion"]
SETTINGS = {"fps": 8.0, "short_side": 32, "workers": 1, "progress": False}


def _video(path: Path, colour: tuple[int, int, int], step: int, frames: int = 10, size: int = 32) -> Path:
    """A square of `colour` moving `step` px a frame over a grey background."""
    video = np.full((frames, size, size, 3), 90, dtype=np.uint8)
    for t in range(frames):
        x = (3 + step * t) % (size - 10)
        video[t, 10:20, x : x + 10] = colour
    return write_video(path, video, fps=8)


@pytest.fixture(scope="module")
def videos(tmp_path_factory: pytest.TempPathFactory) -> list[VideoRecord]:
    root = tmp_path_factory.mktemp("videos")
    records = []
    for i in range(6):
        label = "red" if i % 2 == 0 else "blue"
        colour = (220, 30, 30) if label == "red" else (30, 30, 220)
        path = _video(root / f"{label}{i}.mp4", colour, step=1 + i % 3)
        records.append(VideoRecord(path=path, target=label, group=f"g{i // 2}", meta={"camera": f"c{i % 2}"}))
    return records


def _count_decodes(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    calls: list[str] = []
    real = workers_mod._decode_and_extract

    def counting(path, start, end):  # noqa: ANN001, ANN202
        calls.append(Path(path).name)
        return real(path, start, end)

    monkeypatch.setattr(workers_mod, "_decode_and_extract", counting)
    return calls


def test_one_row_per_video_with_stable_columns(videos: list[VideoRecord], tmp_path: Path) -> None:
    out = tmp_path / "features.parquet"
    table = compute_feature_table(videos, KINDS, out=out, **SETTINGS)

    expected = columns_for(KINDS)
    assert len(table) == len(videos)
    assert list(table.columns) == ["path", "target", "group", "camera", *expected]
    assert table["path"].tolist() == [str(r.path) for r in videos]
    assert table["target"].tolist() == [r.target for r in videos]
    assert table["group"].tolist() == [r.group for r in videos]
    assert all(table[c].dtype == np.float32 for c in expected)
    assert np.isfinite(table[expected].to_numpy()).all()
    info = table.attrs["vidlearn"]
    assert info["computed"] == len(videos) and info["reused"] == 0 and info["skipped"] == []
    # the file on disk is the same table, and says which columns are features
    back = read_feature_table(out)
    pd.testing.assert_frame_equal(back, table, check_like=False)
    assert feature_columns(back) == expected
    assert not out.with_name(out.name + ".parts").exists()  # merged and cleaned up
    # colour features tell the classes apart: red videos have more red than blue ones
    red = table["target"] == "red"
    assert table.loc[red, "color.rgb_r_mean.mean"].min() > table.loc[~red, "color.rgb_r_mean.mean"].max()


def test_worker_processes_give_the_same_table(videos: list[VideoRecord], tmp_path: Path) -> None:
    serial = compute_feature_table(videos, ["color", "motion"], out=tmp_path / "a.parquet", **SETTINGS)
    pooled = compute_feature_table(videos, ["color", "motion"], out=tmp_path / "b.parquet",
                                   **{**SETTINGS, "workers": 2})
    pd.testing.assert_frame_equal(serial, pooled)


@pytest.mark.parametrize("suffix", [".csv", ".tsv"])
def test_a_text_table_for_other_tools(videos: list[VideoRecord], tmp_path: Path, suffix: str,
                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """--out features.csv writes CSV (not Parquet bytes under a .csv name): the same columns and
    exact float32 values, metadata in features.csv.json; a re-run reuses it; it reads back with
    its settings, so baselines trained on it can predict videos."""
    parquet = compute_feature_table(videos, ["color", "motion"], out=tmp_path / "f.parquet", **SETTINGS)
    out = tmp_path / f"f{suffix}"
    compute_feature_table(videos, ["color", "motion"], out=out, **SETTINGS)
    text = pd.read_csv(out, sep="\t" if suffix == ".tsv" else ",")  # a plain reader, no vidlearn
    assert list(text.columns) == list(parquet.columns)
    cols = columns_for(["color", "motion"])
    # float32 in its shortest exact form; pandas' default parser is not guaranteed to round
    # correctly, so a plain reader gets each value back within one float32 ulp (one fresh-clone
    # run differed, nine reruns did not): more is a real difference
    np.testing.assert_array_max_ulp(text[cols].to_numpy(np.float32), parquet[cols].to_numpy(np.float32), maxulp=1)
    assert (tmp_path / f"f{suffix}.json").is_file()
    back = read_feature_table(out)
    assert feature_columns(back) == cols and back.attrs["vidlearn"]["settings"] == parquet.attrs["vidlearn"]["settings"]
    calls = _count_decodes(monkeypatch)
    again = compute_feature_table(videos, ["color", "motion"], out=out, **SETTINGS)
    assert calls == [] and again.attrs["vidlearn"]["reused"] == len(videos)
    # a table that is not the one its sidecar describes (say, edited by hand) is not trusted
    out.write_text(out.read_text().replace("red0.mp4", "red0-renamed.mp4"))
    assert "settings" not in read_feature_table(out).attrs["vidlearn"]
    compute_feature_table(videos, ["color", "motion"], out=out, **SETTINGS)
    assert len(calls) == len(videos)  # recomputed, not read back from the foreign rows


def test_rerun_computes_only_missing_or_changed_videos(videos: list[VideoRecord], tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "features.parquet"
    calls = _count_decodes(monkeypatch)
    compute_feature_table(videos[:4], KINDS, out=out, **SETTINGS)
    assert len(calls) == 4

    calls.clear()
    table = compute_feature_table(videos, KINDS, out=out, **SETTINGS)  # two new videos
    assert sorted(calls) == sorted(Path(r.path).name for r in videos[4:])
    assert len(table) == 6 and table.attrs["vidlearn"]["reused"] == 4

    calls.clear()
    again = compute_feature_table(videos, KINDS, out=out, **SETTINGS)  # nothing to do
    assert calls == [] and again.attrs["vidlearn"]["computed"] == 0
    pd.testing.assert_frame_equal(again, table)

    changed = Path(videos[1].path)
    st = changed.stat()
    os.utime(changed, ns=(st.st_atime_ns, st.st_mtime_ns + 5_000_000_000))  # the file was touched
    calls.clear()
    compute_feature_table(videos, KINDS, out=out, **SETTINGS)
    assert calls == [changed.name]

    calls.clear()
    other = compute_feature_table(videos, KINDS, out=out, **{**SETTINGS, "fps": 4.0})  # other settings
    assert len(calls) == len(videos)
    assert not np.allclose(other["motion.energy_mean.mean"], table["motion.energy_mean.mean"])


def test_resumes_after_sigkill(videos: list[VideoRecord], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "features.parquet"
    parts = out.with_name(out.name + ".parts")
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        import vidlearn.tables.table as t
        import vidlearn.tables.workers as w
        from vidlearn.data.records import VideoRecord
        real = w._decode_and_extract
        done = []
        def slow(path, start, end):
            if len(done) == 3:
                time.sleep(120)      # hang on the 4th video until killed
            done.append(path)
            return real(path, start, end)
        w._decode_and_extract = slow
        records = [VideoRecord(path=Path(p), target=c, group=g) for p, c, g in {[(str(r.path), r.target, r.group) for r in videos]!r}]
        t.compute_feature_table(records, {KINDS!r}, out=Path({str(out)!r}), fps=8.0, short_side=32,
                                workers=1, progress=False, chunk_size=1)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and len(list(parts.glob("part-*.parquet"))) < 3:
            assert proc.poll() is None, proc.stdout.read().decode() if proc.stdout else ""
            time.sleep(0.05)
        assert len(list(parts.glob("part-*.parquet"))) == 3
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    assert not out.exists()

    calls = _count_decodes(monkeypatch)
    resumed = compute_feature_table(videos, KINDS, out=out, **SETTINGS)
    assert sorted(calls) == sorted(Path(r.path).name for r in videos[3:])
    assert resumed.attrs["vidlearn"]["reused"] == 3
    fresh = compute_feature_table(videos, KINDS, out=tmp_path / "fresh.parquet", **SETTINGS)
    pd.testing.assert_frame_equal(resumed, fresh)


def test_workers_exit_when_the_job_is_killed(videos: list[VideoRecord], tmp_path: Path) -> None:
    """kill -9 of a feature job leaves no worker process decoding for nobody."""
    psutil = pytest.importorskip("psutil")
    script = textwrap.dedent(
        f"""
        import time
        from pathlib import Path
        import vidlearn.tables.workers as w
        import vidlearn.tables.table as t
        from vidlearn.data.records import VideoRecord
        def hang(path, start, end):
            time.sleep(120)  # every worker busy until its job is gone
        w._decode_and_extract = hang
        records = [VideoRecord(path=Path(p), target=c) for p, c in {[(str(r.path), r.target) for r in videos]!r}]
        t.compute_feature_table(records, {KINDS!r}, out=Path({str(tmp_path / "f.parquet")!r}), fps=8.0, short_side=32,
                                workers=2, progress=False)
        """
    )
    proc = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 60
        children: list = []
        while time.monotonic() < deadline and len(children) < 2:
            children = psutil.Process(proc.pid).children(recursive=True)
            time.sleep(0.1)
        assert len(children) >= 2, "the pool's workers did not start"
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    gone, alive = psutil.wait_procs(children, timeout=15)
    for p in alive:
        p.kill()
    assert not alive, f"{len(alive)} worker(s) still running after the job was killed"


def test_bad_files_are_skipped_reported_and_not_retried(videos: list[VideoRecord], tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    corrupt = tmp_path / "corrupt.mp4"
    corrupt.write_bytes(os.urandom(4000))
    empty = tmp_path / "empty.mp4"
    empty.touch()
    records = [videos[0], VideoRecord(path=corrupt, target="red"), videos[1], VideoRecord(path=empty, target="blue"),
               VideoRecord(path=tmp_path / "missing.mp4", target="red")]
    out = tmp_path / "features.parquet"
    table = compute_feature_table(records, KINDS, out=out, **{**SETTINGS, "workers": 2})

    assert table["path"].tolist() == [str(videos[0].path), str(videos[1].path)]
    skipped = {Path(s["path"]).name: s["reason"] for s in table.attrs["vidlearn"]["skipped"]}
    assert set(skipped) == {"corrupt.mp4", "empty.mp4", "missing.mp4"}
    assert "empty" in skipped["empty.mp4"] and "does not exist" in skipped["missing.mp4"]
    assert skipped["corrupt.mp4"]
    assert {Path(s["path"]).name for s in read_feature_table(out).attrs["vidlearn"]["skipped"]} == set(skipped)

    calls = _count_decodes(monkeypatch)
    again = compute_feature_table(records, KINDS, out=out, **SETTINGS)
    assert calls == []  # unchanged bad files are remembered, not decoded again
    assert len(again.attrs["vidlearn"]["skipped"]) == 3


def test_nothing_readable_is_an_error(tmp_path: Path) -> None:
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"not a video")
    with pytest.raises(DataSourceError, match="bad.mp4"):
        compute_feature_table([VideoRecord(path=bad)], KINDS, out=tmp_path / "f.parquet", **SETTINGS)


def test_bad_settings_are_config_errors(videos: list[VideoRecord], tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="texture"):
        compute_feature_table(videos, ["texture"], out=tmp_path / "f.parquet", **SETTINGS)
    with pytest.raises(ConfigError, match="colour_bins"):
        compute_feature_table(videos, ["color"], out=tmp_path / "f.parquet", colour_bins=3, **SETTINGS)
    with pytest.raises(ConfigError, match="twice"):
        compute_feature_table(videos, "color,color", out=tmp_path / "f.parquet", **SETTINGS)


def test_params_reach_the_families(videos: list[VideoRecord], tmp_path: Path) -> None:
    table = compute_feature_table(videos[:2], ["color"], out=tmp_path / "f.parquet", bins=4, stats=["mean"],
                                  pyramid=[], **SETTINGS)
    assert feature_columns(table) == columns_for(["color"], bins=4, stats=["mean"], pyramid=[])
    assert "color.hsv_h03.mean" in table.columns and "color.hsv_h04.mean" not in table.columns


def test_cli_features(videos: list[VideoRecord], tmp_path: Path) -> None:
    manifest = tmp_path / "manifest.csv"
    rows = [f"{r.path},{r.target},{r.group}" for r in videos[:4]]
    (tmp_path / "broken.mp4").write_bytes(b"\x00" * 100)
    manifest.write_text("path,label,actor\n" + "\n".join(rows) + "\nbroken.mp4,red,g9\n")
    out = tmp_path / "table.parquet"
    args = ["features", str(manifest), "--group", "actor", "--kind", "color,motion", "--fps", "8", "--size", "32",
            "--workers", "1", "--out", str(out)]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "skipped" in result.output and "broken.mp4" in result.output
    assert "4 video(s)" in result.output and "1 skipped" in result.output
    table = pq.read_table(out).to_pandas()
    assert len(table) == 4 and table["group"].tolist() == [r.group for r in videos[:4]]

    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "0 computed, 4 reused" in again.output

    bad = CliRunner().invoke(app, ["features", str(manifest), "--kind", "colour", "--out", str(out)])
    assert bad.exit_code == 2 and "colour" in bad.output and "Traceback" not in bad.output
