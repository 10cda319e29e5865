"""Write-behind of pixel opens and clicks inside one web worker.

Stored one per request, an open is a whole transaction (token, context query of the stateful
bot rules, insert, commit): ~2.5 ms of machine CPU, so two cores answer ~800 opens/s at best. Here a
request appends the event to a list and answers; a thread of the worker passes the list on every
tracking.buffer_seconds (or as soon as tracking.queue_batch_size events wait): without a queue it
stores it in one transaction through the same store_events as the Redis drainer; with a queue
(tracking.queue_url) it pushes the batch to Redis in one round trip (one RPUSH per request cost
the worker more than the request itself), and stores it directly when Redis cannot be reached.

What it costs: an event waits up to buffer_seconds before it is in the database, and a worker that
is killed (SIGKILL, power cut) loses what it had not stored yet — at most buffer_seconds of opens;
a graceful stop (SIGTERM, gunicorn's restarts) stores them first. When the database cannot keep up
(MAX_PENDING events waiting) requests store their own event again, so memory stays bounded.
The thread starts in the process that receives the first event (after gunicorn forks its workers).
"""

from __future__ import annotations

import atexit
import logging
import os
import threading

from sqlalchemy.exc import SQLAlchemyError

from ..config import FlaggingConfig
from ..db import Database
from .drain import DrainResult, store_tracking_batch
from .events import EventIn
from .queue import EventQueue, QueueUnavailable

log = logging.getLogger(__name__)
# Events that may wait in one worker; beyond it a request stores its own event (back-pressure).
MAX_PENDING = 20_000


class LocalBuffer:
    def __init__(self, db: Database, *, flush_seconds: float, batch_size: int,
                 flagging: FlaggingConfig | None = None, queue: EventQueue | None = None) -> None:
        self.db, self.flush_seconds, self.batch_size, self.flagging = db, flush_seconds, batch_size, flagging
        self.queue = queue
        self.queued = 0  # events handed to the queue (the drainer stores them)
        self._items: list[tuple[int, EventIn]] = []
        self._lock = threading.Lock()
        self._flushing = threading.Lock()
        self._wake = threading.Event()
        self._pid: int | None = None
        self.result = DrainResult()

    def push(self, audience_id: int, event: EventIn) -> bool:
        """Take the event for the next flush; False when too many wait (the caller stores it)."""
        with self._lock:
            if self._pid != os.getpid():
                self._start()
            if len(self._items) >= MAX_PENDING:
                return False
            self._items.append((audience_id, event))
            if len(self._items) >= self.batch_size:
                self._wake.set()
        return True

    def pending(self) -> int:
        with self._lock:
            return len(self._items)

    def flush(self) -> None:
        """Store what waits now (called by the thread, at exit, and by tests)."""
        with self._flushing:
            with self._lock:
                batch, self._items = self._items, []
            if not batch or self._queued(batch):
                return
            try:
                store_tracking_batch(self.db, batch, self.flagging, self.result)
            except SQLAlchemyError as exc:
                log.warning("storing %d buffered tracking events failed (%s); retrying", len(batch), exc)
                with self._lock:  # back in front, still bounded by MAX_PENDING at push time
                    self._items[:0] = batch[:MAX_PENDING]

    def _queued(self, batch: list[tuple[int, EventIn]]) -> bool:
        if self.queue is None:
            return False
        try:
            self.queue.push_many(batch)
        except QueueUnavailable:
            return False  # logged by the queue; stored directly instead
        self.queued += len(batch)
        return True

    def _start(self) -> None:
        """The flushing thread of this process (a forked worker inherits the object, not the thread)."""
        self._pid = os.getpid()
        self._items = []
        self._wake = threading.Event()
        threading.Thread(target=self._run, name="tracking-buffer", daemon=True).start()
        atexit.register(self.flush)

    def _run(self) -> None:
        while True:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()
