"""`mailseg import events`: CSV and JSON Lines, bad lines named, nothing partial, idempotent, unknown emails."""

import json

from sqlalchemy import func, select

from mailseg.audiences import ensure_audience
from mailseg.ingest.events import EventIn, store_events
from mailseg.models import Campaign, Event, Subscriber

from .factories import make_audience, make_subscriber, utc, write_file

EVENTS = """
email,type,occurred_at,campaign,url,user_agent,ip,amount
anna@example.com,send,2026-05-01T10:00:00Z,c1,,,,
anna@example.com,open,2026-05-01T12:00:00,c1,,Mozilla/5.0 (Windows NT 10.0) Chrome/126,198.51.100.7,
anna@example.com,click,2026-05-01T12:01:00+02:00,c1,https://shop.example.com/a,Mozilla/5.0 (Windows NT 10.0),198.51.100.7,
li@example.com,open,2026-05-01T10:00:05Z,c1,,Mozilla/5.0,17.58.1.2,
li@example.com,purchase,2026-05-03,,,,,19.90
"""


def setup(session):
    audience = make_audience(session)
    make_subscriber(session, audience, "anna@example.com")
    make_subscriber(session, audience, "li@example.com")
    session.commit()
    return audience


def count_events(session) -> int:
    return session.scalar(select(func.count()).select_from(Event))


def test_csv_import_stores_events_with_utc_times_campaigns_and_flags(cli, session, tmp_path):
    setup(session)
    result = cli("import", "events", write_file(tmp_path, "events.csv", EVENTS))
    assert result.exit_code == 0, result.output
    events = {(e.type, e.subscriber_id): e for e in session.scalars(select(Event))}
    assert len(events) == 5
    anna = session.scalar(select(Subscriber).where(Subscriber.email == "anna@example.com"))
    assert events[("open", anna.id)].occurred_at == utc(2026, 5, 1, 12)  # naive means UTC
    assert events[("click", anna.id)].occurred_at == utc(2026, 5, 1, 10, 1)
    assert events[("click", anna.id)].url == "https://shop.example.com/a"
    assert not events[("open", anna.id)].is_machine
    li_open = next(e for (t, _), e in events.items() if t == "open" and e.subscriber_id != anna.id)
    assert li_open.is_machine and li_open.machine_reason.startswith("apple_mpp")
    purchase = next(e for (t, _), e in events.items() if t == "purchase")
    assert str(purchase.amount) == "19.90"
    campaign = session.scalar(select(Campaign).where(Campaign.provider_id == "c1"))
    assert campaign.sent_at == utc(2026, 5, 1, 10)
    assert {e.campaign_id for (t, _), e in events.items() if t != "purchase"} == {campaign.id}


def test_second_import_adds_nothing(cli, session, tmp_path):
    setup(session)
    path = write_file(tmp_path, "events.csv", EVENTS)
    cli("import", "events", path)
    again = cli("import", "events", path)
    assert again.exit_code == 0
    assert "0 events stored" in again.output and "5 already present" in again.output
    assert count_events(session) == 5


def test_one_bad_line_is_named_and_nothing_partial_is_stored(cli, session, tmp_path):
    setup(session)
    lines = EVENTS.strip().splitlines()
    lines.insert(3, "anna@example.com,open,2026-02-30T10:00:00Z,c1,,,,")
    path = write_file(tmp_path, "events.csv", "\n".join(lines) + "\n")
    result = cli("import", "events", path)
    assert result.exit_code == 1
    assert "events.csv:4: column 'occurred_at'" in result.output
    assert "nothing was stored" in result.output
    assert count_events(session) == 0
    assert session.scalar(select(func.count()).select_from(Campaign)) == 0

    partial = cli("import", "events", "--skip-bad", path)
    assert partial.exit_code == 0
    assert count_events(session) == 5


def test_bad_type_amount_and_missing_values_name_the_column(cli, session, tmp_path):
    setup(session)
    path = write_file(tmp_path, "bad.csv", """
email,type,occurred_at,amount
anna@example.com,opened,2026-05-01,
anna@example.com,purchase,2026-05-01,ten
,open,2026-05-01,
anna@example.com,open,,
""")
    result = cli("import", "events", path)
    assert result.exit_code == 1
    for expected in ("bad.csv:2: column 'type'", "bad.csv:3: column 'amount'", "bad.csv:4: column 'email'",
                     "bad.csv:5: column 'occurred_at'"):
        assert expected in result.output


def test_unknown_emails_are_reported_and_skipped(cli, session, tmp_path):
    setup(session)
    path = write_file(tmp_path, "e.csv", "email,type,occurred_at\nghost@example.com,open,2026-05-01\n"
                                         "anna@example.com,open,2026-05-01\n")
    result = cli("import", "events", path)
    assert result.exit_code == 0
    assert "skipped 1 event(s) of unknown email addresses, e.g. ghost@example.com" in result.output
    assert count_events(session) == 1
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 2  # nobody invented


def test_json_lines_import_names_malformed_lines(cli, session, tmp_path):
    setup(session)
    good = [{"email": "anna@example.com", "type": "open", "occurred_at": "2026-05-01T10:00:00Z"},
            {"email": "li@example.com", "type": "click", "occurred_at": "2026-05-01T10:00:00Z", "url": "https://x.example"}]
    path = tmp_path / "e.jsonl"
    path.write_text(json.dumps(good[0]) + "\n{not json\n" + json.dumps(good[1]) + "\n[1]\n")
    result = cli("import", "events", path)
    assert result.exit_code == 1
    assert "e.jsonl:2: malformed JSON" in result.output
    assert "e.jsonl:4: expected a JSON object" in result.output
    assert cli("import", "events", "--skip-bad", path).exit_code == 0
    assert count_events(session) == 2


def test_unknown_extension_and_missing_columns(cli, session, tmp_path):
    setup(session)
    result = cli("import", "events", write_file(tmp_path, "e.txt", "x"))
    assert result.exit_code == 1 and "unknown file type '.txt'" in result.output
    result = cli("import", "events", write_file(tmp_path, "e.csv", "email,type\na@example.com,open\n"))
    assert result.exit_code == 1 and "header lacks required column(s): occurred_at" in result.output


def test_import_needs_an_audience(cli, tmp_path):
    result = cli("import", "events", write_file(tmp_path, "e.csv", EVENTS))
    assert result.exit_code == 1
    assert "import subscribers first" in result.output


def test_store_events_dedupes_within_a_batch_and_applies_status_once(session):
    audience = ensure_audience(session, "a")
    make_subscriber(session, audience, "anna@example.com")
    event = EventIn(type="unsubscribe", occurred_at=utc(2026, 6, 1), source="mandrill", email="ANNA@example.com ",
                    external_id="abc")
    result = store_events(session, audience.id, [event, event])
    session.commit()
    assert (result.inserted, result.duplicates, result.status_changes) == (1, 1, 1)
    sub = session.scalar(select(Subscriber))
    assert sub.status == "unsubscribed" and sub.status_changed_at == utc(2026, 6, 1)
    assert store_events(session, audience.id, [event]).inserted == 0


def test_older_status_event_does_not_override_newer_change(session):
    audience = ensure_audience(session, "a")
    make_subscriber(session, audience, "anna@example.com", status="subscribed", status_changed_at=utc(2026, 7, 1))
    old = EventIn(type="unsubscribe", occurred_at=utc(2026, 6, 1), source="import", email="anna@example.com")
    result = store_events(session, audience.id, [old])
    assert result.inserted == 1 and result.status_changes == 0
    assert session.scalar(select(Subscriber.status)) == "subscribed"
