"""`--resume` checks its checkpoint before Lightning reads it: a truncated or foreign `last.ckpt`
falls back to a sound `best.ckpt` (said), and with neither the run stops with one line naming the
file; a pickle that would run code is never loaded."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
from torch import nn

from vidlearn.errors import ArtifactError
from vidlearn.training.checkpoints import checkpoint_problem, resume_from


class _Wrapped(nn.Module):  # a LightningModule's state_dict: the network under "model."
    def __init__(self) -> None:
        super().__init__()
        self.model = nn.Sequential(nn.Linear(4, 3), nn.BatchNorm1d(3))


def _save(path: Path, module: nn.Module, **over) -> Path:
    torch.save({"state_dict": module.state_dict(), "epoch": 2, "global_step": 10, **over}, path)
    return path


class _Evil:
    def __reduce__(self):  # would run a command if unpickled
        return (print, ("unpickled!",))


def test_a_sound_last_checkpoint_is_used(tmp_path: Path) -> None:
    module, said = _Wrapped(), []
    _save(tmp_path / "last.ckpt", module)
    assert resume_from(tmp_path, module, said.append) == str(tmp_path / "last.ckpt")
    assert said == [f"resuming from {tmp_path / 'last.ckpt'}"]


def test_a_truncated_last_checkpoint_falls_back_to_best_and_says_so(tmp_path: Path) -> None:
    module, said = _Wrapped(), []
    data = _save(tmp_path / "last.ckpt", module).read_bytes()
    (tmp_path / "last.ckpt").write_bytes(data[: len(data) // 3])  # a full disk
    _save(tmp_path / "best.ckpt", module)
    assert resume_from(tmp_path, module, said.append) == str(tmp_path / "best.ckpt")
    assert "not a readable checkpoint" in said[0] and "resuming from" in said[0] and "best.ckpt instead" in said[0]


def test_with_no_sound_checkpoint_the_error_names_the_file(tmp_path: Path) -> None:
    module = _Wrapped()
    (tmp_path / "last.ckpt").write_bytes(b"\0" * 100)
    with pytest.raises(ArtifactError, match=r"last\.ckpt: not a readable checkpoint.*run without --resume"):
        resume_from(tmp_path, module, lambda _s: None)


def test_foreign_malicious_and_odd_checkpoints_are_refused(tmp_path: Path, capsys) -> None:
    module = _Wrapped()
    other = nn.Module()
    other.model = nn.Linear(4, 5)
    assert "does not match the model" in checkpoint_problem(_save(tmp_path / "a.ckpt", other), module)
    (tmp_path / "b.ckpt").write_bytes(pickle.dumps({"state_dict": _Evil()}))
    assert "not a readable checkpoint" in checkpoint_problem(tmp_path / "b.ckpt", module)
    assert "unpickled!" not in capsys.readouterr().out
    torch.save({"state_dict": {"model.0.weight": [1, 2]}, "epoch": 1, "global_step": 1}, tmp_path / "c.ckpt")
    assert checkpoint_problem(tmp_path / "c.ckpt", module) is not None
    assert "epoch and step" in checkpoint_problem(_save(tmp_path / "d.ckpt", module, epoch="2"), module)
    assert checkpoint_problem(_save(tmp_path / "e.ckpt", module), module) is None


def test_a_run_without_checkpoints_starts_from_scratch(tmp_path: Path) -> None:
    said: list[str] = []
    assert resume_from(tmp_path, _Wrapped(), said.append) is None and "starting from scratch" in said[0]


def test_a_checkpoint_write_that_fails_leaves_the_previous_one_whole(tmp_path: Path, monkeypatch) -> None:
    """A full disk halfway through writing last.ckpt: the file at the final path is still the
    previous, complete checkpoint, and no temp file is left beside it."""
    import errno

    from vidlearn.training.checkpoints import AtomicCheckpointIO

    module = _Wrapped()
    io = AtomicCheckpointIO()
    target = tmp_path / "checkpoints" / "last.ckpt"
    io.save_checkpoint({"state_dict": module.state_dict(), "epoch": 1, "global_step": 4}, target)
    before = target.read_bytes()

    def half_then_full(obj, fh, *a, **k):
        fh.write(b"\x80\x02partial")
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(torch, "save", half_then_full)
    with pytest.raises(OSError):
        io.save_checkpoint({"state_dict": module.state_dict(), "epoch": 2, "global_step": 8}, target)
    assert target.read_bytes() == before
    assert [p.name for p in target.parent.iterdir()] == ["last.ckpt"]
    monkeypatch.undo()
    assert checkpoint_problem(target, module) is None
