"""Region and city end to end: events sent to a real `footfall serve`, and through a scale-out
collector and worker, land with the location of their address; private addresses get none."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from footfall.enrich.geo import BUNDLED_CITY_DATABASE, CITY_FILES
from footfall.store.clickhouse import ClickHouseEventStore
from tests.support.accounts import postgres_metadata_url
from tests.support.clickhouse import ClickHouseServer, clickhouse_server
from tests.support.redis import redis_url
from tests.support.scaleout import cluster_env, running_cluster
from tests.support.server import LiveServer
from tests.support.services import require

__all__ = ["clickhouse_server", "redis_url"]  # fixtures

pytestmark = pytest.mark.slow

BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
TRUSTED = {"FOOTFALL_TRUSTED_PROXIES": "127.0.0.1/32"}
# Addresses and their places in the pinned DB-IP City Lite (frontend/package-lock.json).
PUBLIC = {
    "193.0.6.139": ("NL", "North Holland", "Amsterdam"),
    "81.2.69.142": ("GB", "England", "London"),
    "2a00:1450:4001:82a::200e": ("DE", "Hesse", "Frankfurt am Main"),
}
PRIVATE = ["10.1.2.3", "192.168.1.20", "fd00::5"]
ADDRESSES = [*PUBLIC, *PRIVATE]
WARNING = "no IP city database at"


@pytest.fixture(autouse=True)
def city_database() -> None:
    present = all((BUNDLED_CITY_DATABASE / name).is_file() for name in CITY_FILES)
    require(present, f"no city database in {BUNDLED_CITY_DATABASE}: run `make frontend`")


def _send_pageviews(url: str) -> None:
    """One pageview per address, at /geo/<index of the address>."""
    with httpx.Client(base_url=url, headers={"user-agent": BROWSER}, timeout=10) as client:
        for index, ip in enumerate(ADDRESSES):
            response = client.post(
                "/api/event",
                json={"n": "pageview", "u": f"http://localhost/geo/{index}", "d": "localhost"},
                headers={"x-forwarded-for": ip},
            )
            assert response.status_code == 202, response.text
            assert "x-footfall-dropped" not in response.headers


def _places(rows: list[tuple[str, str, str, str]]) -> dict[str, tuple[str, str, str]]:
    """(pathname, country, region, city) rows -> {address: (country, region, city)}."""
    return {ADDRESSES[int(path.rsplit("/", 1)[1])]: tuple(place) for path, *place in rows}


def _duckdb_rows(server: LiveServer) -> list[tuple[str, str, str, str]]:
    rows: list[dict[str, Any]] = server.events("kind = 'pageview'")
    return [(row["pathname"], row["country"], row["region"], row["city"]) for row in rows]


def test_events_land_with_region_and_city_and_private_addresses_with_none(
    tmp_path: Path,
) -> None:
    server = LiveServer(tmp_path / "data", env=TRUSTED)
    with server:
        _send_pageviews(server.url)
        link = ["--url", "https://example.org/", "--site", "localhost", "--code", "geo"]
        created = server.run_cli("links", "create", *link)
        assert created.returncode == 0, created.stderr
        click = httpx.get(
            f"{server.url}/u/geo",
            headers={"user-agent": BROWSER, "x-forwarded-for": "193.0.6.139"},
            timeout=10,
        )
        assert click.status_code == 302
    assert server.stop() == 0
    places = _places(_duckdb_rows(server))
    assert places == {**PUBLIC, **dict.fromkeys(PRIVATE, ("", "", ""))}
    (clicked,) = server.events("kind = 'click'")
    assert (clicked["country"], clicked["region"], clicked["city"]) == PUBLIC["193.0.6.139"]
    assert WARNING not in server.log()


def test_without_the_city_database_countries_land_and_one_warning_is_logged(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "no-such-database"
    server = LiveServer(
        tmp_path / "data", env={**TRUSTED, "FOOTFALL_GEOIP_CITY_PATH": str(missing)}
    )
    with server:
        _send_pageviews(server.url)
        _send_pageviews(server.url)
    places = _places(_duckdb_rows(server))
    countries = {ip: (country, "", "") for ip, (country, _, _) in PUBLIC.items()}
    assert places == {**countries, **dict.fromkeys(PRIVATE, ("", "", ""))}
    assert server.log().count(WARNING) == 1, server.log()
    assert str(missing) in server.log()


@pytest.fixture
def database_url() -> Iterator[str]:
    with postgres_metadata_url() as url:
        yield url


def _clickhouse_rows(events_url: str) -> list[tuple[str, str, str, str]]:
    store = ClickHouseEventStore(events_url)
    try:
        rows = store.execute("SELECT pathname, country, region, city FROM events")
    finally:
        store.close()
    return [
        (str(path), str(country), str(region), str(city)) for path, country, region, city in rows
    ]


def test_the_scale_out_collector_and_worker_store_region_and_city(
    tmp_path: Path, redis_url: str, clickhouse_server: ClickHouseServer, database_url: str
) -> None:
    events_url = clickhouse_server.fresh_database_url()
    env = {**cluster_env(redis_url, events_url, database_url), **TRUSTED}
    with running_cluster(tmp_path, env, collectors=1, workers=1) as cluster:
        _send_pageviews(cluster.collectors[0].url)
        deadline = time.monotonic() + 60
        rows = _clickhouse_rows(events_url)
        while len(rows) < len(ADDRESSES) and time.monotonic() < deadline:
            time.sleep(0.2)
            rows = _clickhouse_rows(events_url)
        assert len(rows) == len(ADDRESSES), cluster.logs()
    assert _places(rows) == {**PUBLIC, **dict.fromkeys(PRIVATE, ("", "", ""))}
