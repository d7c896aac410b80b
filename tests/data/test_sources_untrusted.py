"""Dataset descriptions that are wrong in ways that used to pass silently or crash: a quote left
open in a manifest, a class folder linked to the dataset root, file names that are not UTF-8,
non-video files, a class index that is not text."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest

from vidlearn.data.sources import load_manifest, load_records, load_split_list
from vidlearn.errors import DataSourceError
from vidlearn.io import check_video, probe, write_video

LATIN1 = b"caf\xe9.mp4"  # a legal Linux file name that is not UTF-8


def _video(path: Path) -> Path:
    frames = np.random.default_rng(0).integers(0, 255, (6, 32, 32, 3)).astype(np.uint8)
    return write_video(path, frames, 6)


def _bytes_path(folder: Path, name: bytes) -> Path:
    return Path(os.fsdecode(os.fsencode(folder) + b"/" + name))


# ---- CSV manifests --------------------------------------------------------------------------


def test_an_unclosed_quote_is_an_error_with_its_line(touch, tmp_path):
    touch("v/a.mp4", "v/b.mp4", "v/c.mp4", "v/d.mp4")
    csv = tmp_path / "m.csv"
    csv.write_text('path,label\nv/a.mp4,x\nv/b.mp4,"y\nv/c.mp4,z\nv/d.mp4,w\n')  # b's quote swallows c and d
    with pytest.raises(DataSourceError, match=r"line 3: the label cell runs over 3 lines, to line 5 \(an unclosed quote\?\)"):
        load_manifest(csv)


def test_a_quoted_label_with_a_line_break_is_an_error(touch, tmp_path):
    touch("v/a.mp4", "v/b.mp4")
    csv = tmp_path / "m.csv"
    csv.write_bytes(b'path,label\r\n\r\nv/a.mp4,"two\r\nlines"\r\nv/b.mp4,ok\r\n')
    with pytest.raises(DataSourceError, match=r"line 3: the label cell runs over 2 lines") as err:
        load_manifest(csv)
    assert len(err.value.problems) == 1
    csv.write_bytes(b'path,label\r\n\r\nv/a.mp4,"one line, quoted"\r\nv/b.mp4,ok\r\n')  # quotes themselves are fine
    assert [r.target for r in load_manifest(csv)] == ["one line, quoted", "ok"]


def test_manifest_paths_that_are_not_utf8_name_their_files(tmp_path):
    (tmp_path / "v").mkdir()
    bad = _video(_bytes_path(tmp_path / "v", LATIN1))
    _video(tmp_path / "v" / "ok.mp4")
    csv = tmp_path / "m.csv"
    csv.write_bytes(b"path,label\nv/" + LATIN1 + b",a\nv/ok.mp4,b\n")
    records = load_records(csv)
    assert [r.path for r in records] == [bad, tmp_path / "v" / "ok.mp4"]
    assert probe(records[0].path).num_frames == 6  # the very file, through os.fsencode


def test_a_label_that_is_not_utf8_is_a_line_error(touch, tmp_path):
    touch("v/a.mp4", "v/b.mp4")
    csv = tmp_path / "m.csv"
    csv.write_bytes(b"path,label\nv/a.mp4,caf\xe9\nv/b.mp4,ok\n")
    with pytest.raises(DataSourceError, match=r"line 2: label 'caf\\xe9' is not valid UTF-8 text"):
        load_manifest(csv)


# ---- folders --------------------------------------------------------------------------------


def test_a_class_folder_linked_to_the_root_gives_no_file_two_labels(touch, tmp_path):
    root = touch("data/walk/a.mp4", "data/run/b.mp4") / "data"
    os.symlink(root, root / "jump")  # jump/walk/a.mp4 is walk/a.mp4
    with pytest.raises(DataSourceError, match=r"jump/run/b.mp4 and run/b.mp4 are the same file \(.*/data/run/b.mp4\) under two labels: 'jump' and 'run'"):
        load_records(root)


def test_a_file_linked_twice_under_one_label_is_listed_once(touch):
    root = touch("data/walk/a.mp4", "data/run/b.mp4") / "data"
    os.symlink(root / "walk" / "a.mp4", root / "walk" / "z_again.mp4")
    os.symlink(root / "walk", root / "walk" / "nested")  # a loop back into the same class
    records = load_records(root)
    assert [(r.path.relative_to(root).as_posix(), r.target) for r in records] == [("run/b.mp4", "run"), ("walk/a.mp4", "walk")]


def test_folder_file_names_that_are_not_utf8_work(tmp_path):
    root = tmp_path / "data"
    (root / "walk").mkdir(parents=True)
    bad = _video(_bytes_path(root / "walk", LATIN1))
    _video(root / "walk" / "ok.mp4")
    records = load_records(root)
    assert sorted(map(str, (r.path for r in records))) == sorted([str(bad), str(root / "walk" / "ok.mp4")])
    (root / "run").mkdir()
    bad_class = _bytes_path(root, b"r\xfcn")
    bad_class.mkdir()
    _video(bad_class / "x.mp4")
    with pytest.raises(DataSourceError, match=r"r\\xfcn/: a class folder's name is its label, and this one is not valid UTF-8"):
        load_records(root)


# ---- non-video files and split lists ------------------------------------------------------


@pytest.mark.parametrize("content", [bytes(16000), np.zeros(4000, np.float32).tobytes(), b"\x00\x01" * 5000],
                         ids=["zeros", "float-weights", "binary"])
def test_a_bin_file_in_a_manifest_is_a_bad_video_not_a_traceback(tmp_path, content):
    _video(tmp_path / "ok.mp4")
    (tmp_path / "weights.bin").write_bytes(content)  # FFmpeg's "bin" demuxer claims every *.bin
    (tmp_path / "m.csv").write_text("path,label\nok.mp4,a\nweights.bin,b\n")
    records = load_records(tmp_path / "m.csv")
    problems = check_video(records[1].path).problems
    assert problems and problems[0] in ("is not a video: FFmpeg would draw it as text art (Binary text); a data or text file?",
                                        "not a readable video (Invalid data found when processing input)")
    from vidlearn.tables.table import compute_feature_table

    table = compute_feature_table(records, ["color"], fps=4, short_side=32, out=tmp_path / "t.parquet", workers=1, progress=False)
    assert list(table["path"]) == [str(tmp_path / "ok.mp4")]
    assert table.attrs["vidlearn"]["skipped"] == [{"path": str(tmp_path / "weights.bin"), "reason": problems[0]}]


def test_a_class_index_that_is_not_utf8_is_one_line(touch, tmp_path):
    touch("videos/Walk/v_Walk_g01_c01.avi")
    (tmp_path / "classInd.txt").write_bytes(b"1 Walk\n2 Caf\xe9\n")
    (tmp_path / "trainlist01.txt").write_text("Walk/v_Walk_g01_c01.avi 1\n")
    with pytest.raises(DataSourceError, match=r"classInd.txt: is not UTF-8 text \(byte 0xe9 at offset 12\)") as err:
        load_split_list(tmp_path / "trainlist01.txt", root=tmp_path / "videos")
    assert len(err.value.problems) == 1


# ---- the feature table keeps the other rows ------------------------------------------------


def test_a_feature_table_reports_a_name_that_is_not_utf8_and_keeps_the_others(tmp_path):
    from vidlearn.data.records import VideoRecord
    from vidlearn.tables.table import compute_feature_table, read_feature_table

    (tmp_path / "v").mkdir()
    bad = _video(_bytes_path(tmp_path / "v", LATIN1))
    ok = _video(tmp_path / "v" / "ok.mp4")
    records = [VideoRecord(path=bad, target="a"), VideoRecord(path=ok, target="b"),
               VideoRecord(path=ok, target=os.fsdecode(b"caf\xe9"), start=0.1)]
    out = tmp_path / "t.parquet"
    table = compute_feature_table(records, ["color"], fps=4, short_side=32, out=out, workers=1, progress=False)
    assert list(table["path"]) == [str(ok)]
    skipped = table.attrs["vidlearn"]["skipped"]
    assert [s["reason"] for s in skipped] == [
        "its path is not valid UTF-8 (" + str(tmp_path / "v").replace("\\", "\\\\") + "/caf\\xe9.mp4); rename the file",
        "its target is not valid UTF-8 (caf\\xe9)",
    ]
    assert list(read_feature_table(out)["path"]) == [str(ok)]


def test_predictions_of_a_file_named_in_bytes_are_written_with_those_bytes(tmp_path):
    from vidlearn.deploy.predict import write_predictions
    from vidlearn.predictors.base import Prediction

    bad = str(_bytes_path(tmp_path, LATIN1))
    out = write_predictions([Prediction(path=bad, label="a", score=0.9, top_k=[("a", 0.9)])], tmp_path / "p.csv")
    assert os.fsencode(bad) in out.read_bytes()
    (tmp_path / "m.csv").write_bytes(out.read_bytes().replace(b"score", b"x"))  # read back as a manifest
    _video(Path(bad))
    assert [r.path for r in load_manifest(tmp_path / "m.csv")] == [Path(bad)]


# ---- decode rates -------------------------------------------------------------------------


@pytest.mark.parametrize("fps", [1e-300, 1e300])
def test_a_resampling_rate_outside_the_range_is_refused_before_decoding(tmp_path, fps):
    from vidlearn.errors import ConfigError
    from vidlearn.io import iter_frames
    from vidlearn.data.records import VideoRecord
    from vidlearn.tables.table import compute_feature_table

    video = _video(tmp_path / "v.mp4")
    with pytest.raises(ValueError, match=r"fps must be between 0.01 and 1000 frames per second"):
        next(iter_frames(video, fps=fps))  # 1e300: one frame repeated without end
    with pytest.raises(ConfigError, match=r"features.fps: must be between 0.01 and 1000 frames per second, got 1e[+-]300"):
        compute_feature_table([VideoRecord(path=video)], ["color"], fps=fps, out=tmp_path / "t.parquet", workers=1, progress=False)
