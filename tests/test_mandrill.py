"""Mandrill webhooks: signature as documented, validation requests, mapping, replay, malformed bodies."""

import base64
import hashlib
import hmac
import json

import pytest

from mailseg.models import Subscriber
from mailseg.webhooks.mandrill import signature

from .factories import audience, client_for, events, subscriber

KEY = "mandrill-webhook-key-123"
URL = "https://hooks.example.com/webhooks/mandrill"


def documented_signature(key: str, url: str, params: dict) -> str:
    """Mandrill's documented algorithm, written out independently of mailseg's code:
    the URL, then each POST key and value sorted by key, HMAC-SHA1 with the webhook key, base64."""
    signed_data = url
    for name in sorted(params):
        signed_data += name
        signed_data += params[name]
    return base64.b64encode(hmac.new(key.encode(), signed_data.encode(), hashlib.sha1).digest()).decode()


def test_signature_matches_the_documented_algorithm():
    params = {"mandrill_events": '[{"event":"open"}]', "b": "2", "a": "1"}
    expected = documented_signature(KEY, URL, params)
    assert signature(KEY, URL, params.items()) == expected
    # The documented example's shape: URL + "a1b2mandrill_events[...]".
    raw = hmac.new(KEY.encode(), (URL + "a1b2mandrill_events" + params["mandrill_events"]).encode(), hashlib.sha1)
    assert expected == base64.b64encode(raw.digest()).decode()


@pytest.fixture
def hook(config, database):
    return client_for(config, database, mandrill={"webhook_key": KEY, "webhook_url": URL})


def post(client, items, key=KEY, signature_override=None, raw=None):
    body = {"mandrill_events": raw if raw is not None else json.dumps(items)}
    sig = signature_override or documented_signature(key, URL, body)
    return client.post("/webhooks/mandrill", data=body, headers={"X-Mandrill-Signature": sig})


def mevent(kind, email, ts, _id="m1", **extra):
    return {"event": kind, "_id": _id, "ts": ts, "msg": {"email": email, "ts": 1_700_000_000, "_id": _id}, **extra}


@pytest.fixture
def people(session):
    aud = audience(session)
    for email in ("ann@example.com", "bob@example.com", "cy@example.com", "di@example.com"):
        subscriber(session, aud, email)
    session.commit()
    return aud


def test_head_and_get_answer_200(hook):
    assert hook.head("/webhooks/mandrill").status_code == 200
    assert hook.get("/webhooks/mandrill").status_code == 200


def test_validation_post_signed_with_test_key(hook, session):
    response = post(hook, [], key="test-webhook")
    assert response.status_code == 200
    assert response.json["received"] == 0


def test_test_key_cannot_carry_events(hook, session, people):
    response = post(hook, [mevent("open", "ann@example.com", 1_700_000_100)], key="test-webhook")
    assert response.status_code == 403
    assert events(session) == []


def test_events_are_mapped_and_statuses_change(hook, session, people):
    t = 1_700_000_100
    batch = [
        mevent("send", "ann@example.com", t, "a1"),
        mevent("open", "ann@example.com", t + 600, "a1", user_agent="Thunderbird", ip="198.51.100.9"),
        mevent("click", "ann@example.com", t + 700, "a1", url="https://shop.example/x"),
        mevent("hard_bounce", "bob@example.com", t, "b1"),
        mevent("soft_bounce", "cy@example.com", t, "c1"),
        mevent("spam", "cy@example.com", t + 5, "c1"),
        mevent("unsub", "di@example.com", t, "d1"),
        mevent("reject", "di@example.com", t + 1, "d2"),
        mevent("deferral", "di@example.com", t + 2, "d3"),
        {"type": "blacklist", "action": "add", "reject": {"email": "x@example.com"}},
        mevent("open", "stranger@example.com", t, "s1"),
        {"event": "open", "msg": {}},
        "not an object",
    ]
    response = post(hook, batch)
    assert response.status_code == 200, response.data
    body = response.json
    assert (body["received"], body["stored"], body["unknown_recipients"], body["invalid"]) == (13, 8, 1, 2)
    assert body["ignored"] == {"deferral": 1, "blacklist": 1}
    assert body["status_changes"] == 3
    stored = [(e.type, e.source) for e in events(session)]
    assert sorted(t for t, _ in stored) == ["bounce", "bounce", "click", "complaint", "open", "reject", "send", "unsubscribe"]
    assert {source for _, source in stored} == {"mandrill"}
    [clicked] = events(session, type="click")
    assert clicked.url == "https://shop.example/x"
    [opened] = events(session, type="open")
    assert (opened.user_agent, opened.ip) == ("Thunderbird", "198.51.100.9")
    session.expire_all()
    statuses = {s.email: s.status for s in session.query(Subscriber)}
    assert statuses == {"ann@example.com": "subscribed", "bob@example.com": "cleaned",
                        "cy@example.com": "complained", "di@example.com": "unsubscribed"}


