"""A Redis list as the write-behind buffer of tracking events (pixel opens, clicks).

Keys, under the configured prefix (tracking.queue_name):
  <prefix>:pending     events pushed by web workers (RPUSH), oldest first;
  <prefix>:processing  the batch a drainer has taken and not yet acknowledged;
  <prefix>:drain-lock  which drainer may take batches (SET NX PX with a lease, renewed per batch).

A drainer moves a batch from pending to processing in one Lua script (atomic), stores it, commits,
then deletes processing (the acknowledgement). If it dies in between, the next lock holder finds
the batch still in processing and stores it first: nothing is lost, and the dedupe key of each
event (its time is fixed when the request arrived) keeps a batch stored twice from counting twice.
Only the lock holder touches processing, so two drainers never take or acknowledge each other's batch.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
import uuid
from contextlib import contextmanager
from datetime import datetime
from decimal import Decimal
from typing import Iterator

import redis

from ..config import Config
from .events import EventIn

log = logging.getLogger(__name__)

# How long a drainer may hold the lock without renewing it before another takes over its batch.
LOCK_LEASE_MS = 60_000
# After Redis failed, pushes go straight to the fallback for this long instead of retrying each request.
RETRY_AFTER_SECONDS = 5.0
# Most events in one RPUSH command of a buffered batch.
PUSH_CHUNK = 1000

_TAKE = """
local items = redis.call('LRANGE', KEYS[1], 0, tonumber(ARGV[1]) - 1)
if #items > 0 then
  redis.call('LTRIM', KEYS[1], #items, -1)
  for i = 1, #items, 1000 do
    redis.call('RPUSH', KEYS[2], unpack(items, i, math.min(i + 999, #items)))
  end
end
return items
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_DATETIME_FIELDS = {"occurred_at", "sent_at"}


class QueueUnavailable(RuntimeError):
    """Redis could not be reached; the caller stores the event directly."""


def encode(audience_id: int, event: EventIn) -> bytes:
    fields = {}
    for f in dataclasses.fields(event):
        value = getattr(event, f.name)
        if value is None:
            continue
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Decimal):
            value = str(value)
        fields[f.name] = value
    return json.dumps([audience_id, fields], separators=(",", ":")).encode()


def decode(raw: bytes) -> tuple[int, EventIn]:
    """Raises ValueError (or TypeError/KeyError) for an item that is not one of ours."""
    audience_id, fields = json.loads(raw)
    for name in _DATETIME_FIELDS & fields.keys():
        fields[name] = datetime.fromisoformat(fields[name])
    if "amount" in fields:
        fields["amount"] = Decimal(fields["amount"])
    if not isinstance(audience_id, int):
        raise ValueError("audience id is not an integer")
    return audience_id, EventIn(**fields)


def queue_from_config(config: Config) -> "EventQueue | None":
    """The configured queue, or None when tracking events are stored directly (queue_url empty)."""
    tracking = config.tracking
    return EventQueue(tracking.queue_url, tracking.queue_name) if tracking.queue_url else None


class EventQueue:
    def __init__(self, url: str, name: str) -> None:
        # Short timeouts: a pixel must not hang on a Redis that stopped answering.
        self.redis = redis.Redis.from_url(url, socket_connect_timeout=0.5, socket_timeout=2.0)
        self.pending, self.processing, self.lock = f"{name}:pending", f"{name}:processing", f"{name}:drain-lock"
        self._take = self.redis.register_script(_TAKE)
        self._renew = self.redis.register_script(_RENEW)
        self._release = self.redis.register_script(_RELEASE)
        self._retry_at = 0.0

    def push(self, audience_id: int, event: EventIn) -> None:
        """Append one event; raises QueueUnavailable (quickly, for a while after a failure) when Redis is down."""
        self.push_many([(audience_id, event)])

    def push_many(self, items: list[tuple[int, EventIn]]) -> None:
        """Append events in order with one round trip (a web worker's buffered batch); all or, on
        QueueUnavailable, none of them (RPUSH commands in one MULTI/EXEC)."""
        if time.monotonic() < self._retry_at:
            raise QueueUnavailable("Redis failed moments ago")
        try:
            pipe = self.redis.pipeline(transaction=True)
            for start in range(0, len(items), PUSH_CHUNK):
                pipe.rpush(self.pending, *(encode(a, e) for a, e in items[start:start + PUSH_CHUNK]))
            pipe.execute()
        except redis.RedisError as exc:
            if not self._retry_at:
                log.warning("tracking queue unreachable (%s): storing opens and clicks directly", exc)
            self._retry_at = time.monotonic() + RETRY_AFTER_SECONDS
            raise QueueUnavailable(str(exc)) from exc
        if self._retry_at:
            log.info("tracking queue reachable again")
            self._retry_at = 0.0

    def pending_count(self) -> int:
        return self.redis.llen(self.pending)

    def unacknowledged(self) -> list[bytes]:
        """The batch a drainer took and did not acknowledge (it crashed or failed to store it)."""
        return self.redis.lrange(self.processing, 0, -1)

    def take(self, size: int) -> list[bytes]:
        """Move up to `size` of the oldest pending events to processing, atomically; return them."""
        return self._take(keys=[self.pending, self.processing], args=[size])

    def acknowledge(self) -> None:
        self.redis.delete(self.processing)

    @contextmanager
    def drain_lock(self) -> Iterator["LockLease | None"]:
        """The lease when this process may drain now, None when another drainer holds it."""
        token = uuid.uuid4().hex
        if not self.redis.set(self.lock, token, nx=True, px=LOCK_LEASE_MS):
            yield None
            return
        lease = LockLease(self, token)
        try:
            yield lease
        finally:
            try:
                self._release(keys=[self.lock], args=[token])
            except redis.RedisError as exc:  # the lease expires by itself
                log.warning("could not release the tracking queue drain lock: %s", exc)

    def renew_lock(self, token: str) -> bool:
        return bool(self._renew(keys=[self.lock], args=[token, LOCK_LEASE_MS]))

    def delete_all(self) -> None:
        self.redis.delete(self.pending, self.processing, self.lock)


@dataclasses.dataclass
class LockLease:
    queue: EventQueue
    token: str

    def renew(self) -> bool:
        """Extend the lease; False when it expired and another drainer may have taken over."""
        return self.queue.renew_lock(self.token)
