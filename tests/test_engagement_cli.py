"""`mailseg classify`, `mailseg explain` and `mailseg export classes` against the test database."""

import csv
import io
import json
from datetime import timedelta

import pytest

from .factories import AS_OF, WINDOW_START, add_event, add_subscriber, engagement_audience


@pytest.fixture
def audience(session):
    audience_id = engagement_audience(session)
    ann = add_subscriber(session, audience_id, "ann@example.com")
    bob = add_subscriber(session, audience_id, "bob@example.com")
    add_subscriber(session, audience_id, "cat@example.com", subscribed_at=AS_OF - timedelta(days=3))
    add_event(session, ann, "send", AS_OF - timedelta(days=6))
    add_event(session, ann, "click", AS_OF - timedelta(days=5))
    add_event(session, ann, "click", AS_OF - timedelta(days=5, seconds=-1), machine_reason="link_scanner")
    add_event(session, bob, "open", AS_OF - timedelta(days=4), machine_reason="apple_mpp")
    add_event(session, bob, "open", WINDOW_START - timedelta(days=1))
    session.commit()
    return audience_id


def test_classify_prints_counts_and_changes(cli, audience):
    result = cli("classify", "--as-of", AS_OF.isoformat())
    assert result.exit_code == 0, result.output
    lines = {line.split("│")[1].strip(): line.split("│")[2].strip()
             for line in result.output.splitlines() if line.count("│") == 3}
    assert lines["active"] == "1" and lines["new"] == "1" and lines["inactive"] == "1"
    assert lines["semi_active"] == "0" and lines["total"] == "3"
    assert "3 class change(s) recorded" in result.output
    again = cli("classify", "--as-of", AS_OF.isoformat())
    assert "0 class change(s) recorded" in again.output


def test_classify_rejects_a_bad_as_of(cli, audience):
    result = cli("classify", "--as-of", "last tuesday")
    assert result.exit_code == 2 and "not an ISO-8601" in result.output


def test_explain_shows_the_evidence(cli, audience):
    result = cli("explain", "BOB@example.com", "--as-of", "2026-08-31T12:00:00")
    assert result.exit_code == 0, result.output
    out = result.output
    assert out.splitlines()[0] == "bob@example.com: inactive"
    assert out.splitlines()[1] == "  Inactive: no click and no real open in the last 6 months."
    assert "  0 mailings reached them in that time." in out
    assert "window: 2026-02-28T12:00:00Z (excluded) to 2026-08-31T12:00:00Z (included)" in out
    assert "machine opens ignored: 1, bot clicks ignored: 0" in out
    assert "open — apple_mpp" in out


def test_explain_active_lists_the_deciding_click(cli, audience):
    out = cli("explain", "ann@example.com", "--as-of", "2026-08-31T12:00:00").output
    assert "  Active: 1 human click in the last 6 months, the last on 26 Aug 2026." in out
    assert "human clicks: 1, last 2026-08-26T12:00:00Z" in out
    assert "bot clicks ignored: 1" in out and "sends received in the window: 1" in out
    assert "events that decided:\n    2026-08-26T12:00:00Z click" in out


def test_explain_unknown_email(cli, audience):
    result = cli("explain", "nobody@example.com")
    assert result.exit_code == 1 and "no subscriber" in result.output


def test_export_classes_csv_and_json(cli, audience, tmp_path):
    cli("classify", "--as-of", AS_OF.isoformat())
    rows = list(csv.DictReader(io.StringIO(cli("export", "classes").stdout)))
    assert [(r["email"], r["class"]) for r in rows] == [
        ("ann@example.com", "active"), ("bob@example.com", "inactive"), ("cat@example.com", "new")]
    assert rows[0]["class_since"] == "2026-08-31T12:00:00Z"
    assert rows[0]["last_human_click"] == "2026-08-26T12:00:00Z"
    assert rows[1]["last_human_open"] == "2026-02-27T12:00:00Z"  # human, outside the window, still the last
    target = tmp_path / "classes.json"
    assert cli("export", "classes", "--format", "json", "--output", target).exit_code == 0
    data = json.loads(target.read_text())
    assert data[2] == {"email": "cat@example.com", "class": "new", "class_since": "2026-08-31T12:00:00Z",
                       "last_human_open": None, "last_human_click": None}
