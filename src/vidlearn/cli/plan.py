"""`vidlearn plan DATA`: the data and machine fingerprints and the planned recipe, with reasons and
the predicted wall time; writes the plan as a config YAML that `vidlearn train --config` takes.
Also the planned path of `vidlearn train` (no recipe flags, or `--budget`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Optional

import typer

from vidlearn.cli.common import _friendly

__all__ = ["plan", "train_with_plan"]

BUDGET_HELP = "time budget for the whole run, e.g. 90s, 10m, 2h (default 10m); the recipe is planned to fit it"


@_friendly
def plan(
    data: Annotated[Path, typer.Argument(help="training data: class folders, CSV manifest or split list")],
    budget: Annotated[Optional[str], typer.Option(help=BUDGET_HELP)] = None,
    task: Annotated[str, typer.Option(help="classification or regression")] = "classification",
    group: Annotated[Optional[str], typer.Option(help="manifest column used as group (e.g. actor)")] = None,
    cv: Annotated[Optional[str], typer.Option(help="cross-validation to plan for (default: the plan chooses)")] = None,
    out: Annotated[Path, typer.Option("--out", "-o", help="the config YAML to write (and OUT.plan.json beside it)")] = Path("plan.yaml"),
    config: Annotated[Optional[Path], typer.Option(help="experiment config whose fields override the plan's")] = None,
    set_: Annotated[Optional[list[str]], typer.Option("--set", help="override a planned field: section.field=value")] = None,
    calibrate: Annotated[bool, typer.Option(help="measure the recipe on this machine (without: no wall-time prediction)")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="replace OUT if it exists")] = False,
) -> None:
    """Plan a recipe for DATA on this machine within a time budget: print the fingerprints, each
    choice with its reason and the predicted wall time; write the config for `train --config`."""
    from vidlearn.planning import DEFAULT_BUDGET_S, format_plan, make_plan, parse_budget, save_plan_config, user_settings

    budget_s = parse_budget(budget) if budget else DEFAULT_BUDGET_S
    explicit = user_settings(config, overrides=set_)
    result = make_plan(data, budget_s=budget_s, task=task, group=group, cv=cv, explicit=explicit, calibrate=calibrate, echo=typer.echo)
    for line in format_plan(result):
        typer.echo(line)
    path = save_plan_config(result, out, data=data, group=group, overwrite=overwrite)
    run = f"vidlearn train {data} --config {path}" + (f" --group {group}" if group else "") + (f" --cv {result.cv}" if result.cv else "")
    typer.echo(f"wrote {path} and {path.with_suffix('.plan.json')}; run: {run} --budget {int(budget_s)}s --out RUN")


def train_with_plan(data: Path, out: Path, *, budget: Optional[str], config: Optional[Path], set_: Optional[list[str]],
                    named: dict[str, Any], task: Optional[str], cv: Optional[str], group: Optional[str], devices: str,
                    resume: bool, quiet: bool, overwrite: bool = False, started: float | None = None) -> Any:
    """`vidlearn train` with a planned recipe: the user's config, named options and `--set` win
    over single choices. Returns what `train_on_data` returns."""
    from vidlearn.planning import DEFAULT_BUDGET_S, parse_budget, user_settings
    from vidlearn.planning.planner import train_planned

    from vidlearn.planning.budget import process_started

    started = process_started() if started is None else started  # the budget counts the whole command
    budget_s = parse_budget(budget) if budget else DEFAULT_BUDGET_S
    explicit = user_settings(config, overrides=set_, named=named)
    _, result = train_planned(data, out, budget_s=budget_s, task=task or str(explicit.get("task.kind", "classification")),
                              group=group, cv=cv, explicit=explicit, devices=devices, resume=resume, overwrite=overwrite, progress=not quiet,
                              started=started, echo=typer.echo)
    return result
