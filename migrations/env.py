"""Alembic environment: the engine comes from mailseg (Database.upgrade) or MAILSEG_DATABASE_URL."""

from alembic import context

from mailseg.db import include_object
from mailseg.models import Base

config = context.config


def render_item(type_, obj, autogen_context):
    """Render mailseg's column types as plain SQLAlchemy ones so migrations never import models."""
    if type_ == "type" and type(obj).__name__ == "UTCDateTime":
        return "sa.DateTime()"
    return False


target_metadata = Base.metadata


def run_migrations_online() -> None:
    engine = config.attributes.get("engine")
    if engine is None:
        from mailseg.config import load_config
        from mailseg.db import make_engine

        engine = make_engine(load_config().database.url)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=connection.dialect.name == "sqlite",
            compare_type=True,
            render_item=render_item,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
        connection.commit()


if context.is_offline_mode():
    raise SystemExit("mailseg migrations run online only: use `mailseg db upgrade`")
run_migrations_online()
