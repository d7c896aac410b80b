"""Segment annotations of untrimmed videos: a CSV ``path,label,start,end[,group]``, several rows a
video, times in seconds; what no row covers is background. A row with an empty label, start and
end lists a video with no action at all (all background).

Every problem is collected and raised at once as one :class:`~vidlearn.errors.DataSourceError`
whose lines name the CSV line: a missing or unreadable field, an inverted or empty segment, two
segments of a video that overlap, a segment that ends after the video does (the video is probed),
a video that is missing or cannot be read, a video given two groups.

A folder of trimmed clips (or any classification source) is the degenerate case:
:func:`annotations_from_records` makes each clip one video with one segment covering all of it.
"""

from __future__ import annotations

import csv
import io
import itertools
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from vidlearn.data.records import VideoRecord, parse_number
from vidlearn.errors import DataSourceError, VidlearnError
from vidlearn.fsutil import atomic_write_text

__all__ = [
    "ANNOTATION_COLUMNS",
    "AnnotatedVideo",
    "Segment",
    "annotations_from_records",
    "is_annotations_file",
    "load_annotations",
    "read_annotations",
    "write_annotations",
]

ANNOTATION_COLUMNS = ("path", "label", "start", "end")
_END_SLACK = 0.05  # seconds a segment may pass the probed end (container durations are rounded)


@dataclass(frozen=True)
class Segment:
    """One annotated action: ``[start, end)`` seconds of ``label`` (``line``: its CSV line, 0 if none)."""

    label: str
    start: float
    end: float
    line: int = 0


@dataclass(frozen=True)
class AnnotatedVideo:
    """An untrimmed video with its action segments (sorted by start) and its group."""

    path: Path
    duration: float
    segments: tuple[Segment, ...] = ()
    group: str | None = None

    @property
    def name(self) -> str:
        return self.path.name


def is_annotations_file(path: str | Path) -> bool:
    """Whether ``path`` is a CSV whose header has the annotation columns (path, label, start, end)."""
    p = Path(path)
    if p.suffix.lower() != ".csv" or not p.is_file():
        return False
    try:
        with open(p, newline="", encoding="utf-8-sig") as f:
            header = next(csv.reader(f), [])
    except (OSError, UnicodeDecodeError):
        return False
    return set(ANNOTATION_COLUMNS) <= {h.strip() for h in header}


