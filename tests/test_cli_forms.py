"""`mailseg forms`: add, update, list, show, snippet, submissions, remove, on both databases; the domain
functions behind them (update_form, remove_form, form_snippet, submission_counts)."""

from __future__ import annotations

import csv
import io
import json

import click
import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mailseg.cli import main
from mailseg.forms import form_snippet, get_form, remove_form, save_form, submission_counts, update_form
from mailseg.models import FormSubmission, SignupForm
from mailseg.segments import RuleError

from . import factories
from .test_signup_forms import DEFINITION, _post

BASE = "http://127.0.0.1:5000"  # the test config's public address


def test_every_forms_command_and_option_has_help():
    group = main.commands["forms"]
    assert set(group.commands) == {"add", "update", "list", "show", "snippet", "submissions", "remove"}
    for name, command in group.commands.items():
        assert command.help and len(command.get_short_help_str(limit=80)) < 80, name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, (name, param.name)
        assert CliRunner().invoke(main, ["forms", name, "--help"]).exit_code == 0


def test_add_show_list_snippet(cli, session):
    factories.make_audience(session, "main", list_id=None)
    session.commit()
    added = cli("forms", "add", "news", "--title", "Our <news>", "--consent", "I agree.",
                "--interest", "Trail running = interest:trail", "--interest", "road",
                "--question", "How often?", "--answer", "Weekly = runs:weekly", "--answer", "Rarely=runs:rarely")
    assert added.exit_code == 0, added.output
    assert f"{BASE}/f/news" in added.output
    form = session.scalars(select(SignupForm)).one()
    assert form.interests == [{"label": "Trail running", "tag": "interest:trail"}, {"label": "road", "tag": "road"}]
    assert form.question == {"text": "How often?", "answers": [{"label": "Weekly", "tag": "runs:weekly"},
                                                               {"label": "Rarely", "tag": "runs:rarely"}]}
    assert form.ask_name is True
    again = cli("forms", "add", "news", "--title", "T", "--consent", "C")
    assert again.exit_code == 1 and "a form named 'news' exists already" in again.output
    shown = cli("forms", "show", "news").output
    assert "Trail running -> tag interest:trail" in shown and "question: How often?" in shown
    assert "submissions: 0 (0 confirmed; latest never)" in shown
    snippet = cli("forms", "snippet", "news").output.strip()
    assert snippet == (f'<iframe src="{BASE}/f/news?embed=1" title="Our &lt;news&gt;" width="100%" height="640" '
                       'loading="lazy"></iframe>')
    listing = cli("forms", "list").output
    assert "news" in listing and "Our <news>" in listing
    as_json = json.loads(cli("forms", "show", "news", "--json").output)
    assert as_json["name"] == "news" and as_json["interests"][0]["tag"] == "interest:trail"


def test_add_reports_every_problem_and_from_a_file(cli, session, tmp_path):
    factories.make_audience(session, "main", list_id=None)
    session.commit()
    bad = cli("forms", "add", "News", "--title", " ", "--question", "Q?", "--answer", "only")
    assert bad.exit_code == 1
    for message in ("error: name: 'News' must be", "error: title: must not be empty", "error: consent_text:",
                    "error: question.answers: give at least two answers"):
        assert message in bad.output
    assert cli("forms", "add", "x", "--title", "T", "--consent", "C", "--question", "Q?").exit_code == 2
    path = tmp_path / "form.json"
    path.write_text(json.dumps({k: v for k, v in DEFINITION.items() if k != "name"}), encoding="utf-8")
    made = cli("forms", "add", "shoes", "--file", path, "--title", "Shoe news", "--no-ask-name")
    assert made.exit_code == 0, made.output
    form = get_form(session, "shoes")
    assert (form.title, form.ask_name, form.consent_text) == ("Shoe news", False, DEFINITION["consent_text"])
    (tmp_path / "bad.json").write_text("[1,", encoding="utf-8")
    assert cli("forms", "add", "y", "--file", tmp_path / "bad.json").exit_code == 2


def test_update_changes_only_what_is_given(cli, session):
    audience = factories.make_audience(session, "main", list_id=None)
    save_form(session, audience.id, DEFINITION)
    session.commit()
    assert cli("forms", "update", "shoes").exit_code == 2  # nothing to change
    done = cli("forms", "update", "shoes", "--title", "New title", "--no-question")
    assert done.exit_code == 0 and "question, title" in done.output
    session.expire_all()
    form = get_form(session, "shoes")
    assert form.title == "New title" and form.question is None and form.interests == DEFINITION["interests"]
    assert form.consent_text == DEFINITION["consent_text"]
    assert cli("forms", "update", "shoes", "--interest", "Hiking=interest:hike").exit_code == 0
    session.expire_all()
    assert get_form(session, "shoes").interests == [{"label": "Hiking", "tag": "interest:hike"}]
    assert cli("forms", "update", "shoes", "--no-interests").exit_code == 0
    session.expire_all()
    assert get_form(session, "shoes").interests == []
    assert cli("forms", "update", "shoes", "--consent", " ").exit_code == 1
    missing = cli("forms", "update", "ghost", "--title", "x")
    assert missing.exit_code == 1 and "no sign-up form named 'ghost'" in missing.output
    with pytest.raises(RuleError) as caught:
        update_form(session, "shoes", {"colour": "red"})
    assert caught.value.errors[0].startswith("colour: not a field of a form")


def test_submissions_export_and_remove_keeps_evidence_unless_asked(cli, client, session):
    audience = factories.make_audience(session, "main", list_id="list0001")
    form = save_form(session, audience.id, DEFINITION)
    session.commit()
    assert _post(client, form).status_code == 200
    assert _post(client, form, email="bob@example.com", age=20).status_code == 200
    counts = submission_counts(session, audience.id)[form.id]
    assert (counts.submissions, counts.confirmed) == (2, 0) and counts.last_at is not None
    out = cli("forms", "submissions", "shoes").stdout
    rows = list(csv.DictReader(io.StringIO(out)))
    assert [r["email"] for r in rows] == ["new@example.com", "bob@example.com"]
    assert rows[0]["consent_text"] == DEFINITION["consent_text"] and rows[0]["ip"] == "127.0.0.1"
    assert rows[0]["tags"] == "interest:trail;runs:weekly"
    lines = cli("forms", "submissions", "shoes", "--format", "jsonl").stdout.splitlines()
    assert json.loads(lines[1])["email"] == "bob@example.com"
    assert "submissions: 2 (0 confirmed" in cli("forms", "show", "shoes").output
    refused = cli("forms", "remove", "shoes")
    assert refused.exit_code == 1 and "2 submission(s)" in refused.output and "--delete-evidence" in refused.output
    removed = cli("forms", "remove", "shoes", "--delete-evidence")
    assert removed.exit_code == 0 and "with 2 submission(s)" in removed.output
    assert session.scalar(select(func.count()).select_from(FormSubmission)) == 0
    assert client.get("/f/shoes").status_code == 404


def test_remove_without_submissions_and_snippet_escapes(session):
    audience = factories.make_audience(session, "main", list_id=None)
    form = save_form(session, audience.id, {**DEFINITION, "title": 'Say "hi" & <b>'})
    assert form_snippet("https://example.org/", form) == (
        '<iframe src="https://example.org/f/shoes?embed=1" title="Say &quot;hi&quot; &amp; &lt;b&gt;" '
        'width="100%" height="640" loading="lazy"></iframe>')
    assert remove_form(session, "shoes") == 0
    assert session.scalar(select(func.count()).select_from(SignupForm)) == 0

