"""Benchmark: the feature table of the Weizmann videos on a local Ray instance vs the same job on
the local process pool (the baseline), with the same number of CPUs; prints wall times and the
ratio. On one machine Ray cannot be faster than the process pool: this measures what Ray costs
(start-up, scheduling, moving results), i.e. how many videos a job needs before spreading it over
more machines pays.

    taskset -c 0 .venv/bin/python bench/bench_scale.py            # 1 CPU
    .venv/bin/python bench/bench_scale.py                         # every CPU of this machine

Both jobs compute colour + motion features at 12.5 fps, 64 px, into fresh tables (nothing reused).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from vidlearn.data.sources import load_records
from vidlearn.tables.table import compute_feature_table

WEIZMANN = Path(__file__).resolve().parents[2] / "shared" / "data" / "weizmann4" / "manifest.csv"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, default=WEIZMANN)
    ap.add_argument("--kinds", default="color,motion")
    args = ap.parse_args()
    if not args.data.is_file():
        print(f"skipped: {args.data} not found (the shared data folder is absent)")
        return 0
    records = load_records(args.data, group="actor")
    cpus = len(os.sched_getaffinity(0))
    with tempfile.TemporaryDirectory() as tmp:
        t = time.perf_counter()
        local = compute_feature_table(records, args.kinds, fps=12.5, short_side=64, out=Path(tmp) / "a.parquet",
                                      workers=cpus, progress=False)
        t_local = time.perf_counter() - t

        import ray

        t = time.perf_counter()
        from vidlearn.scale import connect

        connect("local")
        t_start = time.perf_counter() - t
        t = time.perf_counter()
        remote = compute_feature_table(records, args.kinds, fps=12.5, short_side=64, out=Path(tmp) / "b.parquet",
                                       workers=cpus, progress=False, ray="local")
        t_ray = time.perf_counter() - t
        ray.shutdown()
    cols = local.attrs["vidlearn"]["feature_columns"]
    diff = float(abs(local[cols].to_numpy(dtype="float64") - remote[cols].to_numpy(dtype="float64")).max())
    n = len(records)
    print(f"{n} videos, {args.kinds}, {cpus} CPU(s); tables differ by at most {diff:.2g} (float32 rounding in OpenCV's threads)")
    print(f"  process pool ({cpus} workers)    {t_local:7.2f} s   {n / t_local:6.2f} videos/s   (baseline)")
    print(f"  Ray local ({cpus} CPUs), job only {t_ray:7.2f} s   {n / t_ray:6.2f} videos/s   ratio {t_local / t_ray:.2f}x")
    print(f"  Ray start-up                  {t_start:7.2f} s   job + start-up ratio {t_local / (t_ray + t_start):.2f}x")
    print(f"command: {' '.join([Path(sys.executable).name, *sys.argv])}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
