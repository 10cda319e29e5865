"""Surveys and answers: one question, a list of answers or the 0-10 scale; recording is idempotent,
a later answer replaces the current one and every answer stays in the history.

The answer is also a subscriber tag, survey:<survey>:<answer> (the previous answer's tag is taken
off), and the `survey.<name>` field of rules (survey_responses)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from ..models import Subscriber, Survey, SurveyAnswer, SurveyResponse
from ..segments.grammar import RuleError, check_name
from ..segments.store import named

SCALE = tuple(str(n) for n in range(11))
ANSWER_MAX = 100


class SurveyNotFound(LookupError):
    pass


def add_survey(session: Session, audience_id: int, name: str, question: str, answers: list[str] | None, *,
               sync: bool = False) -> Survey:
    """A survey with its answers, or (answers None) the 0-10 "would you recommend us" scale."""
    check_name(name)
    errors = []
    if not question.strip():
        errors.append("question: must not be empty")
    if answers is not None:
        cleaned = [a.strip() for a in answers]
        if len(cleaned) < 2:
            errors.append("answers: a survey needs at least two answers (or the 0-10 scale)")
        if any(not a or len(a) > ANSWER_MAX or ":" in a for a in cleaned):
            errors.append(f"answers: each answer is 1-{ANSWER_MAX} characters without ':' (it becomes a tag)")
        if len({a.lower() for a in cleaned}) != len(cleaned):
            errors.append("answers: two answers are the same")
    if session.scalar(select(Survey.id).where(Survey.audience_id == audience_id, Survey.name == name)):
        errors.append(f"name: a survey named {name!r} exists already")
    if errors:
        raise RuleError(errors)
    survey = Survey(audience_id=audience_id, name=name, question=question.strip(),
                    kind="scale" if answers is None else "choice",
                    answers=list(SCALE) if answers is None else cleaned, sync=sync)
    session.add(survey)
    session.flush()
    return survey


def get_survey(session: Session, audience_id: int, name: str) -> Survey:
    return named(session, Survey, audience_id, name, SurveyNotFound, "survey")


def list_surveys(session: Session, audience_id: int) -> list[Survey]:
    return list(session.scalars(select(Survey).where(Survey.audience_id == audience_id).order_by(Survey.name)))


def answer_tag(survey_name: str, answer: str) -> str:
    return f"survey:{survey_name}:{answer}"


@dataclass(frozen=True)
class Recorded:
    changed: bool  # False: the same answer was already the current one (nothing written)
    previous: str | None


def record_answer(session: Session, survey: Survey, subscriber_id: int, answer: str, *, at: datetime,
                  ip: str | None = None, user_agent: str | None = None) -> Recorded:
    """Record the subscriber's answer (the caller commits). Answering again the same is a no-op."""
    if answer not in survey.answers:
        raise ValueError(f"{answer!r} is not an answer of survey {survey.name!r}")
    current = session.get(SurveyResponse, (survey.id, subscriber_id), with_for_update=True)
    if current is not None and current.answer == answer:
        return Recorded(False, answer)
    previous = current.answer if current is not None else None
    session.add(SurveyAnswer(survey_id=survey.id, subscriber_id=subscriber_id, answer=answer, answered_at=at,
                             ip=ip, user_agent=(user_agent or "")[:1000] or None))
    if current is None:
        session.add(SurveyResponse(survey_id=survey.id, subscriber_id=subscriber_id, answer=answer, answered_at=at))
    else:
        current.answer, current.answered_at = answer, at
    subscriber = session.get(Subscriber, subscriber_id)
    prefix = answer_tag(survey.name, "")
    subscriber.tags = [t for t in (subscriber.tags or []) if not t.startswith(prefix)] + [answer_tag(survey.name, answer)]
    session.flush()
    return Recorded(True, previous)
