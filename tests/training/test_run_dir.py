"""A run folder is checked once a launch: under torchrun only local rank 0 checks it, and the other
ranks wait for that check, so a rank that runs ahead and writes cannot make rank 0 refuse its own run."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from vidlearn.errors import ConfigError
from vidlearn.training.checkpoints import claim_run_dir


def test_other_ranks_wait_for_rank_0_and_rank_0_checks_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    run = tmp_path / "run"
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", f"test-{time.time_ns()}")
    monkeypatch.setenv("LOCAL_RANK", "1")
    done = threading.Event()
    waiter = threading.Thread(target=lambda: (claim_run_dir(run, resume=False, overwrite=False, wait_s=30), done.set()))
    waiter.start()
    time.sleep(0.5)
    assert not done.is_set()  # rank 1 waits for rank 0's check
    monkeypatch.setenv("LOCAL_RANK", "0")
    claim_run_dir(run, resume=False, overwrite=False)
    waiter.join(10)
    assert done.is_set()
    run.mkdir()
    (run / "config.yaml").write_text("{}\n")  # what a rank writes once training starts
    claim_run_dir(run, resume=False, overwrite=False)  # the same launch: not refused by its own files


def test_without_torchrun_an_existing_run_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("TORCHELASTIC_RUN_ID", raising=False)
    monkeypatch.delenv("LOCAL_RANK", raising=False)
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("{}\n")
    with pytest.raises(ConfigError, match="--resume"):
        claim_run_dir(run, resume=False, overwrite=False)
    monkeypatch.setenv("LOCAL_RANK", "1")  # a child of Lightning's own DDP launcher: rank 0 checked before it started
    claim_run_dir(run, resume=False, overwrite=False)


def test_a_rank_that_waits_too_long_says_so(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TORCHELASTIC_RUN_ID", f"test-{time.time_ns()}")
    monkeypatch.setenv("LOCAL_RANK", "1")
    with pytest.raises(ConfigError, match="rank 0 did not check"):
        claim_run_dir(tmp_path / "run", resume=False, overwrite=False, wait_s=0.3)
