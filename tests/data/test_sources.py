"""Dataset sources: folders, CSV manifests, split lists, single files -> VideoRecords."""

from __future__ import annotations

from pathlib import Path

import pytest

from vidlearn.data.records import VideoRecord
from vidlearn.data.sources import class_names, load_manifest, load_records, load_split_list
from vidlearn.errors import DataSourceError, VidlearnError


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---- folders -------------------------------------------------------------------------------


def test_class_folders_give_sorted_labelled_records(touch):
    root = touch(
        "data/walk/b.MP4",
        "data/walk/a.avi",
        "data/walk/notes.txt",
        "data/walk/.hidden.mp4",
        "data/run/x.mkv",
        "data/run/sub/y.WebM",
        "data/.cache/z.mp4",
        "data/empty_dir/readme.md",
    )
    records = load_records(root / "data")
    assert [(r.path.relative_to(root / "data").as_posix(), r.target) for r in records] == [
        ("run/sub/y.WebM", "run"),
        ("run/x.mkv", "run"),
        ("walk/a.avi", "walk"),
        ("walk/b.MP4", "walk"),
    ]
    assert class_names(records) == ["run", "walk"]
    assert all(r.group is None for r in records)


def test_folder_of_loose_videos_gives_unlabelled_records(touch):
    root = touch("clips/b.mov", "clips/a.mp4", "clips/.DS_Store")
    records = load_records(root / "clips")
    assert [r.path.name for r in records] == ["a.mp4", "b.mov"]
    assert all(r.target is None for r in records)


def test_loose_video_beside_class_folders_is_reported(touch):
    root = touch("d/cat/a.mp4", "d/stray.mp4")
    with pytest.raises(DataSourceError, match="stray.mp4 is not inside a class folder"):
        load_records(root / "d")


def test_folder_without_videos_is_an_error(touch):
    root = touch("d/a/readme.txt")
    with pytest.raises(DataSourceError, match="no video files found"):
        load_records(root / "d")


def test_regression_folder_names_must_be_numbers(touch):
    root = touch("d/1.5/a.mp4", "d/2/b.mp4")
    assert [r.target for r in load_records(root / "d", task="regression")] == [1.5, 2.0]
    touch("d/tall/c.mp4")
    with pytest.raises(DataSourceError, match="tall/: folder name is not a number"):
        load_records(root / "d", task="regression")


# ---- single files and dispatch ----------------------------------------------------------------


def test_single_video_file_is_one_unlabelled_record(touch):
    root = touch("one.MKV")
    assert load_records(root / "one.MKV") == [VideoRecord(path=root / "one.MKV")]


def test_missing_and_unknown_inputs_raise_clear_errors(touch, tmp_path):
    with pytest.raises(DataSourceError, match="does not exist"):
        load_records(tmp_path / "nope")
    touch("table.xlsx")
    with pytest.raises(DataSourceError, match="not a folder, a .csv manifest"):
        load_records(tmp_path / "table.xlsx")


# ---- CSV manifests ------------------------------------------------------------------------------


def test_manifest_paths_are_relative_to_the_csv_and_extra_columns_kept(touch, tmp_path):
    touch("set/videos/a.mp4", "set/videos/b.mp4")
    csv = write(
        tmp_path / "set/list.csv",
        "path,label,group,start,end,camera\n"
        "videos/a.mp4,walk,p1,1.5,4,left\n"
        "videos/b.mp4, run ,p2,,,right\n",
    )
    a, b = load_records(csv)
    assert a == VideoRecord(tmp_path / "set/videos/a.mp4", "walk", "p1", 1.5, 4.0)
    assert a.meta == {"camera": "left"}
    assert (b.target, b.group, b.start, b.end) == ("run", "p2", None, None)


def test_manifest_root_overrides_the_csv_folder(touch, tmp_path):
    touch("media/a.mp4")
    csv = write(tmp_path / "lists/m.csv", "path,label\na.mp4,x\n")
    assert load_records(csv, root=tmp_path / "media")[0].path == tmp_path / "media/a.mp4"
    with pytest.raises(DataSourceError, match="line 2: a.mp4 does not exist"):
        load_records(csv)


