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


# The data-moving tests below take `database` beside db_url only for its truncation: on PostgreSQL
# db_url is the worker's one database, where other tests' rows would meet theirs.
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


def test_downgrade_to_base_and_up_again(db_url, database):
    _single_node(db_url)
    from alembic import command

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "base")
    assert db.current_revision() is None
    db.upgrade()
    assert db.current_revision() == db.head_revision()
    db.dispose()


def test_the_status_history_is_seeded_for_existing_subscribers(db_url, database):
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


def test_the_current_classes_move_to_their_own_table(db_url, database):
    """0015: the classes stored in subscribers are copied to subscriber_classes, the rows referring to
    subscribers survive (no table copy on SQLite), and a downgrade puts the classes back."""
    _single_node(db_url)
    from alembic import command
    from sqlalchemy import text

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audiences (id, name, provider, created_at) VALUES (8, 'classes', 'mailchimp', '2025-01-01')"))
        for sid, klass, since in ((71, "active", "2025-03-01 00:00:00"), (72, None, None), (73, "inactive", "2025-04-01 00:00:00")):
            conn.execute(text(
                "INSERT INTO subscribers (id, audience_id, email, status, subscribed_at, merge_fields, tags, "
                "engagement_class, class_since, created_at, updated_at) VALUES (:id, 8, :email, 'subscribed', "
                "'2025-02-01 00:00:00', '{}', '[]', :klass, :since, '2025-02-01', '2025-02-01')"),
                {"id": sid, "email": f"c{sid}@example.com", "klass": klass, "since": since})
        conn.execute(text("INSERT INTO class_changes (audience_id, subscriber_id, from_class, to_class, changed_at) "
                          "VALUES (8, 71, NULL, 'active', '2025-03-01 00:00:00')"))
    command.upgrade(alembic_config(db.engine), "0015_current_class")  # 0019 would turn the ids into keys
    with db.engine.connect() as conn:
        rows = conn.execute(text("SELECT subscriber_id, audience_id, engagement_class, class_since "
                                 "FROM subscriber_classes WHERE audience_id = 8 ORDER BY subscriber_id")).all()
        history = conn.execute(text("SELECT count(*) FROM class_changes WHERE audience_id = 8")).scalar()
    assert [(r[0], r[1], r[2], str(r[3])[:19]) for r in rows] == [
        (71, 8, "active", "2025-03-01 00:00:00"), (73, 8, "inactive", "2025-04-01 00:00:00")]
    assert history == 1
    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.connect() as conn:
        back = conn.execute(text("SELECT id, engagement_class FROM subscribers WHERE audience_id = 8 ORDER BY id")).all()
    assert [tuple(r) for r in back] == [(71, "active"), (72, None), (73, "inactive")]
    db.upgrade()
    db.dispose()


