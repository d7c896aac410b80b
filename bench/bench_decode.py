#!/usr/bin/env python
"""Decoding benchmark: vidlearn's PyAV decoder against the practical limit (ffmpeg CLI) and against
the loaders people usually write (PyTorchVideo-style PyAV loader, a plain OpenCV loop).

    python bench/bench_decode.py [--quick] [--repeats N] [--clips N] [--seed S]

Sections (all on one cached ~40 s 340x256 H.264 file built from ../shared/data/clips, see _videos.py):
  1. sequential decode to RGB at native size (frames/s): vidlearn iter_frames vs ffmpeg CLI
  2. training-style random clips (16 frames at 8 fps, 128 px short side; clips/s): vidlearn
     read_frames vs a PyTorchVideo-style loader vs an OpenCV read-everything loop, same seeded starts,
     plus a frame-equality check
  3. where the time goes in vidlearn, and measured variants: the converter before commit fa9837c
     (the change itself is in git history)
  4. cached epoch vs decoding epoch (vidlearn.cache.store.FrameCache; skipped while it is missing)

Timings are medians over repeats run round-robin (each repeat runs every method once), so a
slow spell on a shared machine hits all methods alike. Exits with a message if ../shared/data is absent.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as _dt
import hashlib
import math
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

BENCH_DIR = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH_DIR))
try:
    import vidlearn  # noqa: F401
except ImportError:  # running from a checkout without an installed package
    sys.path.insert(0, str(BENCH_DIR.parent / "src"))

import _videos  # noqa: E402
import av  # noqa: E402
import cv2  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from av.video.reformatter import VideoReformatter  # noqa: E402

from vidlearn.io import decode as D  # noqa: E402
from vidlearn.io import iter_frames, probe, read_frames  # noqa: E402

CLIP_FRAMES = 16
CLIP_FPS = 8.0
SHORT_SIDE = 128


# --------------------------------------------------------------------------------------- helpers
def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _ffmpeg_cli() -> str | None:
    return shutil.which("ffmpeg")


def _ffmpeg_version(exe: str | None) -> str:
    if exe is None:
        return "not installed (baseline skipped)"
    try:
        out = subprocess.run([exe, "-version"], capture_output=True, text=True, timeout=10).stdout
        return out.splitlines()[0].replace("ffmpeg version ", "").split(" Copyright")[0]
    except (OSError, subprocess.SubprocessError, IndexError):
        return "unknown"


def _loadavg() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "n/a"


class Timings(dict):
    """name -> wall times (s) of each run; `.cpu`: name -> CPU seconds of each run (this process's
    threads plus finished child processes: less sensitive to other people's load than wall time)."""

    cpu: dict[str, list[float]]


def _cpu_now() -> float:
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return time.process_time() + ch.ru_utime + ch.ru_stime


def measure(methods: dict[str, Callable[[], object]], repeats: dict[str, int] | int) -> Timings:
    """Run every method `repeats` times, round-robin (each round runs every method once)."""
    reps = repeats if isinstance(repeats, dict) else {name: repeats for name in methods}
    times = Timings({name: [] for name in methods})
    times.cpu = {name: [] for name in methods}
    for r in range(max(reps.values())):
        for name, fn in methods.items():
            if r >= reps[name]:
                continue
            c0 = _cpu_now()
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
            times.cpu[name].append(_cpu_now() - c0)
    return times


def med(xs: list[float]) -> float:
    return statistics.median(xs)


def spread(xs: list[float]) -> str:
    """min-max of the rate, as a +/- percentage of the median time."""
    m = med(xs)
    return f"{(min(xs) - m) / m * 100:+.0f}/{(max(xs) - m) / m * 100:+.0f}%"


def table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(r) + " |" for r in rows]
    return "\n".join(lines)


def clip_times(start: float) -> np.ndarray:
    return start + np.arange(CLIP_FRAMES) / CLIP_FPS


def displayed_index(frame_times: np.ndarray, t: float) -> int:
    """Index of the frame displayed at time t (the last one starting at or before t)."""
    return max(0, int(np.searchsorted(frame_times, t + 1e-4, side="right")) - 1)


def scaled_size(w: int, h: int, short: int) -> tuple[int, int]:
    return D.output_size(w, h, short_side=short)


# ------------------------------------------------------------------ 1. sequential decode to RGB
def vidlearn_sequential(path: Path, threads: int) -> Callable[[], int]:
    def run() -> int:
        n = 0
        for _t, _arr in iter_frames(path, threads=threads):
            n += 1
        return n

    return run


def bare_pyav_sequential(path: Path) -> Callable[[], int]:
    """Reference: the shortest PyAV loop (frame threads, one shared single-threaded scaler)."""

    def run() -> int:
        n = 0
        with av.open(str(path)) as c:
            s = c.streams.video[0]
            s.thread_type = "AUTO"
            ref = VideoReformatter()
            for f in c.decode(s):
                ref.reformat(f, format="rgb24", threads=1).to_ndarray()
                n += 1
        return n

    return run


