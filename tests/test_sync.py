"""`mailseg sync` against the fake Mailchimp: full, incremental, no-op, exclusive moves, dry run."""

from __future__ import annotations

import math

from sqlalchemy import select

from mailseg.cli.runtime import Runtime
from mailseg.models import JobRun, SyncSegment
from mailseg.sync import sync_engagement
from .factories import CLASSES, LIST_ID, batch_bodies, desired, email, fast_factory, mirrored_audience, recorded, set_class


def small_batches(config, size: int = 5):
    return config.replace(sync={"batch_size": size})


def run_sync(session, config, audience_id):
    from mailseg.models import Audience

    return sync_engagement(session, session.get(Audience, audience_id), config, fast_factory(config))


def test_full_sync_mirrors_each_class_as_a_tag_in_batches(session, mailchimp_config, fake_mailchimp):
    config = small_batches(mailchimp_config)
    audience_id = mirrored_audience(session, fake_mailchimp, 40)
    report = run_sync(session, config, audience_id)
    for name in CLASSES:
        tag = f"mailseg:{name}"
        assert fake_mailchimp.segment_emails(LIST_ID, tag) == desired(session, name)
        assert recorded(session, tag) == desired(session, name)
        assert report.tags[tag].added == 10
    # 10 members per tag in batches of 5: two bulk calls per tag, no call per member
    assert len(fake_mailchimp.writes("/segments/")) == 4 * math.ceil(10 / 5)
    assert len(fake_mailchimp.writes("/segments")) == 4 + 4 * 2  # with the 4 tag creations
    assert all(len(body["members_to_add"]) <= 5 for body in batch_bodies(fake_mailchimp))
    run = session.scalars(select(JobRun).where(JobRun.job == "sync")).one()
    assert run.status == "succeeded" and run.finished_at is not None
    assert run.summary["tags"]["mailseg:active"] == {"added": 10, "removed": 0, "failed": 0, "skipped": 0,
                                                     "failures": []}


def test_second_sync_without_changes_makes_no_write_calls(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 20)
    run_sync(session, mailchimp_config, audience_id)
    before = len(fake_mailchimp.calls)
    report = run_sync(session, mailchimp_config, audience_id)
    assert [c for c in fake_mailchimp.calls[before:] if c.is_write] == []
    assert report.calls.writes == 0 and report.batches == 0


def test_class_move_removes_the_old_tag_and_adds_the_new_one_only(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 40)
    run_sync(session, mailchimp_config, audience_id)
    moved = [email(2), email(6)]  # inactive -> active
    set_class(session, moved, "active")
    before = len(fake_mailchimp.calls)
    report = run_sync(session, mailchimp_config, audience_id)
    bodies = batch_bodies(fake_mailchimp, before)
    assert sorted(e for b in bodies for e in b["members_to_add"]) == moved
    assert sorted(e for b in bodies for e in b["members_to_remove"]) == moved
    assert len(bodies) == 2  # one call for the tag that gains, one for the tag that loses
    assert set(moved) <= fake_mailchimp.segment_emails(LIST_ID, "mailseg:active")
    assert not set(moved) & fake_mailchimp.segment_emails(LIST_ID, "mailseg:inactive")
    tags_of = {m["email_address"]: [t["name"] for t in fake_mailchimp._member_out(
        fake_mailchimp.lists[LIST_ID], m)["tags"]] for m in fake_mailchimp.lists[LIST_ID].members.values()}
    assert all(len(tags) == 1 for tags in tags_of.values())  # exclusive membership
    assert report.tags["mailseg:active"].added == 2 and report.tags["mailseg:inactive"].removed == 2


def test_unsubscribed_subscribers_leave_their_tag(session, mailchimp_config, fake_mailchimp):
    from sqlalchemy import update

    from mailseg.models import Subscriber

    audience_id = mirrored_audience(session, fake_mailchimp, 8)
    run_sync(session, mailchimp_config, audience_id)
    session.execute(update(Subscriber).where(Subscriber.email == email(0)).values(status="unsubscribed"))
    session.commit()
    run_sync(session, mailchimp_config, audience_id)
    assert email(0) not in fake_mailchimp.segment_emails(LIST_ID, "mailseg:active")


