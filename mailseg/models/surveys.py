"""One-click surveys and their answers; sign-up forms and their submissions (consent evidence)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, PrimaryKeyConstraint, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .audience import SUBSCRIBER_KEY
from .base import Base, JSONType, UTCDateTime, utcnow
from .events import BIG_ID

SURVEY_KINDS = ("choice", "scale")


class Survey(Base):
    """A one-question survey: a list of answers, or the 0-10 "would you recommend us" scale."""

    __tablename__ = "surveys"
    __table_args__ = (UniqueConstraint("audience_id", "name"),
                      CheckConstraint("kind IN ('choice', 'scale')", name="kind"))

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    question: Mapped[str] = mapped_column(Text)
    kind: Mapped[str] = mapped_column(String(10), default="choice")
    # The answers' keys, in order ("0".."10" for the scale).
    answers: Mapped[list[str]] = mapped_column(JSONType)
    # Answer tags (survey:<name>:<answer>) mirrored to the platform.
    sync: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SurveyAnswer(Base):
    """Every answer recorded, in order: the answer history (a later answer replaces the current one)."""

    __tablename__ = "survey_answers"
    __table_args__ = (PrimaryKeyConstraint("subscriber_id", "id"),
                      Index("ix_survey_answers_survey_time", "survey_id", "answered_at"),
                      Index("ix_survey_answers_subscriber", "subscriber_id", "survey_id"))

    id: Mapped[int] = mapped_column(BIG_ID, autoincrement=True)
    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"))
    answer: Mapped[str] = mapped_column(String(100))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)


class SurveyResponse(Base):
    """A subscriber's latest answer to a survey (the `survey.<name>` field of rules)."""

    __tablename__ = "survey_responses"
    __table_args__ = (Index("ix_survey_responses_survey_answer", "survey_id", "answer"),)

    survey_id: Mapped[int] = mapped_column(ForeignKey("surveys.id", ondelete="CASCADE"), primary_key=True)
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"), primary_key=True)
    answer: Mapped[str] = mapped_column(String(100))
    answered_at: Mapped[datetime] = mapped_column(UTCDateTime)


class SignupForm(Base):
    """A hosted sign-up form (/f/<name>): email, name, interests (tags), one question, consent text."""

    __tablename__ = "signup_forms"
    __table_args__ = (UniqueConstraint("name"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    audience_id: Mapped[int] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    name: Mapped[str] = mapped_column(String(100))
    title: Mapped[str] = mapped_column(String(300))
    ask_name: Mapped[bool] = mapped_column(default=True)
    # [{"label": "Running shoes", "tag": "interest:running"}, ...]
    interests: Mapped[list[dict[str, Any]]] = mapped_column(JSONType, default=list)
    # {"text": "...", "answers": [{"label": ..., "tag": ...}]} or None
    question: Mapped[dict[str, Any] | None] = mapped_column(JSONType)
    consent_text: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class FormSubmission(Base):
    """One accepted submission: the consent evidence (text shown, time, address) and what it set."""

    __tablename__ = "form_submissions"
    __table_args__ = (PrimaryKeyConstraint("subscriber_id", "id"),
                      Index("ix_form_submissions_email_time", "email", "submitted_at"),)

    id: Mapped[int] = mapped_column(autoincrement=True)
    form_id: Mapped[int] = mapped_column(ForeignKey("signup_forms.id", ondelete="CASCADE"))
    subscriber_id: Mapped[int] = mapped_column(SUBSCRIBER_KEY, ForeignKey("subscribers.id", ondelete="CASCADE"))
    email: Mapped[str] = mapped_column(String(320))
    submitted_at: Mapped[datetime] = mapped_column(UTCDateTime)
    ip: Mapped[str | None] = mapped_column(String(45))
    user_agent: Mapped[str | None] = mapped_column(Text)
    consent_text: Mapped[str] = mapped_column(Text)
    tags: Mapped[list[str]] = mapped_column(JSONType, default=list)
    confirmed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
