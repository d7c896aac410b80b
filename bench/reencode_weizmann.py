"""Re-encode a manifest's videos at another size and frame rate, for the planner's "the plan adapts
to other native sizes and rates" check (docs/results.md, issue 11).

Every video goes through vidlearn's decoder (resampled to --fps, resized to --size) and its H.264
writer; the manifest is copied with the paths kept, so `--group actor` etc. still work.

    python bench/reencode_weizmann.py ../shared/data/weizmann4 /tmp/w160 --size 160x120 --fps 25
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import numpy as np

from vidlearn.io import iter_frames, write_video


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path, help="a folder with manifest.csv (paths relative to it)")
    ap.add_argument("out", type=Path, help="an empty or new folder")
    ap.add_argument("--size", default="160x120", help="WIDTHxHEIGHT (default 160x120)")
    ap.add_argument("--fps", type=float, default=25.0)
    args = ap.parse_args(argv)
    w, h = (int(v) for v in args.size.lower().split("x"))
    if args.out.exists() and any(args.out.iterdir()):
        print(f"{args.out}: not empty; choose a new folder", file=sys.stderr)
        return 2
    with open(args.src / "manifest.csv", newline="") as f:
        reader = csv.DictReader(f)
        rows, fields = list(reader), list(reader.fieldnames or [])
    for r in rows:
        frames = [frame for _, frame in iter_frames(args.src / r["path"], fps=args.fps, size=(w, h))]
        dst = args.out / r["path"]
        dst.parent.mkdir(parents=True, exist_ok=True)
        write_video(dst, np.stack(frames), args.fps)
    with open(args.out / "manifest.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    print(f"re-encoded {len(rows)} videos at {w}x{h}, {args.fps:g} fps -> {args.out / 'manifest.csv'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