def test_subscriber_ids_become_keys_and_every_reference_follows(db_url, database):
    """0019_distribution: subscribers get subscriber_key ids; their events, history and current class
    (whose subscriber_id has no foreign key since 0015) move with them, and back on a downgrade."""
    _single_node(db_url)
    from alembic import command
    from sqlalchemy import text

    from mailseg.db import Database, alembic_config
    from mailseg.models.audience import subscriber_key

    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audiences (id, name, provider, created_at) VALUES (7, 'keys', 'mailchimp', '2025-01-01')"))
        for sid in (901, 902):
            conn.execute(text(
                "INSERT INTO subscribers (id, audience_id, email, status, subscribed_at, merge_fields, tags, created_at, "
                "updated_at, engagement_class, class_since) VALUES (:id, 7, :email, 'subscribed', '2025-02-01', '{}', "
                "'[]', '2025-02-01', '2025-02-01', 'active', '2025-03-02')"),
                {"id": sid, "email": f" S{sid}@Example.com "})
            for n in range(2):
                conn.execute(text(
                    "INSERT INTO events (subscriber_id, type, occurred_at, is_machine, source, dedupe_key, created_at) "
                    "VALUES (:sid, 'open', '2025-03-01', false, 'import', :key, '2025-03-01')"),
                    {"sid": sid, "key": f"k{sid}{n}"})
            conn.execute(text("INSERT INTO class_changes (audience_id, subscriber_id, to_class, changed_at) "
                              "VALUES (7, :sid, 'active', '2025-03-02')"), {"sid": sid})
    db.upgrade()
    mine = "s.audience_id = 7"
    with db.engine.connect() as conn:
        ids = dict(conn.execute(text("SELECT email, id FROM subscribers s WHERE " + mine)).all())
        events = conn.execute(text("SELECT s.email, count(*) FROM events e JOIN subscribers s ON s.id = e.subscriber_id "
                                   "WHERE " + mine + " GROUP BY s.email ORDER BY s.email")).all()
        changes = conn.execute(text("SELECT count(*) FROM class_changes c JOIN subscribers s ON s.id = c.subscriber_id "
                                    "WHERE " + mine)).scalar()
        classes = conn.execute(text("SELECT count(*) FROM subscriber_classes c JOIN subscribers s "
                                    "ON s.id = c.subscriber_id WHERE " + mine)).scalar()
    command.downgrade(alembic_config(db.engine), "0013_segments")
    with db.engine.connect() as conn:
        numbered = conn.execute(text("SELECT id FROM subscribers s WHERE " + mine)).scalars().all()
        orphans = conn.execute(text("SELECT count(*) FROM events WHERE subscriber_id NOT IN (SELECT id FROM subscribers)")).scalar()
    db.upgrade()
    db.dispose()
    assert ids == {f" S{n}@Example.com ": subscriber_key(7, f"s{n}@example.com") for n in (901, 902)}
    assert events == [(" S901@Example.com ", 2), (" S902@Example.com ", 2)] and changes == 2 and classes == 2
    assert len(set(numbered)) == 2 and max(numbered) < 2**31 and orphans == 0


def test_the_value_tables_lose_their_subscriber_keys_and_get_them_back(db_url, database):
    """0020_i13_value_nofk: subscriber_values and value_changes take rows without a foreign key check
    (a value run writes them from a SELECT over the subscribers); a downgrade drops the rows of
    subscribers that do not exist and puts the keys back, which refuse such rows again."""
    _single_node(db_url)
    from alembic import command
    from sqlalchemy import exc, text

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    keyed = {"subscriber_values", "value_changes"}

    def referring() -> set[str]:
        insp = inspect(db.engine)
        return {t for t in keyed if any(fk["referred_table"] == "subscribers" for fk in insp.get_foreign_keys(t))}

    value_row = ("INSERT INTO subscriber_values (subscriber_id, audience_id, as_of, frequency, monetary, rfm_segment) "
                 "VALUES (:sid, 9, '2025-03-01', 0, 0, 'prospect')")
    history_row = ("INSERT INTO value_changes (audience_id, subscriber_id, family, to_value, changed_at) "
                   "VALUES (9, :sid, 'rfm', 'champions', '2025-03-01')")
    assert referring() == set()
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audiences (id, name, provider, created_at) "
                          "VALUES (9, 'values', 'mailchimp', '2025-01-01')"))
        conn.execute(text(
            "INSERT INTO subscribers (id, audience_id, email, status, subscribed_at, merge_fields, tags, created_at, "
            "updated_at) VALUES (951, 9, 'v951@example.com', 'subscribed', '2025-02-01', '{}', '[]', '2025-02-01', "
            "'2025-02-01')"))
        for sid in (951, 952):  # 952 is no subscriber: no key refuses it
            conn.execute(text(value_row), {"sid": sid})
            conn.execute(text(history_row), {"sid": sid})
    command.downgrade(alembic_config(db.engine), "0019_distribution")
    with db.engine.connect() as conn:
        kept = [conn.execute(text(f"SELECT subscriber_id FROM {t} WHERE audience_id = 9")).scalars().all()
                for t in ("subscriber_values", "value_changes")]
    assert kept == [[951], [951]] and referring() == keyed
    with pytest.raises(exc.IntegrityError), db.engine.begin() as conn:
        if db.engine.dialect.name == "sqlite":
            conn.exec_driver_sql("PRAGMA foreign_keys = ON")
        conn.execute(text(history_row), {"sid": 953})
    db.upgrade()
    assert referring() == set()
    db.dispose()


