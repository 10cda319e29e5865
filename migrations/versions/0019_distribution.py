"""keys that distribute: subscriber ids derived from audience and e-mail, subscriber_id in every
per-subscriber primary key and unique constraint (docs/SCALING.md)

- subscribers.id becomes subscriber_key(audience_id, email) (a 63-bit hash, no sequence); every
  column referring to a subscriber is rewritten to the new ids, whatever table it is in (any table
  with a foreign key to subscribers.id), and widened to BIGINT on PostgreSQL;
- on PostgreSQL the history tables keyed by a sequence id get the primary key (subscriber_id, id)
  (SQLite keeps its rowid key `id`: SQLite never shards, and only a lone INTEGER PRIMARY KEY counts
  itself up there);
- events: the unique dedupe key becomes (subscriber_id, dedupe_key), with a plain index on
  dedupe_key for the per-audience order check of ingest.

Revision ID: 0019_distribution
Revises: 0018_panel_b
"""

from __future__ import annotations

import hashlib

import sqlalchemy as sa
from alembic import op

revision = "0019_distribution"
down_revision = "0018_panel_b"  # chained after issues 11, 13, 14 and 16 (merged first)
branch_labels = None
depends_on = None

# The tables with a sequence id whose primary key becomes (subscriber_id, id) on PostgreSQL.
ID_TABLES = ("events", "class_changes", "status_changes", "segment_changes", "value_changes", "survey_answers",
             "experiment_exposures", "form_submissions")
BATCH = 10_000


def _key(audience_id: int, email: str) -> int:
    """mailseg.models.audience.subscriber_key, copied: a migration never imports the models."""
    digest = hashlib.sha256(f"{audience_id}:{email.strip().lower()}".encode()).digest()
    return int.from_bytes(digest[:8], "big") & ((1 << 63) - 1) or 1


def _references(bind) -> list[tuple[str, dict]]:
    """(table, foreign key) of every foreign key to subscribers.id."""
    insp = sa.inspect(bind)
    return [(table, fk) for table in insp.get_table_names() for fk in insp.get_foreign_keys(table)
            if fk["referred_table"] == "subscribers"]


def _unkeyed(bind, references: list[tuple[str, dict]]) -> list[tuple[str, dict]]:
    """subscriber_id columns without a foreign key (0015 and 0017 dropped the per-row checks of the
    class and segment tables), in the shape of _references: they are rewritten and widened too."""
    insp = sa.inspect(bind)
    keyed = {(table, fk["constrained_columns"][0]) for table, fk in references}
    return [(table, {"constrained_columns": ["subscriber_id"]}) for table in insp.get_table_names()
            if (table, "subscriber_id") not in keyed and table != "subscribers"
            and any(c["name"] == "subscriber_id" for c in insp.get_columns(table))]


def _rewrite_ids(bind, references: list[tuple[str, dict]], new_ids: dict[int, int]) -> None:
    """Give subscribers their new ids and rewrite every referring column (through a mapping table;
    PostgreSQL joins it, SQLite looks it up per row)."""
    changed = [(old, new) for old, new in new_ids.items() if old != new]
    if not changed:
        return
    bind.exec_driver_sql("CREATE TEMPORARY TABLE mailseg_subscriber_ids (old_id BIGINT PRIMARY KEY, new_id BIGINT NOT NULL)")
    insert = sa.text("INSERT INTO mailseg_subscriber_ids (old_id, new_id) VALUES (:o, :n)")
    for start in range(0, len(changed), BATCH):
        bind.execute(insert, [{"o": o, "n": n} for o, n in changed[start:start + BATCH]])
    if bind.dialect.name == "sqlite":
        # Foreign keys checked at commit while parents and children change (set inside the transaction
        # the inserts above opened: the pragma ends with each transaction).
        bind.exec_driver_sql("PRAGMA defer_foreign_keys = ON")
    targets = [(table, fk["constrained_columns"][0]) for table, fk in references] + [("subscribers", "id")]
    for table, column in targets:
        if bind.dialect.name == "postgresql":
            bind.exec_driver_sql(f'UPDATE "{table}" SET "{column}" = m.new_id FROM mailseg_subscriber_ids m '
                                 f'WHERE m.old_id = "{table}"."{column}"')
        else:
            bind.exec_driver_sql(f'UPDATE "{table}" SET "{column}" = (SELECT new_id FROM mailseg_subscriber_ids '
                                 f'WHERE old_id = "{table}"."{column}") WHERE "{column}" IN '
                                 f'(SELECT old_id FROM mailseg_subscriber_ids)')
    bind.exec_driver_sql("DROP TABLE mailseg_subscriber_ids")


