"""Progress in a log: no redraw storm when stderr is not a terminal."""

from __future__ import annotations

import io
import sys

import pytest

from vidlearn import progress


def test_a_log_gets_no_bar_for_short_work_and_a_terminal_gets_one(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr(sys, "stderr", log)
    assert not progress.interactive()
    assert list(progress.progress_bar(range(1000), desc="work", unit="it", file=log)) == list(range(1000))
    assert log.getvalue() == ""  # under LOG_INTERVAL seconds: nothing written

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    term = Terminal()
    monkeypatch.setattr(sys, "stderr", term)
    assert progress.interactive()
    list(progress.progress_bar(range(10), desc="work", unit="it", file=term, leave=True))
    assert "work" in term.getvalue() and "10/10" in term.getvalue()
    disabled = Terminal()
    list(progress.progress_bar(range(10), desc="work", unit="it", enabled=False, file=disabled))
    assert disabled.getvalue() == ""
