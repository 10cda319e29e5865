"""subscribers: substring search by email or name (case- and accent-insensitive) and the sorts by
class since

PostgreSQL: the pg_trgm and unaccent extensions, an IMMUTABLE mailseg_fold(text) over unaccent (the
same folding as mailseg.search.fold) and a GIN trigram index on the folded email and name, so
LIKE '%petrenko%' is an index scan at millions of subscribers. Where an extension cannot be created
(no rights), the function falls back to lower() and the index is left out: search still works, as
a scan. SQLite: mailseg_fold is a Python function registered per connection; nothing to create.

Revision ID: 0014b_audience_search
Revises: 0014_panel_i18n
"""

import logging

from alembic import op

revision = "0014b_audience_search"
down_revision = "0014_panel_i18n"
branch_labels = None
depends_on = None

log = logging.getLogger("alembic.runtime.migration")
SEARCH_TEXT = ("mailseg_fold(email || ' ' || coalesce(first_name, '') || ' ' || coalesce(last_name, ''))")


def _try(sql: str) -> bool:
    """Run one statement in a savepoint; False (and a log line) when the database refuses it."""
    bind = op.get_bind()
    savepoint = bind.begin_nested()
    try:
        bind.exec_driver_sql(sql)
    except Exception as exc:  # noqa: BLE001 - a missing extension or privilege is not fatal here
        savepoint.rollback()
        log.warning("audience search: %s failed (%s); search works without it, but scans", sql, exc)
        return False
    savepoint.commit()
    return True


def upgrade() -> None:
    op.create_index("ix_subscribers_audience_class_since", "subscribers", ["audience_id", "class_since", "id"])
    if op.get_bind().dialect.name != "postgresql":
        return
    unaccent = _try("CREATE EXTENSION IF NOT EXISTS unaccent")
    trigram = _try("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    body = ("SELECT lower(public.unaccent('public.unaccent'::regdictionary, $1))" if unaccent
            else "SELECT lower($1)")
    op.execute(f"CREATE OR REPLACE FUNCTION mailseg_fold(text) RETURNS text LANGUAGE sql IMMUTABLE "
               f"PARALLEL SAFE STRICT AS $$ {body} $$")
    if trigram:
        op.execute(f"CREATE INDEX ix_subscribers_search ON subscribers USING gin ({SEARCH_TEXT} gin_trgm_ops)")


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP INDEX IF EXISTS ix_subscribers_search")
        op.execute("DROP FUNCTION IF EXISTS mailseg_fold(text)")
    op.drop_index("ix_subscribers_audience_class_since", table_name="subscribers")
