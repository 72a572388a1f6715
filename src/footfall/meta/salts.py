"""Daily salts for cookieless visitor hashes, shared by every process through the database.

A visitor hash is keyed by the salt of its UTC day. Deleting salts older than yesterday is what
makes a visitor unlinkable across days: nobody, the operator included, can recompute old hashes.
Yesterday's salt is kept so a visit that crosses midnight still matches its earlier events.
"""

from __future__ import annotations

import secrets
import threading
from datetime import UTC, date, datetime, time, timedelta

from sqlalchemy import Engine, delete, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert

from footfall.meta.db import session_scope
from footfall.meta.models import Salt

SALT_BYTES = 32


class SaltKeeper:
    """Today's and yesterday's salts, cached in memory until the UTC day changes."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self._lock = threading.Lock()
        self._day: date | None = None
        self._valid_until = 0.0  # epoch seconds of the next UTC midnight
        self._pair: tuple[bytes, bytes | None] = (b"", None)

    def salts(self, now: datetime | None = None) -> tuple[bytes, bytes | None]:
        """(today's salt, yesterday's salt or None) for the UTC day of `now` (default: now).

        Reads the database only when the day differs from the cached one.
        """
        if now is None:
            if datetime.now(UTC).timestamp() < self._valid_until:
                return self._pair
            now = datetime.now(UTC)
        day = now.astimezone(UTC).date() if now.tzinfo else now.date()
        if day == self._day:
            return self._pair
        with self._lock:
            if day != self._day:
                self._pair = self._fetch(day)
                self._day = day
                midnight = datetime.combine(day + timedelta(days=1), time(), tzinfo=UTC)
                self._valid_until = midnight.timestamp()
            return self._pair

    def day_salts(self) -> dict[date, bytes]:
        """The salts kept, by UTC day: today's (created when missing) and yesterday's when it
        is there; no other day has one (see importer.salts for days older than that)."""
        now = datetime.now(UTC)
        today, yesterday = self.salts(now)
        kept = {now.date(): today}
        if yesterday is not None:
            kept[now.date() - timedelta(days=1)] = yesterday
        return kept

    def _fetch(self, day: date) -> tuple[bytes, bytes | None]:
        yesterday = day - timedelta(days=1)
        with session_scope(self._engine) as session:
            # Whoever inserts first wins; every process then reads back the same value.
            session.execute(self._insert_if_missing(day, secrets.token_bytes(SALT_BYTES)))
            session.execute(delete(Salt).where(Salt.day < yesterday))
            rows = session.execute(
                select(Salt.day, Salt.value).where(Salt.day.in_([day, yesterday]))
            ).all()
        values = {row.day: bytes(row.value) for row in rows}
        return values[day], values.get(yesterday)

    def _insert_if_missing(self, day: date, value: bytes) -> Insert:
        dialect = self._engine.dialect.name
        if dialect == "postgresql":
            return postgresql.insert(Salt).values(day=day, value=value).on_conflict_do_nothing()
        if dialect == "sqlite":
            return sqlite.insert(Salt).values(day=day, value=value).on_conflict_do_nothing()
        raise RuntimeError(f"unsupported metadata database: {dialect}")
