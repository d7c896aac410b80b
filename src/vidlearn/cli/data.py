"""The data commands: probe, check, frames, demo-data (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import Quiet, _echo_json, _friendly
from vidlearn.errors import ConfigError


def _out(out: Optional[Path], legacy: Optional[Path], command: str) -> Path:
    """--out, or the old positional OUT_DIR (still read)."""
    if out is not None and legacy is not None:
        raise ConfigError(f"{command}: give the output folder once, as --out")
    if out is None and legacy is None:
        raise ConfigError(f"{command}: give the output folder: --out DIR")
    return out if out is not None else legacy  # type: ignore[return-value]


@_friendly
def probe(
    video: Annotated[Path, typer.Argument(help="a video file")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
) -> None:
    """Describe a video: container, codec, size, rotation, fps, duration, exact frame count."""
    from vidlearn.io import probe as probe_video

    info = probe_video(video)
    if as_json:
        _echo_json(info.to_dict())
        return
    w, h = info.display_size
    typer.echo(
        f"{info.path}\n  container {info.container}, codec {info.codec} ({info.pix_fmt}), {w}x{h}"
        f"{f' (rotated {info.rotation})' if info.rotation else ''}\n"
        f"  {info.fps:.3f} fps, {info.duration:.3f} s, {info.num_frames} frames"
        f"{'' if info.frames_exact else ' (from the header)'}, start {info.start_time:.3f} s, "
        f"audio {'yes' if info.has_audio else 'no'}, {info.size_bytes} bytes"
    )


@_friendly
def check(
    data: Annotated[Path, typer.Argument(help="a class-per-folder directory, CSV manifest, split list or video")],
    as_json: Annotated[bool, typer.Option("--json", help="print JSON")] = False,
    workers: Annotated[int, typer.Option(help="parallel checks")] = 2,
    quiet: Quiet = False,
) -> None:
    """Find unreadable or suspicious videos. Exit status 1 when any is bad."""
    from vidlearn.data.sources import load_records
    from vidlearn.io import check_videos

    records = load_records(data, labelled=False)
    if workers < 1:
        raise ConfigError(f"--workers must be at least 1, got {workers}")
    results = check_videos([r.path for r in records], workers=workers, progress=not (as_json or quiet))
    bad = [r for r in results if not r.ok]
    if as_json:
        _echo_json({"checked": len(results), "bad": len(bad), "videos": [r.to_dict() for r in results]})
    else:
        for r in bad:
            typer.echo(f"BAD  {r.path}: {'; '.join(r.problems)}")
        typer.echo(f"{len(results)} video(s) checked, {len(bad)} bad")
    if bad:
        raise typer.Exit(1)


@_friendly
def frames(
    video: Annotated[Path, typer.Argument(metavar="VIDEO", help="a video file")],
    legacy_out: Annotated[Optional[Path], typer.Argument(metavar="[OUT_DIR]", hidden=True, help="old form of --out")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="folder for the images (created)")] = None,
    fps: Annotated[Optional[float], typer.Option(help="resample to this rate (default: every frame)")] = None,
    size: Annotated[Optional[int], typer.Option(help="short side in pixels (default: native)")] = None,
    start: Annotated[Optional[float], typer.Option(help="from this second")] = None,
    end: Annotated[Optional[float], typer.Option(help="up to this second")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jpg or png")] = "jpg",
) -> None:
    """Extract frames as images, by time: `frames VIDEO --out DIR`."""
    from vidlearn.io.extract import extract_frames

    out_dir = _out(out, legacy_out, "frames")
    if fps is not None and not 0 < fps <= 1000:
        raise ConfigError(f"--fps must be a rate between 0 and 1000 frames per second, got {fps:g}")
    if size is not None and not 1 <= size <= 8192:
        raise ConfigError(f"--size must be a short side of 1 to 8192 pixels, got {size}")
    for name, value in (("--start", start), ("--end", end)):
        if value is not None and not value >= 0:
            raise ConfigError(f"{name} must be a time in seconds, 0 or more, got {value:g}")
    if start is not None and end is not None and end <= start:
        raise ConfigError(f"--end ({end:g} s) must come after --start ({start:g} s)")
    if fmt.lower() not in ("jpg", "jpeg", "png"):
        raise ConfigError(f"--format must be jpg or png, got {fmt!r}")
    written = extract_frames(video, out_dir, fps=fps, short_side=size, start=start, end=end, image_format=fmt.lower())
    typer.echo(f"wrote {len(written)} frame(s) to {out_dir}")


@_friendly
def demo_data(
    legacy_out: Annotated[Optional[Path], typer.Argument(metavar="[OUT_DIR]", help="the same as --out")] = None,
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="where to write videos/ and manifest.csv (`vidlearn train OUT` then reads it)")] = None,
    videos_per_class: Annotated[int, typer.Option(help="videos per class")] = 12,
    classes: Annotated[
        Optional[str], typer.Option(help="comma-separated motions from right,left,up,down,rotate,grow,blink (default: the demo's five)")
    ] = None,
    groups: Annotated[int, typer.Option(help="groups (subjects with their own background); video k of a class is in group k % groups")] = 4,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
    untrimmed: Annotated[bool, typer.Option(help="2 long videos a group, each with 3 motions and still gaps between them, and annotations.csv (path,label,start,end,group) for --task localization")] = False,
) -> None:
    """Write the seeded demo dataset: classes that differ only by motion; the manifest's `target`
    column is each video's speed in px/s (a regression target). With --untrimmed: long videos of
    several motions with still gaps between them, and their exact segments."""
    from vidlearn.data.synthetic import generate_demo_dataset, generate_untrimmed_dataset

    out_dir = _out(out, legacy_out, "demo-data")
    if videos_per_class < 1:
        raise ConfigError(f"--videos-per-class must be at least 1, got {videos_per_class}")
    if not 1 <= groups <= videos_per_class:
        raise ConfigError(f"--groups must be between 1 and --videos-per-class ({videos_per_class}), got {groups}")
    names = None if classes is None else [c.strip() for c in classes.split(",") if c.strip()]
    if untrimmed:
        ann = generate_untrimmed_dataset(out_dir, classes=names, videos_per_group=2, num_groups=groups, seed=seed)
        typer.echo(f"wrote the untrimmed demo dataset: {ann}")
        return
    manifest = generate_demo_dataset(out_dir, classes=names, videos_per_class=videos_per_class, num_groups=groups, seed=seed)
    typer.echo(f"wrote the demo dataset: {manifest}")
