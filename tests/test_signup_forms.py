"""Sign-up forms: the hosted page, bot defences (honeypot, minimum time, signed token, per-address
limit), per-field errors, idempotent upserts with consent evidence, confirmation, Mailchimp pending members."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import func, select

from mailseg.forms import confirmation_token, form_token, save_form
from mailseg.models import Audience, FormSubmission, Subscriber, utcnow
from mailseg.segments import RuleError

from . import factories

SECRET = "test-secret-key"  # web.secret_key of the test config
DEFINITION = {"name": "shoes", "title": "Running news", "consent_text": "I agree to receive the newsletter.",
              "interests": [{"label": "Trail", "tag": "interest:trail"}, {"label": "Road", "tag": "interest:road"}],
              "question": {"text": "How often do you run?", "answers": [{"label": "Weekly", "tag": "runs:weekly"},
                                                                        {"label": "Rarely", "tag": "runs:rarely"}]}}


@pytest.fixture
def form(session):
    audience = factories.make_audience(session, "main", list_id="list0001")
    made = save_form(session, audience.id, DEFINITION)
    session.commit()
    return made


def _post(client, form, *, age: float = 10, **fields):
    data = {"email": "New@Example.com", "first_name": "Ann", "consent": "yes", "answer": "runs:weekly",
            "interests": ["interest:trail"], "website": "",
            "form_token": form_token(SECRET, form.id, utcnow() - timedelta(seconds=age))}
    data.update(fields)
    return client.post(f"/f/{form.name}", data=data)


def _subscribers(session):
    session.expire_all()
    return session.scalars(select(Subscriber)).all()


def test_page_renders_with_token_and_honeypot(client, form):
    page = client.get("/f/shoes")
    assert page.status_code == 200
    assert b'name="form_token"' in page.data and b'name="website"' in page.data and b"Running news" in page.data
    assert client.get("/f/shoes?embed=1").status_code == 200
    assert client.get("/f/nope").status_code == 404


def test_a_good_submission_creates_a_pending_subscriber_with_evidence(client, session, form):
    response = _post(client, form, interests=["interest:trail", "interest:road"])
    assert response.status_code == 200
    [sub] = _subscribers(session)
    assert (sub.email, sub.status, sub.first_name) == ("new@example.com", "pending", "Ann")
    assert sub.tags == ["interest:trail", "interest:road", "runs:weekly"]
    [evidence] = session.scalars(select(FormSubmission)).all()
    assert evidence.consent_text == "I agree to receive the newsletter." and evidence.ip == "127.0.0.1"
    assert evidence.tags == sub.tags and evidence.confirmed_at is None


def test_a_repeated_submission_updates_and_never_duplicates(client, session, form):
    factories.make_subscriber(session, session.get(Audience, form.audience_id), "old@example.com", tags=["vip"])
    session.commit()
    assert _post(client, form, email="old@example.com").status_code == 200
    assert _post(client, form, email="OLD@example.com", answer="runs:rarely").status_code == 200
    subs = {s.email: s for s in _subscribers(session)}
    assert len(subs) == 1
    assert subs["old@example.com"].status == "subscribed"  # a subscribed address stays subscribed
    assert subs["old@example.com"].tags == ["vip", "interest:trail", "runs:weekly", "runs:rarely"]


@pytest.mark.parametrize("fields,field,message", [
    ({"website": "http://spam"}, "form", b"Something went wrong"),
    ({"age": 0.5}, "form", b"That was very fast"),
    ({"age": 2 * 86400}, "form", b"not valid any more"),
    ({"form_token": "forged"}, "form", b"not valid any more"),
    ({"email": ""}, "email", b"Enter your email address."),
    ({"email": "not-an-address"}, "email", b"This is not a valid email address."),
    ({"consent": ""}, "consent", b"Please agree"),
    ({"interests": ["interest:fake"]}, "interests", b"Choose from the list."),
    ({"answer": "runs:never"}, "answer", b"Choose one of the answers."),
])
def test_bad_submissions_get_a_message_next_to_the_field(client, session, form, fields, field, message):
    response = _post(client, form, **fields)
    assert response.status_code == 400
    assert message in response.data and f'id="{field}-error"'.encode() in response.data
    assert _subscribers(session) == [] and session.scalar(select(func.count()).select_from(FormSubmission)) == 0


def test_per_address_rate_limit(client, session, form):
    for _ in range(3):
        assert _post(client, form).status_code == 200
    limited = _post(client, form)
    assert limited.status_code == 400 and b"try again in an hour" in limited.data
    assert len(_subscribers(session)) == 1
    assert _post(client, form, email="other@example.com").status_code == 200


def test_confirmation_link_confirms_on_post_only(client, session, form):
    _post(client, form)
    submission = session.scalars(select(FormSubmission)).one()
    url = f"/f/shoes/confirm/{confirmation_token(SECRET, submission.id)}"
    assert client.get(url).status_code == 200
    assert _subscribers(session)[0].status == "pending"
    assert client.post(url).status_code == 200 and client.post(url).status_code == 200
    assert _subscribers(session)[0].status == "subscribed"
    assert client.post("/f/shoes/confirm/forged").status_code == 404


def test_with_mailchimp_the_member_is_created_pending(session, mailchimp_config, database, fake_mailchimp):
    from mailseg.app import create_app

    audience = factories.make_audience(session, "main", list_id="list0001")
    made = save_form(session, audience.id, DEFINITION)
    session.commit()
    client = create_app(mailchimp_config, database=database).test_client()
    assert _post(client, made).status_code == 200
    members = {m["email_address"]: m["status"] for m in fake_mailchimp.lists["list0001"].members.values()}
    assert members == {"new@example.com": "pending"}


def test_form_definitions_are_checked(session):
    audience = factories.make_audience(session, "main", list_id=None)
    with pytest.raises(RuleError) as caught:
        save_form(session, audience.id, {"name": "Bad Name", "title": "", "consent_text": "",
                                         "interests": [{"label": "A", "tag": "x"}, {"label": "B", "tag": "X"}],
                                         "question": {"text": "Q", "answers": [{"label": "only"}]}})
    assert [e.split(":")[0] for e in caught.value.errors] == ["name", "title", "consent_text", "interests",
                                                              "question.answers"]


def test_only_the_embed_page_may_be_framed_by_another_site(client, form):
    embedded = client.get("/f/shoes?embed=1")
    assert "frame-ancestors *" in embedded.headers["Content-Security-Policy"]
    assert "X-Frame-Options" not in embedded.headers
    hosted = client.get("/f/shoes")
    assert "frame-ancestors 'none'" in hosted.headers["Content-Security-Policy"]
    assert hosted.headers["X-Frame-Options"] == "DENY"


def test_confirmation_is_recorded_in_the_status_history(client, session, form):
    from sqlalchemy import select

    from mailseg.forms.submit import confirm_submission
    from mailseg.models import FormSubmission, Subscriber, SubscriberStatusChange, utcnow

    assert _post(client, form, email="hist@example.com").status_code in (200, 302)
    submission = session.scalar(select(FormSubmission))
    confirm_submission(session, submission.id, utcnow())
    session.commit()
    assert session.get(Subscriber, submission.subscriber_id).status == "subscribed"
    changes = session.execute(select(SubscriberStatusChange.from_status, SubscriberStatusChange.to_status,
                                     SubscriberStatusChange.source)
                              .where(SubscriberStatusChange.subscriber_id == submission.subscriber_id)).all()
    assert ("pending", "subscribed", "form") in changes


def test_a_form_name_no_form_can_have_is_a_404(config, database):
    """Found by the panel fuzz test on PostgreSQL: a NUL in /f/<name> reached the database (500)."""
    from tests.factories import client_for

    client = client_for(config, database)
    for name in ("a%00b", "x" * 101):
        assert client.get(f"/f/{name}").status_code == 404
        assert client.get(f"/f/{name}/confirm/token").status_code == 404
