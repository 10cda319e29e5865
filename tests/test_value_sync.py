"""Value segments mirrored as tags by `mailseg sync` (value.sync families), against the fake Mailchimp."""

from __future__ import annotations

from sqlalchemy import select

from mailseg.models import Audience, Subscriber, SubscriberValue
from mailseg.sync import sync_engagement
from mailseg.value import value_audience

from .factories import make_order, utc
from .factories import LIST_ID, email, fast_factory, mirrored_audience

AS_OF = utc(2026, 8, 31)


def valued_audience(session, fake, config):
    audience_id = mirrored_audience(session, fake, 12)
    audience = session.get(Audience, audience_id)
    for n in range(6):  # six customers, n + 1 orders each, bigger spend for later ones
        for k in range(n + 1):
            make_order(session, audience, email(n), utc(2026, 8, 1 + k + n), 10 * (n + 1))
    session.commit()
    value_audience(session, audience_id, config.value, as_of=AS_OF)
    return audience


def holders(session, column, value) -> set[str]:
    return set(session.scalars(select(Subscriber.email).join(SubscriberValue, SubscriberValue.subscriber_id == Subscriber.id)
                               .where(column == value)))


def test_rfm_and_abc_segments_are_mirrored_as_tags(session, mailchimp_config, fake_mailchimp):
    audience = valued_audience(session, fake_mailchimp, mailchimp_config)
    report = sync_engagement(session, audience, mailchimp_config, fast_factory(mailchimp_config))
    segments = set(session.scalars(select(SubscriberValue.rfm_segment).distinct())) - {"prospect"}
    assert segments
    for name in segments:
        assert fake_mailchimp.segment_emails(LIST_ID, f"mailseg:rfm:{name}") == holders(
            session, SubscriberValue.rfm_segment, name)
    for abc in ("A", "B", "C"):
        expected = holders(session, SubscriberValue.abc_class, abc)
        if expected:
            assert fake_mailchimp.segment_emails(LIST_ID, f"mailseg:abc:{abc}") == expected
    assert "mailseg:rfm:prospect" not in report.tags
    # no CLV (too little data): no quadrant, so no quadrant tags are created
    assert not any(name.startswith("mailseg:value:") for name in report.tags)


def test_only_the_configured_families_and_a_segment_left_is_emptied(session, mailchimp_config, fake_mailchimp):
    config = mailchimp_config.replace(value={"sync": ["abc"]})
    audience = valued_audience(session, fake_mailchimp, config)
    report = sync_engagement(session, audience, config, fast_factory(config))
    assert not any(name.startswith("mailseg:rfm:") for name in report.tags)
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:abc:A")
    # a year and a half later every order is out of the lookback: nobody holds an ABC class any more
    value_audience(session, audience.id, config.value, as_of=utc(2028, 3, 1))
    sync_engagement(session, audience, config, fast_factory(config))
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:abc:A") == set()


def test_a_family_taken_out_of_value_sync_has_its_tags_emptied(session, mailchimp_config, fake_mailchimp):
    audience = valued_audience(session, fake_mailchimp, mailchimp_config)
    sync_engagement(session, audience, mailchimp_config, fast_factory(mailchimp_config))
    rfm_tags = {f"mailseg:rfm:{name}" for name in set(session.scalars(select(SubscriberValue.rfm_segment))) - {"prospect"}}
    assert rfm_tags and all(fake_mailchimp.segment_emails(LIST_ID, tag) for tag in rfm_tags)
    only_abc = mailchimp_config.replace(value={"sync": ["abc"]})
    sync_engagement(session, audience, only_abc, fast_factory(only_abc))
    assert all(fake_mailchimp.segment_emails(LIST_ID, tag) == set() for tag in rfm_tags)
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:abc:A")
