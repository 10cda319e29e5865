"""Small builders for test data."""

from __future__ import annotations

from contextlib import contextmanager
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


@contextmanager
def gunicorn_serving(tmp_path: Path, sqlite_template: Path, env: dict[str, str], *, workers: int = 1, seed=None):
    """gunicorn with mailseg's shipped configuration (README's production command) on a free port,
    against a migrated SQLite copy (seed(session) fills it first); yields (base URL, log path, master)."""
    import os
    import shutil
    import signal
    import socket
    import subprocess
    import sys
    import time
    import urllib.request

    db = tmp_path / "gunicorn.sqlite3"
    shutil.copy(sqlite_template, db)
    if seed is not None:
        from mailseg.db import Database

        database = Database(f"sqlite:///{db}")
        with database.session() as session:
            seed(session)
            session.commit()
        database.dispose()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    full_env = {**os.environ, "MAILSEG_DATABASE_URL": f"sqlite:///{db}", "MAILSEG_WEB_SECRET_KEY": "k" * 32, **env}
    log = tmp_path / "gunicorn.log"
    with log.open("w") as out:
        proc = subprocess.Popen([str(Path(sys.executable).with_name("gunicorn")), "-c", "python:mailseg.gunicorn_conf",
                                 "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "mailseg.app:create_app()"],
                                env=full_env, stdout=out, stderr=out)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(url + "/healthz", timeout=5).close()
                break
            except OSError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise RuntimeError(log.read_text()) from None
                time.sleep(0.2)
        yield url, log, proc
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(timeout=30)
