"""`mailseg import subscribers`: upserts, merge fields, tags, bad rows named by line and column."""

from sqlalchemy import func, select

from mailseg.models import Subscriber

from .factories import utc, write_file

GOOD = """
email,status,subscribed_at,first_name,last_name,tags,COUNTRY
 Anna@Example.com ,subscribed,2025-03-01,Anna,K,shop;blog,UA
li@example.com,unsubscribed,2025-04-02T10:00:00+02:00,Li,W,,CN
bob@example.com,,,Bob,,events,
"""


def subscribers(session):
    return {s.email: s for s in session.scalars(select(Subscriber))}


def test_import_creates_subscribers_with_normalised_email_and_merge_fields(cli, session, tmp_path):
    result = cli("import", "subscribers", write_file(tmp_path, "subs.csv", GOOD))
    assert result.exit_code == 0, result.output
    assert "3 added" in result.output
    subs = subscribers(session)
    assert set(subs) == {"anna@example.com", "li@example.com", "bob@example.com"}
    anna = subs["anna@example.com"]
    assert anna.status == "subscribed"
    assert anna.subscribed_at == utc(2025, 3, 1)
    assert anna.tags == ["shop", "blog"]
    assert anna.merge_fields == {"country": "UA"}
    assert subs["li@example.com"].status == "unsubscribed"
    assert subs["li@example.com"].subscribed_at == utc(2025, 4, 2, 8)
    assert subs["bob@example.com"].status == "subscribed"


def test_reimport_changes_nothing_and_update_updates(cli, session, tmp_path):
    path = write_file(tmp_path, "subs.csv", GOOD)
    cli("import", "subscribers", path)
    before = {e: (s.updated_at, s.subscribed_at) for e, s in subscribers(session).items()}
    session.expire_all()
    again = cli("import", "subscribers", path)
    assert again.exit_code == 0
    assert "0 added, 0 updated, 3 unchanged" in again.output
    assert {e: (s.updated_at, s.subscribed_at) for e, s in subscribers(session).items()} == before

    changed = write_file(tmp_path, "subs2.csv", "email,status\nanna@example.com,unsubscribed\nnew@example.com,\n")
    result = cli("import", "subscribers", changed)
    assert "1 added, 1 updated, 0 unchanged" in result.output
    session.expire_all()
    anna = subscribers(session)["anna@example.com"]
    assert anna.status == "unsubscribed"
    assert anna.status_changed_at is not None
    assert anna.tags == ["shop", "blog"]  # columns absent from the file are kept
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 4


def test_bad_rows_are_named_and_nothing_is_stored(cli, session, tmp_path):
    path = write_file(tmp_path, "bad.csv", """
email,status,subscribed_at
ok@example.com,subscribed,2025-01-01
not-an-email,subscribed,2025-01-01
x@example.com,gone,2025-01-01
y@example.com,subscribed,yesterday
ok@example.com,subscribed,2025-01-01
""")
    result = cli("import", "subscribers", path)
    assert result.exit_code == 1
    assert "bad.csv:3: column 'email'" in result.output
    assert "bad.csv:4: column 'status'" in result.output
    assert "bad.csv:5: column 'subscribed_at'" in result.output
    assert "bad.csv:6: column 'email': ok@example.com already appears on line 2" in result.output
    assert "nothing was stored" in result.output
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 0


def test_skip_bad_stores_good_rows(cli, session, tmp_path):
    path = write_file(tmp_path, "bad.csv", "email\nok@example.com\nbroken\n")
    result = cli("import", "subscribers", "--skip-bad", path)
    assert result.exit_code == 0
    assert "bad.csv:3" in result.output
    assert set(subscribers(session)) == {"ok@example.com"}


def test_header_without_email_is_rejected(cli, tmp_path):
    result = cli("import", "subscribers", write_file(tmp_path, "x.csv", "name\nAnna\n"))
    assert result.exit_code == 1
    assert "x.csv:1: header lacks required column(s): email" in result.output


def test_wrong_field_count_names_the_line(cli, session, tmp_path):
    result = cli("import", "subscribers", write_file(tmp_path, "x.csv", "email,status\na@example.com\n"))
    assert result.exit_code == 1
    assert "x.csv:2: expected 2 fields" in result.output
