"""One-click surveys: GET records nothing, POST records once, scanners ignored, Mailchimp *|UNIQID|* links,
NPS and CSI arithmetic, the quarterly report and its splits, the CLI, and pull storing unique_email_id."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from decimal import Decimal

import pytest
from sqlalchemy import func, select

from mailseg.models import Subscriber, SubscriberValue, SurveyAnswer, SurveyResponse
from mailseg.surveys import add_survey, record_answer, scores, subscriber_links, survey_report
from mailseg.surveys.links import mailchimp_links

from . import factories

UTC = timezone.utc
PERSON = {"User-Agent": "Mozilla/5.0 (Windows NT 10.0; Win64; x64) Firefox/128.0"}


@pytest.mark.parametrize("counts,nps,csi", [
    ({"10": 5, "9": 3, "8": 2, "7": 0, "5": 1, "2": 2, "0": 1}, round(100 * (8 - 4) / 14, 1), 10 / 2),
    ({"9": 1, "10": 1}, 100.0, None),  # no 1-3 answer: CSI undefined
    ({"0": 2, "6": 2}, -100.0, None),  # 0 is a detractor but not in CSI's 1-3
    ({"7": 3, "8": 1, "3": 1}, -20.0, 1.0),
    ({}, None, None),
])
def test_nps_and_csi_arithmetic(counts, nps, csi):
    result = scores(counts)
    assert result.nps == nps and result.csi == csi
    assert result.answers == sum(counts.values())


@pytest.fixture
def survey_setup(session, config):
    audience = factories.make_audience(session, "main", list_id="list0001")
    ann = factories.make_subscriber(session, audience, "ann@example.com", unique_email_id="abc123")
    survey = add_survey(session, audience.id, "recommend", "Would you recommend us?", None)
    session.commit()
    links = subscriber_links("http://x", config.tracking.secret, survey, ann.id)
    return survey, ann, {answer: url.removeprefix("http://x") for answer, url in links.items()}


def _answers(session) -> list[tuple[int, str]]:
    session.expire_all()
    return [tuple(r) for r in session.execute(select(SurveyAnswer.subscriber_id, SurveyAnswer.answer)
                                              .order_by(SurveyAnswer.id))]


def test_get_records_nothing_and_post_records_once(client, session, survey_setup):
    survey, ann, links = survey_setup
    page = client.get(links["9"], headers=PERSON)
    assert page.status_code == 200 and b'value="9" checked' in page.data
    assert client.head(links["9"]).status_code == 200
    assert _answers(session) == []
    assert client.post(links["9"], data={"answer": "9"}, headers=PERSON).status_code == 200
    assert client.post(links["9"], data={"answer": "9"}, headers=PERSON).status_code == 200  # idempotent
    assert _answers(session) == [(ann.id, "9")]
    client.post(links["9"], data={"answer": "10"}, headers=PERSON)  # changed their mind on the page
    assert _answers(session) == [(ann.id, "9"), (ann.id, "10")]  # history keeps both
    assert session.get(SurveyResponse, (survey.id, ann.id)).answer == "10"
    assert session.get(Subscriber, ann.id).tags == ["survey:recommend:10"]


def test_scanners_and_bad_links_record_nothing(client, session, survey_setup, config):
    _, _, links = survey_setup
    scanner = client.post(links["3"], data={"answer": "3"}, headers={"User-Agent": "Mimecast URL Protect"})
    assert scanner.status_code == 202
    tampered = links["3"][:-2] + ("AA" if not links["3"].endswith("AA") else "BB")
    assert client.post(tampered, data={"answer": "3"}, headers=PERSON).status_code == 404
    assert client.post(links["3"], data={"answer": "11"}, headers=PERSON).status_code == 400
    assert _answers(session) == []


def test_mailchimp_uniqid_links(client, session, survey_setup):
    survey, ann, _ = survey_setup
    url = mailchimp_links("http://x", survey)["8"].removeprefix("http://x")
    assert url.endswith("?u=*|UNIQID|*")
    mine = url.replace("*|UNIQID|*", "abc123")
    assert client.get(mine, headers=PERSON).status_code == 200 and _answers(session) == []
    assert client.get(url, headers=PERSON).status_code == 404  # the merge tag was not filled in
    assert client.post(mine.replace("abc123", "nobody"), headers=PERSON).status_code == 404
    assert client.post(mine, headers=PERSON).status_code == 200
    assert _answers(session) == [(ann.id, "8")]


def test_quarterly_report_counts_each_subscriber_once_per_quarter(session):
    audience = factories.make_audience(session, "main", list_id=None)
    survey = add_survey(session, audience.id, "nps", "Recommend?", None)
    people = [factories.make_subscriber(session, audience, f"p{i}@x.org") for i in range(4)]
    plan = [(0, "10", datetime(2026, 1, 5)), (0, "2", datetime(2026, 2, 5)),  # p0's Q1 answer: 2 (latest)
            (1, "9", datetime(2026, 3, 31, 23)), (2, "1", datetime(2026, 4, 1)), (0, "8", datetime(2026, 5, 1)),
            (3, "0", datetime(2026, 5, 2))]
    for who, answer, at in plan:
        record_answer(session, survey, people[who].id, answer, at=at.replace(tzinfo=UTC))
    session.commit()
    report = survey_report(session, survey)
    assert report.quarters == {"2026-Q1": {"2": 1, "9": 1}, "2026-Q2": {"1": 1, "8": 1, "0": 1}}
    assert list(report.quarters) == ["2026-Q1", "2026-Q2"]
    assert report.quarter_scores["2026-Q1"].nps == 0.0 and report.quarter_scores["2026-Q1"].csi == 1.0
    assert report.quarter_scores["2026-Q2"].nps == round(-200 / 3, 1) and report.quarter_scores["2026-Q2"].csi == 1.0
    assert report.current == {"8": 1, "9": 1, "1": 1, "0": 1}
    assert session.scalar(select(func.count()).select_from(SurveyAnswer)) == 6


def _at(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_splits_are_per_quarter_with_the_class_and_segment_at_the_answer(session):
    """Each answer counts under the class and RFM segment its subscriber had when answering (class and
    value history, changes at or before the answer), per quarter, across the quarter boundaries."""
    from mailseg.models import ClassChange, JobRun, ValueChange

    audience = factories.make_audience(session, "main", list_id=None)
    survey = add_survey(session, audience.id, "nps", "Recommend?", None)
    p = [factories.make_subscriber(session, audience, f"p{i}@x.org") for i in range(6)]
    classes = [(0, "active", _at(2025, 12, 1)), (0, "inactive", _at(2026, 4, 1)),  # moved at the boundary
               (1, "semi_active", _at(2026, 1, 1)), (2, "active", _at(2026, 4, 15)),  # p2 unclassified until 15 Apr
               (3, "new", _at(2026, 1, 1)), (4, "active", _at(2026, 1, 1)), (5, "active", _at(2026, 1, 1))]
    for who, to, at in classes:
        session.add(ClassChange(audience_id=audience.id, subscriber_id=p[who].id, to_class=to, changed_at=at))
    session.add(JobRun(job="value", audience_id=audience.id, status="succeeded", as_of=_at(2026, 1, 1)))
    for to, at in (("champions", _at(2026, 1, 1)), ("at_risk", _at(2026, 5, 1))):
        session.add(ValueChange(audience_id=audience.id, subscriber_id=p[0].id, family="rfm", to_value=to,
                                changed_at=at))
    session.add(SubscriberValue(subscriber_id=p[1].id, audience_id=audience.id, as_of=_at(2026, 6, 1),
                                frequency=9, monetary=Decimal("900"), rfm_segment="champions"))  # now: not then
    plan = [(3, "7", _at(2025, 12, 31, 23, 59)),  # 2025-Q4: before any classification or value run
            (0, "10", _at(2026, 1, 5)), (0, "2", _at(2026, 2, 5)), (1, "9", _at(2026, 3, 31, 23, 59, 59)),
            (2, "1", _at(2026, 4, 1)), (0, "8", _at(2026, 5, 1)), (3, "0", _at(2026, 5, 2)),
            (4, "3", _at(2026, 6, 30, 23, 59)), (5, "9", _at(2026, 6, 1)), (4, "10", _at(2026, 7, 1))]
    for who, answer, at in plan:
        record_answer(session, survey, p[who].id, answer, at=at)
    session.commit()
    report = survey_report(session, survey)
    assert list(report.quarters) == ["2025-Q4", "2026-Q1", "2026-Q2", "2026-Q3"]
    q2 = report.quarter_scores["2026-Q2"]  # 8, 1, 0, 3, 9: promoters 1, detractors 3; 8-10: 2, 1-3: 2
    assert (q2.answers, q2.nps, q2.csi) == (5, -40.0, 1.0)
    assert report.quarter_scores["2026-Q3"] == scores({"10": 1})

    def split(groups):
        return {g: (s.answers, s.nps, s.csi) for g, s in groups.items()}

    assert split(report.by_class["2025-Q4"]) == {"none": (1, 0.0, None)}  # 7: neither promoter nor detractor
    assert split(report.by_class["2026-Q1"]) == {"active": (1, -100.0, 0.0), "semi_active": (1, 100.0, None)}
    assert split(report.by_class["2026-Q2"]) == {
        "active": (2, 0.0, 1.0),  # p4's 3 and p5's 9
        "inactive": (1, 0.0, None),  # p0's 8, given the day after the move (at the boundary)
        "new": (1, -100.0, None), "none": (1, -100.0, 0.0)}  # p2's 1: classified only on 15 Apr
    assert split(report.by_class["2026-Q3"]) == {"active": (1, 100.0, None)}
    assert split(report.by_rfm_segment["2025-Q4"]) == {"none": (1, 0.0, None)}  # no value run yet
    assert split(report.by_rfm_segment["2026-Q1"]) == {"champions": (1, -100.0, 0.0), "prospect": (1, 100.0, None)}
    assert split(report.by_rfm_segment["2026-Q2"]) == {
        "at_risk": (1, 0.0, None),  # the change at 1 May 00:00 counts for the answer at that moment
        "prospect": (4, -50.0, 0.5)}  # 1, 0, 3, 9: promoters 1, detractors 3; 8-10: 1, 1-3: 2
    assert report.split_groups("by_class") == ["active", "inactive", "new", "none", "semi_active"]
    # The splits add up to the quarter's answers.
    for quarter, counts in report.quarters.items():
        for groups in (report.by_class[quarter], report.by_rfm_segment[quarter]):
            assert sum(s.answers for s in groups.values()) == sum(counts.values())


def test_choice_survey_splits_count_answers(session):
    from mailseg.models import ClassChange

    audience = factories.make_audience(session, "main", list_id=None)
    survey = add_survey(session, audience.id, "topic", "Topic?", ["shoes", "socks"])
    ann, bob = (factories.make_subscriber(session, audience, f"{n}@x.org") for n in ("ann", "bob"))
    session.add(ClassChange(audience_id=audience.id, subscriber_id=ann.id, to_class="active", changed_at=_at(2026, 1, 1)))
    for who, answer, at in ((ann, "shoes", _at(2026, 2, 1)), (bob, "socks", _at(2026, 2, 2)),
                            (ann, "socks", _at(2026, 4, 2))):
        record_answer(session, survey, who.id, answer, at=at)
    session.commit()
    report = survey_report(session, survey)
    assert report.quarter_scores == {} and report.current_scores is None
    assert report.by_class == {"2026-Q1": {"active": {"shoes": 1}, "none": {"socks": 1}},
                               "2026-Q2": {"active": {"socks": 1}}}
    assert report.by_rfm_segment == {"2026-Q1": {"none": {"shoes": 1, "socks": 1}}, "2026-Q2": {"none": {"socks": 1}}}


def test_choice_surveys_and_validation(session):
    audience = factories.make_audience(session, "main", list_id=None)
    from mailseg.segments import RuleError

    with pytest.raises(RuleError) as caught:
        add_survey(session, audience.id, "Topic", " ", ["a"])
    assert caught.value.errors[0].startswith("name:")
    with pytest.raises(RuleError) as caught:
        add_survey(session, audience.id, "topic", " ", ["a", "A"])
    assert caught.value.errors == ["question: must not be empty", "answers: two answers are the same"]
    survey = add_survey(session, audience.id, "topic", "What do you want?", ["shoes", "socks"])
    assert survey.kind == "choice" and survey.answers == ["shoes", "socks"]


def test_cli_surveys(cli, session):
    audience = factories.make_audience(session, "main", list_id=None)
    factories.make_subscriber(session, audience, "ann@example.com")
    session.commit()
    assert cli("surveys", "add", "nps", "--question", "Would you recommend us?").exit_code == 0
    assert cli("surveys", "add", "topic", "--question", "Topic?", "--answer", "shoes", "--answer", "socks",
               "--sync").exit_code == 0
    assert "shoes, socks" in cli("surveys", "list").output
    links = cli("surveys", "links", "topic").output
    assert "/s/m/2/shoes?u=*|UNIQID|*" in links
    signed = cli("surveys", "links", "nps", "--email", "ann@example.com").output
    assert signed.count("http://127.0.0.1:5000/s/") == 11
    assert cli("surveys", "links", "nope").exit_code == 1
    assert "NPS" in cli("surveys", "report", "nps").output


def test_cli_report_shows_quarters_and_splits(cli, session):
    from mailseg.models import ClassChange

    audience = factories.make_audience(session, "main", list_id=None)
    survey = add_survey(session, audience.id, "nps", "Recommend?", None)
    ann = factories.make_subscriber(session, audience, "ann@example.com")
    session.add(ClassChange(audience_id=audience.id, subscriber_id=ann.id, to_class="active", changed_at=_at(2026, 1, 1)))
    for answer, at in (("9", _at(2025, 11, 1)), ("2", _at(2026, 2, 1)), ("10", _at(2026, 4, 1))):
        record_answer(session, survey, ann.id, answer, at=at)
    session.commit()
    out = cli("surveys", "report", "nps").output
    assert "2025-Q4" in out and "2026-Q1" in out and "2026-Q2" in out
    assert "by engagement class" in out and "by RFM segment" in out
    assert "-100 / 0 (1)" in out  # Q1 as active: one detractor, a 1-3 answer and no 8-10
    last = cli("surveys", "report", "nps", "--quarters", "1").output
    assert "2026-Q2" in last and "2025-Q4" not in last and "2026-Q1" not in last
    data = json.loads(cli("surveys", "report", "nps", "--json").output)
    assert data["by_class"]["2025-Q4"]["none"]["nps"] == 100.0
    assert data["by_class"]["2026-Q1"]["active"] == {"answers": 1, "nps": -100.0, "csi": 0.0, "promoters": 0,
                                                    "detractors": 1, "satisfied": 0, "dissatisfied": 1}


def test_pull_stores_unique_email_id(session, mailchimp_config, fake_mailchimp):
    from .test_pull import pull, seed

    seed(fake_mailchimp)
    pull(session, mailchimp_config)
    stored = dict(session.execute(select(Subscriber.email, Subscriber.unique_email_id)).all())
    expected = {m["email_address"]: m["unique_email_id"] for m in fake_mailchimp.lists["list0001"].members.values()}
    assert stored["ann@example.org"] == expected["ann@example.org"] and stored["ann@example.org"]
