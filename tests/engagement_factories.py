"""Factories for engagement tests: audiences, subscribers and events written directly."""

from __future__ import annotations

import uuid
from datetime import datetime, timezone

from mailseg.models import Audience, Event, Subscriber

from . import factories

UTC = timezone.utc
AS_OF = datetime(2026, 8, 31, 12, 0, tzinfo=UTC)
# With the default 6-month window, AS_OF's window starts here (day clamped to February's end).
WINDOW_START = datetime(2026, 2, 28, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)


def make_audience(session, name: str = "main") -> int:
    return factories.make_audience(session, name, list_id=None).id


def add_subscriber(session, audience_id: int, email: str, *, status: str = "subscribed",
                   subscribed_at: datetime = LONG_AGO) -> int:
    audience = session.get(Audience, audience_id)
    return factories.make_subscriber(session, audience, email, status=status, subscribed_at=subscribed_at).id


def add_event(session, subscriber_id: int, type_: str, occurred_at: datetime, *,
              machine_reason: str | None = None, campaign_id: int | None = None) -> None:
    session.add(Event(subscriber_id=subscriber_id, type=type_, occurred_at=occurred_at,
                      is_machine=machine_reason is not None, machine_reason=machine_reason,
                      campaign_id=campaign_id, source="import", dedupe_key=uuid.uuid4().hex))
    session.flush()


def stored_class(session, subscriber_id: int) -> str | None:
    session.expire_all()
    return session.get(Subscriber, subscriber_id).engagement_class
