"""Sign-up form definitions: email (always), name, interest checkboxes (each sets a tag), one question
(its answer sets a tag) and the consent text shown. Built in the panel or from the CLI (`mailseg
forms`); their addresses (the hosted page, the embeddable snippet) and their submissions (the consent
evidence)."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Iterator

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session

from ..export import STREAM_BATCH
from ..models import FormSubmission, SignupForm
from ..segments.grammar import RuleError, check_name

TAG_MAX = 100
# The editable fields of a form (update_form changes only those given).
FIELDS = ("title", "consent_text", "ask_name", "interests", "question")
SUBMISSION_COLUMNS = ("email", "submitted_at", "confirmed_at", "ip", "user_agent", "tags", "consent_text")
SNIPPET_HEIGHT = 640


class FormNotFound(LookupError):
    pass


def parse_choices(text: str) -> list[dict[str, str]]:
    """Choices written one per line (panel) or one per option (CLI) as 'Label = tag'; a line without
    '=' is both the label and the tag; blank lines are skipped."""
    out = []
    for line in text.splitlines():
        if line.strip():
            label, _sep, tag = line.partition("=")
            out.append({"label": label.strip(), "tag": (tag or label).strip()})
    return out


def choices_text(choices: list[dict[str, str]] | None) -> str:
    """The inverse of parse_choices: 'Label = tag' per line."""
    return "\n".join(f"{c['label']} = {c['tag']}" for c in choices or [])


def _choices(raw: Any, path: str, errors: list[str]) -> list[dict[str, str]]:
    """[{"label": ..., "tag": ...}]; a plain string is both label and tag."""
    if raw is None:
        return []
    if not isinstance(raw, list):
        errors.append(f"{path}: must be a list")
        return []
    out = []
    for i, item in enumerate(raw):
        if isinstance(item, str):
            item = {"label": item, "tag": item}
        label = str(item.get("label", "")).strip() if isinstance(item, dict) else ""
        tag = str(item.get("tag", "") or label).strip() if isinstance(item, dict) else ""
        if not label or not tag or len(tag) > TAG_MAX:
            errors.append(f"{path}[{i}]: needs a label and a tag of at most {TAG_MAX} characters")
            continue
        out.append({"label": label, "tag": tag})
    if len({c["tag"].lower() for c in out}) != len(out):
        errors.append(f"{path}: two choices set the same tag")
    return out


def check_form(definition: dict[str, Any]) -> dict[str, Any]:
    """The form's fields, cleaned; RuleError listing every problem."""
    errors: list[str] = []
    try:
        check_name(str(definition.get("name") or ""))
    except RuleError as exc:
        errors.extend(exc.errors)
    title = str(definition.get("title") or "").strip()
    consent = str(definition.get("consent_text") or "").strip()
    if not title:
        errors.append("title: must not be empty")
    if not consent:
        errors.append("consent_text: say what the subscriber agrees to (it is kept as evidence)")
    interests = _choices(definition.get("interests"), "interests", errors)
    question = definition.get("question")
    if question:
        text = str(question.get("text") or "").strip() if isinstance(question, dict) else ""
        answers = _choices(question.get("answers") if isinstance(question, dict) else None, "question.answers", errors)
        if not text:
            errors.append("question.text: must not be empty")
        if len(answers) < 2:
            errors.append("question.answers: give at least two answers")
        question = {"text": text, "answers": answers}
    if errors:
        raise RuleError(errors)
    return {"name": definition["name"], "title": title, "consent_text": consent, "interests": interests,
            "question": question or None, "ask_name": bool(definition.get("ask_name", True))}


def save_form(session: Session, audience_id: int, definition: dict[str, Any]) -> SignupForm:
    """Create the form, or update the one of that name."""
    clean = check_form(definition)
    form = session.scalar(select(SignupForm).where(SignupForm.name == clean["name"]))
    if form is not None and form.audience_id != audience_id:
        raise RuleError([f"name: form {clean['name']!r} belongs to another audience"])
    if form is None:
        form = SignupForm(audience_id=audience_id, **clean)
        session.add(form)
    else:
        for key, value in clean.items():
            setattr(form, key, value)
    session.flush()
    return form


