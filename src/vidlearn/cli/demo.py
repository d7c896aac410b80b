"""The demo command (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidlearn.cli.common import Quiet, _friendly
from vidlearn.errors import ConfigError


@_friendly
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (its run/ is the demo's own and is replaced)")] = Path("demo_out"),
    quiet: Quiet = False,
) -> None:
    """Run the main job on the bundled demo data (what `make demo` runs)."""
    from vidlearn.demo import run_demo

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a folder")
    run_demo(out, echo=typer.echo, progress=not quiet)
