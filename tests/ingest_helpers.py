"""Factories shared by the tracking, webhook and flagging tests."""

from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import select

from mailseg.app import create_app
from mailseg.models import Audience, Campaign, Event, Subscriber

from .factories import make_audience, make_subscriber

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=timezone.utc)


def audience(session, name="default", list_id=None) -> Audience:
    return make_audience(session, name, list_id)


def subscriber(session, audience_row, email, status="subscribed") -> Subscriber:
    return make_subscriber(session, audience_row, email, status=status, subscribed_at=T0)


def campaign(session, audience_row, provider_id="c1", sent_at=None) -> Campaign:
    row = Campaign(audience_id=audience_row.id, provider_id=provider_id, name=provider_id, sent_at=sent_at)
    session.add(row)
    session.flush()
    return row


def events(session, **where) -> list[Event]:
    session.expire_all()
    stmt = select(Event).order_by(Event.occurred_at, Event.id)
    for name, value in where.items():
        stmt = stmt.where(getattr(Event, name) == value)
    return list(session.scalars(stmt))


def client_for(config, database, **sections):
    app = create_app(config.replace(**sections), database=database)
    app.config["TESTING"] = True
    return app.test_client()


def tracked_recipient(session):
    """An audience, a subscriber and a campaign, committed: the recipient a tracking token names."""
    from mailseg.tracking import OpenToken

    aud = audience(session)
    sub = subscriber(session, aud, "reader@example.com")
    camp = campaign(session, aud)
    session.commit()
    return OpenToken(aud.id, sub.id, camp.id)
