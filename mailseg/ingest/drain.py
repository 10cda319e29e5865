"""Draining the tracking queue (mailseg.ingest.queue) into the database through store_events.

Each batch is one transaction: decode, group by audience, store_events per audience, commit, then
acknowledge in Redis. Runs in `mailseg ingest-worker` and beside `mailseg scheduler`; any number of
them may run, the drain lock lets one at a time take batches.
"""

from __future__ import annotations

import logging
import threading
from collections import defaultdict
from dataclasses import dataclass, field

from redis import RedisError
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from ..config import Config, FlaggingConfig
from ..db import Database
from .events import EventIn, StoreResult, store_events
from .queue import EventQueue, decode, queue_from_config

log = logging.getLogger(__name__)
RETRY_SECONDS = 5.0


@dataclass
class DrainResult:
    batches: int = 0
    stored: StoreResult = field(default_factory=StoreResult)
    undecodable: int = 0  # items that are not events (dropped, logged)
    orphaned: int = 0  # events whose subscriber or campaign was deleted since the request (dropped)
    busy: bool = False  # another drainer holds the lock


def drain(db: Database, queue: EventQueue, *, batch_size: int, flagging: FlaggingConfig | None = None,
          max_batches: int | None = None) -> DrainResult:
    """Store pending events batch by batch until the queue is empty (or max_batches were stored)."""
    result = DrainResult()
    with queue.drain_lock() as lease:
        if lease is None:
            result.busy = True
            return result
        batch = queue.unacknowledged()
        if batch:
            log.info("storing %d tracking events a previous drainer took and did not acknowledge", len(batch))
        else:
            batch = queue.take(batch_size)
        while batch:
            _store(db, batch, flagging, result)
            queue.acknowledge()
            result.batches += 1
            if max_batches is not None and result.batches >= max_batches:
                break
            if not lease.renew():
                log.warning("tracking queue drain lock expired; leaving the rest to the next drainer")
                break
            batch = queue.take(batch_size)
    return result


def _store(db: Database, batch: list[bytes], flagging: FlaggingConfig | None, result: DrainResult) -> None:
    items = []
    for raw in batch:
        try:
            items.append(decode(raw))
        except (ValueError, TypeError, KeyError) as exc:
            result.undecodable += 1
            log.warning("dropping a tracking queue item that is not an event: %s", exc)
    store_tracking_batch(db, items, flagging, result)


def store_tracking_batch(db: Database, items: list[tuple[int, EventIn]], flagging: FlaggingConfig | None,
                         result: DrainResult) -> None:
    """Store (audience id, event) pairs in one transaction; events of subscribers or campaigns
    deleted meanwhile are dropped one by one (counted as orphaned). Used by the Redis drainer and
    by the in-process buffer (mailseg.ingest.localbuffer)."""
    by_audience: dict[int, list[EventIn]] = defaultdict(list)
    for audience_id, event in items:
        by_audience[audience_id].append(event)
    try:
        with db.transaction() as session:
            for audience_id, events in sorted(by_audience.items()):
                result.stored.add(store_events(session, audience_id, events, flagging=flagging))
    except IntegrityError:
        # A subscriber or campaign was deleted after its open or click was queued: store the
        # batch event by event so that only those are dropped (as the direct path drops them).
        for audience_id, events in sorted(by_audience.items()):
            for event in events:
                try:
                    with db.transaction() as session:
                        result.stored.add(store_events(session, audience_id, [event], flagging=flagging))
                except IntegrityError:
                    result.orphaned += 1
        log.info("%d queued tracking events belonged to deleted subscribers or campaigns", result.orphaned)


def run_drainer(db: Database, config: Config, *, stop: threading.Event, queue: EventQueue | None = None) -> None:
    """Drain until `stop` is set, looking for new events every tracking.queue_flush_seconds."""
    queue = queue or queue_from_config(config)
    if queue is None:
        raise ValueError("tracking.queue_url is not set: there is no queue to drain")
    tracking = config.tracking
    log.info("draining the tracking queue %s every %s s", tracking.queue_name, tracking.queue_flush_seconds)
    while not stop.is_set():
        try:
            result = drain(db, queue, batch_size=tracking.queue_batch_size, flagging=config.flagging)
        except (RedisError, SQLAlchemyError) as exc:
            log.warning("draining the tracking queue failed (%s); retrying in %.0f s", exc, RETRY_SECONDS)
            stop.wait(RETRY_SECONDS)
            continue
        if result.batches:
            log.debug("stored %d tracking events in %d batches", result.stored.inserted, result.batches)
        else:
            stop.wait(tracking.queue_flush_seconds)


def start_drainer_thread(db: Database, config: Config, stop: threading.Event) -> threading.Thread:
    thread = threading.Thread(target=run_drainer, args=(db, config), kwargs={"stop": stop},
                              name="tracking-queue-drainer", daemon=True)
    thread.start()
    return thread
