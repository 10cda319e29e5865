"""What the panel may say about a secret: whether it is set and since when — never any of its
characters. The time of a change is found by comparing a salted SHA-256 of the running value with
the one stored (secret_fingerprints); the first time a value is seen counts as its change."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from .config import Config, secret_keys
from .models import SecretFingerprint, utcnow


@dataclass(frozen=True)
class SecretState:
    name: str  # section.key
    is_set: bool
    changed_at: datetime


def _fingerprint(value: str, salt: str) -> str:
    return f"{salt}${hashlib.sha256((salt + value).encode()).hexdigest()}"


def _same(value: str, stored: str) -> bool:
    salt, _, _ = stored.partition("$")
    return hmac.compare_digest(_fingerprint(value, salt), stored)


def secret_states(session: Session, config: Config, now: datetime | None = None) -> list[SecretState]:
    """Every secret key: set or not, and when its value last changed (recorded now if it just did).
    Flushes; the caller commits."""
    now = now or utcnow()
    stored = {row.name: row for row in session.scalars(select(SecretFingerprint))}
    states = []
    for section, key in secret_keys():
        name, value = f"{section}.{key}", getattr(getattr(config, section), key)
        row = stored.get(name)
        if row is None:
            row = SecretFingerprint(name=name, fingerprint=_fingerprint(value, secrets.token_hex(8)), changed_at=now)
            session.add(row)
        elif not _same(value, row.fingerprint):
            row.fingerprint, row.changed_at = _fingerprint(value, secrets.token_hex(8)), now
        states.append(SecretState(name, bool(value), row.changed_at))
    session.flush()
    return states
