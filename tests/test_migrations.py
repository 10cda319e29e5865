"""The migration chain builds the schema the models describe, on both databases."""

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from mailseg.db import include_object
from mailseg.distribute import DROPPED_ON_CITUS, is_distributed
from mailseg.models import Base


def test_migrations_reach_head(database):
    assert database.current_revision() == database.head_revision()
    database.require_current_schema()


def _single_node(db_url: str) -> None:
    """Downgrades and data moves of old revisions happen before `mailseg db distribute`, never after."""
    if "/mailseg_citus_" in db_url:
        pytest.skip("a distributed database is never migrated below its distribution")


def test_models_and_migrations_agree(database):
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    if is_distributed(database):  # what `mailseg db distribute` drops: the one unique constraint Citus
        # cannot hold, and the foreign keys to reference tables (mailseg.distribute)
        diff = [d for d in diff if not (d[0] == "add_constraint" and d[1].name in {c for _, c in DROPPED_ON_CITUS})
                and not (d[0] == "add_fk" and d[1].referred_table.name != "subscribers")]
    assert diff == []


def test_every_model_table_exists(database):
    tables = set(inspect(database.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_downgrade_to_base_and_up_again(db_url):
    _single_node(db_url)
    from alembic import command

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "base")
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    db.dispose()


def test_the_status_history_is_seeded_for_existing_subscribers(db_url):
    """Migrating a database with subscribers: one estimated change for each not in its creation status."""
    _single_node(db_url)
    from alembic import command
    from sqlalchemy import text

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "0008_campaign_resend")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audiences (id, name, provider, created_at) VALUES (1, 'a', 'mailchimp', '2025-01-01')"))
        for sid, status, changed in ((1, "subscribed", None), (2, "unsubscribed", "2025-06-01 10:00:00"),
                                     (3, "cleaned", None), (4, "pending", None), (5, "complained", "2024-01-01 00:00:00")):
            conn.execute(text(
                "INSERT INTO subscribers (id, audience_id, email, status, subscribed_at, status_changed_at, merge_fields, "
                "tags, created_at, updated_at) VALUES (:id, 1, :email, :status, '2025-02-01 00:00:00', :changed, "
                "'{}', '[]', '2025-02-01', '2025-02-01')"),
                {"id": sid, "email": f"s{sid}@example.com", "status": status, "changed": changed})
    db.upgrade()
    with db.engine.connect() as conn:
        # (subscriber ids are keys from 0019_distribution on: the rows are told by e-mail)
        rows = conn.execute(text("SELECT s.email, c.from_status, c.to_status, c.changed_at, c.source, c.time_known "
                                 "FROM status_changes c JOIN subscribers s ON s.id = c.subscriber_id "
                                 "ORDER BY s.email")).all()
    db.dispose()
    stamps = [str(r[3])[:19] for r in rows]
    assert [(r[0], r[1], r[2], r[4], bool(r[5])) for r in rows] == [
        ("s2@example.com", "subscribed", "unsubscribed", "migration", False),
        ("s3@example.com", "subscribed", "cleaned", "migration", False),
        ("s5@example.com", "subscribed", "complained", "migration", False)]
    # The change's time: status_changed_at, else subscribed_at, never before subscribed_at.
    assert stamps == ["2025-06-01 10:00:00", "2025-02-01 00:00:00", "2025-02-01 00:00:00"]


def test_subscriber_ids_become_keys_and_every_reference_follows(db_url, database):
    """0019_distribution: subscribers get subscriber_key ids; their events and history move with them.
    (`database`: the tables emptied first, PostgreSQL's scratch database is shared by the tests.)"""
    _single_node(db_url)
    from mailseg.db import Database
    from mailseg.models.audience import subscriber_key

    db = Database(db_url)
    try:
        ids, events, changes, numbered, orphans = _keys_round_trip(db)
    finally:
        db.upgrade()  # never leave the shared database below head
        db.dispose()
    assert ids == {f" S{n}@Example.com ": subscriber_key(7, f"s{n}@example.com") for n in (1, 2)}
    assert events == [(" S1@Example.com ", 2), (" S2@Example.com ", 2)] and changes == 2
    assert numbered == [1, 2] and orphans == 0


def _keys_round_trip(db):
    """Rows written at 0013, upgraded (ids become keys), downgraded again (ids 1..n)."""
    from alembic import command
    from sqlalchemy import text

    from mailseg.db import alembic_config

    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audiences (id, name, provider, created_at) VALUES (7, 'keys', 'mailchimp', '2025-01-01')"))
        for sid in (1, 2):
            conn.execute(text(
                "INSERT INTO subscribers (id, audience_id, email, status, subscribed_at, merge_fields, tags, created_at, "
                "updated_at) VALUES (:id, 7, :email, 'subscribed', '2025-02-01', '{}', '[]', '2025-02-01', '2025-02-01')"),
                {"id": sid, "email": f" S{sid}@Example.com "})
            for n in range(2):
                conn.execute(text(
                    "INSERT INTO events (subscriber_id, type, occurred_at, is_machine, source, dedupe_key, created_at) "
                    "VALUES (:sid, 'open', '2025-03-01', false, 'import', :key, '2025-03-01')"),
                    {"sid": sid, "key": f"k{sid}{n}"})
            conn.execute(text("INSERT INTO class_changes (audience_id, subscriber_id, to_class, changed_at) "
                              "VALUES (7, :sid, 'active', '2025-03-02')"), {"sid": sid})
    db.upgrade()
    with db.engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT email, id FROM subscribers")).all())
        events = conn.execute(text("SELECT s.email, count(*) FROM events e JOIN subscribers s ON s.id = e.subscriber_id "
                                   "GROUP BY s.email ORDER BY s.email")).all()
        changes = conn.execute(text("SELECT count(*) FROM class_changes c JOIN subscribers s ON s.id = c.subscriber_id")).scalar()
    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.connect() as conn:
        numbered = sorted(conn.execute(text("SELECT id FROM subscribers")).scalars())
        orphans = conn.execute(text("SELECT count(*) FROM events WHERE subscriber_id NOT IN (SELECT id FROM subscribers)")).scalar()
    return ids, events, changes, numbered, orphans
