"""The migration chain builds the schema the models describe, on both databases."""

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from mailseg.db import include_object
from mailseg.models import Base


def test_migrations_reach_head(database):
    assert database.current_revision() == database.head_revision()
    database.require_current_schema()


def test_models_and_migrations_agree(database):
    with database.engine.connect() as conn:
        context = MigrationContext.configure(conn, opts={"compare_type": True, "include_object": include_object})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []


def test_every_model_table_exists(database):
    tables = set(inspect(database.engine).get_table_names())
    assert {t.name for t in Base.metadata.sorted_tables} <= tables


def test_downgrade_to_base_and_up_again(db_url):
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
        rows = conn.execute(text("SELECT subscriber_id, from_status, to_status, changed_at, source, time_known "
                                 "FROM status_changes ORDER BY subscriber_id")).all()
    db.dispose()
    stamps = [str(r[3])[:19] for r in rows]
    assert [(r[0], r[1], r[2], r[4], bool(r[5])) for r in rows] == [
        (2, "subscribed", "unsubscribed", "migration", False), (3, "subscribed", "cleaned", "migration", False),
        (5, "subscribed", "complained", "migration", False)]
    # The change's time: status_changed_at, else subscribed_at, never before subscribed_at.
    assert stamps == ["2025-06-01 10:00:00", "2025-02-01 00:00:00", "2025-02-01 00:00:00"]


def test_the_current_classes_move_to_their_own_table(db_url):
    """0015: the classes stored in subscribers are copied to subscriber_classes, the rows referring to
    subscribers survive (no table copy on SQLite), and a downgrade puts the classes back."""
    from alembic import command
    from sqlalchemy import text

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audiences (id, name, provider, created_at) VALUES (7, 'classes', 'mailchimp', '2025-01-01')"))
        for sid, klass, since in ((71, "active", "2025-03-01 00:00:00"), (72, None, None), (73, "inactive", "2025-04-01 00:00:00")):
            conn.execute(text(
                "INSERT INTO subscribers (id, audience_id, email, status, subscribed_at, merge_fields, tags, "
                "engagement_class, class_since, created_at, updated_at) VALUES (:id, 7, :email, 'subscribed', "
                "'2025-02-01 00:00:00', '{}', '[]', :klass, :since, '2025-02-01', '2025-02-01')"),
                {"id": sid, "email": f"c{sid}@example.com", "klass": klass, "since": since})
        conn.execute(text("INSERT INTO class_changes (audience_id, subscriber_id, from_class, to_class, changed_at) "
                          "VALUES (7, 71, NULL, 'active', '2025-03-01 00:00:00')"))
    db.upgrade()
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT subscriber_id, audience_id, engagement_class, class_since "
                                 "FROM subscriber_classes WHERE audience_id = 7 ORDER BY subscriber_id")).all()
        history = conn.execute(text("SELECT count(*) FROM class_changes WHERE audience_id = 7")).scalar()
    assert [(r[0], r[1], r[2], str(r[3])[:19]) for r in rows] == [
        (71, 7, "active", "2025-03-01 00:00:00"), (73, 7, "inactive", "2025-04-01 00:00:00")]
    assert history == 1
    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.connect() as conn:
        back = conn.execute(text("SELECT id, engagement_class FROM subscribers WHERE audience_id = 7 ORDER BY id")).all()
    assert [tuple(r) for r in back] == [(71, "active"), (72, None), (73, "inactive")]
    db.upgrade()
    db.dispose()