def test_manifest_group_can_name_another_column(touch, tmp_path):
    touch("a.mp4", "b.mp4")
    csv = write(tmp_path / "m.csv", "path,label,actor\na.mp4,x,ann\nb.mp4,y,bob\n")
    assert [r.group for r in load_records(csv, group="actor")] == ["ann", "bob"]
    assert [r.meta for r in load_records(csv)] == [{"actor": "ann"}, {"actor": "bob"}]
    with pytest.raises(DataSourceError, match="missing group column 'subject'"):
        load_records(csv, group="subject")


def test_regression_manifest_parses_numeric_targets(touch, tmp_path):
    touch("a.mp4", "b.mp4")
    csv = write(tmp_path / "m.csv", "path,target\na.mp4,0.25\nb.mp4,-3\n")
    assert [r.target for r in load_records(csv, task="regression")] == [0.25, -3.0]


def test_manifest_reports_every_problem_with_its_line_number(touch, tmp_path):
    touch("ok.mp4", "b.mp4", "c.mp4")
    csv = write(
        tmp_path / "m.csv",
        "path,target,start,end\n"
        "ok.mp4,1.0,,\n"
        "missing.mp4,2.0,,\n"
        "b.mp4,tall,,\n"
        "c.mp4,3,5,2\n"
        "ok.mp4,1.0,,\n"
        ",4,,\n",
    )
    with pytest.raises(DataSourceError) as info:
        load_records(csv, task="regression")
    assert info.value.problems == [
        "line 3: missing.mp4 does not exist",
        "line 4: target 'tall' is not a number",
        "line 5: end (2) must be after start (5)",
        "line 6: ok.mp4 is listed twice (first on line 2)",
        "line 7: empty path",
    ]
    assert str(csv) in str(info.value) and isinstance(info.value, VidlearnError)


def test_manifest_missing_columns_are_named(touch, tmp_path):
    touch("a.mp4")
    no_path = write(tmp_path / "a.csv", "file,label\na.mp4,x\n")
    with pytest.raises(DataSourceError, match="missing column 'path'"):
        load_records(no_path)
    no_label = write(tmp_path / "b.csv", "path,notes\na.mp4,x\n")
    with pytest.raises(DataSourceError, match="missing column 'label'"):
        load_records(no_label)
    with pytest.raises(DataSourceError, match="missing column 'target' for regression"):
        load_records(no_label, task="regression")
    # prediction on unlabelled videos
    assert load_manifest(no_label, labelled=False)[0].target is None


def test_empty_manifest_is_an_error(tmp_path):
    with pytest.raises(DataSourceError, match="no videos listed"):
        load_records(write(tmp_path / "m.csv", "path,label\n"))
    with pytest.raises(DataSourceError, match="empty file"):
        load_records(write(tmp_path / "e.csv", ""))


def test_wrong_root_gets_a_hint(tmp_path):
    csv = write(tmp_path / "m.csv", "path,label\na.mp4,x\nb.mp4,y\nc.mp4,z\n")
    with pytest.raises(DataSourceError) as info:
        load_records(csv)
    assert info.value.problems[0].startswith("none of the 3 listed files exist")
    assert len(info.value.problems) == 4


# ---- split lists ------------------------------------------------------------------------------


@pytest.fixture
def ucf(touch, tmp_path):
    touch(
        "UCF-101/ApplyLipstick/v_ApplyLipstick_g01_c01.avi",
        "UCF-101/ApplyLipstick/v_ApplyLipstick_g08_c02.avi",
        "UCF-101/Archery/v_Archery_g01_c01.avi",
        "UCF-101/Archery/v_Archery_g09_c03.avi",
    )
    lists = tmp_path / "ucfTrainTestlist"
    write(lists / "classInd.txt", "1 ApplyLipstick\n2 Archery\n")
    write(lists / "trainlist01.txt", "ApplyLipstick/v_ApplyLipstick_g08_c02.avi 1\nArchery/v_Archery_g09_c03.avi 2\n")
    write(lists / "testlist01.txt", "ApplyLipstick/v_ApplyLipstick_g01_c01.avi\r\nArchery/v_Archery_g01_c01.avi\r\n")
    return tmp_path


