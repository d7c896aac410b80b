"""Multi-label manifests: labels joined by | in the label column, or one 0/1 column per class
(label:CLASS); the targets they give, the errors they raise, and how the dataset encodes them."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from vidlearn.config import ExperimentConfig
from vidlearn.data.records import join_labels, split_labels
from vidlearn.data.sources import label_names, load_records
from vidlearn.errors import DataSourceError


def _manifest(root: Path, header: str, *rows: str) -> Path:
    for i in range(len(rows)):
        (root / f"v{i}.mp4").write_bytes(b"")
    m = root / "m.csv"
    m.write_text(header + "\n" + "\n".join(f"v{i}.mp4,{row}" for i, row in enumerate(rows)) + "\n")
    return m


def test_the_label_column_holds_labels_joined_by_a_bar_in_one_spelling(tmp_path: Path) -> None:
    m = _manifest(tmp_path, "path,label,group", "wave| jump|wave,a", "run,b")
    records = load_records(m, task="multilabel")
    assert [r.target for r in records] == ["jump|wave", "run"]
    assert label_names(records) == ["jump", "run", "wave"]
    assert split_labels("jump|wave") == ["jump", "wave"] and join_labels(["wave", "jump", "wave"]) == "jump|wave"
    # for single-label classification the same cell is one class name, as before
    assert load_records(m)[0].target == "wave| jump|wave"


def test_label_columns_give_one_0_1_cell_per_class(tmp_path: Path) -> None:
    m = _manifest(tmp_path, "path,label:wave,label:jump,actor", "1,1,x", "0,1,y", "0,0,z")
    records = load_records(m, task="multilabel", group="actor")
    assert [r.target for r in records] == ["jump|wave", "jump", ""]  # a row of zeros: none of the classes
    assert [r.group for r in records] == ["x", "y", "z"] and "label:wave" not in records[0].meta


@pytest.mark.parametrize(
    ("header", "row", "message"),
    [
        ("path,label:wave,label:jump", "1,2", "line 2: label:jump '2' is not 0 or 1"),
        ("path,label,label:jump", "wave,1", "give the labels one way"),
        ("path,label", "|", "line 2: label '|' holds no label"),
        ("path,group", "g", "missing column 'label' for multilabel"),
    ],
)
def test_bad_multilabel_manifests_name_the_line_and_the_reason(tmp_path: Path, header: str, row: str, message: str) -> None:
    with pytest.raises(DataSourceError, match=message.replace("|", r"\|")):
        load_records(_manifest(tmp_path, header, row), task="multilabel")


def test_the_dataset_encodes_label_sets_as_0_1_vectors_over_the_classes(tmp_path: Path) -> None:
    from vidlearn.clips import ClipDataset

    m = _manifest(tmp_path, "path,label:jump,label:run,label:wave", "1,0,1", "0,0,0", "0,1,0")
    cfg = ExperimentConfig().override({"task.kind": "multilabel", "task.classes": ["jump", "run", "wave"], "data.num_workers": 0})
    ds = ClipDataset.from_config(load_records(m, task="multilabel"), cfg, train=False)
    assert [ds.target(i).tolist() for i in range(3)] == [[1.0, 0.0, 1.0], [0.0, 0.0, 0.0], [0.0, 1.0, 0.0]]
    assert ds.target(0).dtype.is_floating_point
    bad = [load_records(m, task="multilabel")[0].with_target("jump|swim")]
    with pytest.raises(DataSourceError, match="label 'swim' is not one of the known classes"):
        ClipDataset.from_config(bad, cfg, train=False)
    assert np.isnan(ClipDataset.from_config([bad[0].with_target(None)], cfg, train=False).target(0).numpy()).all()
