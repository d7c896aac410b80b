"""CPU inference speed of the pretrained-architecture zoo at each model's native clip, and ONNX
Runtime beside PyTorch eager on the same model and input (the baseline), in the same run.

    PYTHONPATH=src python bench/bench_zoo.py [--models x3d_xs,r3d_18,...] [--batches 1,8] [--repeats 3] [--no-onnx]

For every model: clips/s of PyTorch eager (inference mode, 2 threads) at batch 1 and 8; then the
model exported to ONNX (opset 17, dynamic batch) and run by onnxruntime (2 intra-op threads, all
graph optimisations) on the same input, its clips/s and the ratio to eager, after checking that
both give the same outputs. Weights are random (speed does not depend on them). Timed passes
alternate eager/ONNX so a change in the machine's load hits both; medians are reported.
"""

from __future__ import annotations

import argparse
import io
import warnings
import os
import statistics
import sys
import time

import numpy as np
import torch

from vidlearn.models import build_model, native_clip

ARCHITECTURES = ("x3d_xs", "x3d_s", "x3d_m", "r3d_18", "mc3_18", "r2plus1d_18", "s3d", "slow_r50", "slowfast_r50",
                 "mvit_v2_s", "swin3d_t", "videomae_base", "timesformer_base")


def _onnx_session(model: torch.nn.Module, x: torch.Tensor, threads: int):
    import onnxruntime as ort

    buf = io.BytesIO()
    torch.onnx.export(model, (x,), buf, input_names=["video"], output_names=["logits"], opset_version=17,
                      dynamic_axes={"video": {0: "batch"}, "logits": {0: "batch"}}, dynamo=False)
    opts = ort.SessionOptions()
    opts.intra_op_num_threads = threads
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    return ort.InferenceSession(buf.getvalue(), sess_options=opts, providers=["CPUExecutionProvider"])


def _median_seconds(fns: dict[str, object], repeats: int) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in fns}
    for _ in range(repeats):
        for k, fn in fns.items():
            t = time.perf_counter()
            fn()
            times[k].append(time.perf_counter() - t)
    return {k: statistics.median(v) for k, v in times.items()}


def bench(name: str, batches: list[int], repeats: int, threads: int, onnx: bool) -> list[str]:
    clip = native_clip(name) or (16, 112, 112)
    torch.manual_seed(0)
    model = build_model(name, num_classes=400).eval()
    rows = []
    session = None
    for batch in batches:
        x = torch.randn(batch, 3, *clip, generator=torch.Generator().manual_seed(batch))
        with torch.inference_mode():
            ref = model(x).numpy()  # warm-up
        fns = {"eager": lambda: model(x)}
        diff = float("nan")
        if onnx:
            if session is None:
                session = _onnx_session(model, x, threads)
            feed = {"video": x.numpy()}
            got = session.run(None, feed)[0]
            diff = float(np.abs(got - ref).max())
            fns["onnx"] = lambda: session.run(None, feed)
        with torch.inference_mode():
            med = _median_seconds(fns, repeats)
        eager = batch / med["eager"]
        line = f"| {name} | {'x'.join(map(str, clip))} | {batch} | {eager:.2f}"
        if onnx:
            ort_cps = batch / med["onnx"]
            line += f" | {ort_cps:.2f} | {ort_cps / eager:.2f}x | {diff:.1e}"
        rows.append(line + " |")
        print(rows[-1], flush=True)
    return rows


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default=",".join(ARCHITECTURES))
    ap.add_argument("--batches", default="1,8")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--no-onnx", action="store_true")
    args = ap.parse_args(argv)
    torch.set_num_threads(args.threads)
    warnings.filterwarnings("ignore")  # the exporter's tracer warnings; outputs are compared instead
    load = " ".join(f"{v:.2f}" for v in os.getloadavg())
    print(f"torch {torch.__version__}, {args.threads} threads, load average {load}, median of {args.repeats}")
    head = "| model | clip (T x H x W) | batch | eager clips/s"
    print(head + (" | onnxruntime clips/s | ORT / eager | max abs diff |" if not args.no_onnx else " |"))
    print("|---" * (7 if not args.no_onnx else 4) + "|")
    for name in args.models.split(","):
        try:
            bench(name, [int(b) for b in args.batches.split(",")], args.repeats, args.threads, not args.no_onnx)
        except Exception as exc:  # noqa: BLE001 - one model's failure is reported, the others still run
            print(f"| {name} | failed: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''} |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
