"""Dataset sources: a folder per class, a CSV manifest, an official split list or one video file.

Every source yields ``list[VideoRecord]``. Problems are collected and raised all at once as one
:class:`~vidlearn.errors.DataSourceError` whose lines name the file or line and the reason.
"""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Iterable
from pathlib import Path
from typing import Literal

from vidlearn.data.records import VideoRecord, join_labels, parse_number, split_labels
from vidlearn.data.split_lists import Subset, load_split_list
from vidlearn.errors import ConfigError, DataSourceError

__all__ = [
    "VIDEO_EXTENSIONS",
    "Task",
    "Subset",
    "is_video_file",
    "load_records",
    "load_folder",
    "load_manifest",
    "load_split_list",
    "class_names",
    "label_names",
    "LABEL_COLUMN_PREFIX",
]

VIDEO_EXTENSIONS: frozenset[str] = frozenset(
    {".mp4", ".avi", ".mkv", ".webm", ".mov", ".m4v", ".mpg", ".mpeg", ".wmv", ".flv"}
)
MANIFEST_EXTENSIONS: frozenset[str] = frozenset({".csv", ".tsv"})
_LINE_BREAK = re.compile(r"\r\n|\r|\n")  # what the csv module ends a line at

Task = Literal["classification", "regression", "multilabel"]
TASKS: tuple[str, ...] = ("classification", "regression", "multilabel")
LABEL_COLUMN_PREFIX = "label:"  # multilabel manifests: one 0/1 column per class, named label:CLASS


def is_video_file(path: str | Path) -> bool:
    """True for a non-hidden file whose extension (any case) is a known video extension."""
    p = Path(path)
    return not p.name.startswith(".") and p.suffix.lower() in VIDEO_EXTENSIONS and p.is_file()


def class_names(records: Iterable[VideoRecord]) -> list[str]:
    """Sorted unique string targets (class names); numbers and unlabelled records are ignored."""
    return sorted({r.target for r in records if isinstance(r.target, str)})


def label_names(records: Iterable[VideoRecord]) -> list[str]:
    """Sorted unique labels of multi-label targets (``"jump|wave"`` counts as jump and wave)."""
    return sorted({label for r in records for label in split_labels(r.target)})


def load_records(
    data: str | Path,
    *,
    root: Path | str | None = None,
    task: Task = "classification",
    group: str | None = None,
    subset: Subset | None = None,
    labelled: bool = True,
) -> list[VideoRecord]:
    """Records from whatever ``data`` is.

    - a directory holding ``manifest.csv``: that manifest (what `vidlearn demo-data` writes);
    - a directory: one sub-folder per class (class = folder name), or videos directly inside
      (unlabelled records);
    - a ``.csv``/``.tsv`` manifest (see :func:`load_manifest`);
    - a ``.txt`` UCF101/HMDB51-style split list (see :func:`load_split_list`);
    - a single video file: one unlabelled record.

    ``root`` is where relative paths of a manifest/split list point (default: the file's folder);
    ``group`` names the manifest column used as group; ``subset`` selects train/test in HMDB51
    lists; ``labelled=False`` accepts manifests without a label/target column.
    """
    _check_task(task)
    p = Path(data)
    if not p.exists():
        raise DataSourceError(p, ["does not exist"])
    if p.is_dir() and (p / "manifest.csv").is_file():  # what `vidlearn demo-data` writes: read through it
        return load_manifest(p / "manifest.csv", root=root, task=task, group=group, labelled=labelled)
    if p.is_dir():
        if group is not None:
            raise DataSourceError(p, [f"group column '{group}' only applies to a CSV manifest"])
        return load_folder(p, task=task)
    suffix = p.suffix.lower()
    if suffix in MANIFEST_EXTENSIONS:
        return load_manifest(p, root=root, task=task, group=group, labelled=labelled)
    if suffix == ".txt":
        if task != "classification":
            raise DataSourceError(p, ["split lists describe classes; task must be 'classification'"])
        if group is not None:
            raise DataSourceError(p, [f"group column '{group}' only applies to a CSV manifest"])
        return load_split_list(p, root=root, subset=subset)
    if suffix in VIDEO_EXTENSIONS:
        return [VideoRecord(path=p)]
    raise DataSourceError(
        p,
        [
            "not a folder, a .csv manifest, a .txt split list or a video file "
            f"(video extensions: {' '.join(sorted(VIDEO_EXTENSIONS))})"
        ],
    )


