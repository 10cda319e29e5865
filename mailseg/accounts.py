"""Panel accounts: users with hashed passwords and roles, server-side sessions, and the
per-address login rate limit.

Sessions live in the database (user_sessions): the cookie holds a random token, so logout, a
password change or a role change ends a session for good, even for a copy of the cookie.
The rate limit counts attempts in the database with one atomic upsert per attempt, so it holds
across gunicorn workers, processes and hosts, and parallel attempts cannot race past it.
"""

from __future__ import annotations

import hashlib
import math
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import USER_ROLES, LoginAttempt, LoginCounter, User, UserSession, normalise_email, utcnow
from .sqlutil import upsert

MIN_PASSWORD_LENGTH = 8
DEMO_ADMIN_EMAIL = "admin@demo.example"
RATE_WINDOW = timedelta(minutes=1)
# Failed attempts older than this are deleted when new ones are recorded.
ATTEMPT_RETENTION = timedelta(days=1)
# Checked when the email has no account, so a wrong password costs the same time whether or not the
# account exists (the hash of a random password, made with the same method as real ones).
_DUMMY_HASH = generate_password_hash(secrets.token_urlsafe(16))


class AccountError(ValueError):
    """A user cannot be created or changed; the message says why."""


@dataclass(frozen=True)
class LoginResult:
    user: User | None
    rate_limited: bool = False


def create_user(session: Session, email: str, password: str, role: str = "viewer") -> User:
    email = normalise_email(email)
    if "@" not in email:
        raise AccountError(f"not an email address: {email!r}")
    if role not in USER_ROLES:
        raise AccountError(f"role must be one of {', '.join(USER_ROLES)}, got {role!r}")
    _check_password(password)
    if session.scalar(select(User.id).where(User.email == email)) is not None:
        raise AccountError(f"a user {email} already exists")
    user = User(email=email, password_hash=generate_password_hash(password), role=role)
    session.add(user)
    session.flush()
    return user


def ensure_demo_admin(session: Session, email: str = DEMO_ADMIN_EMAIL,
                      password: str | None = None) -> tuple[User, str | None]:
    """The demo admin, created when missing. With a password, the account ends up with exactly
    that password (so a demo script can print working credentials every time); without one, a
    random password is made for a new account. Returns (user, password); the password is None when
    the user already existed and none was given (it is never stored in clear)."""
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        password = password or secrets.token_urlsafe(12)
        return create_user(session, email, password, role="admin"), password
    if password is not None and not check_password_hash(user.password_hash, password):
        set_password(session, user.email, password)
    return user, password


def authenticate(session: Session, email: str, password: str, *, address: str,
                 attempts_per_minute: int) -> LoginResult:
    """Check a login. Each attempt first takes a slot of the address's per-minute budget atomically
    (count_attempt); over the budget it is refused without checking. A wrong password for a
    missing account does the same hashing work as for an existing one. A success gives its slot
    back, so only failures use up the budget. Commits."""
    now = utcnow()
    if count_attempt(session, address, now) > attempts_per_minute:
        return LoginResult(None, rate_limited=True)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    valid = check_password_hash(user.password_hash if user is not None else _DUMMY_HASH, password)
    if user is None or not valid:
        _record_failure(session, address, email, now)
        return LoginResult(None)
    _give_back_attempt(session, address, now)
    user.last_login_at = now
    session.commit()
    return LoginResult(user)


def _window(now: datetime) -> datetime:
    return now.replace(second=0, microsecond=0)


