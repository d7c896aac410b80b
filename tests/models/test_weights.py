"""The weights catalogue: every entry complete and consistent, the class list shipped with the package."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest

from vidlearn.errors import ConfigError
from vidlearn.models import list_models
from vidlearn.models.weights import ARCHITECTURES, Preprocessing, get_weights, kinetics400_classes, list_weights, weights_for

REPO = Path(__file__).resolve().parents[2]


def test_every_reference_architecture_has_an_entry_and_every_entry_a_known_architecture() -> None:
    assert len(ARCHITECTURES) == 13 and len(set(ARCHITECTURES)) == 13
    entries = list_weights()
    assert {e.architecture for e in entries} == set(ARCHITECTURES)
    registered = set(list_models())
    for e in entries:
        assert e.architecture in registered or e.architecture in ARCHITECTURES
        assert e.name == f"{e.architecture}.kinetics400"
    assert len({e.name for e in entries}) == len(entries)


@pytest.mark.parametrize("entry", list_weights(), ids=lambda e: e.name)
def test_entry_is_complete(entry) -> None:
    assert len(entry.class_names) == entry.num_classes == 400
    assert entry.dataset == "Kinetics-400" and entry.source
    for f in entry.files:
        assert f.url.startswith("https://") and f.url.endswith("/" + f.filename)
        assert f.sha256 is None or re.fullmatch(r"[0-9a-f]{8,64}", f.sha256)
    if entry.files[0].url.startswith("https://download.pytorch.org/"):
        # torchvision's file names end in the first hex digits of the file's sha256
        f = entry.files[0]
        assert f.sha256 and f.filename == f"{entry.architecture}-{f.sha256}.pth"
        assert entry.size_mb and entry.size_mb > 1
    if entry.is_folder:  # a Hugging Face model folder
        assert [f.filename for f in entry.files] == ["config.json", "pytorch_model.bin"]
    p = entry.preprocessing
    assert isinstance(p, Preprocessing)
    assert len(p.mean) == len(p.std) == 3 and all(0 < v < 1 for v in (*p.mean, *p.std))
    assert p.num_frames >= 4 and 0 < p.crop_size <= p.short_side
    assert (p.fps is None) != (p.frame_stride is None)  # one temporal sampling rule
    assert p.resize is None or p.resize[0] == p.short_side


def test_published_preprocessing_values() -> None:
    r3d = get_weights("r3d_18.kinetics400").preprocessing  # torchvision VideoClassification defaults
    assert (r3d.mean, r3d.std, r3d.crop_size, r3d.resize, r3d.num_frames, r3d.fps) == (
        (0.43216, 0.394666, 0.37645), (0.22803, 0.22145, 0.216989), 112, (128, 171), 16, 15.0
    )  # fmt: skip
    x3d = get_weights("x3d_xs.kinetics400").preprocessing  # PyTorchVideo hub page: 4 x 12 at 182
    assert (x3d.num_frames, x3d.frame_stride, x3d.short_side, x3d.crop_size, x3d.mean) == (4, 12, 182, 182, (0.45, 0.45, 0.45))
    assert get_weights("slowfast_r50.kinetics400").preprocessing.num_frames == 32
    assert get_weights("swin3d_t.kinetics400").preprocessing.mean == (0.485, 0.456, 0.406)


def test_kinetics400_class_list() -> None:
    names = kinetics400_classes()
    assert len(names) == 400 and len(set(names)) == 400
    assert names[0] == "abseiling" and names[-1] == "zumba" and names[208] == "passing American football (in game)"
    assert list(names) == sorted(names, key=str.lower)  # the published order is alphabetical


def test_class_list_ships_with_the_package() -> None:
    data = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]
    assert any(pattern.endswith("kinetics400_classes.txt") for patterns in data.values() for pattern in patterns)
    assert (REPO / "src" / "vidlearn" / "models" / "kinetics400_classes.txt").is_file()


def test_lookups_and_typos() -> None:
    assert get_weights("r3d_18").name == "r3d_18.kinetics400"  # an architecture gives its default entry
    assert weights_for("videomae_base").files[0].url == "https://huggingface.co/MCG-NJU/videomae-base-finetuned-kinetics/resolve/main/config.json"
    assert [e.name for e in list_weights("x3d_m")] == ["x3d_m.kinetics400"]
    with pytest.raises(ConfigError, match=r"unknown weights 'r2plus1d18\.kinetics400'; did you mean: r2plus1d_18\.kinetics400"):
        get_weights("r2plus1d18.kinetics400")
    with pytest.raises(ConfigError, match="no published weights in the catalogue for 'r3d_tiny'"):
        weights_for("r3d_tiny")