# ---- folders ------------------------------------------------------------------------------


def _visible(path: Path, base: Path) -> bool:
    return not any(part.startswith(".") for part in path.relative_to(base).parts)


def _videos_under(folder: Path) -> list[Path]:
    found = [p for p in folder.rglob("*") if _visible(p, folder) and is_video_file(p)]
    return sorted(found, key=lambda p: p.relative_to(folder).as_posix())


def load_folder(path: str | Path, *, task: Task = "classification") -> list[VideoRecord]:
    """Records from a directory with one sub-folder per class, or with videos directly inside.

    Class folders may nest videos deeper; hidden files and folders are ignored; the order is
    sorted by class, then by path. For ``task='regression'`` folder names must be numbers; for
    ``task='multilabel'`` each video has the one label of its folder.
    """
    _check_task(task)
    folder = Path(path)
    if not folder.is_dir():
        raise DataSourceError(folder, ["is not a directory"])
    loose = sorted(p for p in folder.iterdir() if is_video_file(p))
    class_dirs = sorted(
        (d for d in folder.iterdir() if d.is_dir() and not d.name.startswith(".")), key=lambda d: d.name
    )
    classes = [(d, vids) for d in class_dirs if (vids := _videos_under(d))]
    problems: list[str] = []
    if not classes:
        if not loose:
            raise DataSourceError(
                folder, [f"no video files found (extensions: {' '.join(sorted(VIDEO_EXTENSIONS))})"]
            )
        return [VideoRecord(path=p) for p in loose]
    for p in loose:
        problems.append(f"{p.name} is not inside a class folder (class folders: {classes[0][0].name}, ...)")
    records: list[VideoRecord] = []
    owner: dict[Path, tuple[str | float, Path]] = {}  # resolved file -> (its label, where first seen)
    for d, vids in classes:
        target: str | float = d.name
        if _undecodable(d.name):
            problems.append(f"{_shown(d.name)}/: a class folder's name is its label, and this one is not valid UTF-8")
            continue
        if task == "regression":
            value = parse_number(d.name)
            if value is None:
                problems.append(f"{d.name}/: folder name is not a number (task is regression)")
                continue
            target = value
        for v in vids:
            real = v.resolve()
            if real in owner:  # a symbolic link (to a file or a folder) reaching a file seen before
                label, first = owner[real]
                if label != target:
                    problems.append(f"{_shown(first.relative_to(folder).as_posix())} and {_shown(v.relative_to(folder).as_posix())} "
                                    f"are the same file ({_shown(str(real))}) under two labels: '{label}' and '{target}'")
                continue  # the same file twice under one label: listed once
            owner[real] = (target, v)
            records.append(VideoRecord(path=v, target=target))
    if problems:
        raise DataSourceError(folder, problems)
    return records


# ---- CSV manifests --------------------------------------------------------------------------


