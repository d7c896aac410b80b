"""Multi-process training launched by torchrun (as on a multi-node cluster): the same `vidlearn train`
command under `torchrun --nproc_per_node 2` joins one DDP group (gloo on CPU), and only rank 0
writes the model and prints the result."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from vidlearn.data.synthetic import generate_demo_dataset


@pytest.mark.long
def test_train_under_torchrun_on_two_cpu_processes(tmp_path: Path) -> None:
    data = generate_demo_dataset(tmp_path / "d", classes=["left", "right"], videos_per_class=4, num_groups=2, size=32, duration=1.0)
    run = tmp_path / "run"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", "2", "-m", "vidlearn.cli",
           "train", str(data), "--out", str(run), "--group", "group", "--epochs", "1", "--devices", "2", "--quiet",
           "--set", f"data.cache_dir={tmp_path / 'cache'}", "--set", "data.num_workers=0", "--set", "decode.short_side=32",
           "--set", "transform.crop_size=32", "--set", "sampling.num_frames=4", "--set", "optim.batch_size=2"]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=600, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    out = res.stdout + res.stderr
    assert res.returncode == 0, out[-3000:]
    assert "GLOBAL_RANK: 0, MEMBER: 1/2" in out and "GLOBAL_RANK: 1, MEMBER: 2/2" in out
    assert out.count("trained 1 epoch(s)") == 1  # rank 0 reports, rank 1 does not
    assert (run / "model" / "model.safetensors").is_file() and (run / "eval" / "metrics.json").is_file()