def ffmpeg_cmd(exe: str, path: Path) -> list[str]:
    return [exe, "-v", "error", "-threads", "0", "-i", str(path), "-pix_fmt", "rgb24", "-f", "rawvideo", "-"]


def ffmpeg_devnull(exe: str, path: Path) -> Callable[[], None]:
    def run() -> None:
        subprocess.run(ffmpeg_cmd(exe, path), stdout=subprocess.DEVNULL, check=True)

    return run


def ffmpeg_pipe(exe: str, path: Path, expect_bytes: int) -> Callable[[], None]:
    def run() -> None:
        proc = subprocess.Popen(ffmpeg_cmd(exe, path), stdout=subprocess.PIPE)
        assert proc.stdout is not None
        got = 0
        while chunk := proc.stdout.read(1 << 20):
            got += len(chunk)
        if proc.wait() != 0 or got != expect_bytes:
            raise RuntimeError(f"ffmpeg pipe gave {got} bytes, expected {expect_bytes}")

    return run


def section_sequential(path: Path, info, repeats: int, ffmpeg: str | None) -> dict:
    print("\n## 1. Sequential decode to RGB, native size (frames/s)\n", flush=True)
    n = info.num_frames
    methods: dict[str, Callable[[], object]] = {
        "vidlearn iter_frames(path) (threads=0, default)": vidlearn_sequential(path, 0),
        "vidlearn iter_frames(path, threads=1)": vidlearn_sequential(path, 1),
        "vidlearn iter_frames(path, threads=2)": vidlearn_sequential(path, 2),
        "bare PyAV loop (reference: frame threads + shared 1-thread scaler)": bare_pyav_sequential(path),
    }
    if ffmpeg:
        methods["ffmpeg CLI -threads 0 ... rawvideo > /dev/null"] = ffmpeg_devnull(ffmpeg, path)
        methods["ffmpeg CLI ... rawvideo | read+discard in Python"] = ffmpeg_pipe(ffmpeg, path, n * info.width * info.height * 3)
    else:
        print("ffmpeg CLI not found on PATH: the ffmpeg baseline is skipped (apt-get install ffmpeg to add it).\n")
    got = vidlearn_sequential(path, 0)()
    if got != n:
        print(f"WARNING: iter_frames gave {got} frames, probe says {n}")
    times = measure(methods, repeats)
    fps = {k: n / med(v) for k, v in times.items()}
    cpu_fps = {k: n / med(times.cpu[k]) for k in times}
    limit_key = "ffmpeg CLI -threads 0 ... rawvideo > /dev/null"
    rows = []
    for k, v in times.items():
        rows.append(
            [
                k,
                f"{fps[k]:.0f}",
                spread(v),
                f"{cpu_fps[k]:.0f}",
                f"{fps[k] / fps[limit_key]:.2f}x" if limit_key in fps else "n/a",
                f"{cpu_fps[k] / cpu_fps[limit_key]:.2f}x" if limit_key in fps else "n/a",
            ]
        )
    print(table(["method", "frames/s (wall)", "min/max vs median", "frames per CPU-second", "vs ffmpeg (wall)", "vs ffmpeg (CPU)"], rows))
    vl_key = "vidlearn iter_frames(path) (threads=0, default)"
    print()
    if limit_key in fps:
        r, rc = fps[vl_key] / fps[limit_key], cpu_fps[vl_key] / cpu_fps[limit_key]
        print(f"vidlearn (threads=0) / ffmpeg CLI = {r:.2f}x wall, {rc:.2f}x CPU  (goal >= 0.8x: {'met' if r >= 0.8 else 'NOT met'})")
    t1 = "vidlearn iter_frames(path, threads=1)"
    print(f"vidlearn threads=1 / threads=0 = {fps[t1] / fps[vl_key]:.2f}x wall, {cpu_fps[t1] / cpu_fps[vl_key]:.2f}x CPU")
    return {"fps": fps}


# ------------------------------------------------------------------ 2. training-style random clips
def vidlearn_clips(path: Path, starts: np.ndarray, threads: int = 0) -> Callable[[], list[np.ndarray]]:
    def run() -> list[np.ndarray]:
        return [read_frames(path, clip_times(s), short_side=SHORT_SIDE, threads=threads) for s in starts]

    return run


