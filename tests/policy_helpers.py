"""Builders for the policy tests: subscribers with a class, campaigns with sends and opens."""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta, timezone

from sqlalchemy import select

from mailseg.models import Audience, Campaign, ClassChange, Event, ReengagementState, Subscriber

UTC = timezone.utc
AS_OF = datetime(2026, 8, 31, 12, 0, tzinfo=UTC)
LONG_AGO = datetime(2020, 1, 1, tzinfo=UTC)
LIST_ID = "list0001"


def audience(session) -> int:
    row = Audience(name="default", provider="mailchimp", provider_list_id=LIST_ID)
    session.add(row)
    session.flush()
    return row.id


def subscriber(session, audience_id: int, email: str, klass: str | None = "inactive", *,
               status: str = "subscribed", subscribed_at: datetime = LONG_AGO) -> int:
    row = Subscriber(audience_id=audience_id, email=email, status=status, subscribed_at=subscribed_at,
                     engagement_class=klass)
    session.add(row)
    session.flush()
    return row.id


def event(session, subscriber_id: int, type_: str, at: datetime, *, campaign_id: int | None = None,
          machine: bool = False) -> None:
    session.add(Event(subscriber_id=subscriber_id, type=type_, occurred_at=at, campaign_id=campaign_id,
                      is_machine=machine, machine_reason="apple_mpp" if machine else None, source="import",
                      dedupe_key=uuid.uuid4().hex))
    session.flush()


def sends(session, subscriber_id: int, count: int, *, last: datetime = AS_OF - timedelta(days=70)) -> None:
    """`count` sends a week apart, the last at `last`."""
    for week in range(count):
        event(session, subscriber_id, "send", last - timedelta(weeks=week))


def campaign(session, audience_id: int, provider_id: str, sent_at: datetime, *, subject: str = "Autumn sale",
             kind: str = "regular", parent_id: int | None = None, variant: int = 1, on_platform: bool = True) -> int:
    """A sent campaign; on_platform=False for one known only from an imported history file."""
    row = Campaign(audience_id=audience_id, provider_id=provider_id, name=subject, subject=subject, kind=kind,
                   status="sent", sent_at=sent_at, parent_id=parent_id, variant=variant, on_platform=on_platform)
    session.add(row)
    session.flush()
    return row.id


def moved(session, audience_id: int, subscriber_id: int, at: datetime, from_class="semi_active", to_class="active"):
    session.add(ClassChange(audience_id=audience_id, subscriber_id=subscriber_id, from_class=from_class,
                            to_class=to_class, changed_at=at))
    session.flush()


def state(session, subscriber_id: int) -> ReengagementState | None:
    session.expire_all()
    return session.get(ReengagementState, subscriber_id)


def ids(session, stmt) -> set[int]:
    return set(session.scalars(select(stmt.subquery().c.id)))
