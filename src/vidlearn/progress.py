"""Progress for long work: a bar on a terminal, sparse lines in a log.

tqdm redraws its bar many times a second; written to a file or a CI log (stderr not a terminal)
every redraw is kept, so a training run left thousands of bar states in one line. Here the bar
is the same on a terminal; in a log it appears only for work longer than ``LOG_INTERVAL`` seconds
and is then redrawn at most that often. Training prints one line per epoch there instead
(``vidlearn.training.fit``).
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterable
from typing import Any

Echo = Callable[[str], None]  # where a long job says what it is doing (print, typer.echo, a logger)

__all__ = ["LOG_INTERVAL", "interactive", "progress_bar"]

LOG_INTERVAL = 30.0  # seconds between progress lines when stderr is not a terminal


def interactive() -> bool:
    """True when stderr is a terminal (progress bars are redrawn in place)."""
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):  # replaced or closed stderr
        return False


def progress_bar(iterable: Iterable[Any] | None = None, *, desc: str, unit: str, enabled: bool = True,
                 total: int | None = None, leave: bool = False, **kwargs: Any) -> Any:
    """A tqdm bar over ``iterable`` (or to ``update`` by hand with ``total``), off when not
    ``enabled``; on a terminal it redraws freely, in a log at most every LOG_INTERVAL seconds."""
    from tqdm import tqdm

    # in a log: nothing for work shorter than LOG_INTERVAL, then a line at most that often
    sparse = {} if interactive() else {"mininterval": LOG_INTERVAL, "delay": LOG_INTERVAL}
    return tqdm(iterable, total=total, desc=desc, unit=unit, disable=not enabled, leave=leave, **sparse, **kwargs)