def test_ucf101_trainlist_uses_class_index_and_groups(ucf):
    records = load_records(ucf / "ucfTrainTestlist/trainlist01.txt", root=ucf / "UCF-101")
    assert [(r.path.name, r.target, r.group) for r in records] == [
        ("v_ApplyLipstick_g08_c02.avi", "ApplyLipstick", "g08"),
        ("v_Archery_g09_c03.avi", "Archery", "g09"),
    ]
    assert records[0].path == ucf / "UCF-101/ApplyLipstick/v_ApplyLipstick_g08_c02.avi"


def test_ucf101_testlist_takes_label_from_folder(ucf):
    records = load_split_list(ucf / "ucfTrainTestlist/testlist01.txt", root=ucf / "UCF-101")
    assert [(r.target, r.group) for r in records] == [("ApplyLipstick", "g01"), ("Archery", "g01")]


def test_ucf101_unknown_label_index_and_missing_files_reported(ucf):
    bad = write(
        ucf / "ucfTrainTestlist/trainlist02.txt",
        "Archery/v_Archery_g09_c03.avi 2\nArchery/v_Archery_g09_c03.avi 7\nArchery/v_Archery_g02_c01.avi 2\n",
    )
    with pytest.raises(DataSourceError) as info:
        load_split_list(bad, root=ucf / "UCF-101")
    assert info.value.problems == [
        "line 2: unknown label index 7 (classInd has 1..2)",
        "line 3: Archery/v_Archery_g02_c01.avi does not exist",
    ]


def test_split_list_root_defaults_to_the_list_folder(touch, tmp_path):
    touch("Jump/v_Jump_g01_c01.avi")
    lst = write(tmp_path / "train.txt", "Jump/v_Jump_g01_c01.avi 3\n")  # no classInd: folder name
    assert [(r.path, r.target) for r in load_records(lst)] == [(tmp_path / "Jump/v_Jump_g01_c01.avi", "Jump")]


def test_hmdb51_lists_select_train_or_test(touch, tmp_path):
    touch("hmdb/brush_hair/a.avi", "hmdb/brush_hair/b.avi", "hmdb/brush_hair/c.avi", "hmdb/clap/d.avi")
    splits = tmp_path / "splits"
    write(splits / "brush_hair_test_split1.txt", "a.avi 1 \nb.avi 2 \nc.avi 0 \n")
    write(splits / "clap_test_split1.txt", "d.avi 1\n")
    lists = sorted(splits.glob("*_test_split1.txt"))
    train = load_split_list(lists, root=tmp_path / "hmdb", subset="train")
    assert [(r.path.name, r.target) for r in train] == [("a.avi", "brush_hair"), ("d.avi", "clap")]
    test = load_records(splits / "brush_hair_test_split1.txt", root=tmp_path / "hmdb", subset="test")
    assert [r.path.name for r in test] == ["b.avi"]
    everything = load_split_list(lists[0], root=tmp_path / "hmdb")
    assert [r.path.name for r in everything] == ["a.avi", "b.avi", "c.avi"]
    with pytest.raises(DataSourceError, match="line 1: expected 'name.avi 0|1|2'"):
        load_split_list(write(splits / "x_test_split1.txt", "a.avi 5\n"), root=tmp_path / "hmdb")


# ---- the real dataset ---------------------------------------------------------------------------


def test_weizmann_manifest_with_actor_groups(weizmann):
    records = load_records(weizmann / "manifest.csv", group="actor")
    assert len(records) == 36
    assert class_names(records) == ["bend", "jack", "wave1", "wave2"]
    assert len({r.group for r in records}) == 9
    assert all(r.path.is_file() and "frames" in r.meta for r in records)


def test_weizmann_folder_layout_matches_manifest(weizmann):
    from_folder = load_records(weizmann / "videos")
    from_csv = load_records(weizmann / "manifest.csv")
    assert len(from_folder) == 36
    assert {(r.path.resolve(), r.target) for r in from_folder} == {(r.path.resolve(), r.target) for r in from_csv}
