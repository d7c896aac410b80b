"""The Jinja2 environment of the report pages: the templates shipped in
`vidlearn/reports/templates/` (package data), with autoescaping on for everything, so that class
names, paths and titles coming from users are always escaped. Markup that is already HTML must
be marked as such (`markupsafe.Markup`) to pass unescaped: the `html` of a `Section` and the cells
of a `table_html(raw=True)`.

Filters the templates can use: `fmt` (numbers to 3 decimals, None as '—'; Markup passes as it is)."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import jinja2
from markupsafe import Markup

from vidlearn.reports.formatting import fmt

__all__ = ["Markup", "Table", "blocks", "environment", "render"]


def _fmt_filter(value: Any, digits: int = 3) -> Any:
    return value if isinstance(value, Markup) else fmt(value, digits)


@functools.lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader("vidlearn.reports", "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["fmt"] = _fmt_filter
    return env


def render(name: str, **context: Any) -> Markup:
    """templates/<name> rendered with `context`, as markup."""
    return Markup(environment().get_template(name).render(**context))


def blocks() -> Any:
    """The macros of templates/blocks.html.j2 (`table`, `figure`, `text`, `thumb`), callable
    from Python; each returns Markup."""
    return environment().get_template("blocks.html.j2").module


@dataclass(frozen=True)
class Table:
    """What the `table` macro draws: a header row, body rows and (bold) footer rows. Cells are
    formatted with `fmt` and escaped, except `Markup` ones; `numeric` right-aligns the columns
    (default: guessed from the first row)."""

    headers: Sequence[Any]
    rows: Sequence[Sequence[Any]]
    numeric: Sequence[bool] | None = None
    cls: str = ""
    footer: Sequence[Sequence[Any]] = ()
    align: tuple[bool, ...] = field(init=False, repr=False)

    def __post_init__(self) -> None:
        numeric = self.numeric
        if numeric is None:
            first = self.rows[0] if self.rows else []
            numeric = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in first]
        width = max([len(self.headers), *(len(r) for r in self.rows), *(len(r) for r in self.footer)])
        object.__setattr__(self, "align", tuple(bool(v) for v in numeric[:width]) + (False,) * max(0, width - len(numeric)))
