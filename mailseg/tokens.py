"""Bearer tokens of the JSON API: created with a name and scopes, shown once, stored as a SHA-256
hash (a token is 256 random bits, so a fast hash is enough: there is nothing to brute-force),
revoked by name."""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from typing import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from .models import API_SCOPES, ApiToken, utcnow

TOKEN_PREFIX = "msk_"
SHOWN_PREFIX = 12


class TokenError(ValueError):
    """A token cannot be created or revoked; the message says why."""


@dataclass(frozen=True)
class NewToken:
    name: str
    scopes: list[str]
    token: str  # shown once, never stored


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def create_token(session: Session, name: str, scopes: Sequence[str] | None = None) -> NewToken:
    """A new token (all scopes unless given); the caller commits and shows `token` once."""
    name = name.strip()
    if not name or len(name) > 100:
        raise TokenError("a token needs a name of 1 to 100 characters")
    scopes = list(dict.fromkeys(scopes or API_SCOPES))
    unknown = [s for s in scopes if s not in API_SCOPES]
    if unknown:
        raise TokenError(f"unknown scope(s) {', '.join(unknown)} (known: {', '.join(API_SCOPES)})")
    if session.scalar(select(ApiToken.id).where(ApiToken.name == name)) is not None:
        raise TokenError(f"a token named {name!r} exists already (revoke it or choose another name)")
    token = TOKEN_PREFIX + secrets.token_urlsafe(32)
    session.add(ApiToken(name=name, token_hash=token_hash(token), prefix=token[:SHOWN_PREFIX], scopes=scopes))
    session.flush()
    return NewToken(name, scopes, token)


def revoke_token(session: Session, name: str) -> ApiToken:
    row = session.scalar(select(ApiToken).where(ApiToken.name == name))
    if row is None:
        raise TokenError(f"no token named {name!r}")
    if row.revoked_at is None:
        row.revoked_at = utcnow()
    return row


def list_tokens(session: Session) -> list[ApiToken]:
    return list(session.scalars(select(ApiToken).order_by(ApiToken.created_at, ApiToken.id)))


def authenticate(session: Session, token: str) -> ApiToken | None:
    """The live token row for a presented token, or None (unknown or revoked); marks it used."""
    row = session.scalar(select(ApiToken).where(ApiToken.token_hash == token_hash(token)))
    if row is None or row.revoked_at is not None:
        return None
    now = utcnow()
    if row.last_used_at is None or (now - row.last_used_at).total_seconds() > 60:  # one write a minute at most
        row.last_used_at = now
        session.commit()
    return row
