"""CPU forward speed of vidlearn's `videomae_base` and `timesformer_base` beside Hugging Face
transformers' `VideoMAEForVideoClassification` / `TimesformerForVideoClassification` carrying the same
weights, in the same run (batch 1, and 8 unless --batches says otherwise; 2 threads).

    PYTHONPATH=src python bench/bench_hf_transformers.py [--batches 1,8] [--repeats 3] [--models videomae,timesformer]

transformers is a bench-only extra (`pip install -e .[bench] -c constraints.txt`); without it the bench
says so and exits 0. Each model pair first checks that both give the same logits; the timed passes
alternate ours/theirs so that a change in the machine's load hits both; the medians are reported,
the ratio of the fastest passes (the least disturbed on a shared machine) and that of the median
process CPU times (all threads), which other processes on the machine sway less than wall-clock time.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from collections.abc import Callable

import torch

from vidlearn.models import from_hf_config

MODELS = ("videomae", "timesformer")


def _hf_pair(kind: str) -> tuple[torch.nn.Module, torch.nn.Module, tuple[int, int, int]]:
    """(ours, theirs, clip) with the reference's default config and the reference's random weights."""
    import transformers

    if kind == "videomae":
        hf = transformers.VideoMAEForVideoClassification(transformers.VideoMAEConfig(num_labels=400))
    else:
        hf = transformers.TimesformerForVideoClassification(transformers.TimesformerConfig(num_labels=400))
    hf.eval()
    ours = from_hf_config(hf.config.to_dict()).eval()
    ours.load_state_dict(hf.state_dict(), strict=True)
    cfg = hf.config
    return ours, hf, (cfg.num_frames, cfg.image_size, cfg.image_size)


def _timed(fn: Callable[[], object], cpu: list[float]) -> float:
    """Wall-clock seconds of one call; its process CPU seconds (all threads) go to `cpu`."""
    start, start_cpu = time.perf_counter(), time.process_time()
    fn()
    cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def bench(kind: str, batches: list[int], repeats: int) -> list[dict[str, float]]:
    """Clips/s of ours and of transformers' model for each batch size, and their ratio."""
    ours, hf, clip = _hf_pair(kind)
    rows = []
    for batch in batches:
        x = torch.randn(batch, 3, *clip, generator=torch.Generator().manual_seed(0))
        pixel_values = x.permute(0, 2, 1, 3, 4)  # HF takes (B, T, C, H, W)
        with torch.inference_mode():
            ref = hf(pixel_values=pixel_values).logits  # also the warm-up
            got = ours(x)
            diff = (got - ref).abs().max().item()
            if not torch.allclose(got, ref, atol=1e-3, rtol=1e-4):
                raise SystemExit(f"{kind}: outputs differ from transformers' (max abs diff {diff:.2e})")
            t_ours, t_hf, cpu_ours, cpu_hf = [], [], [], []
            for _ in range(repeats):
                t_ours.append(_timed(lambda x=x: ours(x), cpu_ours))
                t_hf.append(_timed(lambda pv=pixel_values: hf(pixel_values=pv), cpu_hf))
        ours_s, hf_s = batch / statistics.median(t_ours), batch / statistics.median(t_hf)
        best = min(t_hf) / min(t_ours)  # the least-disturbed pass of each: robust on a shared machine
        cpu = statistics.median(cpu_hf) / statistics.median(cpu_ours)  # CPU seconds: less swayed by other processes
        rows.append({"batch": batch, "ours": ours_s, "transformers": hf_s, "ratio": ours_s / hf_s, "ratio_best": best,
                     "ratio_cpu": cpu, "max_abs_diff": diff})  # fmt: skip
        print(
            f"{kind:12s} batch {batch}: ours {ours_s:6.3f} clips/s, transformers {hf_s:6.3f} clips/s (medians), "
            f"ratio {ours_s / hf_s:4.2f}x, best-pass ratio {best:4.2f}x, CPU-time ratio {cpu:4.2f}x (max |logit diff| {diff:.1e})\n"
            f"{'':12s} pass seconds: ours {' '.join(f'{t:.2f}' for t in t_ours)}; transformers {' '.join(f'{t:.2f}' for t in t_hf)}\n"
            f"{'':12s} pass CPU seconds: ours {' '.join(f'{t:.2f}' for t in cpu_ours)}; transformers {' '.join(f'{t:.2f}' for t in cpu_hf)}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", default="1,8", help="comma-separated batch sizes (default 1,8)")
    parser.add_argument("--repeats", type=int, default=3, help="timed passes per model and batch (default 3)")
    parser.add_argument("--models", default=",".join(MODELS), help="videomae,timesformer")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args(argv)
    try:
        import transformers
    except ImportError:
        print("bench_hf_transformers: skipped, transformers is not installed (pip install -e '.[bench]' -c constraints.txt)")
        return 0
    torch.set_num_threads(args.threads)
    print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} threads")
    for kind in args.models.split(","):
        if kind not in MODELS:
            raise SystemExit(f"--models: unknown {kind!r} (choose from {', '.join(MODELS)})")
        bench(kind, [int(b) for b in args.batches.split(",")], args.repeats)
    return 0


if __name__ == "__main__":
    sys.exit(main())
