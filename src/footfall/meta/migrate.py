"""Metadata schema migrations, run programmatically with the scripts shipped in the package.

No alembic.ini is needed on disk. To write a new revision, developers run, against a database
at the current head::

    with make_engine(url).begin() as connection:
        alembic.command.revision(alembic_config(connection), message="...", autogenerate=True)
"""

from __future__ import annotations

from alembic import command
from alembic.config import Config
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, text

from footfall.meta.db import BEGIN_OPTION, make_engine

SCRIPT_LOCATION = "footfall.meta:migrations"

# Any constant works: it only has to be the same in every process migrating this database.
_PG_MIGRATION_LOCK = 0x666F6F74


class SchemaNotCurrentError(RuntimeError):
    """The metadata database is not at the revision this release expects."""


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic Config pointing at the packaged scripts, running on `connection`."""
    config = Config()
    config.set_main_option("script_location", SCRIPT_LOCATION)
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head_revision() -> str:
    """The newest revision shipped with this release."""
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    if head is None:
        raise RuntimeError("no metadata migrations are packaged")
    return head


def upgrade(url: str, revision: str = "head") -> str | None:
    """Migrate the metadata database at `url` to `revision` (default: the newest).

    Safe to call from several processes at once: on PostgreSQL they queue on an advisory lock,
    on SQLite on the database's write lock. Returns the revision the database is at afterwards.
    """
    engine = make_engine(url, foreign_keys=False)
    try:
        with engine.connect().execution_options(**{BEGIN_OPTION: "IMMEDIATE"}) as connection:
            with connection.begin():
                if connection.dialect.name == "postgresql":
                    connection.execute(
                        text("SELECT pg_advisory_xact_lock(:key)"), {"key": _PG_MIGRATION_LOCK}
                    )
                command.upgrade(alembic_config(connection), revision)
            return _current(connection)
    finally:
        engine.dispose()


def current_revision(url: str) -> str | None:
    """The revision the metadata database at `url` is at (None: never migrated)."""
    engine = make_engine(url)
    try:
        with engine.connect() as connection:
            return _current(connection)
    finally:
        engine.dispose()


def ensure_current(engine: Engine) -> None:
    """Raise SchemaNotCurrentError unless the database behind `engine` is at the head revision."""
    with engine.connect() as connection:
        current = _current(connection)
    head = head_revision()
    if current != head:
        raise SchemaNotCurrentError(
            f"the metadata database is at revision {current or 'none'}, this release needs "
            f"{head}: run `footfall migrate` (or `footfall init`)"
        )


def _current(connection: Connection) -> str | None:
    return MigrationContext.configure(connection).get_current_revision()
