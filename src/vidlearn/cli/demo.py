"""The demo command (registered on the app by `vidlearn.cli`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from vidlearn.cli.common import Quiet, _friendly
from vidlearn.errors import ConfigError


@_friendly
def demo(
    out: Annotated[Path, typer.Option("--out", "-o", help="output folder (its run/ is the demo's own and is replaced)")] = Path("demo_out"),
    budget: Annotated[Optional[str], typer.Option(help="time for planning, training and evaluating, e.g. 90s, 5m (default 90s)")] = None,
    quiet: Quiet = False,
) -> None:
    """Run the main job on the bundled demo data (what `make demo` runs): plan a recipe within a
    time budget, train, evaluate, predict."""
    from vidlearn.demo import DEMO_BUDGET_S, run_demo
    from vidlearn.planning import parse_budget

    if out.exists() and not out.is_dir():
        raise ConfigError(f"--out {out}: is a file, not a folder")
    budget_s = parse_budget(budget) if budget is not None else DEMO_BUDGET_S
    run_demo(out, budget_s=budget_s, echo=typer.echo, progress=not quiet)
