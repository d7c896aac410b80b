#!/usr/bin/env python
"""What the cache's checksums cost: a cached epoch with and without verification against a
decoding epoch (weizmann4, 36 videos; the epoch of bench_decode.py section 4).

    python bench/bench_cache_checksum.py [--repeats N]

"cold" epochs open every entry anew, as a fresh process (a DataLoader worker started for the
epoch) does: with verification each entry's CRC32 is computed once there -- the worst case.
"warm" epochs reuse the opened entries (the usual case after the first epoch of a process): no
checksum work at all. Timings are medians over round-robin repeats; the load average is printed.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
sys.path.insert(0, str(BENCH_DIR.parent / "src"))

import _videos  # noqa: E402
import numpy as np  # noqa: E402

import vidlearn.cache.checksum as checksum  # noqa: E402
from vidlearn.cache import FrameCache  # noqa: E402
from vidlearn.data.records import VideoRecord  # noqa: E402
from vidlearn.io import probe, read_frames  # noqa: E402


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args(argv)
    _videos.data_dir()
    videos = _videos.weizmann_videos()
    if not videos:
        print("skipped: no weizmann4 videos")
        return 1
    print(f"load average at start: {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} cores")
    num, fps, short = 8, 8.0, 64
    records = [VideoRecord(path=p) for p in videos]
    rng = np.random.default_rng(1)
    epoch_times = [np.floor(rng.uniform(0.0, max(0.0, probe(p).duration - num / fps)) * fps) / fps + np.arange(num) / fps
                   for p in videos]
    _videos.OUT_DIR.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=_videos.OUT_DIR, prefix="checksum-") as root:
        caches = {fmt: FrameCache(Path(root) / fmt, fps=fps, short_side=short, format=fmt) for fmt in ("npy", "jpeg")}
        for c in caches.values():
            for rec in records:
                c.get(rec)  # fill
        nbytes = {fmt: sum(f.stat().st_size for f in (Path(root) / fmt).iterdir()) for fmt in caches}

        def decoding() -> None:
            for rec, ts in zip(records, epoch_times):
                read_frames(rec.path, ts, short_side=short)

        def cold(fmt: str, verify: bool):
            def run() -> None:
                checksum._VERIFIED.clear()  # as a fresh process
                c = FrameCache(Path(root) / fmt, fps=fps, short_side=short, format=fmt, verify=verify)
                for rec, ts in zip(records, epoch_times):
                    c.frames_at(rec, ts)
            return run

        def warm(fmt: str):
            c = caches[fmt]

            def run() -> None:
                for rec, ts in zip(records, epoch_times):
                    c.frames_at(rec, ts)
            return run

        methods = {"decoding epoch (read_frames)": decoding}
        for fmt in ("npy", "jpeg"):
            methods[f"{fmt}: cold epoch, no verification"] = cold(fmt, False)
            methods[f"{fmt}: cold epoch, CRC32 verified"] = cold(fmt, True)
            methods[f"{fmt}: warm epoch (entries open)"] = warm(fmt)
        times: dict[str, list[float]] = {k: [] for k in methods}
        for _ in range(args.repeats):
            for k, fn in methods.items():
                t0 = time.perf_counter()
                fn()
                times[k].append(time.perf_counter() - t0)
        entry = max((Path(root) / "npy").glob("*.npy"), key=lambda f: f.stat().st_size)
        t0 = time.perf_counter()
        for _ in range(20):
            checksum.file_crc32(entry, 128)
        crc_rate = 20 * (entry.stat().st_size - 128) / (time.perf_counter() - t0)
    dec = statistics.median(times["decoding epoch (read_frames)"])
    print("\n| epoch over 36 videos, 8 frames at 8 fps, 64 px | median | vs decoding epoch |\n|---|---|---|")
    for k, v in times.items():
        m = statistics.median(v)
        print(f"| {k} | {m * 1e3:.1f} ms | {dec / m:.1f}x |")
    for fmt in ("npy", "jpeg"):
        off = statistics.median(times[f"{fmt}: cold epoch, no verification"])
        on = statistics.median(times[f"{fmt}: cold epoch, CRC32 verified"])
        hot = statistics.median(times[f"{fmt}: warm epoch (entries open)"])
        print(f"\n{fmt}: verification adds {(on - off) * 1e3:.1f} ms to a cold epoch ({on / off:.2f}x; "
              f"{nbytes[fmt] / 1e6:.1f} MB of entries checked once per process); the cached epoch (entries open, "
              f"as bench_decode.py section 4 measures it) = {dec / hot:.1f}x a decoding epoch"
              + (f" (goal >= 20x: {'met' if dec / hot >= 20 else 'NOT met'})" if fmt == "npy" else ""))
    print(f"CRC32 (zlib, file_crc32) of one npy entry from the page cache: {crc_rate / 1e9:.2f} GB/s")
    print(f"load average at end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
