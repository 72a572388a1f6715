"""Exports over a real app and real stores: CSV numbers equal the query API's, Parquet
round-trips in DuckDB (from DuckDB and from ClickHouse), the PDF renders, the CLI writes files."""

from __future__ import annotations

import csv
import io
import os
import shutil
import subprocess
import zipfile
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import duckdb
import pytest
from typer.testing import CliRunner

from footfall.cli import app as cli_app
from footfall.exports.csv_reports import REPORTS
from footfall.exports.raw import events_parquet
from footfall.meta.sites import SiteInfo
from footfall.store import SessionStore
from tests.support.accounts import SITE, World, accounts_world
from tests.support.factories import conversion, populate, visit
from tests.support.services import require
from tests.support.stores import clickhouse_server, event_store

__all__ = ["clickhouse_server", "event_store"]  # fixtures

START = datetime(2025, 3, 10, 10, 0, tzinfo=UTC)
DATES = {"start_date": "2025-03-09", "end_date": "2025-03-12"}


def _traffic(site_id: int) -> list[Any]:
    events: list[Any] = []
    for n in range(5):
        events += visit(
            300 + n,
            START + timedelta(days=n % 3, hours=n),
            ["/", "/docs"] if n % 2 else ["/"],
            [conversion("purchase", "10.00", "EUR")] if n < 2 else [],
            referrer_source="Google" if n < 3 else "Bing",
            channel="Organic Search",
            country="DE" if n % 2 else "FR",
            site_id=site_id,
        )
    # Outside the exported dates: must not appear anywhere.
    events += visit(999, START + timedelta(days=10), ["/late"], site_id=site_id)
    return events


@pytest.fixture
def world(tmp_path: Path) -> Iterator[World]:
    with accounts_world(tmp_path) as world:
        site = world.app.state.sites.lookup(SITE)
        populate(world.app.state.store, _traffic(site.id))
        yield world


def _export(world: World, fmt: str, user: str = "analyst") -> Any:
    params = {"site": SITE, "format": fmt, **DATES}
    return world.client.get("/api/v1/export", params=params, headers=world.as_user(user))


def _v2(world: World, **fields: Any) -> list[dict[str, Any]]:
    body = {"site_id": SITE, "date_range": [DATES["start_date"], DATES["end_date"]], **fields}
    answer = world.client.post("/api/v2/query", json=body, headers=world.as_user("analyst"))
    assert answer.status_code == 200, answer.text
    results: list[dict[str, Any]] = answer.json()["results"]
    return results


def test_csv_zip_numbers_equal_the_query_api(world: World) -> None:
    answer = _export(world, "csv")
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "application/zip"
    assert "attachment" in answer.headers["content-disposition"]
    archive = zipfile.ZipFile(io.BytesIO(answer.content))
    assert sorted(archive.namelist()) == sorted(REPORTS)
    sources = list(csv.DictReader(io.StringIO(archive.read("sources.csv").decode())))
    expected = _v2(world, metrics=["visitors", "visits"], dimensions=["visit:source"])
    assert (
        {row["visit:source"]: int(row["visitors"]) for row in sources}
        == {row["dimensions"][0]: row["metrics"][0] for row in expected}
        == {"Google": 3, "Bing": 2}
    )
    daily = list(csv.DictReader(io.StringIO(archive.read("visitors.csv").decode())))
    assert [row["time:day"] for row in daily] == [
        "2025-03-09",
        "2025-03-10",
        "2025-03-11",
        "2025-03-12",
    ]
    assert sum(int(row["visitors"]) for row in daily) == 5
    goals = list(csv.DictReader(io.StringIO(archive.read("goals.csv").decode())))
    assert [(row["event:name"], row["events"]) for row in goals] == [("purchase", "2")]
    pages = archive.read("pages.csv").decode()
    assert "/late" not in pages and "/docs" in pages


