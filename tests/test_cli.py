"""The command line: help for everything, exit codes, migrations, demo."""

import pytest
from click.testing import CliRunner
from sqlalchemy import func, select

from mailseg.cli import main
from mailseg.cli.runtime import Runtime
from mailseg.config import Config
from mailseg.db import Database
from mailseg.models import Campaign, Event, Subscriber


def all_commands(group, prefix=()):
    for name, command in group.commands.items():
        yield (*prefix, name)
        if hasattr(command, "commands"):
            yield from all_commands(command, (*prefix, name))


def test_every_command_has_help():
    runner = CliRunner()
    top = runner.invoke(main, ["--help"])
    assert top.exit_code == 0
    for name in ("db", "import", "export", "demo", "serve"):
        assert name in top.output
    for path in all_commands(main):
        result = runner.invoke(main, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Usage:" in result.output


def test_db_upgrade_from_empty_and_current(tmp_path):
    db = Database(f"sqlite:///{tmp_path / 'new' / 'm.sqlite3'}")
    rt = Runtime(_config=Config().replace(database={"url": db.url}), _database=db)
    runner = CliRunner()
    assert runner.invoke(main, ["db", "current"], obj=rt).output.startswith("empty")
    exports = runner.invoke(main, ["export", "events"], obj=rt)
    assert exports.exit_code == 1 and "mailseg db upgrade" in exports.output
    result = runner.invoke(main, ["db", "upgrade"], obj=rt)
    assert result.exit_code == 0 and db.head_revision() in result.output
    assert runner.invoke(main, ["db", "current"], obj=rt).output.strip() == db.head_revision()


def test_missing_file_is_a_usage_error(cli):
    assert cli("import", "events", "/nonexistent.csv").exit_code == 2


def test_unknown_audience_is_named(cli, session, tmp_path):
    from .factories import make_audience
    make_audience(session, "shop")
    session.commit()
    result = cli("export", "events", "--audience", "blog")
    assert result.exit_code == 1
    assert "no audience named 'blog' (known: shop)" in result.output


def test_demo_builds_a_realistic_audience(cli, session):
    result = cli("demo", "--subscribers", "200", "--weeks", "10")
    assert result.exit_code == 0, result.output
    assert session.scalar(select(func.count()).select_from(Subscriber)) == 200
    assert session.scalar(select(func.count()).select_from(Campaign)) == 10
    types = dict(session.execute(select(Event.type, func.count()).group_by(Event.type)).all())
    assert types["send"] > 1000 and types["open"] > 0 and types["click"] > 0
    machine = session.scalar(select(func.count()).select_from(Event).where(Event.is_machine))
    assert 0 < machine < types["open"]
    # orders: repeat buyers, one-time buyers, refunds or cancellations, and values computed with history
    from mailseg.models import SubscriberValue, ValueChange

    per_buyer = session.execute(select(Event.subscriber_id, func.count()).where(Event.type == "purchase")
                                .group_by(Event.subscriber_id)).all()
    assert any(n > 1 for _, n in per_buyer) and any(n == 1 for _, n in per_buyer)
    assert session.scalar(select(func.count()).select_from(Event).where(
        Event.order_status.in_(["refunded", "cancelled"]))) > 0
    assert session.scalar(select(func.count()).select_from(SubscriberValue).where(SubscriberValue.frequency > 0)) > 0
    assert session.scalar(select(func.count()).select_from(ValueChange)) > 0
    again = cli("demo", "--if-empty")
    assert "already has data" in again.output
    duplicate = cli("demo", "--subscribers", "200", "--weeks", "10")
    assert duplicate.exit_code == 1 and "already exists" in duplicate.output


def test_upgrade_of_a_database_from_an_unknown_revision_fails_cleanly(tmp_path):
    from sqlalchemy import text

    db = Database(f"sqlite:///{tmp_path / 'm.sqlite3'}")
    db.upgrade()
    with db.engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = '9999_future'"))
    result = CliRunner().invoke(main, ["db", "upgrade"], obj=Runtime(_config=Config().replace(database={"url": db.url}),
                                                                     _database=db))
    assert result.exit_code == 1
    assert "cannot migrate the database" in result.output and "9999_future" in result.output
    assert "Traceback" not in result.output