def add_form(session: Session, audience_id: int, definition: dict[str, Any]) -> SignupForm:
    """Create a new form; RuleError when one of that name exists (forms share one namespace: /f/<name>)."""
    name = str(definition.get("name") or "")
    if session.scalar(select(SignupForm.id).where(SignupForm.name == name)) is not None:
        raise RuleError([f"name: a form named {name!r} exists already (use update)"])
    return save_form(session, audience_id, definition)


def get_form(session: Session, name: str) -> SignupForm:
    form = session.scalar(select(SignupForm).where(SignupForm.name == name))
    if form is None:
        raise FormNotFound(f"no sign-up form named {name!r}")
    return form


def list_forms(session: Session, audience_id: int) -> list[SignupForm]:
    return list(session.scalars(select(SignupForm).where(SignupForm.audience_id == audience_id)
                                .order_by(SignupForm.name)))


def definition_of(form: SignupForm) -> dict[str, Any]:
    """The form as the definition save_form takes (and `mailseg forms show --json` prints)."""
    return {"name": form.name, "title": form.title, "consent_text": form.consent_text, "ask_name": form.ask_name,
            "interests": list(form.interests or []), "question": form.question}


def update_form(session: Session, name: str, changes: dict[str, Any]) -> SignupForm:
    """Change some fields of form `name` (keys of FIELDS; question None removes the question); the
    whole form is checked again. RuleError for an unknown field or a bad value."""
    form = get_form(session, name)
    unknown = sorted(set(changes) - set(FIELDS))
    if unknown:
        raise RuleError([f"{key}: not a field of a form (fields: {', '.join(FIELDS)})" for key in unknown])
    return save_form(session, form.audience_id, {**definition_of(form), **changes})


def remove_form(session: Session, name: str, *, delete_evidence: bool = False) -> int:
    """Delete form `name`; returns how many submissions went with it. A form with submissions (the
    consent evidence) is refused unless delete_evidence: export them first (`mailseg forms submissions`)."""
    form = get_form(session, name)
    submissions = session.scalar(select(func.count()).where(FormSubmission.form_id == form.id)) or 0
    if submissions and not delete_evidence:
        raise RuleError([f"form {name!r} has {submissions} submission(s), the consent evidence of its sign-ups: "
                         "export them (mailseg forms submissions) and remove with --delete-evidence"])
    session.execute(delete(FormSubmission).where(FormSubmission.form_id == form.id))
    session.delete(form)
    session.flush()
    return submissions


def form_url(base_url: str, form: SignupForm, *, embed: bool = False) -> str:
    """The hosted page (names are URL-safe: check_name)."""
    return f"{base_url.rstrip('/')}/f/{form.name}" + ("?embed=1" if embed else "")


def form_snippet(base_url: str, form: SignupForm) -> str:
    """The HTML to paste into a site: an iframe of the hosted page's embeddable version."""
    return (f'<iframe src="{html.escape(form_url(base_url, form, embed=True))}" title="{html.escape(form.title)}" '
            f'width="100%" height="{SNIPPET_HEIGHT}" loading="lazy"></iframe>')


@dataclass(frozen=True)
class FormCounts:
    submissions: int
    confirmed: int
    last_at: datetime | None


def submission_counts(session: Session, audience_id: int) -> dict[int, FormCounts]:
    """Per form of the audience: accepted submissions, confirmed ones, the latest submission time."""
    rows = session.execute(select(FormSubmission.form_id, func.count(), func.count(FormSubmission.confirmed_at),
                                  func.max(FormSubmission.submitted_at))
                           .join(SignupForm, SignupForm.id == FormSubmission.form_id)
                           .where(SignupForm.audience_id == audience_id).group_by(FormSubmission.form_id))
    return {form_id: FormCounts(n, confirmed, last) for form_id, n, confirmed, last in rows}


def submission_rows(session: Session, form_id: int) -> Iterator[dict[str, Any]]:
    """The form's submissions, oldest first, streamed (the consent evidence export)."""
    stmt = (select(*(getattr(FormSubmission, c) for c in SUBMISSION_COLUMNS))
            .where(FormSubmission.form_id == form_id).order_by(FormSubmission.submitted_at, FormSubmission.id)
            .execution_options(yield_per=STREAM_BATCH))
    for row in session.execute(stmt):
        yield dict(zip(SUBMISSION_COLUMNS, row))
