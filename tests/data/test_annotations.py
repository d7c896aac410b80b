"""Segment annotations: reading, the line-numbered errors, trimmed clips as the degenerate case."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlearn.data.annotations import (
    AnnotatedVideo,
    Segment,
    annotations_from_records,
    is_annotations_file,
    read_annotations,
    write_annotations,
)
from vidlearn.data.records import VideoRecord
from vidlearn.errors import DataSourceError
from vidlearn.io import write_video


@pytest.fixture(scope="module")
def video(tmp_path_factory) -> Path:
    """A 2-second video (20 frames at 10 fps)."""
    path = tmp_path_factory.mktemp("ann") / "long.mp4"
    write_video(path, np.full((20, 32, 32, 3), 90, dtype=np.uint8), 10.0)
    return path


def write(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "ann.csv"
    p.write_text(text)
    return p


def test_reads_segments_sorted_with_groups_and_durations(tmp_path, video):
    csv = write(tmp_path, f"path,label,start,end,group\n{video},b,1.2,1.9,a1\n{video},a,0.1,0.8,a1\n")
    (v,) = read_annotations(csv)
    assert v.path == video and v.group == "a1" and v.duration == pytest.approx(2.0, abs=0.05)
    assert [(s.label, s.start, s.end, s.line) for s in v.segments] == [("a", 0.1, 0.8, 3), ("b", 1.2, 1.9, 2)]
    assert is_annotations_file(csv)


def test_all_background_row(tmp_path, video):
    (v,) = read_annotations(write(tmp_path, f"path,label,start,end\n{video},,,\n"))
    assert v.segments == ()


@pytest.mark.parametrize(
    ("rows", "message"),
    [
        ("X,a,0.5,0.2\n", "line 2: the segment is inverted or empty (start 0.5 s, end 0.2 s)"),
        ("X,a,0.0,1.0\nX,b,0.9,1.5\n", "line 3: X [0.9, 1.5) overlaps line 2 [0, 1)"),
        ("X,a,0.0,2.5\n", "line 2: segment end 2.5 s is beyond the end of X"),
        ("X,a,zero,1\n", "line 2: start 'zero' is not a number of seconds"),
        ("X,,0,1\n", "line 2: empty label"),
    ],
)
def test_errors_name_the_line(tmp_path, video, rows, message):
    csv = write(tmp_path, "path,label,start,end\n" + rows.replace("X", str(video)))
    with pytest.raises(DataSourceError) as err:
        read_annotations(csv)
    assert message.replace("X", str(video)) in str(err.value)
    assert str(csv) in str(err.value)


def test_missing_column_and_missing_video(tmp_path):
    with pytest.raises(DataSourceError, match="line 1: missing column.*end"):
        read_annotations(write(tmp_path, "path,label,start\nv.mp4,a,0\n"))
    with pytest.raises(DataSourceError, match="line 2: nope.mp4: does not exist"):
        read_annotations(write(tmp_path, "path,label,start,end\nnope.mp4,a,0,1\n"))


def test_trimmed_clips_are_one_segment_each(video):
    (v,) = annotations_from_records([VideoRecord(video, "wave", "g1")])
    assert v.group == "g1" and len(v.segments) == 1
    assert v.segments[0].label == "wave" and v.segments[0].start == 0.0 and v.segments[0].end == pytest.approx(2.0, abs=0.05)


def test_write_then_read_round_trip(tmp_path, video):
    videos = [AnnotatedVideo(video, 2.0, (Segment("a", 0.25, 1.0),), "g"), AnnotatedVideo(video.with_name("other.mp4"), 1.0, ())]
    out = write_annotations(tmp_path / "out.csv", videos)
    back = read_annotations(out, probe_videos=False)
    assert [(b.path.name, b.group, [(s.label, s.start, s.end) for s in b.segments]) for b in back] == [
        ("long.mp4", "g", [("a", 0.25, 1.0)]), ("other.mp4", None, [])]
