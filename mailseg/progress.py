"""Progress for long jobs: a rich bar on a terminal, periodic log lines otherwise."""

from __future__ import annotations

import logging
import sys
import time
from contextlib import contextmanager
from typing import Iterator, Protocol

log = logging.getLogger("mailseg.progress")


class Progress(Protocol):
    def advance(self, amount: int = 1) -> None: ...


class _Silent:
    def advance(self, amount: int = 1) -> None:
        pass


class _LogLines:
    """Logs the share done at most every `every` seconds."""

    def __init__(self, description: str, total: int | None, unit: str, every: float = 5.0) -> None:
        self.description, self.total, self.unit, self.every = description, total, unit, every
        self.done = 0
        self.started = self.last = time.monotonic()

    def advance(self, amount: int = 1) -> None:
        self.done += amount
        now = time.monotonic()
        if now - self.last >= self.every:
            self.last = now
            share = f" ({100 * self.done / self.total:.0f}%)" if self.total else ""
            of = f" of {self.total:,}" if self.total else ""
            log.info("%s: %s%s %s%s after %.0f s", self.description, f"{self.done:,}", of, self.unit, share,
                     now - self.started)


class _RichBar:
    def __init__(self, bar, task) -> None:
        self.bar, self.task = bar, task

    def advance(self, amount: int = 1) -> None:
        self.bar.advance(self.task, amount)


@contextmanager
def progress(description: str, total: int | None = None, *, unit: str = "items",
             enabled: bool = True) -> Iterator[Progress]:
    """A bar (or log lines) counting `unit` (rows, campaigns, steps, batches ...), and a closing
    summary line naming the unit and the time taken."""
    if not enabled:
        yield _Silent()
        return
    if sys.stderr.isatty():
        from rich.progress import (BarColumn, MofNCompleteColumn, Progress as RichProgress,
                                   TextColumn, TimeElapsedColumn, TimeRemainingColumn)

        columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                   TextColumn(unit), TimeElapsedColumn(), TimeRemainingColumn()]
        with RichProgress(*columns, transient=False) as bar:
            yield _RichBar(bar, bar.add_task(description, total=total))
        return
    lines = _LogLines(description, total, unit)
    log.info("%s: started", description)
    yield lines
    log.info("%s: %s %s done in %.1f s", description, f"{lines.done:,}", unit, time.monotonic() - lines.started)
