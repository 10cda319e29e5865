"""`mailseg pull` of Mailchimp e-commerce orders (mailchimp.store_id) against the fake: matched by the
customer's email, refunded and cancelled ones not counted, incremental and idempotent."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import func, select

from mailseg.models import Event, PullCursor

from .sync_helpers import LIST_ID
from .test_pull import pull, stamp

STORE = "shop1"


def seed_orders(fake):
    fake.add_members(LIST_ID, ["ann@example.org", "bob@example.org"])
    fake.add_store(STORE, LIST_ID)
    fake.add_order(STORE, "1001", "ann@example.org", 120.5, stamp(30))
    fake.add_order(STORE, "1002", "Ann@Example.org", 30, stamp(20), financial_status="refunded")
    fake.add_order(STORE, "1003", "bob@example.org", 15, stamp(10), financial_status="pending")
    fake.add_order(STORE, "1004", "stranger@example.org", 99, stamp(5))
    for n in range(12):  # older orders of a repeat buyer
        fake.add_order(STORE, f"20{n:02d}", "bob@example.org", 10 + n, stamp(40 + n))


def orders(session) -> dict[str, Event]:
    session.expire_all()
    return {e.order_id: e for e in session.scalars(select(Event).where(Event.type == "purchase"))}


def test_pull_stores_the_store_orders_as_purchases(session, mailchimp_config, fake_mailchimp):
    seed_orders(fake_mailchimp)
    config = mailchimp_config.replace(mailchimp={"store_id": STORE})
    report = pull(session, config)
    stored = orders(session)
    assert set(stored) == {"1001", "1002", "1003", *(f"20{n:02d}" for n in range(12))}
    assert stored["1001"].amount == Decimal("120.50") and stored["1001"].source == "pull"
    assert stored["1002"].order_status == "refunded" and stored["1003"].order_status == "pending"
    assert report.orders_read == 16 and report.orders.unknown == 1
    assert session.scalar(select(PullCursor.value).where(PullCursor.name == f"store:{STORE}:orders")) is not None


def test_second_pull_stores_nothing_and_a_later_refund_cancels(session, mailchimp_config, fake_mailchimp):
    seed_orders(fake_mailchimp)
    config = mailchimp_config.replace(mailchimp={"store_id": STORE})
    pull(session, config)
    again = pull(session, config)
    assert again.orders.inserted == 0 and again.orders_unchanged == 16
    assert session.scalar(select(func.count()).select_from(Event).where(Event.type == "purchase")) == 15
    fake_mailchimp.update_order(STORE, "1001", stamp(0), financial_status="refunded")
    later = pull(session, config)
    assert later.orders_unchanged == 15 and later.orders.orders_cancelled == 1
    assert orders(session)["1001"].order_status == "refunded"


def test_without_a_store_no_orders_are_asked_for(session, mailchimp_config, fake_mailchimp):
    seed_orders(fake_mailchimp)
    pull(session, mailchimp_config)
    assert not any("/ecommerce/" in call.path for call in fake_mailchimp.calls)
    assert orders(session) == {}


def test_an_unknown_store_fails_the_pull_with_mailchimps_reason(session, mailchimp_config, fake_mailchimp):
    import pytest

    from mailseg.providers.base import ProviderError

    config = mailchimp_config.replace(mailchimp={"store_id": "nope"})
    with pytest.raises(ProviderError, match="404"):
        pull(session, config)