def test_replay_stores_nothing_new(hook, session, people):
    batch = [mevent("open", "ann@example.com", 1_700_000_500 + i, "a1") for i in range(5)]
    assert post(hook, batch).json["stored"] == 5
    again = post(hook, batch).json
    assert (again["stored"], again["duplicates"]) == (0, 5)
    assert len(events(session)) == 5


def test_open_right_after_send_is_a_machine(hook, session, people):
    sent = 1_700_000_000
    post(hook, [mevent("open", "ann@example.com", sent + 1, "a1"), mevent("open", "bob@example.com", sent + 3600, "b1")])
    reasons = {e.subscriber_id: e.machine_reason for e in events(session, type="open")}
    assert sorted(reasons.values(), key=str) == [None, "open_right_after_send"]


def test_bad_signature_is_403_and_stores_nothing(hook, session, people):
    batch = [mevent("open", "ann@example.com", 1_700_000_100)]
    assert post(hook, batch, signature_override="bm90IGl0").status_code == 403
    assert post(hook, batch, key="wrong-key").status_code == 403
    # Signed over another URL (e.g. the request's own URL with a trailing slash): rejected.
    body = {"mandrill_events": json.dumps(batch)}
    sig = documented_signature(KEY, URL + "/", body)
    assert hook.post("/webhooks/mandrill", data=body, headers={"X-Mandrill-Signature": sig}).status_code == 403
    assert hook.post("/webhooks/mandrill", data=body).status_code == 403
    assert events(session) == []


@pytest.mark.parametrize("raw, message", [
    ("[{", "not valid JSON"),
    ('{"event": "open"}', "must be a JSON array"),
    (None, "missing form field 'mandrill_events'"),
])
def test_malformed_bodies_are_400_naming_the_problem(hook, session, raw, message):
    if raw is None:
        body = {"other": "x"}
        response = hook.post("/webhooks/mandrill", data=body,
                             headers={"X-Mandrill-Signature": documented_signature(KEY, URL, body)})
    else:
        response = post(hook, None, raw=raw)
    assert response.status_code == 400
    assert message in response.get_data(as_text=True)


def test_fails_closed_without_configuration(config, database, session, people):
    unconfigured = client_for(config, database)
    assert post(unconfigured, [mevent("open", "ann@example.com", 1)]).status_code == 404
    keyless = client_for(config, database, mandrill={"webhook_url": URL})
    assert post(keyless, [mevent("open", "ann@example.com", 1)], key="").status_code == 403
    assert post(keyless, [], key="test-webhook").status_code == 200
    assert events(session) == []


def test_events_go_to_the_audience_owning_the_address(hook, session, people):
    other = audience(session, "second", list_id="L2")
    subscriber(session, other, "eve@example.com")
    subscriber(session, other, "ann@example.com")
    session.commit()
    response = post(hook, [mevent("open", "eve@example.com", 1_700_009_000, "e1"),
                           mevent("open", "ann@example.com", 1_700_009_000, "a9"),
                           mevent("open", "nobody@example.com", 1_700_009_000, "n1")]).json
    assert (response["stored"], response["unknown_recipients"]) == (3, 1)  # ann's open counts in both audiences