def load_manifest(
    path: str | Path,
    *,
    root: Path | str | None = None,
    task: Task = "classification",
    group: str | None = None,
    labelled: bool = True,
) -> list[VideoRecord]:
    """Records from a CSV (or TSV) manifest with a header row.

    Columns: ``path`` (relative to ``root``, default the manifest's folder), ``label``
    (classification) or ``target`` (a number, regression) -- either name is accepted for either
    task --, optional ``group`` (or the column named by ``group``), ``start`` and ``end``
    (seconds); any other column is kept as a string in ``meta``. Every problem is reported with
    its line number in one :class:`DataSourceError`.

    Multi-label (``task='multilabel'``) says a video's labels in one of two ways: the ``label``
    column holds them joined by ``|`` (``jump|wave``), or one column per class named
    ``label:CLASS`` holds 0 or 1 (a row of zeros: a video with none of the classes). The target
    is the labels sorted and joined by ``|`` (:func:`~vidlearn.data.records.join_labels`).
    """
    _check_task(task)
    src = Path(path)
    base = Path(root) if root is not None else src.parent
    delimiter = "\t" if src.suffix.lower() == ".tsv" else ","
    problems: list[str] = []
    try:
        # bytes that are not UTF-8 stay as surrogates: a path then names that very file (os.fsencode)
        text = src.read_bytes().decode("utf-8-sig", errors="surrogateescape")
        reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
        header = [h.strip() for h in (reader.fieldnames or [])]
        reader.fieldnames = header
        total = len(_LINE_BREAK.findall(text)) + (0 if not text or _LINE_BREAK.search(text[-1]) else 1)
        rows = []
        for row in reader:
            breaks = {k: len(_LINE_BREAK.findall(v)) for k, v in row.items() if isinstance(v, str) and _LINE_BREAK.search(v)}
            line = reader.line_num - sum(breaks.values())  # where the row starts ...
            if breaks and reader.line_num == total and _LINE_BREAK.search(text[-1]):
                line += 1  # ... (a quote open at the end of the file holds the last line's end too)
            if breaks:
                col = next(iter(breaks))
                problems.append(f"line {line}: the {col or 'extra'} cell runs over {reader.line_num - line + 1} lines, to line {reader.line_num} "
                                "(an unclosed quote?); a cell may not hold a line break")
            rows.append((line, row))
    except (OSError, csv.Error) as exc:
        raise DataSourceError(src, [f"cannot read manifest: {exc}"]) from None
    if not problems and reader.line_num != total:
        problems.append(f"read {len(rows)} rows from {reader.line_num} of its {total} lines; the rows after line "
                        f"{reader.line_num} were not read")
    if not header:
        raise DataSourceError(src, ["empty file: expected a header row with a 'path' column"])
    if _undecodable(",".join(header)):
        problems.append(f"line 1: the header is not valid UTF-8 ({_shown(','.join(header))})")
    if "path" not in header:
        problems.append(f"missing column 'path' (columns: {', '.join(header)})")
    preferred = ("target", "label") if task == "regression" else ("label", "target")
    target_col = next((c for c in preferred if c in header), None)
    label_cols = [c for c in header if c.startswith(LABEL_COLUMN_PREFIX)] if task == "multilabel" else []
    if label_cols:
        if target_col is not None:
            problems.append(f"both a '{target_col}' column and {LABEL_COLUMN_PREFIX}CLASS columns ({', '.join(label_cols[:3])}); "
                            "give the labels one way")
        names = [c[len(LABEL_COLUMN_PREFIX):].strip() for c in label_cols]
        if any(not n or "|" in n for n in names):
            problems.append(f"a {LABEL_COLUMN_PREFIX}CLASS column needs a class name without '|' after the prefix (columns: {', '.join(label_cols)})")
    if target_col is None and not label_cols and labelled:
        problems.append(
            f"missing column '{preferred[0]}' for {task} (columns: {', '.join(header)}); "
            + (f"or {LABEL_COLUMN_PREFIX}CLASS columns of 0/1; " if task == "multilabel" else "")
            + 
            "pass labelled=False for unlabelled videos"
        )
    group_col = group if group is not None else ("group" if "group" in header else None)
    if group_col is not None and group_col not in header:
        problems.append(f"missing group column '{group_col}' (columns: {', '.join(header)})")
    if problems:
        raise DataSourceError(src, problems)

    used = {"path", target_col, group_col, "start", "end", *label_cols}
    extra = [c for c in header if c not in used]
    records: list[VideoRecord] = []
    seen: dict[tuple[Path, float | None, float | None], int] = {}
    missing = listed = 0
    for line, row in rows:
        if None in row:  # more cells than header columns
            problems.append(f"line {line}: {len(header) + len(row[None])} cells but {len(header)} columns")
            continue
        values = {k: (v or "").strip() for k, v in row.items()}
        if not any(values.values()):
            continue  # blank line
        listed += 1
        rel = values.get("path", "")
        if not rel:
            problems.append(f"line {line}: empty path")
            continue
        file = base / rel
        if not file.is_file():
            missing += 1
            problems.append(f"line {line}: {_shown(rel)} does not exist" + ("" if not file.is_dir() else " as a file"))
        bad_text = [c for c in (target_col, group_col, *extra) if c is not None and _undecodable(values.get(c, ""))]
        if bad_text:  # a label, group or meta value is text: bytes that are not UTF-8 cannot be one
            problems.append(f"line {line}: {bad_text[0]} '{_shown(values[bad_text[0]])}' is not valid UTF-8 text")
            continue
        target: str | float | None = None
        if target_col is not None:
            raw = values.get(target_col, "")
            if not raw:
                if labelled:
                    problems.append(f"line {line}: empty {target_col}")
            elif task == "regression":
                target = parse_number(raw)
                if target is None:
                    problems.append(f"line {line}: {target_col} '{raw}' is not a number")
            elif task == "multilabel":
                target = join_labels(split_labels(raw))
                if not target:
                    problems.append(f"line {line}: {target_col} '{raw}' holds no label (labels are joined by '|': jump|wave)")
            else:
                target = raw
        elif label_cols:
            target = _label_columns(values, label_cols, line, problems)
        start = _optional_seconds(values, "start", line, problems)
        end = _optional_seconds(values, "end", line, problems)
        if start is not None and end is not None and end <= start:
            problems.append(f"line {line}: end ({end:g}) must be after start ({start:g})")
        key = (file, start, end)
        if key in seen:
            problems.append(f"line {line}: {_shown(rel)} is listed twice (first on line {seen[key]})")
        seen.setdefault(key, line)
        grp = (values.get(group_col) or None) if group_col is not None else None
        meta = {c: values.get(c, "") for c in extra}
        records.append(VideoRecord(path=file, target=target, group=grp, start=start, end=end, meta=meta))
    if not records and not problems:
        problems.append("no videos listed")
    if missing and missing == listed and listed > 1:
        problems.insert(0, f"none of the {missing} listed files exist under {base} (is the root right?)")
    if problems:
        raise DataSourceError(src, problems)
    return records


