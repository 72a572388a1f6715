"""Alembic environment: runs the metadata migrations on the connection the caller passes.

Run through `footfall.meta.migrate` (or `footfall migrate`), never with an alembic.ini on disk.
SQLite changes that need a table rebuild use batch mode; foreign keys are off meanwhile and
checked once all revisions ran.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection, text

from footfall.meta.models import Base

config = context.config
target_metadata = Base.metadata


def _run(connection: Connection) -> None:
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
        compare_type=True,
        # footfall.meta.db makes SQLite run DDL inside transactions too, so a failed revision
        # leaves no half-built schema behind on either database.
        transactional_ddl=True,
    )
    with context.begin_transaction():
        context.run_migrations()
        if connection.dialect.name == "sqlite":
            broken = connection.execute(text("PRAGMA foreign_key_check")).fetchall()
            if broken:
                raise RuntimeError(f"migration left rows with dangling foreign keys: {broken}")


connection = config.attributes.get("connection")
if connection is None or context.is_offline_mode():
    raise RuntimeError("run migrations through footfall.meta.migrate, which passes a connection")
_run(connection)
