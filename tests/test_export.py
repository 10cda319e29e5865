"""Exports: CSV, JSON and JSON Lines, and the round trip export → import into an empty database."""

import csv
import io
import json


from .factories import fresh_cli as fresh_cli_for
from .factories import write_file

SUBSCRIBERS = """
email,status,subscribed_at,first_name,last_name,tags,COUNTRY,PLAN
anna@example.com,subscribed,2025-03-01T08:30:00Z,Anna,K,shop;blog,UA,gold
li@example.com,unsubscribed,2025-04-02,Li,,,CN,
"""
EVENTS = """
email,type,occurred_at,campaign,url,user_agent,ip,amount
anna@example.com,send,2026-05-01T10:00:00Z,c1,,,,
anna@example.com,click,2026-05-01T12:01:00Z,c1,https://shop.example.com/a,Mozilla/5.0 (X11) Firefox/128,198.51.100.7,
li@example.com,open,2026-05-01T10:00:05Z,c1,,Mozilla/5.0,17.58.1.2,
li@example.com,purchase,2026-05-03T00:00:00Z,,,,,19.90
"""


def load(cli, tmp_path):
    assert cli("import", "subscribers", write_file(tmp_path, "s.csv", SUBSCRIBERS)).exit_code == 0
    assert cli("import", "events", write_file(tmp_path, "e.csv", EVENTS)).exit_code == 0


def test_subscriber_csv_has_one_column_per_merge_field(cli, tmp_path):
    load(cli, tmp_path)
    out = tmp_path / "out.csv"
    result = cli("export", "subscribers", "--output", out)
    assert result.exit_code == 0 and "exported 2 subscribers" in result.output
    rows = list(csv.DictReader(out.open()))
    assert rows[0] == {"email": "anna@example.com", "status": "subscribed", "subscribed_at": "2025-03-01T08:30:00Z",
                       "first_name": "Anna", "last_name": "K", "tags": "shop;blog", "country": "UA", "plan": "gold"}


def test_event_exports_in_every_format(cli, tmp_path):
    load(cli, tmp_path)
    for fmt in ("csv", "json", "jsonl"):
        out = tmp_path / f"events.{fmt}"
        assert cli("export", "events", "--format", fmt, "--output", out).exit_code == 0
        text = out.read_text()
        if fmt == "csv":
            rows = list(csv.DictReader(io.StringIO(text)))
        elif fmt == "json":
            rows = json.loads(text)
        else:
            rows = [json.loads(line) for line in text.splitlines()]
        assert len(rows) == 4
        flagged = [r for r in rows if r["type"] == "open"][0]
        assert str(flagged["is_machine"]).lower() == "true"
        assert flagged["machine_reason"].startswith("apple_mpp")


def test_round_trip_into_an_empty_database(cli, tmp_path, sqlite_template, config):
    """Export from the test database (SQLite or PostgreSQL), import into a fresh SQLite: same data."""
    load(cli, tmp_path)
    subs, events = tmp_path / "subs.csv", tmp_path / "events.jsonl"
    cli("export", "subscribers", "-o", subs)
    cli("export", "events", "--format", "jsonl", "-o", events)

    fresh_cli, fresh = fresh_cli_for(tmp_path, sqlite_template, config)

    assert fresh_cli("import", "subscribers", subs).exit_code == 0
    result = fresh_cli("import", "events", events)
    assert result.exit_code == 0, result.output
    assert "4 events stored" in result.output
    subs_again, events_again = tmp_path / "subs2.csv", tmp_path / "events2.jsonl"
    fresh_cli("export", "subscribers", "-o", subs_again)
    fresh_cli("export", "events", "--format", "jsonl", "-o", events_again)
    assert subs_again.read_text() == subs.read_text()
    assert events_again.read_text() == events.read_text()
    fresh.dispose()