def ptv_style_clip(path: Path, start: float, *, auto_threads: bool = False, resize: bool = True) -> torch.Tensor:
    """A PyTorchVideo-style clip (pytorchvideo.data.encoded_video_pyav): open, seek to the keyframe
    before start (pts margin 1024), decode every frame in [start, end) and convert each to RGB at
    full size, pick the frame shown at each 8-fps time, then a float (C,T,H,W) tensor resized to the
    short side with torch bilinear interpolation (ShortSideScale)."""
    times = clip_times(start)
    end = start + CLIP_FRAMES / CLIP_FPS
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        if auto_threads:
            stream.thread_type = "AUTO"
        tb = stream.time_base
        s0 = stream.start_time or 0
        start_pts = math.ceil(start / tb) + s0
        end_pts = math.ceil(end / tb) + s0
        container.seek(int(max(start_pts - 1024, 0)), any_frame=False, backward=True, stream=stream)
        frames = {}
        for frame in container.decode(video=0):
            if start_pts <= frame.pts < end_pts:
                frames[frame.pts] = frame
            elif frame.pts >= end_pts:
                break
        pts = sorted(frames)
        rgb = [torch.from_numpy(frames[p].to_ndarray(format="rgb24")) for p in pts]
    frame_times = np.array([float((p - s0) * tb) for p in pts])
    video = torch.stack([rgb[displayed_index(frame_times, t)] for t in times])  # T,H,W,C uint8
    video = video.permute(3, 0, 1, 2).to(torch.float32)  # C,T,H,W float (PyTorchVideo's output)
    if not resize:
        return video
    h, w = video.shape[-2:]
    ow, oh = scaled_size(w, h, SHORT_SIDE)
    return torch.nn.functional.interpolate(video, size=(oh, ow), mode="bilinear", align_corners=False)


def ptv_clips(path: Path, starts: np.ndarray, auto_threads: bool = False) -> Callable[[], list[torch.Tensor]]:
    def run() -> list[torch.Tensor]:
        return [ptv_style_clip(path, s, auto_threads=auto_threads) for s in starts]

    return run


def opencv_clip(path: Path, start: float, fps: float) -> np.ndarray:
    """The tutorial loop: cv2.VideoCapture from the first frame, cv2.resize every frame, keep the
    ones displayed at the clip times (frame i is shown from i/fps: the file is constant-rate)."""
    times = clip_times(start)
    need = {}
    for k, t in enumerate(times):
        need.setdefault(int(math.floor(t * fps + 1e-6)), []).append(k)
    last = max(need)
    out: list[np.ndarray | None] = [None] * len(times)
    cap = cv2.VideoCapture(str(path))
    try:
        w, h = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH)), int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
        size = scaled_size(w, h, SHORT_SIDE)
        i = 0
        prev = None
        while i <= last:
            ok, bgr = cap.read()
            if not ok:
                break
            small = cv2.resize(bgr, size, interpolation=cv2.INTER_LINEAR)
            prev = small
            for k in need.get(i, ()):
                out[k] = cv2.cvtColor(small, cv2.COLOR_BGR2RGB)
            i += 1
        for k in range(len(out)):  # past the end: the last frame stays on screen
            if out[k] is None:
                out[k] = cv2.cvtColor(prev, cv2.COLOR_BGR2RGB)
    finally:
        cap.release()
    return np.stack(out)


def opencv_clips(path: Path, starts: np.ndarray, fps: float) -> Callable[[], list[np.ndarray]]:
    def run() -> list[np.ndarray]:
        return [opencv_clip(path, s, fps) for s in starts]

    return run


def ground_truth(path: Path, clips: list[np.ndarray]) -> list[np.ndarray]:
    """The frames displayed at each clip's times, from one plain sequential PyAV decode."""
    with av.open(str(path)) as c:
        s = c.streams.video[0]
        s0 = float((s.start_time or 0) * s.time_base)
        times = np.array([float(p.pts * s.time_base) - s0 for p in c.demux(s) if p.pts is not None])
    times.sort()
    want = {displayed_index(times, t) for ts in clips for t in ts}
    frames = {}
    with av.open(str(path)) as c:
        for f in c.decode(video=0):
            i = displayed_index(times, f.time - s0)
            if i in want:
                frames[i] = f.to_ndarray(format="rgb24")
    return [np.stack([frames[displayed_index(times, t)] for t in ts]) for ts in clips]


def to_uint8_thwc(video: torch.Tensor) -> np.ndarray:
    return video.round().clamp(0, 255).to(torch.uint8).permute(1, 2, 3, 0).numpy()


