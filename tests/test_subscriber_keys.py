"""Subscriber ids are keys derived from audience and e-mail (docs/SCALING.md)."""

import pytest
from sqlalchemy import select

from mailseg.models import Subscriber
from mailseg.models.audience import subscriber_key
from mailseg.subscribers.upsert import SubscriberKeyCollision, SubscriberRow, upsert_subscribers

from .factories import make_audience, make_subscriber


def test_the_key_is_the_audience_and_the_normalised_address():
    assert subscriber_key(1, " Ann@Example.com ") == subscriber_key(1, "ann@example.com")
    assert subscriber_key(1, "ann@example.com") != subscriber_key(2, "ann@example.com")
    assert 0 < subscriber_key(1, "ann@example.com") < 2**63


def test_every_way_of_creating_a_subscriber_gives_the_key(session):
    audience = make_audience(session)
    built = make_subscriber(session, audience, "built@example.com")
    upsert_subscribers(session, audience.id, [SubscriberRow("upserted@example.com", {"status": "subscribed"})])
    session.commit()
    ids = dict(session.execute(select(Subscriber.email, Subscriber.id)).all())
    assert built.id == ids["built@example.com"] == subscriber_key(audience.id, "built@example.com")
    assert ids["upserted@example.com"] == subscriber_key(audience.id, "upserted@example.com")


def test_two_addresses_sharing_a_key_are_refused_not_merged(session, monkeypatch):
    audience = make_audience(session)
    upsert_subscribers(session, audience.id, [SubscriberRow("first@example.com", {"first_name": "First"})])
    session.commit()
    monkeypatch.setattr("mailseg.subscribers.upsert.subscriber_key", lambda *_: subscriber_key(audience.id, "first@example.com"))
    with pytest.raises(SubscriberKeyCollision, match="'second@example.com' cannot be stored"):
        upsert_subscribers(session, audience.id, [SubscriberRow("second@example.com", {"first_name": "Second"})])
    session.rollback()
    assert session.execute(select(Subscriber.email, Subscriber.first_name)).all() == [("first@example.com", "First")]
