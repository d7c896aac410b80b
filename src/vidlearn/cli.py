"""The `vidlearn` command line: a thin shell over the library. Every command parses its
arguments, calls library functions and prints; user errors become one line on stderr (exit 2)."""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.errors import VidlearnError

app = typer.Typer(
    name="vidlearn",
    help="Deep-learning video analysis: probe, check, extract frames, train, evaluate, predict.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _friendly(fn):
    """Turn VidlearnError into one clear line and exit status 2, never a traceback."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except VidlearnError as exc:
            typer.secho(f"error: {exc}", err=True, fg=typer.colors.RED)
            raise typer.Exit(2) from None
        except KeyboardInterrupt:
            typer.secho("interrupted", err=True)
            raise typer.Exit(130) from None

    return wrapper


def _echo_json(obj) -> None:
    typer.echo(json.dumps(obj, indent=2, default=str))


@app.command()
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


@app.command()
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


@app.command()
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


@app.command("demo-data")
@_friendly
def demo_data(
    out_dir: Annotated[Path, typer.Argument(help="where to write videos/ and manifest.csv")],
    videos_per_class: Annotated[int, typer.Option(help="videos per class")] = 12,
    seed: Annotated[int, typer.Option(help="random seed")] = 0,
) -> None:
    """Write the seeded demo dataset: classes that differ only by motion."""
    from vidlearn.data.synthetic import generate_demo_dataset

    manifest = generate_demo_dataset(out_dir, videos_per_class=videos_per_class, seed=seed)
    typer.echo(f"wrote the demo dataset: {manifest}")


@app.command()
@_friendly
def demo(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("demo_out"),
) -> None:
    """Run the main job on the bundled demo data (what `make demo` runs)."""
    from vidlearn.demo import run_demo

    run_demo(out, echo=typer.echo)


def main() -> None:  # pragma: no cover - console entry point
    app()


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