def section_clips(path: Path, info, starts: np.ndarray, repeats: int, slow_repeats: int) -> dict:
    print(
        f"\n## 2. Training-style random clips: {CLIP_FRAMES} frames at {CLIP_FPS:g} fps, "
        f"{SHORT_SIDE} px short side (clips/s; {len(starts)} seeded random starts)\n",
        flush=True,
    )
    names = {
        "vl": "vidlearn read_frames(path, times, short_side=128)",
        "vl1": "vidlearn read_frames(..., threads=1)",
        "ptv": "PyTorchVideo-style (PyAV defaults, as pytorchvideo)",
        "ptva": "PyTorchVideo-style + thread_type=AUTO",
        "cv": "OpenCV loop from frame 0, cv2.resize every frame",
    }
    methods = {
        names["vl"]: vidlearn_clips(path, starts),
        names["vl1"]: vidlearn_clips(path, starts, threads=1),
        names["ptv"]: ptv_clips(path, starts),
        names["ptva"]: ptv_clips(path, starts, auto_threads=True),
        names["cv"]: opencv_clips(path, starts, info.fps),
    }
    reps = {k: repeats for k in methods}
    reps[names["cv"]] = slow_repeats
    times = measure(methods, reps)
    cps = {k: len(starts) / med(v) for k, v in times.items()}
    cpu_cps = {k: len(starts) / med(times.cpu[k]) for k in times}
    base, cbase = cps[names["ptv"]], cpu_cps[names["ptv"]]
    rows = [
        [
            k,
            f"{cps[k]:.2f}",
            spread(v),
            f"{1e3 / cpu_cps[k]:.1f} ms",
            f"{len(v)}",
            f"{cps[k] / base:.2f}x",
            f"{cpu_cps[k] / cbase:.2f}x",
        ]
        for k, v in times.items()
    ]
    print(table(["method", "clips/s (wall)", "min/max vs median", "CPU per clip", "runs", "vs PTV-style (wall)", "vs PTV-style (CPU)"], rows))
    r_ptv, rc_ptv = cps[names["vl"]] / base, cpu_cps[names["vl"]] / cbase
    r_cv, rc_cv = cps[names["vl"]] / cps[names["cv"]], cpu_cps[names["vl"]] / cpu_cps[names["cv"]]
    print(f"\nvidlearn / PyTorchVideo-style = {r_ptv:.2f}x wall, {rc_ptv:.2f}x CPU  (goal >= 2x: {'met' if r_ptv >= 2 else 'NOT met'} on wall time, {'met' if rc_ptv >= 2 else 'NOT met'} on CPU time)")
    print(f"vidlearn / OpenCV loop = {r_cv:.2f}x wall, {rc_cv:.2f}x CPU")

    # correctness: vidlearn against a full sequential decode (ground truth: the frame displayed at
    # each time), and against the PyTorchVideo-style and OpenCV frames
    check = starts[:3]
    truth = ground_truth(path, [clip_times(s) for s in check])
    print("\nCorrectness (first 3 clips; 'same source frame' = identical pixels at native size):")
    rows = []
    for s, gt in zip(check, truth):
        vl_native = read_frames(path, clip_times(s))
        ptv_native = to_uint8_thwc(ptv_style_clip(path, s, resize=False))
        same_gt = [np.array_equal(a, b) for a, b in zip(vl_native, gt)]
        same_ptv = [np.array_equal(a, b) for a, b in zip(vl_native, ptv_native)]
        vl_small = read_frames(path, clip_times(s), short_side=SHORT_SIDE).astype(np.int16)
        ptv_small = to_uint8_thwc(ptv_style_clip(path, s))
        cv_small = opencv_clip(path, s, info.fps)
        keep = np.array(same_ptv)
        mad_ptv = np.abs(vl_small[keep] - ptv_small[keep]).mean() if keep.any() else float("nan")
        mad_cv = np.abs(vl_small - cv_small).mean()
        rows.append(
            [
                f"{s:.2f} s",
                f"{sum(same_gt)}/{len(gt)}",
                f"{sum(same_ptv)}/{len(gt)}" + ("" if all(same_ptv) else f" (differs at k={[k for k, x in enumerate(same_ptv) if not x]})"),
                f"{mad_ptv:.2f}",
                f"{mad_cv:.2f}",
            ]
        )
    print(
        table(
            [
                "clip start",
                "vidlearn = full-decode truth",
                "vidlearn = PTV-style (same source frame)",
                "128 px mean abs diff vs PTV-style, same frames (0-255)",
                "128 px mean abs diff vs OpenCV",
            ],
            rows,
        )
    )
    print(
        "(PyTorchVideo keeps only frames that START inside [start, end): the frame on screen at the clip "
        "start, which began before it, is not in its window, so its first frame is the next one.)"
    )
    return {"cps": cps, "cpu_cps": cpu_cps, "names": names}


