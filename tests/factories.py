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


def fresh_cli(tmp_path: Path, sqlite_template: Path, config):
    """An empty, migrated SQLite database and a `mailseg ...` invoker against it (for round trips:
    export from the test database, import here). Returns (invoke, database); dispose the database."""
    import shutil

    from click.testing import CliRunner

    from mailseg.cli import main
    from mailseg.cli.runtime import Runtime
    from mailseg.db import Database

    path = tmp_path / "fresh.sqlite3"
    shutil.copy(sqlite_template, path)
    fresh = Database(f"sqlite:///{path}")
    fresh_config = config.replace(database={"url": fresh.url})

    def invoke(*args):
        return CliRunner().invoke(main, [str(a) for a in args], obj=Runtime(_config=fresh_config, _database=fresh))

    return invoke, fresh
