"""The `vidlearn` command line: a thin shell over the library. Every command parses its
arguments, calls library functions and prints; user errors become one line on stderr (exit 2).

The commands live in one module per pipeline step (data, features, deep, evaluation, deployment,
demo) and are registered here, in pipeline order, under their help panel. A new command is one
line in `_COMMANDS`."""

from __future__ import annotations

import sys
from typing import Annotated, Optional

import typer

from vidlearn.cli import data, deep, demo, deployment, evaluation, features, plan
from vidlearn.cli.common import Command, Group
from vidlearn.cli.weights import weights_app

__all__ = ["app", "main"]

# (panel, command name, function): the order of `vidlearn --help`, which is the pipeline's
_COMMANDS = [
    ("Data", "probe", data.probe),
    ("Data", "check", data.check),
    ("Data", "frames", data.frames),
    ("Data", "demo-data", data.demo_data),
    ("Features and baselines", "features", features.features),
    ("Features and baselines", "baseline", features.baseline),
    ("Features and baselines", "cluster", features.cluster),
    ("Deep models", "models", deep.models),
    ("Deep models", "augment-preview", deep.augment_preview),
    ("Deep models", "plan", plan.plan),
    ("Deep models", "train", deep.train),
    ("Deep models", "tune", deep.tune),
    ("Evaluation", "evaluate", evaluation.evaluate),
    ("Deployment", "predict", deployment.predict),
    ("Deployment", "export", deployment.export),
    ("Deployment", "serve", deployment.serve),
    ("Demo", "demo", demo.demo),
]
_SUBAPPS = [("Deep models", "weights", weights_app)]  # shown at the end of their panel


def _summary() -> str:
    panels: dict[str, list[str]] = {}
    for panel, name, _ in _COMMANDS:
        panels.setdefault(panel, []).append(name)
    for panel, name, _ in _SUBAPPS:
        panels[panel].append(name)
    return "Deep-learning video analysis, in pipeline order: " + "; ".join(
        f"{panel.lower()}: {', '.join(names)}" for panel, names in panels.items()) + "."


app = typer.Typer(
    name="vidlearn",
    cls=Group,
    help=_summary(),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)
for _panel, _name, _command in _COMMANDS:
    app.command(_name, cls=Command, rich_help_panel=_panel)(_command)
for _panel, _name, _sub in _SUBAPPS:
    app.add_typer(_sub, name=_name, rich_help_panel=_panel)


def _version(value: bool) -> None:
    if value:
        from vidlearn.provenance import __version__

        typer.echo(f"vidlearn {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[Optional[bool], typer.Option("--version", callback=_version, is_eager=True,
                                                    help="print the version and exit")] = None,
) -> None:
    pass


def main() -> None:  # pragma: no cover - `python -m vidlearn` / `python -m vidlearn.cli`
    app(prog_name="vidlearn")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