def _label_columns(values: dict[str, str], columns: list[str], line: int, problems: list[str]) -> str | None:
    """The multi-label target of a row's ``label:CLASS`` 0/1 cells (None after a bad cell)."""
    on = []
    for c in columns:
        raw = values.get(c, "")
        if raw not in ("0", "1"):
            problems.append(f"line {line}: {c} '{raw}' is not 0 or 1")
            return None
        if raw == "1":
            on.append(c[len(LABEL_COLUMN_PREFIX):])
    return join_labels(on)


def _optional_seconds(values: dict[str, str], column: str, line: int, problems: list[str]) -> float | None:
    raw = values.get(column, "")
    if not raw:
        return None
    value = parse_number(raw)
    if value is None or value < 0:
        problems.append(f"line {line}: {column} '{raw}' is not a non-negative number of seconds")
        return None
    return value


# ---- helpers -----------------------------------------------------------------------------


def _undecodable(text: str) -> bool:
    """Whether ``text`` holds bytes that were not UTF-8 (kept as surrogates, see os.fsdecode)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _shown(text: str) -> str:
    """``text`` printable: bytes that are not UTF-8 shown as \\xNN."""
    if not _undecodable(text):
        return text
    try:
        return os.fsencode(text).decode("utf-8", "backslashreplace")
    except UnicodeEncodeError:  # a surrogate that no undecodable byte became
        return text.encode("utf-8", "backslashreplace").decode("ascii")


def _check_task(task: str) -> None:
    if task not in TASKS:
        raise ConfigError(f"task must be one of {', '.join(TASKS)}, got {task!r}")