def test_parquet_round_trips_in_duckdb(world: World, tmp_path: Path) -> None:
    answer = _export(world, "parquet")
    assert answer.status_code == 200, answer.text
    target = tmp_path / "events.parquet"
    target.write_bytes(answer.content)
    with duckdb.connect() as con:
        rows = con.execute(
            "SELECT pathname, count(*) FROM read_parquet(?) GROUP BY pathname ORDER BY 1",
            [str(target)],
        ).fetchall()
        stored = world.app.state.store.execute(
            "SELECT pathname, count(*) FROM events WHERE pathname <> '/late' GROUP BY 1 ORDER BY 1"
        )
    assert rows == [tuple(row) for row in stored]
    assert ("/late", 1) not in rows


def test_pdf_report_renders(world: World, tmp_path: Path) -> None:
    answer = _export(world, "pdf")
    assert answer.status_code == 200, answer.text
    assert answer.content.startswith(b"%PDF")
    require(shutil.which("pdftoppm") is not None, "pdftoppm (poppler-utils) is not installed")
    target = tmp_path / "report.pdf"
    target.write_bytes(answer.content)
    subprocess.run(
        ["pdftoppm", "-png", "-r", "40", str(target), str(tmp_path / "page")], check=True
    )
    pages = sorted(tmp_path.glob("page*.png"))
    assert pages and all(page.stat().st_size > 1000 for page in pages)
    text = subprocess.run(
        ["pdftotext", str(target), "-"], check=True, capture_output=True, text=True
    ).stdout
    assert SITE in text and "Google" in text and "purchase" in text


def test_export_permissions_and_validation(world: World) -> None:
    assert _export(world, "csv", user="viewer").status_code == 403
    assert _export(world, "csv", user="analyst_elsewhere").status_code == 404
    params = {"site": SITE, "format": "csv", "start_date": "2025-03-12", "end_date": "2025-03-01"}
    backwards = world.client.get("/api/v1/export", params=params, headers=world.as_user("admin"))
    assert backwards.status_code == 400
    assert backwards.json()["error"]["code"] == "invalid_request"
    params |= {"end_date": "2025-03-13", "format": "xlsx"}
    unknown = world.client.get("/api/v1/export", params=params, headers=world.as_user("admin"))
    assert unknown.status_code == 400


def test_raw_export_from_either_store(event_store: SessionStore, tmp_path: Path) -> None:
    site = SiteInfo(1, SITE, "Europe/Berlin", (SITE,), (), ())
    populate(event_store, _traffic(site.id))
    target = tmp_path / "raw.parquet"
    target.write_bytes(events_parquet(event_store, site, date(2025, 3, 9), date(2025, 3, 12)))
    with duckdb.connect() as con:
        count, ids, first = con.execute(
            "SELECT count(*), count(DISTINCT event_id), min(ts) FROM read_parquet(?)", [str(target)]
        ).fetchone() or (0, 0, None)
    assert count == ids == 5 + 2 + 2  # 5 landing pages, 2 second pages, 2 conversions
    assert first == START.replace(tzinfo=None)


def test_cli_export_writes_each_format(tmp_path: Path) -> None:
    with accounts_world(tmp_path) as world:
        site = world.app.state.sites.lookup(SITE)
        populate(world.app.state.store, _traffic(site.id))
    env = {name: None for name in os.environ if name.startswith("FOOTFALL_")}
    for fmt in ("csv", "parquet"):
        target = tmp_path / f"out.{fmt}"
        args = ["--data-dir", str(tmp_path / "data"), "export", "--site", SITE]
        args += ["--from", "2025-03-09", "--to", "2025-03-12", "--format", fmt, "-o", str(target)]
        result = CliRunner().invoke(cli_app, args, env=env)
        assert result.exit_code == 0, result.output
        assert target.stat().st_size > 0
    assert zipfile.ZipFile(tmp_path / "out.csv").read("channels.csv").startswith(b"visit:channel")
    missing = CliRunner().invoke(
        cli_app,
        [
            "--data-dir",
            str(tmp_path / "data"),
            "export",
            "--site",
            "nope.example",
            "--from",
            "2025-03-09",
            "--to",
            "2025-03-12",
            "-o",
            str(tmp_path / "x"),
        ],
        env=env,
    )
    assert missing.exit_code == 1 and "no site" in missing.stderr
