"""Small builders for test data."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

from mailseg.models import Audience, Subscriber


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=timezone.utc)


def make_audience(session, name: str = "main", list_id: str | None = "list1") -> Audience:
    audience = Audience(name=name, provider="mailchimp", provider_list_id=list_id)
    session.add(audience)
    session.flush()
    return audience


def make_subscriber(session, audience: Audience, email: str, *, status: str = "subscribed",
                    subscribed_at: datetime | None = None, **extra) -> Subscriber:
    sub = Subscriber(audience_id=audience.id, email=email, status=status,
                     subscribed_at=subscribed_at or utc(2025, 1, 1), **extra)
    session.add(sub)
    session.flush()
    return sub


def write_file(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text.lstrip("\n"), encoding="utf-8")
    return path
