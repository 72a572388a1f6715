"""Imported lines hash their visitors with the salts of the day they were logged: today's and
yesterday's stored salts (shared with the collectors), and for older days salts that only the
import run knows, shared by its worker processes and stored nowhere."""

from __future__ import annotations

import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select
from typer.testing import CliRunner

from footfall.cli import app as cli_app
from footfall.cli.importer import open_importer
from footfall.enrich.visitor import visitor_hash
from footfall.importer.salts import LineSalts
from footfall.meta.db import make_engine, session_scope
from footfall.meta.models import Salt
from footfall.meta.salts import SaltKeeper
from footfall.meta.sites import get_site
from tests.support.app import BROWSER_UA, rows, running_app, settings_for, wait_rows

SITE = "example.com"
OLD_DAY = datetime(2024, 2, 10, tzinfo=UTC)


def _line(ip: str, when: datetime, target: str = "/") -> str:
    stamp = when.astimezone(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000")
    return f'{ip} - - [{stamp}] "GET {target} HTTP/1.1" 200 512 "-" "{BROWSER_UA}"\n'


def _prepare(data_dir: Path) -> None:
    env: dict[str, Any] = {name: None for name in os.environ if name.startswith("FOOTFALL_")}
    for args in (("init",), ("site", "create", "--domain", SITE)):
        result = CliRunner().invoke(cli_app, ["--data-dir", str(data_dir), *args], env=env)
        assert result.exit_code == 0, result.output


def _import(data_dir: Path, log: Path, jobs: int = 1) -> None:
    with open_importer(settings_for(data_dir), SITE, jobs=jobs) as importer:
        importer.chunk_bytes = 256  # many blocks: with jobs, spread over the worker processes
        importer.import_file(log)


def _stored(data_dir: Path, count: int) -> list[dict[str, Any]]:
    with running_app(data_dir, sites=()) as (_client, app):
        wait_rows(app, count)
        return rows(app)


def test_lines_of_today_and_yesterday_hash_as_the_collectors_do(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    engine = make_engine(settings_for(data_dir).database_url)
    now = datetime.now(UTC)
    today = now.date()
    yesterday_salt = b"y" * 32
    with session_scope(engine) as session:
        session.add(Salt(day=today - timedelta(days=1), value=yesterday_salt))
        site_id = get_site(session, SITE).id  # type: ignore[union-attr]
    today_salt, kept_yesterday = SaltKeeper(engine).salts()
    assert kept_yesterday == yesterday_salt
    log = tmp_path / "access.log"
    earlier = now - timedelta(minutes=5)
    noon_yesterday = datetime.combine(today - timedelta(days=1), datetime.min.time(), UTC)
    log.write_text(
        _line("198.51.100.7", earlier) + _line("198.51.100.7", noon_yesterday + timedelta(hours=12))
    )
    _import(data_dir, log)
    stored = sorted(_stored(data_dir, 2), key=lambda row: row["ts"])
    engine.dispose()
    assert [row["visitor_id"] for row in stored] == [
        visitor_hash(yesterday_salt, site_id, "198.51.100.7", BROWSER_UA),
        visitor_hash(today_salt, site_id, "198.51.100.7", BROWSER_UA),
    ]


def test_older_days_hash_apart_with_salts_stored_nowhere(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    log = tmp_path / "access.log"
    second_day = OLD_DAY + timedelta(days=1, hours=10)
    lines = [
        _line("198.51.100.9", OLD_DAY + timedelta(hours=9, minutes=n), f"/p{n}") for n in range(3)
    ]
    lines.append(_line("198.51.100.9", second_day))
    lines.append(_line("198.51.100.10", OLD_DAY + timedelta(hours=9)))
    log.write_text("".join(lines))
    _import(data_dir, log)
    stored = _stored(data_dir, 5)
    first_day = {row["visitor_id"] for row in stored if row["ts"].date() == OLD_DAY.date()}
    assert len(first_day) == 2  # two addresses; one visitor for the three pages of one of them
    visitor_pages = [row for row in stored if row["pathname"].startswith("/p")]
    assert len({row["visitor_id"] for row in visitor_pages}) == 1
    assert len({row["session_id"] for row in visitor_pages}) == 1
    next_day = [row for row in stored if row["ts"].date() == second_day.date()]
    assert next_day[0]["visitor_id"] not in first_day  # days stay unlinkable
    engine = make_engine(settings_for(data_dir).database_url)
    try:
        with session_scope(engine) as session:
            days = set(session.scalars(select(Salt.day)))
    finally:
        engine.dispose()
    today = datetime.now(UTC).date()
    assert days <= {today, today - timedelta(days=1)}  # no salt of an old day was stored


def test_a_visit_across_midnight_of_an_old_day_stays_one_visit(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    log = tmp_path / "access.log"
    midnight = OLD_DAY + timedelta(days=1)
    log.write_text(
        _line("198.51.100.11", midnight - timedelta(minutes=2), "/before")
        + _line("198.51.100.11", midnight + timedelta(minutes=2), "/after")
    )
    _import(data_dir, log)
    before, after = sorted(_stored(data_dir, 2), key=lambda row: row["ts"])
    # The second line hashes with its day's salt, and with the previous day's: that one finds
    # the open visit, which goes on with its visitor and session.
    assert before["visitor_id"] == after["visitor_id"]
    assert before["session_id"] == after["session_id"]


def test_the_worker_processes_of_one_import_share_the_old_days_salts(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    _prepare(data_dir)
    log = tmp_path / "access.log"
    log.write_text(
        "".join(
            _line("198.51.100.12", OLD_DAY + timedelta(hours=8, seconds=n), f"/page{n}")
            for n in range(60)
        )
    )
    _import(data_dir, log, jobs=2)
    stored = _stored(data_dir, 60)
    assert len(stored) == 60
    assert len({row["visitor_id"] for row in stored}) == 1


def test_line_salts_are_kept_ones_while_kept_and_derived_from_the_run_key_before() -> None:
    kept_day = date(2025, 6, 2)
    clock_ms = [int(datetime(2025, 6, 2, 12, tzinfo=UTC).timestamp() * 1000)]
    lookups: list[int] = []

    def kept() -> dict[date, bytes]:
        lookups.append(1)
        return {kept_day: b"k" * 32}

    salts = LineSalts(kept, lambda: clock_ms[0], b"run key one")
    today, previous = salts.salts()
    assert today == b"k" * 32 and previous is not None and previous != today
    assert salts.salts() == (today, previous)
    other_run = LineSalts(kept, lambda: clock_ms[0], b"run key two")
    assert other_run.salts()[0] == today  # a kept salt is everyone's
    assert other_run.salts()[1] != previous  # a derived one is this run's alone
    clock_ms[0] += 86_400_000
    next_today, next_previous = salts.salts()
    assert next_previous == today and next_today not in {today, previous}
    assert len(lookups) == 2 + 2 + 1  # each day looked up once per run (the 3rd day: once)
