"""A sign-up form submission: bot and abuse checks, then the one subscriber upsert path.

Defences: a hidden honeypot field (people leave it empty), a signed form token carrying the moment
the form was rendered (no session cookie; too fast or too old is refused), and a per-address limit
of accepted submissions per hour. A repeated submission updates the subscriber, never duplicates it.

The subscriber is created or updated with status pending (a subscribed one stays subscribed), the
interests' and the answer's tags added; the consent text shown, the time and the address are kept as
evidence (form_submissions). Confirmation makes a pending subscriber subscribed: with Mailchimp
configured, Mailchimp sends its double opt-in mail to the pending member it creates and its
"subscribe" webhook confirms; otherwise confirm_submission takes the signed confirmation link.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Mapping

from itsdangerous import BadData, URLSafeSerializer
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from ..config import FormsConfig
from ..subscribers.status import StatusChange, change_statuses
from ..subscribers.upsert import SubscriberRow, upsert_subscribers
from ..models import FormSubmission, SignupForm, Subscriber, normalise_email

FORM_SALT = "mailseg.form.render"
CONFIRM_SALT = "mailseg.form.confirm"
HONEYPOT = "website"
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
NAME_MAX = 200


def form_token(secret: str, form_id: int, rendered_at: datetime) -> str:
    return URLSafeSerializer(secret, salt=FORM_SALT).dumps([form_id, rendered_at.timestamp()])


def confirmation_token(secret: str, submission_id: int) -> str:
    return URLSafeSerializer(secret, salt=CONFIRM_SALT).dumps([submission_id])


def read_confirmation_token(secret: str, token: str) -> int | None:
    try:
        payload = URLSafeSerializer(secret, salt=CONFIRM_SALT).loads(token)
    except (BadData, ValueError, TypeError):
        return None
    ok = isinstance(payload, list) and len(payload) == 1 and isinstance(payload[0], int)
    return payload[0] if ok else None


@dataclass
class Submission:
    """The outcome: errors by field ("email", "consent", "interests", "answer", "form"), or the subscriber."""

    errors: dict[str, str] = field(default_factory=dict)
    subscriber_id: int | None = None
    submission_id: int | None = None
    created: bool = False
    email: str = ""
    merge_fields: dict = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.errors


def submit_signup(session: Session, form: SignupForm, data: Mapping[str, object], *, secret: str,
                  settings: FormsConfig, now: datetime, ip: str | None, user_agent: str | None) -> Submission:
    """Check a posted form (data: field -> str, "interests" -> list of tags) and store it; the caller commits."""
    result = Submission()
    _check_bot(result, form, data, secret, settings, now)
    if result.errors:
        return result  # a bot gets no hint about the other fields
    email = normalise_email(str(data.get("email") or ""))
    result.email = email
    if not email:
        result.errors["email"] = "Enter your email address."
    elif len(email) > 320 or not EMAIL_PATTERN.match(email):
        result.errors["email"] = "This is not a valid email address."
    if str(data.get("consent") or "") != "yes":
        result.errors["consent"] = "Please agree, so we may send you our emails."
    name = str(data.get("first_name") or "").strip()
    if len(name) > NAME_MAX:
        result.errors["first_name"] = f"At most {NAME_MAX} characters."
    tags = _chosen_tags(result, form, data)
    if result.errors:
        return result
    if _recent_submissions(session, form.audience_id, email, now) >= settings.per_address_per_hour:
        result.errors["email"] = "This address was signed up several times just now; try again in an hour."
        return result
    result.subscriber_id, result.created = _upsert(session, form.audience_id, email, name if form.ask_name else "", tags)
    submission = FormSubmission(form_id=form.id, subscriber_id=result.subscriber_id, email=email, submitted_at=now,
                                ip=ip, user_agent=(user_agent or "")[:1000] or None, consent_text=form.consent_text,
                                tags=tags)
    session.add(submission)
    session.flush()
    result.submission_id = submission.id
    result.merge_fields = {"FNAME": name} if name and form.ask_name else {}
    return result


def _check_bot(result: Submission, form: SignupForm, data, secret: str, settings: FormsConfig, now: datetime) -> None:
    if str(data.get(HONEYPOT) or ""):
        result.errors["form"] = "Something went wrong; please submit the form again."
        return
    try:
        form_id, rendered = URLSafeSerializer(secret, salt=FORM_SALT).loads(str(data.get("form_token") or ""))
    except (BadData, ValueError, TypeError):
        result.errors["form"] = "This form is not valid any more; reload the page and try again."
        return
    age = now.timestamp() - float(rendered)
    if form_id != form.id or age > settings.max_age_hours * 3600:
        result.errors["form"] = "This form is not valid any more; reload the page and try again."
    elif age < settings.min_seconds:
        result.errors["form"] = "That was very fast; please check the form and submit it again."


def _chosen_tags(result: Submission, form: SignupForm, data) -> list[str]:
    interests = data.get("interests") or []
    interests = [interests] if isinstance(interests, str) else list(interests)
    offered = {c["tag"] for c in form.interests}
    if any(tag not in offered for tag in interests):
        result.errors["interests"] = "Choose from the list."
    tags = [c["tag"] for c in form.interests if c["tag"] in interests]
    answer = str(data.get("answer") or "")
    if form.question and answer:
        answers = {c["tag"] for c in form.question["answers"]}
        if answer not in answers:
            result.errors["answer"] = "Choose one of the answers."
        else:
            tags.append(answer)
    return tags


def _recent_submissions(session: Session, audience_id: int, email: str, now: datetime) -> int:
    return session.scalar(select(func.count()).select_from(FormSubmission)
                          .join(SignupForm, SignupForm.id == FormSubmission.form_id)
                          .where(SignupForm.audience_id == audience_id, FormSubmission.email == email,
                                 FormSubmission.submitted_at > now - timedelta(hours=1))) or 0


def _upsert(session: Session, audience_id: int, email: str, name: str, tags: list[str]) -> tuple[int, bool]:
    """Through the one upsert path: pending unless subscribed already, tags added to the ones held."""
    current = session.execute(select(Subscriber.id, Subscriber.status, Subscriber.tags)
                              .where(Subscriber.audience_id == audience_id, Subscriber.email == email)).first()
    held = list(current.tags or []) if current else []
    values: dict = {"tags": held + [t for t in tags if t not in held]}
    if current is None or current.status != "subscribed":
        values["status"] = "pending"
    if name:
        values["first_name"] = name
    upsert_subscribers(session, audience_id, [SubscriberRow(email, values)], source="form")
    subscriber_id = session.scalar(select(Subscriber.id).where(Subscriber.audience_id == audience_id,
                                                               Subscriber.email == email))
    return subscriber_id, current is None


def confirm_submission(session: Session, submission_id: int, now: datetime) -> FormSubmission | None:
    """The subscriber confirmed (double opt-in): pending becomes subscribed; idempotent. The caller commits."""
    submission = session.scalar(select(FormSubmission).where(FormSubmission.id == submission_id))
    if submission is None:
        return None
    if submission.confirmed_at is None:
        submission.confirmed_at = now
    subscriber = session.get(Subscriber, submission.subscriber_id)
    if subscriber.status == "pending":
        change_statuses(session, [StatusChange(subscriber.id, "subscribed", now, "form")])
        subscriber.subscribed_at = now
    session.flush()
    return submission
