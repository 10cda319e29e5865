"""Imports of hostile files: every row SQLite would keep and PostgreSQL would refuse is a bad row
named by file, line and column on both databases; quotes, encodings and headers are checked."""

import pytest
from sqlalchemy import func, select

from mailseg.models import Campaign, Event, Subscriber

from .factories import make_audience, make_subscriber

HEADER = "email,type,occurred_at,campaign,url,user_agent,ip,amount\n"
GOOD = "anna@example.com,open,2026-05-01T12:00:00Z,c1,,,,\n"


def _setup(session):
    audience = make_audience(session)
    make_subscriber(session, audience, "anna@example.com")
    make_subscriber(session, audience, "li@example.com")
    session.commit()


def _write(tmp_path, name, data: bytes | str):
    path = tmp_path / name
    path.write_bytes(data if isinstance(data, bytes) else data.encode("utf-8"))
    return path


def _count(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


BAD_EVENT_ROWS = [
    ("anna@example.com,open,0001-01-01T00:00:00+05:00,c1,,,,", "occurred_at", "out of range"),
    ("anna@example.com,open,9999-12-31T23:59:59-05:00,c1,,,,", "occurred_at", "out of range"),
    (f"anna@example.com,open,2026-05-01,{'c' * 101},,,,", "campaign", "too long: 101 characters, at most 100"),
    (f"anna@example.com,purchase,2026-05-01,,,,,{'9' * 101}", "amount", "too large"),
    ("anna@example.com,purchase,2026-05-01,,,,,1e30", "amount", "too large"),
    ("anna@example.com,open,2026-05-01,c\x00x,,,,", "campaign", "NUL character"),
    ("anna@example.com,open,2026-05-01,c1,,Mozilla\x00,,", "user_agent", "NUL character"),
    ("anna@exa\x00mple.com,open,2026-05-01,c1,,,,", "email", "NUL character"),
    (f"anna@example.com,open,2026-05-01,c1,,,{'1' * 46},", "ip", "too long"),
]


@pytest.mark.parametrize("row,column,reason", BAD_EVENT_ROWS)
def test_bad_event_values_are_bad_rows_on_both_databases(cli, session, tmp_path, row, column, reason):
    _setup(session)
    result = cli("import", "events", _write(tmp_path, "e.csv", HEADER + GOOD + row + "\n"))
    assert result.exit_code == 1, result.output
    assert f"e.csv:3: column '{column}': " in result.output and reason in result.output
    assert _count(session, Event) == 0 and _count(session, Campaign) == 0
    result = cli("import", "events", "--skip-bad", _write(tmp_path, "e.csv", HEADER + GOOD + row + "\n"))
    assert result.exit_code == 0 and _count(session, Event) == 1


def test_amount_is_rounded_the_same_on_both_databases(cli, session, tmp_path):
    _setup(session)
    rows = "anna@example.com,purchase,2026-05-01,,,,,19.995\nli@example.com,purchase,2026-05-01,,,,,-0.004\n"
    assert cli("import", "events", _write(tmp_path, "e.csv", HEADER + rows)).exit_code == 0
    assert sorted(str(a) for a in session.scalars(select(Event.amount))) == ["0.00", "20.00"]


def test_jsonl_surrogates_and_nul_are_bad_rows(cli, session, tmp_path):
    _setup(session)
    lines = ('{"email": "anna@example.com", "type": "open", "occurred_at": "2026-05-01", "campaign": "\\ud800"}\n'
             '{"email": "anna@example.com", "type": "open", "occurred_at": "2026-05-01", "url": "x\\u0000"}\n')
    result = cli("import", "events", _write(tmp_path, "e.jsonl", lines))
    assert result.exit_code == 1
    assert "e.jsonl:1: column 'campaign': contains an unpaired surrogate" in result.output
    assert "e.jsonl:2: column 'url': contains a NUL character" in result.output


def test_unterminated_quote_merging_rows_is_a_bad_row(cli, session, tmp_path):
    """The probe's case: a quote opened in one row and closed by a stray quote in the next."""
    _setup(session)
    rows = ('anna@example.com,open,2026-05-01,"spring,,,,\n'
            'li@example.com,open,2026-05-02,summer",,,,\n'
            "li@example.com,click,2026-05-03,c1,,,,\n")
    result = cli("import", "events", _write(tmp_path, "e.csv", HEADER + rows))
    assert result.exit_code == 1
    assert "e.csv:2: line break inside a quoted value (lines 2-3)" in result.output
    assert _count(session, Event) == 0 and _count(session, Campaign) == 0


def test_quote_open_to_the_end_of_the_file_is_a_bad_row(cli, session, tmp_path):
    _setup(session)
    rows = GOOD + 'li@example.com,open,2026-05-02,"summer,,,,\nli@example.com,click,2026-05-03,c1,,,,\n'
    result = cli("import", "events", _write(tmp_path, "e.csv", HEADER + rows))
    assert result.exit_code == 1 and "e.csv:3: malformed CSV (lines 3-4)" in result.output
    assert _count(session, Event) == 0


def test_text_after_a_closing_quote_is_a_bad_row_and_reading_goes_on(cli, session, tmp_path):
    _setup(session)
    rows = 'li@example.com,open,2026-05-02,"summer"x,,,,\n' + GOOD
    result = cli("import", "events", "--skip-bad", _write(tmp_path, "e.csv", HEADER + rows))
    assert result.exit_code == 0 and "e.csv:2: malformed CSV" in result.output
    assert _count(session, Event) == 1


@pytest.mark.parametrize("encoding,expected", [
    ("latin-1", "e.csv:3: not UTF-8 text: byte 0xe9 at byte offset"),
    ("utf-16", "e.csv:1: the file is UTF-16 text"),
    ("utf-32", "e.csv:1: the file is UTF-32 text"),
])
def test_a_file_that_is_not_utf8_is_refused_with_line_and_offset(cli, session, tmp_path, encoding, expected):
    _setup(session)
    text = HEADER + GOOD + "li@example.com,open,2026-05-01,café,,,,\n"
    result = cli("import", "events", "--skip-bad", _write(tmp_path, "e.csv", text.encode(encoding)))
    assert result.exit_code == 1 and expected in result.output, result.output
    if encoding == "latin-1":
        offset = len((HEADER + GOOD + "li@example.com,open,2026-05-01,caf").encode())
        assert f"at byte offset {offset} (byte 35 of the line)" in result.output
    assert _count(session, Event) == 0


def test_a_latin1_byte_in_a_jsonl_file_is_refused(cli, session, tmp_path):
    _setup(session)
    data = b'{"email": "anna@example.com", "type": "open", "occurred_at": "2026-05-01", "campaign": "caf\xe9"}\n'
    result = cli("import", "events", _write(tmp_path, "e.jsonl", data))
    assert result.exit_code == 1 and "e.jsonl:1: not UTF-8 text: byte 0xe9" in result.output


def test_a_utf8_bom_is_accepted(cli, session, tmp_path):
    _setup(session)
    assert cli("import", "events", _write(tmp_path, "e.csv", b"\xef\xbb\xbf" + (HEADER + GOOD).encode())).exit_code == 0
    line = '{"email": "li@example.com", "type": "open", "occurred_at": "2026-05-01"}\n'
    result = cli("import", "events", _write(tmp_path, "e.jsonl", b"\xef\xbb\xbf" + line.encode()))
    assert result.exit_code == 0, result.output
    subs = "\ufeffemail,first_name\nnew@example.com,Nová\n"
    assert cli("import", "subscribers", _write(tmp_path, "s.csv", subs)).exit_code == 0
    assert session.scalar(select(Subscriber.first_name).where(Subscriber.email == "new@example.com")) == "Nová"
    assert _count(session, Event) == 2


def test_events_import_refuses_duplicate_header_names(cli, session, tmp_path):
    _setup(session)
    result = cli("import", "events", _write(tmp_path, "e.csv", "email,type,occurred_at,Campaign,campaign\n"))
    assert result.exit_code == 1 and "column(s) appear twice in the header: campaign" in result.output


@pytest.mark.parametrize("row,column,reason", [
    (f"a@example.com,{'x' * 201},,,", "first_name", "too long: 201 characters, at most 200"),
    ("a@example.com,Ann\x00,,,", "first_name", "NUL character"),
    ("a@example.com,,,t\x00g,", "tags", "NUL character"),
    ("a@example.com,,,,gold\x00", "plan", "NUL character"),
    ("a@example.com,,,,,", None, "expected 5 fields"),
    ("a@example.com,,0001-01-01T00:00:00+05:00,,", "subscribed_at", "out of range"),
    (f"{'a' * 320}@example.com,,,,", "email", "too long"),
])
def test_bad_subscriber_values_are_bad_rows(cli, session, tmp_path, row, column, reason):
    make_audience(session)
    session.commit()
    header = "email,first_name,subscribed_at,tags,plan\n"
    result = cli("import", "subscribers", _write(tmp_path, "s.csv", header + "b@example.com,B,,,\n" + row + "\n"))
    assert result.exit_code == 1, result.output
    where = f"s.csv:3: column '{column}': " if column else "s.csv:3: "
    assert where in result.output and reason in result.output
    assert _count(session, Subscriber) == 0


def test_nul_in_a_subscriber_header_is_refused(cli, session, tmp_path):
    make_audience(session)
    session.commit()
    result = cli("import", "subscribers", _write(tmp_path, "s.csv", "email,pl\x00an\nb@example.com,x\n"))
    assert result.exit_code == 1 and "s.csv:1: column" in result.output and "NUL" in result.output
