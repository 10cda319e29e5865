"""Random bytes, random form fields and hostile values (tests/fuzz_values.py) never make a webhook
or a tracking link answer 500 (hypothesis, on SQLite and PostgreSQL)."""

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mailseg.webhooks import WebhookError
from mailseg.webhooks.mailchimp import parse_hook
from mailseg.webhooks.mandrill import parse_events, signature

from .factories import audience, client_for, subscriber
from .fuzz_values import json_values as hostile_json, query_string, values

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


MAILCHIMP_FIELDS = ["type", "fired_at", "data[email]", "data[old_email]", "data[new_email]", "data[id]",
                    "data[merges][FNAME]", "data[merges][X]", "data[merges][\x00]", "data[merges][\U0010ffff]",
                    "data[reason]", "data[status]", "data[list_id]", "data[campaign_id]", "data[subject]"]


@FUZZ
@given(kind=st.sampled_from(["subscribe", "unsubscribe", "profile", "upemail", "cleaned", "campaign"]),
       fields=st.lists(st.tuples(st.sampled_from(MAILCHIMP_FIELDS) | st.text(max_size=12), values), max_size=8))
def test_hostile_mailchimp_values_never_500(clients, kind, fields):
    body = query_string([("type", kind), ("data[email]", "a@example.com"), *fields])
    response = clients.post(f"/webhooks/mailchimp/{SECRET}", data=body.encode(),
                            content_type="application/x-www-form-urlencoded")
    assert response.status_code in (200, 400), response.data


@FUZZ
@given(st.lists(st.fixed_dictionaries({
    "event": st.sampled_from(["send", "open", "click", "hard_bounce", "unsub"]),
    "ts": st.integers(min_value=-10**30, max_value=10**30) | st.floats() | values,
    "_id": values, "url": values, "user_agent": values, "ip": values,
    "msg": st.fixed_dictionaries({"email": st.just("a@example.com") | values, "ts": hostile_json | values,
                                  "_id": values, "subject": values, "metadata": hostile_json})}), max_size=4))
def test_hostile_signed_mandrill_values_never_500(clients, items):
    form = {"mandrill_events": json.dumps(items)}
    response = clients.post("/webhooks/mandrill", data=form,
                            headers={"X-Mandrill-Signature": signature(KEY, URL, form.items())})
    assert response.status_code in (200, 400), response.data


@FUZZ
@given(payload=st.lists(hostile_json | st.integers(min_value=-10**30, max_value=10**30) | values, min_size=3, max_size=5),
       url=st.sampled_from(["https://example.com:99999/", "http://[::1", "https://x.test:0/", "https://x.test:-1/"])
       | values)
def test_correctly_signed_hostile_tokens_never_500(clients, payload, url):
    from itsdangerous import URLSafeSerializer

    from mailseg.tracking.tokens import CLICK_SALT, OPEN_SALT

    secret, ascii_json = "test-tracking-secret", {"ensure_ascii": True}  # surrogates travel escaped
    opened = URLSafeSerializer(secret, salt=OPEN_SALT, serializer_kwargs=ascii_json).dumps(payload[:3])
    clicked = URLSafeSerializer(secret, salt=CLICK_SALT, serializer_kwargs=ascii_json).dumps([*payload[:3], url, 0])
    assert clients.get(f"/t/o/{opened}.gif").status_code == 200
    assert clients.get(f"/t/c/{clicked}").status_code in (302, 400)


def test_the_probe_cases_are_400_not_500(clients, session):
    from itsdangerous import URLSafeSerializer

    from mailseg.tracking.tokens import CLICK_SALT, OPEN_SALT

    response = clients.post(f"/webhooks/mailchimp/{SECRET}", data={
        "type": "unsubscribe", "fired_at": "0001-01-01T00:00:00+05:00", "data[email]": "a@example.com"})
    assert response.status_code == 400 and b"fired_at" in response.data
    response = clients.post(f"/webhooks/mailchimp/{SECRET}", data={
        "type": "profile", "data[email]": "a@example.com", "data[merges][A\x00B]": "x"})
    assert response.status_code == 400 and b"NUL" in response.data
    secret = "test-tracking-secret"
    click = URLSafeSerializer(secret, salt=CLICK_SALT).dumps([1, 1, None, "https://example.com:99999/x", 0])
    assert clients.get(f"/t/c/{click}").status_code == 400
    opened = URLSafeSerializer(secret, salt=OPEN_SALT).dumps([1, 2**31, None])
    assert clients.get(f"/t/o/{opened}.gif").status_code == 200
