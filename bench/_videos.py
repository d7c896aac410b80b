"""Benchmark inputs built from the real clips in ../shared/data (never committed).

`long_video()` re-encodes the two 340x256 mmaction2 clips, alternated, into one ~40 s H.264 mp4
(30 fps, x264 preset "medium", crf 23, keyint 250 = x264's default GOP, B-frames on: what a
typical downloaded Kinetics-style video looks like) and caches it under bench/out/ so reruns reuse it.
"""

from __future__ import annotations

import os
import sys
from fractions import Fraction
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
REPO = BENCH_DIR.parent
OUT_DIR = BENCH_DIR / "out"
DATA_CANDIDATES = (REPO.parent / "shared" / "data", Path("/work/shared/data"))

SOURCE_CLIPS = ("mmaction2_demo_kinetics_armwrestling.mp4", "mmaction2_tests_test.mp4")
FPS = 30
SECONDS = 40
GOP = 250
CRF = 23
PRESET = "medium"
WIDTH, HEIGHT = 340, 256


def data_dir() -> Path:
    """../shared/data, or exit with a clear message when it is absent."""
    env = os.environ.get("VIDLEARN_SHARED_DATA")
    for cand in ((Path(env),) if env else ()) + DATA_CANDIDATES:
        if (cand / "clips").is_dir():
            return cand
    sys.exit(
        "bench: the real-video folder ../shared/data (clips/, weizmann4/) was not found "
        f"(looked in {', '.join(str(c) for c in DATA_CANDIDATES)}; set VIDLEARN_SHARED_DATA to point elsewhere). "
        "The benchmark needs it; nothing was measured."
    )


def long_video_name() -> str:
    return f"long_{WIDTH}x{HEIGHT}_{FPS}fps_{SECONDS}s_gop{GOP}_crf{CRF}_{PRESET}.mp4"


def long_video(verbose: bool = True) -> Path:
    """The cached ~40 s benchmark video (built on first use, atomically)."""
    import av

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    out = OUT_DIR / long_video_name()
    if out.exists() and out.stat().st_size > 0:
        return out
    clips = data_dir() / "clips"
    sources = [clips / name for name in SOURCE_CLIPS]
    for src in sources:
        if not src.exists():
            sys.exit(f"bench: source clip {src} is missing; nothing was measured.")
    if verbose:
        print(f"building {out.name} from {', '.join(SOURCE_CLIPS)} (once; cached in bench/out/) ...", flush=True)
    total = FPS * SECONDS
    tmp = out.with_name(out.name + ".tmp.mp4")
    written = 0
    try:
        with av.open(str(tmp), mode="w", options={"movflags": "+faststart"}) as dst:
            stream = dst.add_stream("libx264", rate=Fraction(FPS, 1))
            stream.width, stream.height = WIDTH, HEIGHT
            stream.pix_fmt = "yuv420p"
            stream.options = {"crf": str(CRF), "preset": PRESET, "keyint": str(GOP)}
            while written < total:
                for src in sources:  # alternate the clips (re-timed to FPS) until SECONDS are filled
                    with av.open(str(src)) as container:
                        for frame in container.decode(video=0):
                            if written >= total:
                                break
                            if (frame.width, frame.height) != (WIDTH, HEIGHT):
                                frame = frame.reformat(width=WIDTH, height=HEIGHT)
                            new = frame.reformat(format="yuv420p")
                            new.pts = written
                            new.time_base = Fraction(1, FPS)
                            for packet in stream.encode(new):
                                dst.mux(packet)
                            written += 1
                    if written >= total:
                        break
            for packet in stream.encode():
                dst.mux(packet)
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            tmp.unlink()
    return out


def weizmann_videos() -> list[Path]:
    return sorted((data_dir() / "weizmann4" / "videos").glob("*/*.mp4"))


if __name__ == "__main__":
    print(long_video())
