"""Panel accounts: users with hashed passwords and roles, and the per-address login rate limit.

Failed attempts live in the database so the limit holds across gunicorn workers.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session
from werkzeug.security import check_password_hash, generate_password_hash

from .models import USER_ROLES, LoginAttempt, User, normalise_email, utcnow

MIN_PASSWORD_LENGTH = 8
DEMO_ADMIN_EMAIL = "admin@demo.example"
RATE_WINDOW = timedelta(minutes=1)
# Failed attempts older than this are deleted when new ones are recorded.
ATTEMPT_RETENTION = timedelta(days=1)


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
    if len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"the password must have at least {MIN_PASSWORD_LENGTH} characters")
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
        user.password_hash = generate_password_hash(password)
    return user, password


def get_user(session: Session, user_id: int) -> User | None:
    return session.get(User, user_id)


def authenticate(session: Session, email: str, password: str, *, address: str,
                 attempts_per_minute: int) -> LoginResult:
    """Check a login. Refuses without checking once the address has used up its failed attempts
    for the last minute; records a failure otherwise. Commits."""
    if recent_failures(session, address) >= attempts_per_minute:
        return LoginResult(None, rate_limited=True)
    user = session.scalar(select(User).where(User.email == normalise_email(email)))
    if user is None or not check_password_hash(user.password_hash, password):
        _record_failure(session, address, email)
        return LoginResult(None)
    user.last_login_at = utcnow()
    session.commit()
    return LoginResult(user)


def recent_failures(session: Session, address: str) -> int:
    since = utcnow() - RATE_WINDOW
    return session.scalar(select(func.count()).select_from(LoginAttempt)
                          .where(LoginAttempt.address == address, LoginAttempt.attempted_at >= since)) or 0


def _record_failure(session: Session, address: str, email: str) -> None:
    now = utcnow()
    session.execute(delete(LoginAttempt).where(LoginAttempt.attempted_at < now - ATTEMPT_RETENTION))
    session.add(LoginAttempt(address=address, email=normalise_email(email)[:320] or None, attempted_at=now))
    session.commit()


def set_language(session: Session, user_id: int, language: str | None, *, allowed) -> None:
    """Remember the panel language a user chose (None: follow the browser). Flushes."""
    if language is not None and language not in allowed:
        raise AccountError(f"language must be one of {', '.join(allowed)}, got {language!r}")
    user = session.get(User, user_id)
    if user is None:
        raise AccountError(f"no user with id {user_id}")
    user.language = language
    session.flush()