def read_annotations(path: str | Path, *, root: str | Path | None = None, probe_videos: bool = True) -> list[AnnotatedVideo]:
    """The videos of an annotations CSV, in the order they first appear (relative paths are
    relative to ``root``, default the CSV's folder). With ``probe_videos`` each video is probed
    for its duration and segments past its end are errors; without, the duration is the last
    segment's end."""
    src = Path(path)
    try:
        text = src.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as exc:
        raise DataSourceError(src, [f"cannot be read: {exc.__class__.__name__}: {exc}"]) from None
    base = Path(root) if root is not None else src.parent
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip() for h in (reader.fieldnames or [])]
    missing = [c for c in ANNOTATION_COLUMNS if c not in header]
    if missing:
        raise DataSourceError(src, [f"line 1: missing column(s) {', '.join(missing)} (need {','.join(ANNOTATION_COLUMNS)}[,group])"])
    reader.fieldnames = header
    problems: list[str] = []
    rows: dict[str, list[Segment]] = {}
    groups: dict[str, str | None] = {}
    first_line: dict[str, int] = {}
    line = 1
    for row in reader:
        line = reader.line_num
        where = f"line {line}"
        rel = (row.get("path") or "").strip()
        if not rel:
            problems.append(f"{where}: empty path")
            continue
        label = (row.get("label") or "").strip()
        start_text, end_text = (row.get("start") or "").strip(), (row.get("end") or "").strip()
        group = (row.get("group") or "").strip() or None
        rows.setdefault(rel, [])
        first_line.setdefault(rel, line)
        if rel in groups and groups[rel] != group:
            problems.append(f"{where}: {rel} has group {group!r} here but {groups[rel]!r} on line {first_line[rel]}")
        groups.setdefault(rel, group)
        if not label and not start_text and not end_text:
            continue  # a video with no action
        start, end = parse_number(start_text), parse_number(end_text)
        if not label:
            problems.append(f"{where}: empty label")
        if start is None or end is None:
            bad = [f"{n} {t!r}" for n, t, v in (("start", start_text, start), ("end", end_text, end)) if v is None]
            problems.append(f"{where}: {' and '.join(bad)} is not a number of seconds")
            continue
        if start < 0:
            problems.append(f"{where}: start {start:g} s is before the video begins")
        if end <= start:
            problems.append(f"{where}: the segment is inverted or empty (start {start:g} s, end {end:g} s)")
            continue
        if label:
            rows[rel].append(Segment(label, start, end, line))
    if not rows and not problems:
        problems.append("no annotation rows")
    videos: list[AnnotatedVideo] = []
    for rel, segs in rows.items():
        segs.sort(key=lambda s: (s.start, s.end))
        for a, b in itertools.pairwise(segs):
            if b.start < a.end:
                problems.append(f"line {b.line}: {rel} [{b.start:g}, {b.end:g}) overlaps line {a.line} [{a.start:g}, {a.end:g})")
        video = Path(rel) if Path(rel).is_absolute() else base / rel
        duration = max((s.end for s in segs), default=0.0)
        if probe_videos:
            probed = _duration(video)
            if isinstance(probed, str):
                problems.append(f"line {first_line[rel]}: {rel}: {probed}")
                continue
            for s in segs:
                if s.end > probed + _END_SLACK:
                    problems.append(f"line {s.line}: segment end {s.end:g} s is beyond the end of {rel} ({probed:.3f} s)")
            duration = probed
        videos.append(AnnotatedVideo(video, duration, tuple(segs), groups.get(rel)))
    if problems:
        raise DataSourceError(src, problems)
    return videos


def _duration(path: Path) -> float | str:
    """The video's duration in seconds, or the reason it cannot be read."""
    from vidlearn.io import probe

    if not path.is_file():
        return "does not exist"
    try:
        return float(probe(path).duration)
    except VidlearnError as exc:
        return exc.reason if hasattr(exc, "reason") else str(exc)


def annotations_from_records(records: Iterable[VideoRecord]) -> list[AnnotatedVideo]:
    """Trimmed clips as annotations: each labelled record is one video whose whole length (or its
    ``[start, end)`` segment) is one segment of its class."""
    from vidlearn.io import probe

    out = []
    for r in records:
        if not isinstance(r.target, str):
            continue
        duration = float(probe(r.path).duration)
        start, end = r.start or 0.0, r.end if r.end is not None else duration
        out.append(AnnotatedVideo(Path(r.path), duration, (Segment(r.target, start, end),), r.group))
    return out


def load_annotations(data: str | Path, *, group: str | None = None) -> list[AnnotatedVideo]:
    """Annotations from an annotations CSV, or from any classification source (a folder per class,
    a manifest: each trimmed clip is one segment)."""
    if is_annotations_file(data):
        return read_annotations(data)
    from vidlearn.data.sources import load_records

    return annotations_from_records(load_records(data, group=group))


def write_annotations(path: str | Path, videos: Sequence[AnnotatedVideo], *, relative_to: str | Path | None = None) -> Path:
    """Write ``videos`` as an annotations CSV (atomically; paths relative to ``relative_to``,
    default the CSV's folder, where possible)."""
    out = Path(path)
    base = Path(relative_to) if relative_to is not None else out.parent
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow((*ANNOTATION_COLUMNS, "group"))
    for v in videos:
        try:
            rel = Path(v.path).resolve().relative_to(base.resolve()).as_posix()
        except ValueError:
            rel = str(v.path)
        if not v.segments:
            w.writerow((rel, "", "", "", v.group or ""))
        for s in v.segments:
            w.writerow((rel, s.label, f"{s.start:.3f}", f"{s.end:.3f}", v.group or ""))
    atomic_write_text(out, buf.getvalue())
    return out