def test_the_cohort_list_is_filled_from_the_exposures(db_url, database):
    """0021_i15_cohorts: one experiment_cohorts row per cohort of the exposures already recorded, with
    the largest share; a downgrade drops the table. (Audience 21: the other tests' rows stay in db_url.)"""
    _single_node(db_url)
    from alembic import command
    from sqlalchemy import text

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    command.downgrade(alembic_config(db.engine), "0020_i13_value_nofk")
    exposure = ("INSERT INTO experiment_exposures (id, audience_id, policy, key, subscriber_id, held_out, exposed_at, "
                "cohort, salt, share, variant) VALUES (:id, 21, :policy, :key, 961, false, '2026-08-03 10:00:00', "
                ":cohort, '', :share, :variant)")
    with db.engine.begin() as conn:
        conn.execute(text("INSERT INTO audiences (id, name, provider, created_at) "
                          "VALUES (21, 'cohorts', 'mailchimp', '2025-01-01')"))
        conn.execute(text(
            "INSERT INTO subscribers (id, audience_id, email, status, subscribed_at, merge_fields, tags, created_at, "
            "updated_at) VALUES (961, 21, 'c961@example.com', 'subscribed', '2025-02-01', '{}', '[]', '2025-02-01', "
            "'2025-02-01')"))
        for row in ((1, "offer", "offer:a", "2026-08-03", 0.1, 0), (2, "offer", "offer:b", "2026-08-03", 0.3, 0),
                    (3, "offer", "offer:c", "2026-08-10", 0.2, 0), (4, "resend", "resend:c1:v2", "2026-08-03", 0.1, 2)):
            conn.execute(text(exposure), dict(zip(("id", "policy", "key", "cohort", "share", "variant"), row)))
    db.upgrade()
    with db.engine.connect() as conn:
        listed = conn.execute(text("SELECT policy, cohort, variant, share FROM experiment_cohorts "
                                   "WHERE audience_id = 21 ORDER BY policy, cohort")).all()
    assert [(p, str(c), v, s) for p, c, v, s in listed] == [("offer", "2026-08-03", 0, 0.3),
                                                            ("offer", "2026-08-10", 0, 0.2),
                                                            ("resend", "2026-08-03", 2, 0.1)]
    command.downgrade(alembic_config(db.engine), "0020_i13_value_nofk")
    assert not inspect(db.engine).has_table("experiment_cohorts")
    db.upgrade()
    with db.engine.begin() as conn:  # db_url is not truncated between tests
        for table in ("experiment_cohorts", "experiment_exposures", "subscribers", "audiences"):
            conn.execute(text(f"DELETE FROM {table} WHERE {'id' if table == 'audiences' else 'audience_id'} = 21"))
    db.dispose()


HISTORY_TABLES = ("class_changes", "value_changes", "segment_changes")


def _history_keys(engine) -> dict[str, tuple[list[str], set[str]]]:
    found = inspect(engine)
    return {table: (found.get_pk_constraint(table)["constrained_columns"],
                    {index["name"] for index in found.get_indexes(table)}) for table in HISTORY_TABLES}


def test_the_history_tables_keep_one_index_per_subscriber(db_url, database):
    """0022_history_keys: on PostgreSQL the primary key (subscriber_id, changed_at, id) replaces the key
    (subscriber_id, id) and the index (subscriber_id, changed_at); a downgrade puts both back. SQLite
    keeps its rowid key and the index."""
    _single_node(db_url)
    from alembic import command

    from mailseg.db import Database, alembic_config

    db = Database(db_url)
    keys = _history_keys(db.engine)
    for table in HISTORY_TABLES:
        if db.dialect == "postgresql":
            assert keys[table] == (["subscriber_id", "changed_at", "id"], keys[table][1])
            assert f"ix_{table}_subscriber" not in keys[table][1]
        else:
            assert keys[table][0] == ["id"] and f"ix_{table}_subscriber" in keys[table][1]
    command.downgrade(alembic_config(db.engine), "0021_i15_cohorts")
    before = _history_keys(db.engine)
    for table in HISTORY_TABLES:
        assert f"ix_{table}_subscriber" in before[table][1]
        assert before[table][0] == (["subscriber_id", "id"] if db.dialect == "postgresql" else ["id"])
    db.upgrade()
    assert _history_keys(db.engine) == keys
    db.dispose()
