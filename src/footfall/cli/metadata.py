"""One metadata session for a CLI command: engine opened, schema checked, committed, disposed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy.orm import Session

from footfall.meta.db import make_engine, session_scope
from footfall.meta.migrate import ensure_current
from footfall.settings import Settings


@contextmanager
def metadata_session(settings: Settings) -> Iterator[Session]:
    """A session on the migrated metadata database; raises SchemaNotCurrentError otherwise."""
    engine = make_engine(settings.database_url)
    try:
        ensure_current(engine)
        with session_scope(engine) as session:
            yield session
    finally:
        engine.dispose()
