"""Shared by the sync and pull tests: an audience in the database mirrored by a list in the fake."""

from __future__ import annotations

from sqlalchemy import insert, select, update

from mailseg.models import Audience, Subscriber, SyncMember, SyncSegment
from mailseg.providers.mailchimp import MailchimpPlatform, RetryPolicy

LIST_ID = "list0001"
CLASSES = ("active", "semi_active", "inactive", "new")


def email(i: int) -> str:
    return f"s{i:05d}@example.org"


def make_audience(session, fake, count: int, *, on_platform: bool = True) -> int:
    """`count` subscribers, class i % 4 (set with an UPDATE, as the classification engine would)."""
    audience = Audience(name="default", provider="mailchimp", provider_list_id=LIST_ID)
    session.add(audience)
    session.flush()
    session.execute(insert(Subscriber), [
        {"audience_id": audience.id, "email": email(i), "status": "subscribed", "merge_fields": {}, "tags": []}
        for i in range(count)])
    for i, name in enumerate(CLASSES):
        set_class(session, [e for n in range(count) if n % 4 == i for e in [email(n)]], name)
    session.commit()
    if on_platform:
        fake.add_members(LIST_ID, [email(i) for i in range(count)])
    return audience.id


def set_class(session, emails: list[str], name: str) -> None:
    session.execute(update(Subscriber).where(Subscriber.email.in_(emails)).values(engagement_class=name))
    session.commit()


def desired(session, name: str) -> set[str]:
    return set(session.scalars(select(Subscriber.email).where(Subscriber.engagement_class == name)))


def recorded(session, tag: str) -> set[str]:
    return set(session.scalars(
        select(Subscriber.email).join(SyncMember, SyncMember.subscriber_id == Subscriber.id)
        .join(SyncSegment, SyncSegment.id == SyncMember.segment_id).where(SyncSegment.name == tag)))


def fast_factory(config, max_attempts: int = 8):
    """Platform clients with millisecond backoff, so retry tests stay fast."""
    policy = RetryPolicy(max_attempts=max_attempts, base_delay=0.005, max_delay=0.02)
    return lambda: MailchimpPlatform(config.mailchimp, retry=policy)


def batch_bodies(fake, since: int = 0) -> list[dict]:
    return [c.body for c in fake.calls[since:]
            if c.method == "POST" and "/segments/" in c.path and 200 <= c.status < 300]
