"""Mailchimp audience webhooks: every type, the secret in the URL, rotation, idempotent retries."""

from datetime import timedelta

import pytest
from sqlalchemy import select

from mailseg.models import Campaign, ClassChange, Subscriber, utcnow

from .factories import T0, audience, client_for, events, subscriber

SECRET = "s3cret-path-segment"
OLD = "old-path-segment"


@pytest.fixture
def hook(config, database):
    return client_for(config, database, mailchimp={"webhook_secret": SECRET})


@pytest.fixture
def aud(session):
    row = audience(session, list_id="a6b5da1054")
    subscriber(session, row, "api@mailchimp.com")
    session.commit()
    return row


def send(client, kind, data, fired_at="2025-03-02 10:00:00", secret=SECRET):
    form = {"type": kind, "fired_at": fired_at, "data[list_id]": "a6b5da1054"}
    form.update({f"data[{k}]" if not k.startswith("merges") else f"data[merges][{k[7:]}]": v for k, v in data.items()})
    return client.post(f"/webhooks/mailchimp/{secret}", data=form)


def member(session, email):
    session.expire_all()
    return session.scalar(select(Subscriber).where(Subscriber.email == email))


def test_get_validates_only_the_right_secret(hook):
    assert hook.get(f"/webhooks/mailchimp/{SECRET}").status_code == 200
    assert hook.get("/webhooks/mailchimp/wrong").status_code == 404


def test_subscribe_creates_and_resubscribes(hook, session, aud):
    response = send(hook, "subscribe", {"email": "New@Example.com", "merges.FNAME": "Nina", "merges.LNAME": "Ng",
                                        "merges.COLOR": "blue", "id": "8a25ff1d98"})
    assert response.status_code == 200 and response.json["outcome"] == "created"
    created = member(session, "new@example.com")
    assert (created.first_name, created.last_name, created.merge_fields, created.status) == ("Nina", "Ng", {"COLOR": "blue"}, "subscribed")
    send(hook, "unsubscribe", {"email": "new@example.com", "action": "unsub"}, fired_at="2025-03-03 10:00:00")
    assert member(session, "new@example.com").status == "unsubscribed"
    send(hook, "subscribe", {"email": "new@example.com"}, fired_at="2025-03-04 10:00:00")
    assert member(session, "new@example.com").status == "subscribed"
    # A retry of the old unsubscribe arriving late changes nothing.
    send(hook, "unsubscribe", {"email": "new@example.com", "action": "unsub"}, fired_at="2025-03-03 10:00:00")
    assert member(session, "new@example.com").status == "subscribed"


def test_unsubscribe_stores_an_event_once(hook, session, aud):
    data = {"email": "api@mailchimp.com", "action": "unsub", "reason": "manual", "campaign_id": "4fjk2ma9xd"}
    first = send(hook, "unsubscribe", data).json
    again = send(hook, "unsubscribe", data).json
    assert (first["outcome"], first["stored"], again["outcome"], again["stored"]) == ("stored", 1, "duplicate", 0)
    [event] = events(session)
    assert (event.type, event.source) == ("unsubscribe", "mailchimp")
    assert session.get(Campaign, event.campaign_id).provider_id == "4fjk2ma9xd"
    assert member(session, "api@mailchimp.com").status == "unsubscribed"


def test_profile_updates_names_and_merge_fields(hook, session, aud):
    send(hook, "profile", {"email": "api@mailchimp.com", "merges.FNAME": "Api", "merges.LNAME": "Chimp",
                           "merges.INTERESTS": "Group1,Group2"})
    row = member(session, "api@mailchimp.com")
    assert (row.first_name, row.last_name, row.merge_fields) == ("Api", "Chimp", {"INTERESTS": "Group1,Group2"})


@pytest.mark.parametrize("reason, event_type, status", [("hard", "bounce", "cleaned"), ("abuse", "complaint", "complained")])
def test_cleaned(hook, session, aud, reason, event_type, status):
    send(hook, "cleaned", {"email": "api@mailchimp.com", "reason": reason, "campaign_id": "4fjk2ma9xd"})
    assert [e.type for e in events(session)] == [event_type]
    assert member(session, "api@mailchimp.com").status == status


def test_upemail_keeps_history(hook, session, aud):
    from mailseg.ingest.events import EventIn, store_events
    store_events(session, aud.id, [EventIn(type="open", occurred_at=T0, source="import", email="api@mailchimp.com")])
    session.commit()
    original_id = member(session, "api@mailchimp.com").id
    response = send(hook, "upemail", {"old_email": "api@mailchimp.com", "new_email": "new.api@mailchimp.com",
                                      "new_id": "51aa6f3d8d"})
    assert response.json["outcome"] == "changed"
    assert member(session, "api@mailchimp.com") is None
    moved = member(session, "new.api@mailchimp.com")
    assert moved.id == original_id
    assert [e.subscriber_id for e in events(session)] == [original_id]
    assert send(hook, "upemail", {"old_email": "api@mailchimp.com", "new_email": "new.api@mailchimp.com"}).json["outcome"] == "unchanged"


