"""Segments, surveys and sign-up forms in the panel (test client, both databases)."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from mailseg.models import Segment, SignupForm, Survey

ACTIVE = {"all": [{"field": "engagement_class", "op": "=", "value": "active"}]}


@pytest.mark.parametrize("path,status", [("/segments", 200), ("/surveys", 200), ("/segments/new", 404),
                                         ("/forms/new", 404)])
def test_pages_on_an_empty_database(admin, path, status):
    assert admin.get(path).status_code == status  # nothing to build on before there is an audience


def test_build_save_and_see_members(admin, seeded, session):
    counted = admin.post("/segments/preview", json={"rule": ACTIVE})
    assert counted.json["count"] == 2
    assert counted.json["sample"] == ["anna.kovalenko@example.com", "olena.bondar@example.com"]
    bad = admin.post("/segments/preview", json={"rule": {"all": [{"field": "clv", "op": "contains", "value": "x"}]}})
    assert bad.status_code == 400 and bad.json["errors"][0].startswith("all[0].op: 'contains' does not apply")
    saved = admin.post("/segments/new", data={"name": "active-ones", "rule": json.dumps(ACTIVE), "sync": "on"})
    assert saved.status_code == 302 and saved.headers["Location"].endswith("/segments/active-ones")
    page = admin.get("/segments/active-ones")
    assert page.status_code == 200 and b"anna.kovalenko@example.com" in page.data and b"mailseg:seg:active-ones" in page.data
    assert b'id="size-series"' in page.data
    csv = admin.get("/segments/active-ones/members.csv").data.decode().splitlines()
    assert csv[0] == "email,joined_at" and len(csv) == 3
    assert b"active-ones" in admin.get("/segments").data
    assert admin.post("/segments/active-ones/refresh").status_code == 302
    assert admin.get("/segments/active-ones/edit").status_code == 200
    assert admin.post("/segments/active-ones/remove").status_code == 302
    assert session.scalars(select(Segment)).all() == []


def test_saving_a_bad_rule_shows_every_error(admin, seeded):
    page = admin.post("/segments/new", data={"name": "x", "rule": json.dumps({"any": [{"field": "nope"}]})})
    assert page.status_code == 400 and b"any[0].field: unknown field" in page.data
    page = admin.post("/segments/new", data={"name": "x", "rule": "{not json"})
    assert page.status_code == 400 and b"rule: not JSON" in page.data


def test_presets_are_starting_points(admin, seeded):
    page = admin.get("/segments/new?preset=mailed-5-opened-none")
    assert page.status_code == 200 and b"mailed-5-opened-none" in page.data and b'"event": "send"' in page.data


def test_viewers_look_but_do_not_change(viewer, seeded):
    assert viewer.get("/segments").status_code == 200
    assert viewer.get("/segments/new").status_code == 403
    assert viewer.post("/segments/new", data={"name": "x", "rule": "{}"}).status_code == 403
    assert viewer.get("/segments/ghost").status_code == 404


def test_surveys_and_forms_pages(admin, seeded, session):
    created = admin.post("/surveys", data={"name": "nps", "question": "Would you recommend us?", "kind": "scale"})
    assert created.status_code == 302
    assert admin.post("/surveys", data={"name": "nps", "question": "Again?", "kind": "scale"}).status_code == 400
    report = admin.get("/surveys/nps")
    assert report.status_code == 200 and b"*|UNIQID|*" in report.data
    assert session.scalars(select(Survey.name)).all() == ["nps"]
    form = {"name": "news", "title": "Our news", "consent_text": "I agree.", "ask_name": "on",
            "interests": "Trail = interest:trail\nRoad", "question_text": "", "question_answers": ""}
    assert admin.post("/forms/new", data=form).status_code == 302
    saved = session.scalars(select(SignupForm)).one()
    assert saved.interests == [{"label": "Trail", "tag": "interest:trail"}, {"label": "Road", "tag": "Road"}]
    listing = admin.get("/surveys").data
    assert b"/f/news?embed=1" in listing and b"Our news" in listing
    from markupsafe import escape

    from mailseg.forms import form_snippet

    assert any(str(escape(form_snippet(base, saved))).encode() in listing  # the snippet `mailseg forms snippet` prints
               for base in ("http://127.0.0.1:5000", "http://localhost"))
    assert admin.post("/forms/new", data={**form, "name": "Bad"}).status_code == 400
    assert admin.get("/forms/news/edit").status_code == 200


def test_survey_page_splits_each_quarter_by_the_class_when_answering(admin, seeded, session):
    """anna.kovalenko was 'new' 30 days ago and is 'active' now: her answer then counts under 'new'."""
    from datetime import datetime, timedelta, timezone

    from mailseg.surveys import get_survey, record_answer

    assert admin.post("/surveys", data={"name": "nps", "question": "Recommend?", "kind": "scale"}).status_code == 302
    survey = get_survey(session, seeded.audience_id, "nps")
    then = datetime.now(timezone.utc) - timedelta(days=30)
    record_answer(session, survey, seeded.ids["anna.kovalenko@example.com"], "10", at=then)
    record_answer(session, survey, seeded.ids["olena.bondar@example.com"], "2", at=then)
    session.commit()
    page = admin.get("/surveys/nps").data.decode()
    quarter = f"{then.year}-Q{(then.month - 1) // 3 + 1}"
    by_class = page[page.index('id="by_class"'):page.index('id="by_rfm_segment"')]
    assert f'<th scope="col" class="num">{quarter}</th>' in by_class
    assert '<th scope="row">new</th>' in by_class and '<th scope="row">active</th>' not in by_class
    assert '<span title="NPS">0.0</span>' in by_class  # one promoter, one detractor
    assert 'id="survey-class-chart"' in page
    series = json.loads(page.split('id="survey-series">', 1)[1].split("</script>", 1)[0])
    assert series["nps_by_class"] == {"new": [0.0]}
    topic = admin.post("/surveys", data={"name": "topic", "question": "Topic?", "kind": "choice",
                                         "answers": "shoes\nsocks"})
    assert topic.status_code == 302
    record_answer(session, get_survey(session, seeded.audience_id, "topic"), seeded.ids["li.wang@example.net"],
                  "shoes", at=then)
    session.commit()
    choice = admin.get("/surveys/topic").data.decode()
    assert "shoes: 1" in choice[choice.index('id="by_class"'):] and 'id="survey-class-chart"' not in choice
