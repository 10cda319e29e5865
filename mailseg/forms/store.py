"""Sign-up form definitions: email (always), name, interest checkboxes (each sets a tag), one question
(its answer sets a tag) and the consent text shown. Built in the panel or from the CLI."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import SignupForm
from ..segments.grammar import RuleError, check_name

TAG_MAX = 100


class FormNotFound(LookupError):
    pass


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


def get_form(session: Session, name: str) -> SignupForm:
    form = session.scalar(select(SignupForm).where(SignupForm.name == name))
    if form is None:
        raise FormNotFound(f"no sign-up form named {name!r}")
    return form


def list_forms(session: Session, audience_id: int) -> list[SignupForm]:
    return list(session.scalars(select(SignupForm).where(SignupForm.audience_id == audience_id)
                                .order_by(SignupForm.name)))