def test_upemail_onto_an_existing_address_merges(hook, session, aud):
    from mailseg.ingest.events import EventIn, store_events
    stale = subscriber(session, aud, "taken@example.com")
    store_events(session, aud.id, [EventIn(type="click", occurred_at=T0, source="import", email="taken@example.com", url="https://a")])
    session.add(ClassChange(audience_id=aud.id, subscriber_id=stale.id, to_class="active", changed_at=T0))
    session.commit()
    live_id = member(session, "api@mailchimp.com").id
    assert send(hook, "upemail", {"old_email": "api@mailchimp.com", "new_email": "taken@example.com"}).json["outcome"] == "merged"
    assert member(session, "taken@example.com").id == live_id
    assert [e.subscriber_id for e in events(session)] == [live_id]
    assert session.scalar(select(ClassChange.subscriber_id)) == live_id


def test_campaign_is_recorded(hook, session, aud):
    send(hook, "campaign", {"id": "5aa2102003", "subject": "Spring sale", "status": "sent", "reason": ""})
    row = session.scalar(select(Campaign).where(Campaign.provider_id == "5aa2102003"))
    assert (row.subject, row.status, row.audience_id) == ("Spring sale", "sent", aud.id)
    assert row.sent_at.replace(tzinfo=None).isoformat() == "2025-03-02T10:00:00"


def test_unknown_type_and_bad_fields(hook, session, aud):
    assert send(hook, "mystery", {}).json["outcome"] == "ignored: unknown type"
    response = send(hook, "subscribe", {"email": "not-an-address"})
    assert response.status_code == 400 and "data[email]" in response.get_data(as_text=True)
    assert hook.post(f"/webhooks/mailchimp/{SECRET}", data={"data[email]": "x@y.z"}).status_code == 400
    assert send(hook, "subscribe", {"email": "a@b.cd"}, fired_at="yesterday").status_code == 400


def test_wrong_secret_is_404_and_stores_nothing(hook, session, aud):
    response = send(hook, "unsubscribe", {"email": "api@mailchimp.com"}, secret="guess")
    assert response.status_code == 404
    assert events(session) == [] and member(session, "api@mailchimp.com").status == "subscribed"


def test_no_secret_configured_accepts_nothing(config, database, session, aud):
    client = client_for(config, database)
    assert client.get("/webhooks/mailchimp/anything").status_code == 404
    assert send(client, "unsubscribe", {"email": "api@mailchimp.com"}, secret="x").status_code == 404
    assert events(session) == []


def test_rotation_accepts_the_old_secret_until_the_overlap_ends(config, database, session, aud):
    later = (utcnow() + timedelta(hours=1)).isoformat()
    earlier = (utcnow() - timedelta(seconds=1)).isoformat()
    during = client_for(config, database, mailchimp={"webhook_secret": SECRET, "previous_webhook_secret": OLD,
                                                     "previous_webhook_secret_until": later})
    after = client_for(config, database, mailchimp={"webhook_secret": SECRET, "previous_webhook_secret": OLD,
                                                    "previous_webhook_secret_until": earlier})
    no_end = client_for(config, database, mailchimp={"webhook_secret": SECRET, "previous_webhook_secret": OLD})
    assert during.get(f"/webhooks/mailchimp/{OLD}").status_code == 200
    assert during.get(f"/webhooks/mailchimp/{SECRET}").status_code == 200
    assert after.get(f"/webhooks/mailchimp/{OLD}").status_code == 404
    assert after.get(f"/webhooks/mailchimp/{SECRET}").status_code == 200
    assert no_end.get(f"/webhooks/mailchimp/{OLD}").status_code == 404
    assert send(during, "unsubscribe", {"email": "api@mailchimp.com"}, secret=OLD).json["stored"] == 1


def test_list_id_picks_the_audience(hook, session, aud):
    other = audience(session, "second", list_id="zz99")
    subscriber(session, other, "api@mailchimp.com")
    session.commit()
    form = {"type": "unsubscribe", "fired_at": "2025-03-02 10:00:00", "data[list_id]": "zz99", "data[email]": "api@mailchimp.com"}
    assert hook.post(f"/webhooks/mailchimp/{SECRET}", data=form).json["stored"] == 1
    statuses = {(s.audience_id, s.status) for s in session.scalars(select(Subscriber))}
    assert statuses == {(aud.id, "subscribed"), (other.id, "unsubscribed")}
    form["data[list_id]"] = "unknown-list"
    assert hook.post(f"/webhooks/mailchimp/{SECRET}", data=form).json["outcome"] == "ignored: no audience for this list"


def test_subscribe_unsubscribe_resubscribe_are_in_the_status_history(hook, session, aud):
    from mailseg.models import SubscriberStatusChange
    from .factories import utc

    send(hook, "subscribe", {"email": "h@example.com"}, fired_at="2025-03-02 10:00:00")
    send(hook, "unsubscribe", {"email": "h@example.com", "action": "unsub"}, fired_at="2025-03-03 10:00:00")
    send(hook, "subscribe", {"email": "h@example.com"}, fired_at="2025-03-04 10:00:00")
    sub = member(session, "h@example.com")
    assert sub.subscribed_at == utc(2025, 3, 2, 10)  # a resubscribe does not move the sign-up date
    rows = session.execute(select(SubscriberStatusChange.from_status, SubscriberStatusChange.to_status,
                                  SubscriberStatusChange.changed_at)
                           .where(SubscriberStatusChange.subscriber_id == sub.id)
                           .order_by(SubscriberStatusChange.changed_at)).all()
    assert [tuple(r) for r in rows] == [("subscribed", "unsubscribed", utc(2025, 3, 3, 10)),
                                        ("unsubscribed", "subscribed", utc(2025, 3, 4, 10))]