def test_existing_tag_on_the_platform_is_adopted_with_its_members(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 8)
    from mailseg.providers.mailchimp import MailchimpPlatform

    platform = MailchimpPlatform(mailchimp_config.mailchimp)
    segment = platform.ensure_static_segment(LIST_ID, "mailseg:active")
    platform.update_segment(LIST_ID, segment.id, add=[email(1), email(0)], remove=[])  # email(1) is semi_active
    run_sync(session, mailchimp_config, audience_id)
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:active") == desired(session, "active")
    assert len([s for s in fake_mailchimp.lists[LIST_ID].segments.values() if s["name"] == "mailseg:active"]) == 1


def cli_invoke(config, database, *args):
    from click.testing import CliRunner

    from mailseg.cli import main

    return CliRunner().invoke(main, list(args), obj=Runtime(_config=config, _database=database),
                              catch_exceptions=False)


def test_dry_run_prints_the_plan_and_writes_nothing(session, database, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 12)
    run_sync(session, mailchimp_config, audience_id)
    set_class(session, [email(0)], "inactive")
    calls_before = len(fake_mailchimp.calls)
    runs_before = session.scalar(select(JobRun.id).order_by(JobRun.id.desc()).limit(1))
    result = cli_invoke(mailchimp_config, database, "sync", "--dry-run")
    assert result.exit_code == 0, result.output
    assert "mailseg:active: would add 0, remove 1" in result.output
    assert "mailseg:inactive: would add 1, remove 0" in result.output
    assert email(0) in result.output
    assert fake_mailchimp.calls[calls_before:] == []
    assert session.scalar(select(JobRun.id).order_by(JobRun.id.desc()).limit(1)) == runs_before


def test_dry_run_before_any_sync_creates_nothing(session, database, mailchimp_config, fake_mailchimp):
    mirrored_audience(session, fake_mailchimp, 8)
    result = cli_invoke(mailchimp_config, database, "sync", "--dry-run")
    assert "mailseg:new: would add 2, remove 0" in result.output
    assert fake_mailchimp.calls == []
    assert session.scalars(select(SyncSegment)).all() == []


def test_sync_command_prints_a_summary(session, database, mailchimp_config, fake_mailchimp):
    mirrored_audience(session, fake_mailchimp, 8)
    result = cli_invoke(mailchimp_config, database, "sync")
    assert result.exit_code == 0, result.output
    assert "mailseg:active: +2 -0, 0 refused, 0 skipped" in result.output
    assert "API calls" in result.output


def test_wrong_api_key_stops_the_run_with_a_clear_message(session, database, mailchimp_config, fake_mailchimp):
    mirrored_audience(session, fake_mailchimp, 8)
    wrong = mailchimp_config.replace(mailchimp={"api_key": "ffffffffffffffffffffffffffffffff-us21"})
    result = cli_invoke(wrong, database, "sync")
    assert result.exit_code == 3
    assert "Mailchimp rejected the API key (401" in result.output
    assert "ffffffff" not in result.output
    run = session.scalars(select(JobRun).where(JobRun.job == "sync")).one()
    assert run.status == "failed" and "401" in run.error
    assert len(fake_mailchimp.calls) == 1  # nothing after the refusal


def test_a_tag_deleted_on_mailchimp_is_made_again_with_all_its_members(session, mailchimp_config, fake_mailchimp):
    audience_id = mirrored_audience(session, fake_mailchimp, 12)
    run_sync(session, mailchimp_config, audience_id)
    active = fake_mailchimp.segment_emails(LIST_ID, "mailseg:active")
    assert len(active) == 3
    with fake_mailchimp.lock:  # a marketer deletes the tag in Mailchimp
        fake_list = fake_mailchimp.lists[LIST_ID]
        (seg_id,) = [i for i, seg in fake_list.segments.items() if seg["name"] == "mailseg:active"]
        del fake_list.segments[seg_id], fake_list.segment_members[seg_id]
    report = run_sync(session, mailchimp_config, audience_id)
    assert fake_mailchimp.segment_emails(LIST_ID, "mailseg:active") == active
    assert report.tags["mailseg:active"].added == 3 and report.tags["mailseg:inactive"].added == 0
    assert recorded(session, "mailseg:active") == active
