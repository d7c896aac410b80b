"""The data commands: probe, check, frames, demo-data (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import _echo_json, _friendly


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
) -> None:
    """Find unreadable or suspicious videos. Exit status 1 when any is bad."""
    from vidlearn.data.sources import load_records
    from vidlearn.io import check_videos

    records = load_records(data, labelled=False)
    results = check_videos([r.path for r in records], workers=workers, progress=not as_json)
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
    video: Annotated[Path, typer.Argument(help="a video file")],
    out_dir: Annotated[Path, typer.Argument(help="folder for the images")],
    fps: Annotated[Optional[float], typer.Option(help="resample to this rate (default: every frame)")] = None,
    size: Annotated[Optional[int], typer.Option(help="short side in pixels (default: native)")] = None,
    start: Annotated[Optional[float], typer.Option(help="from this second")] = None,
    end: Annotated[Optional[float], typer.Option(help="up to this second")] = None,
    fmt: Annotated[str, typer.Option("--format", help="jpg or png")] = "jpg",
) -> None:
    """Extract frames as images, by time."""
    from vidlearn.io.extract import extract_frames

    written = extract_frames(video, out_dir, fps=fps, short_side=size, start=start, end=end, image_format=fmt)
    typer.echo(f"wrote {len(written)} frame(s) to {out_dir}")


@_friendly
def demo_data(
    out_dir: Annotated[Path, typer.Argument(help="where to write videos/ and manifest.csv")],
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

    names = None if classes is None else [c.strip() for c in classes.split(",") if c.strip()]
    if untrimmed:
        ann = generate_untrimmed_dataset(out_dir, classes=names, videos_per_group=2, num_groups=groups, seed=seed)
        typer.echo(f"wrote the untrimmed demo dataset: {ann}")
        return
    manifest = generate_demo_dataset(out_dir, classes=names, videos_per_class=videos_per_class, num_groups=groups, seed=seed)
    typer.echo(f"wrote the demo dataset: {manifest}")
