"""Sync under trouble: 429 storms, bare 403, 5xx, refused addresses, hard failures and a killed process."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from mailseg.models import Audience, JobRun, SyncFailure
from mailseg.providers import AuthenticationError, ProviderError
from mailseg.sync import sync_engagement
from .factories import CLASSES, LIST_ID, batch_bodies, desired, email, fast_factory, mirrored_audience, recorded

BATCHES = "/segments/"


def run_sync(session, config, audience_id, **factory_options):
    audience = session.get(Audience, audience_id)
    return sync_engagement(session, audience, config, fast_factory(config, **factory_options))


def assert_platform_matches_desired(session, fake):
    for name in CLASSES:
        tag = f"mailseg:{name}"
        assert fake.segment_emails(LIST_ID, tag) == desired(session, name)
        assert recorded(session, tag) == desired(session, name)


def test_429_storm_and_bare_403_are_retried_until_done(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 40)
    fake_mailchimp.inject(429, times=12, retry_after="0", path_contains=BATCHES)
    fake_mailchimp.inject(403, times=3, bare=True, path_contains=BATCHES)
    report = run_sync(session, mailchimp_config.replace(sync={"batch_size": 5}), audience_id)
    assert_platform_matches_desired(session, fake_mailchimp)
    assert report.calls.retries == 15
    assert [c.status for c in fake_mailchimp.calls].count(429) == 12


def test_retry_after_is_honoured(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 4)
    fake_mailchimp.inject(429, times=1, retry_after="1", path_contains=BATCHES)
    started = time.monotonic()
    run_sync(session, mailchimp_config, audience_id)
    assert time.monotonic() - started >= 1.0
    assert_platform_matches_desired(session, fake_mailchimp)


def test_server_errors_are_retried(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 20)
    fake_mailchimp.inject(500, times=3, path_contains=BATCHES)
    fake_mailchimp.inject(503, times=2)
    report = run_sync(session, mailchimp_config, audience_id)
    assert report.calls.retries == 5
    assert_platform_matches_desired(session, fake_mailchimp)


def test_persistent_server_errors_fail_the_run_and_keep_confirmed_batches(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 40)
    fake_mailchimp.inject(500, times=1000, path_contains=BATCHES, after=3)
    config = mailchimp_config.replace(sync={"batch_size": 5})
    with pytest.raises(ProviderError, match="500"):
        run_sync(session, config, audience_id, max_attempts=3)
    run = session.scalars(select(JobRun).where(JobRun.job == "sync")).one()
    assert run.status == "failed" and "500" in run.error
    assert sum(t["added"] for t in run.summary["tags"].values()) == 15  # three batches went through
    for name in CLASSES:  # recorded state is exactly what the platform holds
        assert recorded(session, f"mailseg:{name}") == fake_mailchimp.segment_emails(LIST_ID, f"mailseg:{name}")
    fake_mailchimp.faults.clear()
    sent_before = len(batch_bodies(fake_mailchimp))
    run_sync(session, config, audience_id)
    assert len(batch_bodies(fake_mailchimp)) - sent_before == 8 - 3
    assert_platform_matches_desired(session, fake_mailchimp)


def test_401_midway_stops_with_state_equal_to_the_platform(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 40)
    fake_mailchimp.inject(401, times=1000, path_contains=BATCHES, after=4)
    with pytest.raises(AuthenticationError, match="rejected the API key"):
        run_sync(session, mailchimp_config.replace(sync={"batch_size": 5}), audience_id)
    for name in CLASSES:
        assert recorded(session, f"mailseg:{name}") == fake_mailchimp.segment_emails(LIST_ID, f"mailseg:{name}")
    assert sum(len(recorded(session, f"mailseg:{n}")) for n in CLASSES) == 20


def test_refused_addresses_are_recorded_reported_and_not_retried_forever(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 12, on_platform=False)
    fake_mailchimp.add_members(LIST_ID, [email(i) for i in range(12) if i not in (0, 4)])  # two actives missing
    config = mailchimp_config.replace(sync={"address_attempts": 2})
    report = run_sync(session, config, audience_id)
    active = report.tags["mailseg:active"]
    assert (active.added, active.failed) == (1, 2)
    assert {e for e, _ in active.failures} == {email(0), email(4)}
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:active") == {email(8)}
    assert recorded(session, "mailseg:active") == {email(8)}
    assert len(session.scalars(select(SyncFailure)).all()) == 2
    run = session.scalars(select(JobRun).order_by(JobRun.id.desc())).first()
    assert run.summary["tags"]["mailseg:active"]["failed"] == 2

    second = run_sync(session, config, audience_id)  # retried once more...
    assert second.tags["mailseg:active"].failed == 2
    assert {f.attempts for f in session.scalars(select(SyncFailure))} == {2}
    before = len(fake_mailchimp.calls)
    third = run_sync(session, config, audience_id)  # ...then skipped, still reported
    assert [c for c in fake_mailchimp.calls[before:] if c.is_write] == []
    assert third.tags["mailseg:active"].skipped == 2

    # once the platform has the addresses (seen by a pull), they are sent again
    from mailseg.providers.mailchimp import MailchimpPlatform
    from mailseg.sync.pull import pull_audience

    fake_mailchimp.add_members(LIST_ID, [email(0), email(4)])
    pull_audience(session, session.get(Audience, audience_id), config, MailchimpPlatform(config.mailchimp))
    run_sync(session, config, audience_id)
    assert_platform_matches_desired(session, fake_mailchimp)


def test_killed_sync_resumes_without_resending_confirmed_batches(session, db_url, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 400)
    fake_mailchimp.write_delay = 0.05
    env = {**os.environ, "MAILSEG_DATABASE_URL": db_url, "MAILSEG_MAILCHIMP_API_KEY": fake_mailchimp.api_key,
           "MAILSEG_MAILCHIMP_API_BASE_URL": fake_mailchimp.base_url, "MAILSEG_MAILCHIMP_LIST_ID": LIST_ID,
           "MAILSEG_SYNC_BATCH_SIZE": "10", "MAILSEG_MAILCHIMP_MAX_CONNECTIONS": "2"}
    mailseg = Path(sys.executable).with_name("mailseg")
    process = subprocess.Popen([str(mailseg), "sync"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 30
    while len(fake_mailchimp.writes(BATCHES)) < 12 and time.monotonic() < deadline:
        time.sleep(0.01)
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert len(fake_mailchimp.writes(BATCHES)) < 40, "the sync finished before it could be killed"

    session.expire_all()
    confirmed = {name: recorded(session, f"mailseg:{name}") for name in CLASSES}
    for name in CLASSES:  # recorded state never claims more than the platform holds...
        assert confirmed[name] <= fake_mailchimp.segment_emails(LIST_ID, f"mailseg:{name}")
    held = sum(len(fake_mailchimp.segment_emails(LIST_ID, f"mailseg:{n}")) for n in CLASSES)
    assert held - sum(map(len, confirmed.values())) <= 4 * 10  # ...and lags it by at most the batches in flight
    assert sum(map(len, confirmed.values())) >= 40

    fake_mailchimp.write_delay = 0.0
    before = len(fake_mailchimp.calls)
    run_sync(session, mailchimp_config.replace(sync={"batch_size": 10}), audience_id)
    resent = {e for body in batch_bodies(fake_mailchimp, before) for e in body["members_to_add"]}
    assert not resent & set().union(*confirmed.values())
    assert_platform_matches_desired(session, fake_mailchimp)
