"""Random bytes and random form fields never make a webhook answer 500 (hypothesis)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailseg.webhooks import WebhookError
from mailseg.webhooks.mailchimp import parse_hook
from mailseg.webhooks.mandrill import parse_events, signature

from .factories import audience, client_for, subscriber

KEY, URL, SECRET = "fuzz-key", "https://hooks.example.com/webhooks/mandrill", "fuzz-secret"
FUZZ = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20)
event_like = st.fixed_dictionaries({
    "event": st.sampled_from(["send", "open", "click", "hard_bounce", "spam", "unsub", "reject", "x"]) | json_values,
    "ts": st.integers(min_value=-10**12, max_value=10**12) | st.floats() | json_values,
    "_id": st.text(max_size=300) | json_values,
    "msg": st.fixed_dictionaries({"email": st.sampled_from(["a@example.com", "b@example.com"]) | st.text(max_size=400),
                                  "ts": json_values, "metadata": json_values}) | json_values,
    "url": st.text(max_size=50) | json_values, "user_agent": st.text(max_size=50) | json_values,
    "ip": st.sampled_from(["17.1.1.1", "::1"]) | st.text(max_size=60) | json_values,
})


@given(st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_mandrill_parser_raises_only_webhook_errors(raw):
    try:
        parse_events(raw)
    except WebhookError:
        pass


@given(st.lists(st.tuples(st.text(max_size=30), st.text(max_size=30)), max_size=8))
def test_mailchimp_parser_raises_only_webhook_errors(fields):
    try:
        parse_hook(fields)
    except WebhookError:
        pass


@pytest.fixture
def clients(config, database, session):
    aud = audience(session, list_id="L1")
    subscriber(session, aud, "a@example.com")
    session.commit()
    return client_for(config, database, mandrill={"webhook_key": KEY, "webhook_url": URL},
                      mailchimp={"webhook_secret": SECRET})


@FUZZ
@given(body=st.binary(max_size=400), content_type=st.sampled_from(
    ["application/x-www-form-urlencoded", "multipart/form-data; boundary=x", "application/json", "text/plain"]))
def test_random_bytes_never_500(clients, body, content_type):
    for path in ("/webhooks/mandrill", f"/webhooks/mailchimp/{SECRET}"):
        response = clients.post(path, data=body, content_type=content_type)
        assert response.status_code < 500


@FUZZ
@given(st.lists(event_like, max_size=5))
def test_signed_random_mandrill_events_never_500(clients, items):
    form = {"mandrill_events": json.dumps(items)}
    response = clients.post("/webhooks/mandrill", data=form,
                            headers={"X-Mandrill-Signature": signature(KEY, URL, form.items())})
    assert response.status_code in (200, 400), response.data


@FUZZ
@given(kind=st.sampled_from(["subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign", "zzz"]),
       fields=st.dictionaries(st.sampled_from(["data[email]", "data[old_email]", "data[new_email]", "data[id]",
                                               "data[merges][FNAME]", "data[merges]", "data[merges][X][Y]",
                                               "data[reason]", "data[status]", "data[list_id]", "fired_at",
                                               "data[campaign_id]", "data[subject]"]),
                              st.sampled_from(["a@example.com", "b@example.com", "", "L1", "abuse"]) | st.text(max_size=40),
                              max_size=8))
def test_random_mailchimp_forms_never_500(clients, kind, fields):
    response = clients.post(f"/webhooks/mailchimp/{SECRET}", data={"type": kind, **fields})
    assert response.status_code in (200, 400), response.data


def test_unstorable_text_is_cleaned(clients):
    items = [{"event": "open", "_id": "x", "ts": 1_700_000_000, "user_agent": "\ud800bad\x00agent",
              "msg": {"email": "a@example.com"}}]
    form = {"mandrill_events": json.dumps(items)}
    response = clients.post("/webhooks/mandrill", data=form,
                            headers={"X-Mandrill-Signature": signature(KEY, URL, form.items())})
    assert response.status_code == 200 and response.json["stored"] == 1
