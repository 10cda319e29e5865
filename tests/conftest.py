"""Fixtures: every database test runs on SQLite and PostgreSQL, and on Citus when it is there.

PostgreSQL tests run when MAILSEG_TEST_POSTGRES_URL is set (scripts/test sets it when a local
server answers); under CI=true a missing or unreachable PostgreSQL is a failure, not a skip.
Citus tests run when MAILSEG_TEST_CITUS_URL names a database on a Citus coordinator with its workers
registered (docs/SCALING.md); they are skipped when it is unset (CI has no Citus).
Each test gets an empty, fully migrated database: a copied SQLite file, or a per-worker
PostgreSQL database truncated between tests.
"""

from __future__ import annotations

import os
import shutil
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import settings as hypothesis_settings
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from mailseg.cli.runtime import Runtime
from mailseg.config import Config
from mailseg.db import Database
from mailseg.models import Base

# No per-example deadline: a loaded 2-core CI machine must not turn slowness into failures.
hypothesis_settings.register_profile("mailseg", deadline=None)
hypothesis_settings.load_profile("mailseg")

POSTGRES_ENV = "MAILSEG_TEST_POSTGRES_URL"
CITUS_ENV = "MAILSEG_TEST_CITUS_URL"
IN_CI = os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def _worker() -> str:
    return os.environ.get("PYTEST_XDIST_WORKER", "main")


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("sqlite-template") / "template.sqlite3"
    db = Database(f"sqlite:///{path}")
    db.upgrade()
    db.dispose()
    return path


@pytest.fixture(scope="session")
def postgres_url() -> str:
    base = os.environ.get(POSTGRES_ENV)
    if not base:
        message = f"{POSTGRES_ENV} is not set: PostgreSQL tests cannot run"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    admin = create_engine(base, isolation_level="AUTOCOMMIT")
    name = f"mailseg_test_{_worker()}_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
    except Exception as exc:  # noqa: BLE001 - any failure to reach the server means the same here
        message = f"PostgreSQL at {make_url(base).render_as_string(hide_password=True)} is not usable: {exc}"
        if IN_CI:
            pytest.fail(message)
        pytest.skip(message)
    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    db = Database(url)
    db.upgrade()
    db.dispose()
    yield url
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


@pytest.fixture(scope="session")
def citus_url() -> str:
    """A scratch database on the coordinator and on every worker, citus in each, the workers
    registered, migrated and distributed (`mailseg db distribute`)."""
    from mailseg.distribute import create_citus_database, distribute, drop_citus_database

    base = os.environ.get(CITUS_ENV)
    if not base:
        pytest.skip(f"{CITUS_ENV} is not set: Citus tests cannot run")
    name = f"mailseg_citus_{_worker()}_{uuid.uuid4().hex[:8]}"
    url = create_citus_database(base, name)
    db = Database(url)
    db.upgrade()
    distribute(db)
    db.dispose()
    yield url
    drop_citus_database(base, name)


def _truncate_postgres(db: Database) -> None:
    tables = ", ".join(f'"{t.name}"' for t in Base.metadata.sorted_tables)
    with db.engine.begin() as conn:
        conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))


@pytest.fixture(params=["sqlite", "postgresql", "citus"])
def db_url(request, tmp_path, sqlite_template) -> str:
    if request.param == "sqlite":
        path = tmp_path / "mailseg.sqlite3"
        shutil.copy(sqlite_template, path)
        return f"sqlite:///{path}"
    if request.param == "citus":
        return request.getfixturevalue("citus_url")
    return request.getfixturevalue("postgres_url")


@pytest.fixture
def database(db_url) -> Database:
    db = Database(db_url)
    if db.dialect == "postgresql":
        _truncate_postgres(db)
    yield db
    db.dispose()


@pytest.fixture
def session(database):
    with database.session() as s:
        yield s


NO_HOLDOUTS = {f"{policy}_share": 0.0 for policy in ("cap", "reengagement", "resend", "offer", "plan")}


@pytest.fixture
def config(db_url) -> Config:
    """The test config. Holdouts are off here, so the policy tests name exactly who gets mail; the
    experiment tests switch them on (config.replace(holdout=...)). buffer_seconds 0: tests look for an
    open in the database right after its request (the in-process buffer has its own tests)."""
    return Config().replace(database={"url": db_url}, web={"secret_key": "test-secret-key"},
                            tracking={"secret": "test-tracking-secret", "buffer_seconds": 0}, holdout=NO_HOLDOUTS)


@pytest.fixture
def app(config, database):
    from mailseg.app import create_app

    app = create_app(config, database=database)
    app.config["TESTING"] = True
    return app


@pytest.fixture
def client(app):
    return app.test_client()


@pytest.fixture
def cli(config, database):
    """Invoke `mailseg ...` in-process against the test database: cli("import", "events", path)."""
    from mailseg.cli import main

    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(main, [str(a) for a in args], obj=Runtime(_config=config, _database=database),
                             catch_exceptions=False)

    return invoke


FAKE_LIST_ID = "list0001"


@pytest.fixture
def fake_mailchimp():
    """The fake Mailchimp (tests/fakes) serving on 127.0.0.1, with one list FAKE_LIST_ID; .base_url for the config."""
    from .fakes.mailchimp import FakeMailchimp
    from .fakes.server import serving

    fake = FakeMailchimp()
    fake.add_list(FAKE_LIST_ID)
    with serving(fake.app) as url:
        fake.base_url = f"{url}/3.0"
        yield fake


@pytest.fixture
def mailchimp_config(config, fake_mailchimp) -> Config:
    """The test config pointed at the fake Mailchimp."""
    return config.replace(mailchimp={"api_key": fake_mailchimp.api_key, "api_base_url": fake_mailchimp.base_url,
                                     "list_id": FAKE_LIST_ID})


@pytest.fixture
def frozen_clock():
    """Freeze mailseg's clock (every utcnow(): run records, webhooks without fired_at, imports, the
    scheduler's as_of) at AS_OF; `frozen_clock.advance(days=1)` moves it on."""
    from mailseg.models.base import set_clock

    from .factories import AS_OF, FrozenClock

    clock = FrozenClock(AS_OF)
    set_clock(clock)
    yield clock
    set_clock(None)
