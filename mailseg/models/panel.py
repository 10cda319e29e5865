"""The web panel's own tables: accounts, login attempts, settings overrides with their audit
trail, and job requests queued from the panel for the scheduler to pick up."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from .base import Base, JSONType, UTCDateTime, utcnow

USER_ROLES = ("admin", "viewer")


class User(Base):
    """A panel account; admins change settings and queue jobs, viewers only look."""

    __tablename__ = "users"
    __table_args__ = (CheckConstraint("role IN ('admin', 'viewer')", name="role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    password_hash: Mapped[str] = mapped_column(String(300))
    role: Mapped[str] = mapped_column(String(20), default="viewer")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_login_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The panel language the user chose (en, uk, ru, zh); NULL follows the browser's Accept-Language.
    language: Mapped[str | None] = mapped_column(String(10))


class UserSession(Base):
    """A logged-in panel session, held on the server: the cookie carries only its random token,
    stored here as a SHA-256 hash. Logout ends it; a password or role change ends all of the user's."""

    __tablename__ = "user_sessions"
    __table_args__ = (Index("ix_user_sessions_user", "user_id", "ended_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    ended_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Why it ended: logout, password changed, role changed.
    end_reason: Mapped[str | None] = mapped_column(String(40))


class LoginCounter(Base):
    """Login attempts per client address and minute, counted atomically (one upsert that returns
    the new count), so every worker and process shares the limit and parallel attempts cannot race."""

    __tablename__ = "login_counters"

    address: Mapped[str] = mapped_column(String(45), primary_key=True)
    window_start: Mapped[datetime] = mapped_column(UTCDateTime, primary_key=True)
    attempts: Mapped[int] = mapped_column(default=0)


class SecretFingerprint(Base):
    """When each secret config key last changed: a salted SHA-256 of its value (never the value),
    compared with the running configuration when the settings page is shown."""

    __tablename__ = "secret_fingerprints"

    name: Mapped[str] = mapped_column(String(80), primary_key=True)
    fingerprint: Mapped[str] = mapped_column(String(100))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class LoginAttempt(Base):
    """A failed login, kept in the database so the rate limit holds across gunicorn workers."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_address_time", "address", "attempted_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    address: Mapped[str] = mapped_column(String(45))
    email: Mapped[str | None] = mapped_column(String(320))
    attempted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)


class SettingOverride(Base):
    """A value set in the panel; it wins over the config file and the environment."""

    __tablename__ = "settings"
    __table_args__ = (UniqueConstraint("section", "key"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    section: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(80))
    value: Mapped[Any] = mapped_column(JSONType)
    updated_by: Mapped[str] = mapped_column(String(320))
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)


class SettingChange(Base):
    """The audit trail of settings changed in the panel: who, when, what, from and to."""

    __tablename__ = "setting_changes"
    __table_args__ = (Index("ix_setting_changes_changed_at", "changed_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    changed_by: Mapped[str] = mapped_column(String(320))
    section: Mapped[str] = mapped_column(String(40))
    key: Mapped[str] = mapped_column(String(80))
    old_value: Mapped[Any] = mapped_column(JSONType, nullable=True)
    new_value: Mapped[Any] = mapped_column(JSONType, nullable=True)


class JobRequest(Base):
    """A job asked for in the panel ("sync now", "dry run"); the scheduler picks it up and runs it."""

    __tablename__ = "job_requests"
    __table_args__ = (Index("ix_job_requests_pending", "picked_up_at", "requested_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    job: Mapped[str] = mapped_column(String(40))
    audience_id: Mapped[int | None] = mapped_column(ForeignKey("audiences.id", ondelete="CASCADE"))
    options: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    requested_by: Mapped[str] = mapped_column(String(320))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    picked_up_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The run that served the request, once the scheduler has started it.
    run_id: Mapped[int | None] = mapped_column(ForeignKey("job_runs.id", ondelete="SET NULL"))