def _hashed_ids(bind) -> dict[int, int]:
    rows = bind.execute(sa.text("SELECT id, audience_id, email FROM subscribers")).all()
    new_ids = {sid: _key(audience_id, email) for sid, audience_id, email in rows}
    if len(set(new_ids.values())) != len(new_ids):
        seen: dict[int, int] = {}
        for sid, key in new_ids.items():
            if key in seen:
                raise RuntimeError(f"subscribers {seen[key]} and {sid} share the key {key} (the same audience and "
                                   "e-mail after trimming and lower-casing): merge or delete one, then migrate again")
            seen[key] = sid
    return new_ids


def _recreate_foreign_keys(references: list[tuple[str, dict]]) -> None:
    for table, fk in references:
        op.create_foreign_key(fk["name"], table, "subscribers", fk["constrained_columns"], ["id"],
                              ondelete=fk["options"].get("ondelete"))


def _set_types(references: list[tuple[str, dict]], type_) -> None:
    op.alter_column("subscribers", "id", type_=type_, existing_nullable=False)
    for table, fk in references:
        op.alter_column(table, fk["constrained_columns"][0], type_=type_)


def upgrade() -> None:
    bind = op.get_bind()
    references = _references(bind)
    columns = references + _unkeyed(bind, references)
    if bind.dialect.name == "postgresql":
        for table, fk in references:
            op.drop_constraint(fk["name"], table, type_="foreignkey")
        op.execute("ALTER TABLE subscribers ALTER COLUMN id DROP DEFAULT")
        op.execute("DROP SEQUENCE IF EXISTS subscribers_id_seq")
        _set_types(columns, sa.BigInteger())
        _rewrite_ids(bind, columns, _hashed_ids(bind))
        for table in ID_TABLES:
            op.drop_constraint(f"pk_{table}", table, type_="primary")
            op.create_primary_key(f"pk_{table}", table, ["subscriber_id", "id"])
        op.drop_constraint("uq_events_dedupe_key", "events", type_="unique")
        op.create_unique_constraint("uq_events_subscriber_id_dedupe_key", "events", ["subscriber_id", "dedupe_key"])
        op.create_index("ix_events_dedupe_key", "events", ["dedupe_key"])
        _recreate_foreign_keys(references)
        return
    _rewrite_ids(bind, columns, _hashed_ids(bind))
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_constraint("uq_events_dedupe_key", type_="unique")
        batch_op.create_unique_constraint("uq_events_subscriber_id_dedupe_key", ["subscriber_id", "dedupe_key"])
        batch_op.create_index("ix_events_dedupe_key", ["dedupe_key"], unique=False)


def downgrade() -> None:
    """Back to sequence ids (1..n in the order of the keys) and one-column keys."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql" and bind.exec_driver_sql(
            "SELECT 1 FROM pg_extension WHERE extname = 'citus'").scalar() and bind.exec_driver_sql(
            "SELECT 1 FROM pg_dist_partition WHERE logicalrelid = 'subscribers'::regclass").scalar():
        raise RuntimeError("this database is distributed over Citus workers: it cannot go back below "
                           "0019_distribution (restore a single-node backup instead)")
    references = _references(bind)
    columns = references + _unkeyed(bind, references)
    ids = [sid for (sid,) in bind.execute(sa.text("SELECT id FROM subscribers ORDER BY id")).all()]
    numbered = {sid: n for n, sid in enumerate(ids, start=1)}
    if bind.dialect.name == "postgresql":
        for table, fk in references:
            op.drop_constraint(fk["name"], table, type_="foreignkey")
        op.drop_index("ix_events_dedupe_key", table_name="events")
        op.drop_constraint("uq_events_subscriber_id_dedupe_key", "events", type_="unique")
        op.create_unique_constraint("uq_events_dedupe_key", "events", ["dedupe_key"])
        for table in ID_TABLES:
            op.drop_constraint(f"pk_{table}", table, type_="primary")
            op.create_primary_key(f"pk_{table}", table, ["id"])
        _rewrite_ids(bind, columns, numbered)
        _set_types(columns, sa.Integer())
        op.execute("CREATE SEQUENCE subscribers_id_seq OWNED BY subscribers.id")
        op.execute(f"SELECT setval('subscribers_id_seq', {len(ids) + 1}, false)")
        op.execute("ALTER TABLE subscribers ALTER COLUMN id SET DEFAULT nextval('subscribers_id_seq')")
        _recreate_foreign_keys(references)
        return
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_dedupe_key")
        batch_op.drop_constraint("uq_events_subscriber_id_dedupe_key", type_="unique")
        batch_op.create_unique_constraint("uq_events_dedupe_key", ["dedupe_key"])
    _rewrite_ids(bind, columns, numbered)
