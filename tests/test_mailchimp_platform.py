"""The Mailchimp platform over the official client, and the fake's fidelity to the documented API."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone

import pytest
import requests

from mailseg.config import Config
from mailseg.providers import ProviderError, platform_factory
from mailseg.providers.mailchimp import MailchimpPlatform, RetryPolicy, subscriber_hash

LIST_ID = "list0001"


@pytest.fixture
def platform(fake_mailchimp):
    config = Config().replace(mailchimp={"api_key": fake_mailchimp.api_key, "api_base_url": fake_mailchimp.base_url})
    return MailchimpPlatform(config.mailchimp, retry=RetryPolicy(base_delay=0.001, max_delay=0.01))


def test_subscriber_hash_is_md5_of_the_lower_cased_address():
    assert subscriber_hash(" Urist.McVankab@FreddieMacs.com") == "ecbefbfccf8d57d3471118396b791bff"


def test_campaign_lifecycle_to_a_tag(platform, fake_mailchimp):
    fake_mailchimp.add_members(LIST_ID, ["a@example.org", "b@example.org"])
    segment = platform.ensure_static_segment(LIST_ID, "mailseg:inactive")
    platform.update_segment(LIST_ID, segment.id, add=["a@example.org"], remove=[])
    draft = platform.create_campaign(LIST_ID, segment.id, title="Win back", subject="We miss you",
                                     from_name="Shop", reply_to="hi@example.org")
    copy = platform.replicate_campaign(draft)
    platform.schedule_campaign(copy, datetime(2030, 1, 1, 10, 15, tzinfo=timezone.utc))  # quarter-hours only
    assert fake_mailchimp.campaigns[copy]["status"] == "schedule"
    platform.send_campaign(draft)
    sent = list(platform.sent_campaigns(LIST_ID))
    assert [c.id for c in sent] == [draft] and sent[0].subject == "We miss you"
    assert [r.email for r in platform.campaign_recipients(draft)] == ["a@example.org"]


def test_member_status_update_reports_unknown_addresses(platform, fake_mailchimp):
    fake_mailchimp.add_members(LIST_ID, ["a@example.org"])
    assert platform.update_member_status(LIST_ID, "A@example.org", "unsubscribed") is None
    assert fake_mailchimp.lists[LIST_ID].members[subscriber_hash("a@example.org")]["status"] == "unsubscribed"
    assert "404" in platform.update_member_status(LIST_ID, "nobody@example.org", "unsubscribed")


def test_more_than_500_addresses_is_refused_by_mailchimp(fake_mailchimp):
    url = f"{fake_mailchimp.base_url}/lists/{LIST_ID}/segments"
    auth = ("anystring", fake_mailchimp.api_key)
    segment = requests.post(url, json={"name": "t", "static_segment": []}, auth=auth).json()
    answer = requests.post(f"{url}/{segment['id']}", auth=auth,
                           json={"members_to_add": [f"x{i}@example.org" for i in range(501)]})
    assert answer.status_code == 400
    assert answer.headers["Content-Type"].startswith("application/problem+json")
    assert set(answer.json()) >= {"type", "title", "status", "detail", "instance"}


def test_fake_checks_the_api_key(fake_mailchimp):
    answer = requests.get(f"{fake_mailchimp.base_url}/ping", auth=("anystring", "wrong"))
    assert answer.status_code == 401 and answer.json()["title"] == "API Key Invalid"


def test_client_errors_are_not_retried(platform, fake_mailchimp):
    with pytest.raises(ProviderError, match="404"):
        platform.update_segment(LIST_ID, "424242", add=["a@example.org"], remove=[])
    assert len(fake_mailchimp.calls) == 1


def test_api_key_never_appears_in_logs_or_messages(fake_mailchimp, caplog):
    config = Config().replace(mailchimp={"api_key": fake_mailchimp.api_key, "api_base_url": fake_mailchimp.base_url})
    platform = MailchimpPlatform(config.mailchimp, retry=RetryPolicy(max_attempts=2, base_delay=0.001))
    fake_mailchimp.inject(503, times=5)
    with caplog.at_level(logging.DEBUG), pytest.raises(ProviderError) as failure:
        platform.ensure_static_segment(LIST_ID, "x")
    assert fake_mailchimp.api_key not in caplog.text + str(failure.value) + repr(platform)
    assert fake_mailchimp.api_key not in str(config.redacted())


def test_missing_settings_are_named():
    with pytest.raises(ProviderError, match="mailchimp.api_key"):
        platform_factory(Config())
    with pytest.raises(ProviderError, match="mailchimp.server"):
        platform_factory(Config().replace(mailchimp={"api_key": "abc"}))
    with pytest.raises(ProviderError, match="no email platform named 'sendgrid'"):
        platform_factory(Config(), "sendgrid")
