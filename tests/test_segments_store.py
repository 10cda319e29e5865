"""Stored segments: membership and join/leave history only on change, references and cycles, removal,
the CLI, presets, the scheduled step and the mirroring of synced segments as tags."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select, update

from mailseg.config import EngagementConfig
from mailseg.models import (Event, JobRun, RetiredTag, Segment, SegmentChange, SegmentMember, SegmentSize, Subscriber,
                            Survey, SurveyResponse)
from mailseg.segments import RuleError, add_segment, get_segment, preview, refresh_segment, remove_segment, update_segment
from mailseg.segments.presets import install_order, loyalty_ladder

from . import factories
from .factories import AS_OF

SETTINGS = EngagementConfig()
CITY_KYIV = {"field": "merge.city", "op": "=", "value": "kyiv"}


def _people(session, n: int = 4, city: str = "Kyiv"):
    audience = factories.make_audience(session, "main", list_id="list0001")
    subs = [factories.make_subscriber(session, audience, f"p{i}@example.com", merge_fields={"city": city if i % 2 else "Lviv"})
            for i in range(n)]
    session.commit()
    return audience.id, subs


def _count(session, model, **where) -> int:
    stmt = select(func.count()).select_from(model)
    for key, value in where.items():
        stmt = stmt.where(getattr(model, key) == value)
    return session.scalar(stmt)


def test_refresh_records_joins_and_leaves_only_on_change(session):
    audience_id, subs = _people(session)
    segment = add_segment(session, audience_id, "kyiv", CITY_KYIV)
    first = refresh_segment(session, segment, SETTINGS, as_of=AS_OF)
    session.commit()
    assert (first.members, first.joined, first.left) == (2, 2, 0)
    assert _count(session, SegmentChange) == 2 and _count(session, SegmentSize) == 1
    again = refresh_segment(session, segment, SETTINGS, as_of=AS_OF + timedelta(days=1))
    session.commit()
    assert (again.joined, again.left) == (0, 0)
    assert _count(session, SegmentChange) == 2 and _count(session, SegmentSize) == 1  # nothing written
    session.execute(update(Subscriber).where(Subscriber.id == subs[1].id).values(merge_fields={"city": "Odesa"}))
    session.execute(update(Subscriber).where(Subscriber.id == subs[0].id).values(merge_fields={"city": "KYIV"}))
    later = refresh_segment(session, segment, SETTINGS, as_of=AS_OF + timedelta(days=2))
    session.commit()
    assert (later.members, later.joined, later.left) == (2, 1, 1)
    changes = session.execute(select(SegmentChange.subscriber_id, SegmentChange.joined)
                              .where(SegmentChange.changed_at == AS_OF + timedelta(days=2))).all()
    assert sorted(changes) == sorted([(subs[0].id, True), (subs[1].id, False)])
    members = dict(session.execute(select(SegmentMember.subscriber_id, SegmentMember.joined_at)).all())
    assert members == {subs[0].id: AS_OF + timedelta(days=2), subs[3].id: AS_OF}
    assert get_segment(session, audience_id, "kyiv").member_count == 2
    assert _count(session, SegmentSize) == 2
    # Membership and history carry no foreign key (migration 0017_surveys_b): removing deletes them.
    remove_segment(session, audience_id, "kyiv")
    session.commit()
    assert _count(session, SegmentMember) == 0 and _count(session, SegmentChange) == 0
    assert _count(session, SegmentSize) == 0


def test_preview_counts_and_writes_nothing(session):
    audience_id, _ = _people(session, 6)
    result = preview(session, audience_id, CITY_KYIV, SETTINGS, as_of=AS_OF)
    assert result.count == 3 and result.sample == ["p1@example.com", "p3@example.com", "p5@example.com"]
    assert _count(session, SegmentChange) == 0 and _count(session, Segment) == 0


def test_segment_references_inline_the_other_rule_and_cycles_are_refused(session):
    audience_id, subs = _people(session)
    add_segment(session, audience_id, "kyiv", CITY_KYIV)
    odd = add_segment(session, audience_id, "kyiv-one", {"all": [
        {"field": "segment.kyiv", "op": "is_member"}, {"field": "email", "op": "starts_with", "value": "p1"}]})
    assert refresh_segment(session, odd, SETTINGS, as_of=AS_OF).members == 1
    with pytest.raises(RuleError) as caught:
        update_segment(session, audience_id, "kyiv", rule={"field": "segment.kyiv-one", "op": "is_not_member"})
    assert caught.value.errors == ["field: in segment 'kyiv-one': all[0].field: segment 'kyiv' refers back to "
                                   "itself (kyiv -> kyiv-one -> kyiv)"]
    with pytest.raises(RuleError, match="refers back to itself"):
        add_segment(session, audience_id, "self", {"field": "segment.self", "op": "is_member"})
    with pytest.raises(RuleError, match="used by segment"):
        remove_segment(session, audience_id, "kyiv")


def test_names_and_duplicates_are_refused(session):
    audience_id, _ = _people(session)
    with pytest.raises(RuleError, match="lower-case letters"):
        add_segment(session, audience_id, "Big Spenders", CITY_KYIV)
    add_segment(session, audience_id, "kyiv", CITY_KYIV)
    with pytest.raises(RuleError, match="exists already"):
        add_segment(session, audience_id, "kyiv", CITY_KYIV)


def test_loyalty_ladder_puts_each_customer_on_one_step(session):
    audience = factories.make_audience(session, "main", list_id=None)
    survey = Survey(audience_id=audience.id, name="nps", question="?", kind="scale", answers=[str(i) for i in range(11)])
    session.add(survey)
    people = {}
    for key, orders, cls, answer in [("prospect", 0, "new", None), ("one", 1, "active", None),
                                     ("client", 3, "inactive", None), ("supporter", 2, "semi_active", "8"),
                                     ("advocate", 2, "active", "10")]:
        sub = factories.make_subscriber(session, audience, f"{key}@example.com", engagement_class=cls)
        people[key] = sub.id
        for n in range(orders):
            session.add(Event(subscriber_id=sub.id, type="purchase", occurred_at=AS_OF - timedelta(days=10 * n + 1),
                              source="import", dedupe_key=uuid.uuid4().hex))
        if answer:
            session.flush()
            session.add(SurveyResponse(survey_id=survey.id, subscriber_id=sub.id, answer=answer, answered_at=AS_OF))
    session.flush()
    steps = loyalty_ladder("nps", "scale")
    assert [s.name for s in steps] == ["ladder-prospect", "ladder-purchaser", "ladder-client", "ladder-supporter",
                                       "ladder-advocate"]
    found = {}
    for preset in install_order(steps):
        segment = add_segment(session, audience.id, preset.name, preset.rule)
        refresh_segment(session, segment, SETTINGS, as_of=AS_OF)
        found[preset.name] = set(session.scalars(select(SegmentMember.subscriber_id)
                                                 .where(SegmentMember.segment_id == segment.id)))
    assert found == {"ladder-prospect": {people["prospect"]}, "ladder-purchaser": {people["one"]},
                     "ladder-client": {people["client"]}, "ladder-supporter": {people["supporter"]},
                     "ladder-advocate": {people["advocate"]}}


def test_cli_segments_round_trip(cli, session, tmp_path):
    audience_id, _ = _people(session)
    rule = factories.write_file(tmp_path, "rule.json", json.dumps(CITY_KYIV))
    bad = factories.write_file(tmp_path, "bad.json", json.dumps({"all": [CITY_KYIV, {"field": "clv", "op": "contains",
                                                                                      "value": "1"}]}))
    failed = cli("segments", "add", "bad", "--rule-file", bad)
    assert failed.exit_code == 1
    assert "error: all[1].op: 'contains' does not apply to number field 'clv'" in failed.output
    assert cli("segments", "preview", "--rule-file", rule).output.startswith("2 subscriber(s) match")
    assert cli("segments", "add", "kyiv", "--rule-file", rule, "--sync").exit_code == 0
    refreshed = cli("segments", "refresh", "--as-of", "2026-08-31")
    assert "kyiv: 2 member(s), 2 joined, 0 left" in refreshed.output
    listed = cli("segments", "list").output
    assert "kyiv" in listed and "mailseg:seg:kyiv" in listed
    shown = cli("segments", "show", "kyiv").output
    assert "members: 2" in shown and '"field": "merge.city"' in shown
    exported = cli("export", "segment", "kyiv", "--format", "csv")
    assert exported.stdout.splitlines() == ["email,joined_at", "p1@example.com,2026-08-31T00:00:00Z",
                                            "p3@example.com,2026-08-31T00:00:00Z"]
    assert cli("segments", "show", "nope").exit_code == 1
    assert cli("segments", "remove", "kyiv").exit_code == 0
    session.expire_all()
    assert session.scalars(select(RetiredTag.tag)).all() == ["mailseg:seg:kyiv"]
    assert _count(session, Segment) == 0


def test_cli_installs_presets(cli, session):
    _people(session)
    result = cli("segments", "add", "--preset", "mailed-5-opened-none")
    assert result.exit_code == 0 and "mailed-5-opened-none" in result.output
    assert cli("segments", "add", "--preset", "loyalty-ladder", "--nps-survey", "ghost").exit_code == 1
    assert cli("segments", "add", "--preset", "loyalty-ladder").exit_code == 0
    assert cli("segments", "add", "--preset", "risk-group").exit_code == 0
    assert cli("segments", "add", "--preset", "unreliable", "--url-contains", "/shoes").exit_code == 0
    names = set(session.scalars(select(Segment.name)))
    assert names == {"mailed-5-opened-none", "ladder-prospect", "ladder-purchaser", "ladder-client",
                     "ladder-supporter", "risk-group", "unreliable"}


def test_scheduled_step_evaluates_with_the_chain_as_of(database, config, session):
    from mailseg.scheduler.jobs import segments_step

    audience_id, _ = _people(session)
    add_segment(session, audience_id, "kyiv", CITY_KYIV)
    session.commit()
    assert segments_step(database, config, audience_id, as_of=AS_OF)
    session.expire_all()
    segment = get_segment(session, audience_id, "kyiv")
    assert segment.member_count == 2 and segment.last_as_of == AS_OF
    run = session.scalars(select(JobRun).where(JobRun.job == "segments")).one()
    assert run.status == "succeeded" and run.summary["segments"]["kyiv"] == {"members": 2, "joined": 2, "left": 0}


def test_synced_segments_are_mirrored_and_removed_tags_emptied(session, mailchimp_config, fake_mailchimp):
    from mailseg.models import Audience
    from mailseg.sync import sync_engagement

    from .factories import fast_factory

    audience_id, subs = _people(session)
    fake_mailchimp.add_members("list0001", [s.email for s in subs])
    segment = add_segment(session, audience_id, "kyiv", CITY_KYIV, sync=True)
    add_segment(session, audience_id, "lviv", {"field": "merge.city", "op": "=", "value": "lviv"}, sync=True,
                tag="Lviv people")
    for s in session.scalars(select(Segment)):
        refresh_segment(session, s, SETTINGS, as_of=AS_OF)
    session.commit()
    audience = session.get(Audience, audience_id)
    sync_engagement(session, audience, mailchimp_config, fast_factory(mailchimp_config))
    assert fake_mailchimp.segment_emails("list0001", "mailseg:seg:kyiv") == {"p1@example.com", "p3@example.com"}
    assert fake_mailchimp.segment_emails("list0001", "Lviv people") == {"p0@example.com", "p2@example.com"}
    remove_segment(session, audience_id, segment.name)
    session.commit()
    sync_engagement(session, audience, mailchimp_config, fast_factory(mailchimp_config))
    assert fake_mailchimp.segment_emails("list0001", "mailseg:seg:kyiv") == set()
    assert session.scalars(select(RetiredTag)).all() == []
    assert fake_mailchimp.segment_emails("list0001", "Lviv people") == {"p0@example.com", "p2@example.com"}


def test_policies_target_or_exclude_a_segment(session, config):
    from mailseg.policies.frequency import eligible

    audience_id, subs = _people(session)
    for sub in session.scalars(select(Subscriber)):
        sub.engagement_class = "active"
    refresh_segment(session, add_segment(session, audience_id, "kyiv", CITY_KYIV), SETTINGS, as_of=AS_OF)
    session.commit()

    def eligible_ids(**frequency) -> set[int]:
        return set(session.scalars(eligible(audience_id, config.replace(frequency=frequency), AS_OF)))

    assert eligible_ids() == {s.id for s in subs}
    assert eligible_ids(segment="kyiv") == {subs[1].id, subs[3].id}
    assert eligible_ids(exclude_segment="kyiv") == {subs[0].id, subs[2].id}
    assert eligible_ids(segment="ghost") == set()