def count_attempt(session: Session, address: str, now: datetime) -> int:
    """Count one attempt for the address and return the attempts of the last minute, this one included.

    Login counter upsert: INSERT (address, this minute, 1) ON CONFLICT DO UPDATE attempts + 1
    RETURNING attempts — one statement, atomic on SQLite and PostgreSQL, so 30 parallel attempts
    get 30 different counts. The previous minute counts in proportion to how much of it is still
    inside the last 60 seconds (a sliding window), so a burst at a minute's boundary gets no double
    budget. Committed at once: every other worker sees it."""
    table = LoginCounter.__table__
    window = _window(now)
    stmt = upsert(session, table).values(address=address, window_start=window, attempts=1)
    stmt = stmt.on_conflict_do_update(index_elements=["address", "window_start"],
                                      set_={"attempts": table.c.attempts + 1})
    current = session.execute(stmt.returning(table.c.attempts)).scalar_one()
    previous = session.scalar(select(table.c.attempts).where(
        table.c.address == address, table.c.window_start == window - RATE_WINDOW)) or 0
    session.commit()
    overlap = 1 - (now - window) / RATE_WINDOW
    # rounded up: rounding down let a burst of failures across a minute's boundary have one more try
    # than the limit (5 failures, 3 of them a second before the minute turned, counted as 2 + 2 + 1)
    return current + math.ceil(previous * overlap)


def _give_back_attempt(session: Session, address: str, now: datetime) -> None:
    table = LoginCounter.__table__
    session.execute(update(table).where(table.c.address == address, table.c.window_start == _window(now),
                                        table.c.attempts > 0).values(attempts=table.c.attempts - 1))


def _record_failure(session: Session, address: str, email: str, now: datetime) -> None:
    """Keep the failed attempt (address and email, for the admin's eye) and forget old ones."""
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - ATTEMPT_RETENTION))
    session.execute(delete(LoginCounter).where(LoginCounter.window_start < now - ATTEMPT_RETENTION))
    session.add(LoginAttempt(address=address, email=normalise_email(email)[:320] or None, attempted_at=now))
    session.commit()


# --- sessions ---------------------------------------------------------------------------------

def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def start_session(session: Session, user_id: int) -> str:
    """A new server-side session for the user; returns its token (for the cookie, never stored)."""
    token = secrets.token_urlsafe(32)
    session.add(UserSession(token_hash=_token_hash(token), user_id=user_id, created_at=utcnow()))
    session.flush()
    return token


def session_user(session: Session, token: str) -> User | None:
    """The user of a session that has not ended, or None."""
    if not token or len(token) > 100:
        return None
    return session.scalar(select(User).join(UserSession, UserSession.user_id == User.id).where(
        UserSession.token_hash == _token_hash(token), UserSession.ended_at.is_(None)))


def end_session(session: Session, token: str, reason: str = "logout") -> None:
    session.execute(update(UserSession).where(UserSession.token_hash == _token_hash(token),
                                              UserSession.ended_at.is_(None))
                    .values(ended_at=utcnow(), end_reason=reason))


def end_user_sessions(session: Session, user_id: int, reason: str) -> int:
    """End every open session of the user; returns how many."""
    result = session.execute(update(UserSession).where(UserSession.user_id == user_id, UserSession.ended_at.is_(None))
                             .values(ended_at=utcnow(), end_reason=reason))
    return result.rowcount or 0


def set_password(session: Session, email: str, password: str) -> User:
    """Change a user's password and end all their sessions."""
    user = _existing(session, email)
    _check_password(password)
    user.password_hash = generate_password_hash(password)
    end_user_sessions(session, user.id, "password changed")
    session.flush()
    return user


def set_role(session: Session, email: str, role: str) -> User:
    """Change a user's role and end all their sessions (they log in again with the new rights)."""
    user = _existing(session, email)
    if role not in USER_ROLES:
        raise AccountError(f"role must be one of {', '.join(USER_ROLES)}, got {role!r}")
    if user.role != role:
        user.role = role
        end_user_sessions(session, user.id, "role changed")
    session.flush()
    return user


def _existing(session: Session, email: str) -> User:
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None:
        raise AccountError(f"there is no user {normalise_email(email)}")
    return user


def _check_password(password: str) -> None:
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")


def set_language(session: Session, user_id: int, language: str | None, *, allowed) -> None:
    """Remember the panel language a user chose (None: follow the browser). Flushes."""
    if language is not None and language not in allowed:
        raise AccountError(f"language must be one of {', '.join(allowed)}, got {language!r}")
    user = session.get(User, user_id)
    if user is None:
        raise AccountError(f"no user with id {user_id}")
    user.language = language
    session.flush()
