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
