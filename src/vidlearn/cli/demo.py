"""The demo command (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from vidlearn.cli.common import _friendly


@_friendly
def demo(
    out: Annotated[Path, typer.Option(help="output folder")] = Path("demo_out"),
) -> None:
    """Run the main job on the bundled demo data (what `make demo` runs)."""
    from vidlearn.demo import run_demo

    run_demo(out, echo=typer.echo)
