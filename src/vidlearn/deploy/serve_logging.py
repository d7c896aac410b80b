"""Logs that do not flood: the same message (logger, level, format) is written at most ``burst``
times per ``window`` seconds, repeats after the first lose their traceback, and the first line of
the next window says how many were held back. Installed on the service's loggers by
:func:`limit_server_logs`; the access log (one line per request) is left alone."""

from __future__ import annotations

import logging
import sys
import threading
import time

__all__ = ["RepeatFilter", "limit_server_logs"]

SERVER_LOGGERS = ("uvicorn.error", "asyncio", "vidlearn.serve")


class RepeatFilter(logging.Filter):
    """A logging filter passing at most ``burst`` records of one kind per ``window`` seconds."""

    def __init__(self, burst: int = 5, window: float = 60.0, clock: object = time.monotonic) -> None:
        super().__init__()
        self.burst, self.window, self.clock = burst, window, clock
        self._seen: dict[tuple[str, int, str], list[float]] = {}  # key -> [window start, passed, held]
        self._lock = threading.Lock()

    def filter(self, record: logging.LogRecord) -> bool:
        key = (record.name, record.levelno, str(record.msg))
        now = self.clock()  # type: ignore[operator]
        with self._lock:
            entry = self._seen.get(key)
            if entry is None or now - entry[0] >= self.window:
                held = int(entry[2]) if entry is not None else 0
                self._seen[key] = [now, 1, 0]
                if len(self._seen) > 1000:  # forget old kinds; never grows without bound
                    self._seen = {k: v for k, v in self._seen.items() if now - v[0] < self.window}
                if held:
                    record.msg = f"{record.msg} ({held} more like this held back in the last {self.window:g} s)"
                return True
            if entry[1] < self.burst:
                entry[1] += 1
                record.exc_info, record.exc_text, record.stack_info = None, None, None  # one traceback is enough
                return True
            entry[2] += 1
            return False


def limit_server_logs(burst: int = 5, window: float = 60.0) -> RepeatFilter:
    """Put one :class:`RepeatFilter` on the handlers of uvicorn's error log, asyncio's log (where
    accept() failures such as "too many open files" go) and the service's own log
    (``vidlearn.serve``, given a stderr handler at info level when it has none)."""
    filt = RepeatFilter(burst, window)
    for name in SERVER_LOGGERS:
        logger = logging.getLogger(name)
        handlers = list(logger.handlers)
        if not handlers and name != "uvicorn.error":
            handler = logging.StreamHandler(sys.stderr)
            handler.setFormatter(logging.Formatter("%(levelname)s:     %(message)s"))
            logger.addHandler(handler)
            logger.setLevel(logging.INFO)
            logger.propagate = False
            handlers = [handler]
        for h in handlers:
            if not any(isinstance(f, RepeatFilter) for f in h.filters):
                h.addFilter(filt)
        if name == "uvicorn.error" and not any(isinstance(f, RepeatFilter) for f in logger.filters):
            logger.addFilter(filt)  # it has no handler of its own (it propagates to uvicorn's)
    return filt