# ------------------------------------------------------------------ 3. where vidlearn spends time
class _VariantConverter(D._Converter):
    """vidlearn's _Converter with the scaler options under test (patched in for a measurement)."""

    interpolation = D._INTERPOLATION
    threads: int | None = None  # None: PyAV's default (0 = automatic thread count)
    shared = False

    def __call__(self, frame):
        if self._dims is None:
            w, h = frame.width, frame.height
            quarter = (self.rotation // 90) % 2 == 1
            dw, dh = (h, w) if quarter else (w, h)
            ow, oh = D.output_size(dw, dh, short_side=self.short_side, size=self.size)
            self._dims = (oh, ow) if quarter else (ow, oh)
            self._ref = VideoReformatter() if self.shared else None
        w, h = self._dims
        kw = {"width": w, "height": h, "format": "rgb24", "interpolation": self.interpolation}
        if self.threads is not None:
            kw["threads"] = self.threads
        if self._ref is not None:
            arr = self._ref.reformat(frame, **kw).to_ndarray()
        else:
            arr = frame.to_ndarray(**kw)
        if self.rotation:
            arr = np.ascontiguousarray(np.rot90(arr, k=self.rotation // 90))
        return arr


def variant(interpolation: str = D._INTERPOLATION, threads: int | None = None, shared: bool = False) -> type:
    return type("V", (_VariantConverter,), {"interpolation": interpolation, "threads": threads, "shared": shared})


# vidlearn's converter before commit fa9837c: frame.to_ndarray per
# frame, i.e. a new swscale context with an automatic thread pool for every frame
BEFORE_SCALER_FIX = variant(D._INTERPOLATION, threads=None, shared=False)


@contextlib.contextmanager
def patched_converter(cls: type | None):
    saved = D._Converter
    if cls is not None:
        D._Converter = cls
    try:
        yield
    finally:
        D._Converter = saved


def with_converter(cls: type | None, fn: Callable[[], object]) -> Callable[[], object]:
    def run() -> object:
        with patched_converter(cls):
            return fn()

    return run


def conversion_costs(path: Path, starts: np.ndarray, repeats: int) -> None:
    """CPU cost of the RGB conversion alone (every 4th of 400 decoded frames, fresh frame objects
    each run since PyAV keeps a scaler per frame once used), and how far each interpolation is from
    the PyTorchVideo-style torch bilinear resize (3 clips)."""
    with av.open(str(path)) as c:
        first = next(c.decode(video=0))
    ow, oh = scaled_size(first.width, first.height, SHORT_SIDE)
    cases = [
        ("before fa9837c: frame.to_ndarray(...) (new scaler per frame, auto threads), BILINEAR", None, False, "BILINEAR"),
        ("new scaler per frame, threads=1, BILINEAR", 1, False, "BILINEAR"),
        ("one shared VideoReformatter, auto threads, BILINEAR", None, True, "BILINEAR"),
        ("vidlearn now (fa9837c): one shared VideoReformatter, threads=1, BILINEAR", 1, True, "BILINEAR"),
        ("one shared VideoReformatter, threads=1, FAST_BILINEAR", 1, True, "FAST_BILINEAR"),
        ("one shared VideoReformatter, threads=1, AREA", 1, True, "AREA"),
    ]
    ref_clips = [to_uint8_thwc(ptv_style_clip(path, s)) for s in starts[:3]]
    rows = []
    for label, threads, shared, interp in cases:
        per = {}
        for size_label, size in (("native", None), ("small", (ow, oh))):
            samples = []
            for _ in range(repeats):
                with av.open(str(path)) as c:
                    fr = [f for i, f in zip(range(400), c.decode(video=0)) if i % 4 == 0]
                ref = VideoReformatter()
                kw = {"format": "rgb24", "interpolation": interp}
                if size is not None:
                    kw.update(width=size[0], height=size[1])
                if threads is not None:
                    kw["threads"] = threads
                c0 = _cpu_now()
                for f in fr:
                    (ref.reformat(f, **kw) if shared else f.reformat(**kw)).to_ndarray()
                samples.append((_cpu_now() - c0) / len(fr))
            per[size_label] = med(samples)
        with patched_converter(variant(interp, threads=threads, shared=shared)):
            got = [read_frames(path, clip_times(s), short_side=SHORT_SIDE) for s in starts[:3]]
        mad = np.mean([np.abs(g.astype(np.int16) - r).mean() for g, r in zip(got, ref_clips)])
        rows.append([label, f"{per['native'] * 1e3:.3f} ms", f"{per['small'] * 1e3:.3f} ms", f"{mad:.2f}"])
    print(
        table(
            [
                "RGB conversion, CPU per frame",
                f"native {first.width}x{first.height}",
                f"to {ow}x{oh}",
                f"mean abs diff at {ow}x{oh} vs torch bilinear (0-255)",
            ],
            rows,
        )
    )


def profile_read_frames(path: Path, starts: np.ndarray) -> None:
    import cProfile
    import pstats

    prof = cProfile.Profile()
    prof.enable()
    vidlearn_clips(path, starts)()
    prof.disable()
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # tottime sum
    groups = {"decode (next() on the decoder)": 0.0, "RGB conversion + scaling (to_ndarray)": 0.0, "open/close + seek": 0.0}
    for (fname, _line, func), (_cc, _nc, tt, _ct, _callers) in st.stats.items():
        if func == "<built-in method builtins.next>":
            groups["decode (next() on the decoder)"] += tt
        elif "to_ndarray" in func or "reformat" in func:
            groups["RGB conversion + scaling (to_ndarray)"] += tt
        elif "core.open" in func or "'seek'" in func or "'close'" in func:
            groups["open/close + seek"] += tt
    other = total - sum(groups.values())
    rows = [[k, f"{v * 1e3 / len(starts):.1f} ms", f"{v / total * 100:.0f}%"] for k, v in groups.items()]
    rows.append(["everything else (Python in read_frames, stacking)", f"{other * 1e3 / len(starts):.1f} ms", f"{other / total * 100:.0f}%"])
    print(table(["read_frames per clip (cProfile, vidlearn as installed)", "time", "share"], rows))


def section_investigation(path: Path, info, starts: np.ndarray, repeats: int, quick: bool, ffmpeg: str | None) -> dict:
    print("\n## 3. Where vidlearn spends the time, and measured variants\n", flush=True)
    profile_read_frames(path, starts)
    print()
    conversion_costs(path, starts, 3 if quick else 5)
    print()
    before = BEFORE_SCALER_FIX
    vl_clip = lambda: vidlearn_clips(path, starts)()  # noqa: E731
    cur_key = "vidlearn read_frames as installed"
    clip_methods = {
        "before fa9837c (new scaler per frame, auto threads)": with_converter(before, vl_clip),
        cur_key: with_converter(None, vl_clip),
        "PyTorchVideo-style (for the ratio)": ptv_clips(path, starts),
    }
    times = measure(clip_methods, repeats)
    cps = {k: len(starts) / med(v) for k, v in times.items()}
    cpu_cps = {k: len(starts) / med(times.cpu[k]) for k in times}
    ptv_key = "PyTorchVideo-style (for the ratio)"
    rows = [
        [
            k,
            f"{cps[k]:.2f}",
            spread(v),
            f"{1e3 / cpu_cps[k]:.1f} ms",
            f"{cps[k] / cps[cur_key]:.2f}x / {cpu_cps[k] / cpu_cps[cur_key]:.2f}x",
            f"{cps[k] / cps[ptv_key]:.2f}x / {cpu_cps[k] / cpu_cps[ptv_key]:.2f}x",
        ]
        for k, v in times.items()
    ]
    print(
        table(
            ["random clips, 16 x 128 px", "clips/s (wall)", "min/max vs median", "CPU per clip", "vs installed (wall / CPU)", "vs PTV-style (wall / CPU)"],
            rows,
        )
    )

    same_before = 0
    for s in starts:
        cur_frames = read_frames(path, clip_times(s), short_side=SHORT_SIDE)
        with patched_converter(before):
            same_before += np.array_equal(cur_frames, read_frames(path, clip_times(s), short_side=SHORT_SIDE))

    def digests() -> list[bytes]:
        return [hashlib.blake2b(a.tobytes(), digest_size=16).digest() for _t, a in iter_frames(path)]

    current_digests = digests()
    with patched_converter(before):
        same_seq = digests() == current_digests
    print(
        f"\nbit-identical to the installed read_frames output: before-fa9837c converter {same_before}/{len(starts)} clips, "
        f"iter_frames(path) over the whole video at "
        f"native size, installed vs before fa9837c: {'identical' if same_seq else 'DIFFERENT'}"
    )

    count_small = lambda: sum(1 for _ in iter_frames(path, short_side=SHORT_SIDE))  # noqa: E731
    seq_methods = {
        "before fa9837c: iter_frames(path)": with_converter(before, vidlearn_sequential(path, 0)),
        "installed: iter_frames(path)": with_converter(None, vidlearn_sequential(path, 0)),
        "installed: iter_frames(path, threads=1)": with_converter(None, vidlearn_sequential(path, 1)),
        "before fa9837c: iter_frames(path, short_side=128)": with_converter(before, count_small),
        "installed: iter_frames(path, short_side=128)": with_converter(None, count_small),
    }
    ff_key = "ffmpeg CLI -threads 0 ... rawvideo > /dev/null"
    if ffmpeg:
        seq_methods[ff_key] = ffmpeg_devnull(ffmpeg, path)
    times = measure(seq_methods, repeats)
    fps = {k: info.num_frames / med(v) for k, v in times.items()}
    cpu_fps = {k: info.num_frames / med(times.cpu[k]) for k in times}
    rows = [
        [k, f"{fps[k]:.0f}", spread(v), f"{cpu_fps[k]:.0f}", f"{fps[k] / fps[ff_key]:.2f}x / {cpu_fps[k] / cpu_fps[ff_key]:.2f}x" if ffmpeg else "n/a"]
        for k, v in times.items()
    ]
    print()
    print(table(["sequential, whole 40 s video", "frames/s (wall)", "min/max vs median", "frames per CPU-second", "vs ffmpeg CLI (wall / CPU)"], rows))
    if ffmpeg:
        print(
            f"\nnative-size sequential vs ffmpeg CLI: before fa9837c {fps['before fa9837c: iter_frames(path)'] / fps[ff_key]:.2f}x wall "
            f"({cpu_fps['before fa9837c: iter_frames(path)'] / cpu_fps[ff_key]:.2f}x CPU), installed "
            f"{fps['installed: iter_frames(path)'] / fps[ff_key]:.2f}x wall ({cpu_fps['installed: iter_frames(path)'] / cpu_fps[ff_key]:.2f}x CPU)  (goal >= 0.8x)"
        )
    return {"clip_cps": cps, "seq_fps": fps}


# ------------------------------------------------------------------ 4. cached vs decoding epoch
def section_cache_epoch(repeats: int, long_path: Path) -> dict | None:
    """Cached epoch vs decoding epoch over weizmann4 (placeholder until vidlearn.cache.store exists:
    then it prints "skipped: vidlearn.cache.store not available" and the run carries on).

    API used: FrameCache(root, fps=, short_side=), .get(record) (decodes and stores the video once),
    .frames_at(record, times) -> (N,H,W,3) uint8; records are VideoRecord(path=Path(...)).
    The weizmann4 videos are 64x64 at 50 fps and 1-3 s long, so an epoch samples 8 frames at 8 fps
    (1 s) at short side 64 per video; clip starts are on the cache's 1/8 s grid so that the cached
    and decoded frames are the same frames (the JPEG default then differs by its compression only)."""
    print("\n## 4. Cached epoch vs decoding epoch (weizmann4, 36 videos)\n", flush=True)
    try:
        from vidlearn.cache import FrameCache
        from vidlearn.data.records import VideoRecord
    except ImportError:
        print("skipped: vidlearn.cache.store not available")
        return None
    videos = _videos.weizmann_videos()
    if not videos:
        print("skipped: no weizmann4 videos found under ../shared/data/weizmann4/videos")
        return None
    num, fps, short = 8, 8.0, 64
    records = [VideoRecord(path=p) for p in videos]
    durations = [probe(p).duration for p in videos]
    rng = np.random.default_rng(1)
    epoch_times = [
        np.floor(rng.uniform(0.0, max(0.0, d - num / fps)) * fps) / fps + np.arange(num) / fps for d in durations
    ]
    _videos.OUT_DIR.mkdir(parents=True, exist_ok=True)
    results = {}
    with tempfile.TemporaryDirectory(dir=_videos.OUT_DIR, prefix="framecache-") as root:
        cache = FrameCache(Path(root) / "jpeg", fps=fps, short_side=short, format="jpeg")
        t0 = time.perf_counter()
        for rec in records:  # warm-up epoch: fills the cache
            cache.get(rec)
        fill_s = time.perf_counter() - t0
        try:
            npy_cache = FrameCache(Path(root) / "npy", fps=fps, short_side=short, format="npy")
            for rec in records:
                npy_cache.get(rec)
        except (TypeError, ValueError):  # no format= option
            npy_cache = None

        def decoding_epoch() -> None:
            for rec, ts in zip(records, epoch_times):
                read_frames(rec.path, ts, short_side=short)

        def cached_epoch(c=cache) -> None:
            for rec, ts in zip(records, epoch_times):
                c.frames_at(rec, ts)

        def decoding_epoch_before() -> None:
            with patched_converter(BEFORE_SCALER_FIX):
                decoding_epoch()

        diffs = []
        for rec, ts in zip(records, epoch_times):
            a = read_frames(rec.path, ts, short_side=short).astype(np.int16)
            b = np.asarray(cache.frames_at(rec, ts))
            diffs.append(float(np.abs(a - b).mean()) if a.shape == b.shape else float("nan"))
        methods = {
            "decoding epoch (read_frames)": decoding_epoch,
            "decoding epoch, read_frames with the converter from before fa9837c": decoding_epoch_before,
            "cached epoch (FrameCache.frames_at, format='jpeg')": cached_epoch,
        }
        if npy_cache is not None:
            methods["cached epoch, format='npy'"] = lambda: cached_epoch(npy_cache)
        times = measure(methods, repeats)
        nbytes = sum(f.stat().st_size for f in (Path(root) / "jpeg").rglob("*") if f.is_file())
        # bytes per hour for a training-size entry: the 340x256 benchmark video at 8 fps, 128 px
        long_cache = FrameCache(Path(root) / "long", fps=CLIP_FPS, short_side=SHORT_SIDE)
        long_cache.get(VideoRecord(path=long_path))
        long_bytes = sum(f.stat().st_size for f in (Path(root) / "long").rglob("*") if f.is_file())
        long_hours = probe(long_path).duration / 3600
    dk, ck = "decoding epoch (read_frames)", "cached epoch (FrameCache.frames_at, format='jpeg')"
    dec, cac = med(times[dk]), med(times[ck])
    cdec = med(times.cpu[dk])
    hours = sum(durations) / 3600
    rows = [
        [
            k,
            f"{med(v) * 1e3:.1f} ms",
            spread(v),
            f"{med(times.cpu[k]) * 1e3:.1f} ms",
            f"{dec / med(v):.1f}x / {cdec / med(times.cpu[k]):.1f}x",
        ]
        for k, v in times.items()
    ]
    print(table(["epoch over 36 videos, 8 frames at 8 fps, 64 px", "median time", "min/max vs median", "CPU time", "vs decoding epoch (wall / CPU)"], rows))
    ratio, cratio = dec / cac, cdec / med(times.cpu[ck])
    print(f"\ncached (jpeg) / decoding speed = {ratio:.1f}x wall, {cratio:.1f}x CPU  (goal >= 20x: {'met' if ratio >= 20 else 'NOT met'} on wall time)")
    print(f"warm-up (filling) epoch: {fill_s * 1e3:.0f} ms ({fill_s / dec:.1f}x a decoding epoch)")
    print(
        f"cache size: weizmann4 (64x64 -> 64 px, 8 fps) {nbytes / 1e6:.2f} MB for {sum(durations):.1f} s of video = "
        f"{nbytes / hours / 1e9:.3f} GB per hour of video; the 340x256 benchmark video at 8 fps, 128 px: "
        f"{long_bytes / 1e6:.2f} MB for {long_hours * 3600:.0f} s = {long_bytes / long_hours / 1e9:.2f} GB per hour"
    )
    print(f"cached vs decoded frames, mean abs diff (0-255) over the 36 clips: mean {np.nanmean(diffs):.2f}, max {np.nanmax(diffs):.2f}")
    results.update(ratio=ratio, bytes_per_hour=nbytes / hours, long_bytes_per_hour=long_bytes / long_hours)
    return results


# --------------------------------------------------------------------------------------- main
def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="fewer clips and repeats (about a minute)")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per method (default 5, --quick 3)")
    ap.add_argument("--clips", type=int, default=None, help="random clips per run (default 16, --quick 8)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-investigation", action="store_true", help="leave out section 3")
    args = ap.parse_args(argv)
    repeats = args.repeats or (3 if args.quick else 5)
    slow_repeats = max(1, min(repeats, 3))
    n_clips = args.clips or (8 if args.quick else 16)

    _videos.data_dir()  # exits with a message when ../shared/data is absent
    t_start = time.perf_counter()
    path = _videos.long_video()
    info = probe(path)
    ffmpeg = _ffmpeg_cli()
    exe = Path(sys.executable)
    with contextlib.suppress(ValueError):
        exe = exe.relative_to(Path.cwd())
    cmd = f"{exe} " + " ".join(sys.argv if argv is None else ["bench/bench_decode.py", *argv])
    print("# vidlearn decoding benchmark\n")
    print(f"- date: {_dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}")
    print(f"- command: `{cmd}`")
    print(f"- machine: {_cpu_model()}, {os.cpu_count()} logical cores, {platform.system()} {platform.release()}; load average at start {_loadavg()}")
    print(
        f"- versions: python {platform.python_version()}, av {av.__version__} (libavcodec {'.'.join(map(str, av.library_versions['libavcodec']))}), "
        f"ffmpeg CLI {_ffmpeg_version(ffmpeg)}, opencv {cv2.__version__}, numpy {np.__version__}, torch {torch.__version__} "
        f"({torch.get_num_threads()} threads)"
    )
    print(
        f"- video: {path.name}: {info.codec} {info.width}x{info.height} {info.fps:g} fps, {info.duration:.1f} s, "
        f"{info.num_frames} frames, {_keyframe_count(path)} keyframes, {info.size_bytes / 1e6:.1f} MB"
    )
    print(f"- timing: median of {repeats} round-robin runs ({slow_repeats} for the OpenCV loop); min/max shown as % of the median time")

    rng = np.random.default_rng(args.seed)
    span = CLIP_FRAMES / CLIP_FPS
    starts = rng.uniform(0.0, info.duration - span, n_clips)

    section_sequential(path, info, repeats, ffmpeg)
    section_clips(path, info, starts, repeats, slow_repeats)
    if not args.skip_investigation:
        section_investigation(path, info, starts, repeats, args.quick, ffmpeg)
    section_cache_epoch(repeats, path)
    print(f"\n(total {time.perf_counter() - t_start:.0f} s; load average at end {_loadavg()})")
    return 0


def _keyframe_count(path: Path) -> int:
    with av.open(str(path)) as c:
        return len(D._keyframe_times(c.streams.video[0]))


if __name__ == "__main__":
    sys.exit(main())
