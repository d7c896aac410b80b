"""Official split lists: UCF101 (``trainlist01.txt``/``testlist01.txt`` with ``classInd.txt``) and
HMDB51 (``<class>_test_split<N>.txt``). Problems are collected and raised all at once as one
:class:`~vidlearn.errors.DataSourceError` whose lines name the line and the reason."""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Literal

from vidlearn.data.records import VideoRecord
from vidlearn.errors import DataSourceError

__all__ = ["Subset", "load_split_list"]

Subset = Literal["train", "test"]

_HMDB_LIST = re.compile(r"^(?P<cls>.+)_test_split(?P<split>\d+)\.txt$", re.IGNORECASE)
_UCF_GROUP = re.compile(r"_(g\d+)_c\d+", re.IGNORECASE)
_HMDB_CODES = {"0": None, "1": "train", "2": "test"}


def load_split_list(
    path: str | Path | Sequence[str | Path],
    *,
    root: Path | str | None = None,
    subset: Subset | None = None,
    class_index: str | Path | None = None,
) -> list[VideoRecord]:
    """Records from official split lists (one file or several, e.g. all HMDB51 lists of a split).

    UCF101 style (``trainlist01.txt``: ``Class/v_Class_g08_c01.avi 1`` with a 1-based class
    index; ``testlist01.txt``: path only): the class is looked up in ``classInd.txt`` beside the
    list (or ``class_index``), else taken from the folder name; the ``gNN`` part of the file name
    becomes the group, so the same group never ends up on both sides of a split.
    HMDB51 style (``<class>_test_split<N>.txt``: ``name.avi 1|2|0``): the class comes from the
    list's name, videos are at ``root/<class>/name.avi``; ``subset`` keeps ``'train'`` (1) or
    ``'test'`` (2) lines, ``None`` keeps every line (including 0, unused).
    ``root`` is the video folder (default: the list's folder).
    """
    if subset not in (None, "train", "test"):
        raise ValueError(f"subset must be 'train', 'test' or None, got {subset!r}")
    paths = [Path(path)] if isinstance(path, (str, Path)) else [Path(p) for p in path]
    if not paths:
        raise ValueError("no split list given")
    records: list[VideoRecord] = []
    problems: list[str] = []
    for lst in paths:
        base = Path(root) if root is not None else lst.parent
        try:
            lines = lst.read_text(encoding="utf-8-sig").splitlines()
        except (OSError, UnicodeDecodeError) as exc:
            raise DataSourceError(lst, [f"cannot read split list: {exc}"]) from None
        hmdb = _HMDB_LIST.match(lst.name)
        if hmdb:
            recs, probs = _parse_hmdb(lines, hmdb.group("cls"), base, subset)
        else:
            index_file = Path(class_index) if class_index is not None else lst.parent / "classInd.txt"
            recs, probs = _parse_ucf(lines, base, _read_class_index(index_file))
        if len(paths) > 1:
            probs = [f"{lst.name} {p}" for p in probs]
        records.extend(recs)
        problems.extend(probs)
    if not records and not problems:
        problems.append("no videos listed" + (f" for subset '{subset}'" if subset else ""))
    source = paths[0] if len(paths) == 1 else f"{paths[0].parent} ({len(paths)} split lists)"
    if problems:
        raise DataSourceError(source, problems)
    return records


def _read_class_index(path: Path) -> dict[int, str] | None:
    if not path.is_file():
        return None
    problems: list[str] = []
    mapping: dict[int, str] = {}
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except UnicodeDecodeError as exc:
        raise DataSourceError(path, [(f"is not UTF-8 text (byte {exc.object[exc.start]:#04x} at offset {exc.start}); "
                                      "a class index holds 'index ClassName' lines")]) from None
    except OSError as exc:
        raise DataSourceError(path, [f"cannot read class index: {exc.strerror or exc}"]) from None
    for n, text in enumerate(lines, start=1):
        parts = text.split()
        if not parts:
            continue
        if len(parts) != 2 or not parts[0].isdigit():
            problems.append(f"line {n}: expected 'index ClassName', got '{text.strip()}'")
            continue
        mapping[int(parts[0])] = parts[1]
    if problems:
        raise DataSourceError(path, problems)
    return mapping


def _parse_ucf(
    lines: list[str], base: Path, classes: dict[int, str] | None
) -> tuple[list[VideoRecord], list[str]]:
    records: list[VideoRecord] = []
    problems: list[str] = []
    missing = listed = 0
    for n, text in enumerate(lines, start=1):
        parts = text.split()
        if not parts:
            continue
        if len(parts) > 2:
            problems.append(f"line {n}: expected 'path [label_index]', got '{text.strip()}'")
            continue
        rel = parts[0]
        listed += 1
        folder = Path(rel).parent.name or None
        label: str | None = folder
        if len(parts) == 2:
            if not parts[1].isdigit():
                problems.append(f"line {n}: label index '{parts[1]}' is not a whole number")
                continue
            idx = int(parts[1])
            if classes is not None:
                if idx not in classes:
                    known = f"{min(classes)}..{max(classes)}" if classes else "no classes"
                    problems.append(f"line {n}: unknown label index {idx} (classInd has {known})")
                    continue
                label = classes[idx]
                if folder is not None and folder.lower() != label.lower():
                    problems.append(f"line {n}: {rel} is in folder '{folder}' but label {idx} is '{label}'")
            elif label is None:
                label = parts[1]
        elif label is None:
            problems.append(f"line {n}: {rel} has no label index and no class folder")
            continue
        elif classes is not None:
            by_name = {c.lower(): c for c in classes.values()}
            if label.lower() not in by_name:
                problems.append(f"line {n}: class folder '{label}' is not in classInd")
                continue
            label = by_name[label.lower()]
        file = base / rel
        if not file.is_file():
            missing += 1
            problems.append(f"line {n}: {rel} does not exist")
        g = _UCF_GROUP.search(Path(rel).stem)
        records.append(VideoRecord(path=file, target=label, group=g.group(1).lower() if g else None))
    if missing and missing == listed and listed > 1:
        problems.insert(0, f"none of the {missing} listed files exist under {base} (is the root right?)")
    return records, problems


def _parse_hmdb(
    lines: list[str], label: str, base: Path, subset: Subset | None
) -> tuple[list[VideoRecord], list[str]]:
    records: list[VideoRecord] = []
    problems: list[str] = []
    missing = listed = 0
    for n, text in enumerate(lines, start=1):
        parts = text.split()
        if not parts:
            continue
        if len(parts) != 2 or parts[1] not in _HMDB_CODES:
            problems.append(f"line {n}: expected 'name.avi 0|1|2', got '{text.strip()}'")
            continue
        if subset is not None and _HMDB_CODES[parts[1]] != subset:
            continue
        listed += 1
        file = base / label / parts[0]
        if not file.is_file():
            missing += 1
            problems.append(f"line {n}: {label}/{parts[0]} does not exist")
        records.append(VideoRecord(path=file, target=label, meta={"split": _HMDB_CODES[parts[1]] or "unused"}))
    if missing and missing == listed and listed > 1:
        problems.insert(0, f"none of the {missing} listed files exist under {base / label} (is the root right?)")
    return records, problems
